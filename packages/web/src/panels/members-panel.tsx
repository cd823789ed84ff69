/**
 * Members of a group: who is in it and with which role; owners and admins add
 * members by user id and remove them; anyone but the owner can leave.
 */
import type { ConversationMember } from '@parley/client';
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { Avatar } from '../components/avatar.js';
import { UserSearchField } from '../components/user-search-field.js';
import { nameOf, parseIdList } from '../format.js';
import type { PanelDefinition, PanelProps } from './registry.js';

function MembersIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <circle cx="7.5" cy="7" r="3" fill="none" stroke="currentColor" stroke-width="1.7" />
      <path d="M2.5 16c.6-2.8 2.6-4.3 5-4.3s4.4 1.5 5 4.3" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" />
      <path d="M13 4.3a3 3 0 0 1 0 5.4M14.5 12.2c1.5.5 2.6 1.8 3 3.8" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" />
    </svg>
  );
}

function MembersPanel({ conversation }: PanelProps) {
  const store = useChatStore();
  const conversationId = conversation.id;
  const members = useChat((state) => state.members.get(conversationId));
  const names = useChat((state) => state.names);
  const selfId = useChat((state) => state.self.userId);
  const connection = useChat((state) => state.connection.state);
  const [adding, setAdding] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (connection === 'open' && conversation.active) store.loadMembers(conversationId);
  }, [conversationId, conversation.memberCount, conversation.active, connection, store]);

  const canManage = conversation.active && (conversation.role === 'owner' || conversation.role === 'admin');

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (caught) {
      setError(describeError(caught));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const add = async (event: Event) => {
    event.preventDefault();
    const userIds = parseIdList(adding);
    if (userIds.length === 0) return;
    if (await run(() => store.addMembers(conversationId, userIds))) setAdding('');
  };

  if (!conversation.active) return <p class="muted panel-note">You are no longer a member of this group.</p>;

  const list: readonly ConversationMember[] = members?.members ?? [];
  return (
    <div class="members-panel">
      {canManage && (
        <form class="add-members" onSubmit={add}>
          <label for="add-members-input">Add people by user id or name</label>
          <div class="input-row">
            <UserSearchField id="add-members-input" testId="add-members-input" mode="list" value={adding} placeholder="e.g. carol, dave" onInput={setAdding} />
            <button type="submit" class="button primary" data-testid="add-members-button" disabled={busy || adding.trim() === ''}>
              Add
            </button>
          </div>
        </form>
      )}
      {busy && connection !== 'open' && (
        <p class="waiting-note" role="status" data-testid="members-waiting">
          <span class="spinner" aria-hidden="true" />
          Connecting… this goes ahead once the server is reachable.
        </p>
      )}
      {error !== undefined && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {members?.status === 'error' && <p class="form-error">{members.error}</p>}
      {members === undefined || (members.status === 'loading' && list.length === 0) ? (
        <p class="muted panel-note">Loading members…</p>
      ) : (
        <ul class="member-list" data-testid="member-list">
          {list.map((member) => {
            const name = member.userId === selfId ? `${nameOf(names, member.userId)} (you)` : nameOf(names, member.userId);
            return (
              <li key={member.userId} class="member" data-testid="member" data-user-id={member.userId}>
                <Avatar id={member.userId} name={nameOf(names, member.userId)} size="small" />
                <span class="member-name">
                  <span>{name}</span>
                  <span class="muted">@{member.userId}</span>
                </span>
                {member.role !== 'member' && <span class={`role-badge role-${member.role}`}>{member.role}</span>}
                {canManage && member.role !== 'owner' && member.userId !== selfId && (
                  <button
                    type="button"
                    class="icon-button small"
                    data-testid="remove-member"
                    aria-label={`Remove ${member.userId}`}
                    title={`Remove ${member.userId}`}
                    disabled={busy}
                    onClick={() => void run(() => store.removeMember(conversationId, member.userId))}
                  >
                    <svg viewBox="0 0 20 20" aria-hidden="true">
                      <path d="M6 6l8 8M14 6l-8 8" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" />
                    </svg>
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {conversation.role !== 'owner' && (
        <button type="button" class="button danger leave-button" disabled={busy} onClick={() => void run(() => store.leave(conversationId))}>
          Leave group
        </button>
      )}
    </div>
  );
}

export const membersPanel: PanelDefinition = {
  id: 'members',
  title: 'Members',
  Icon: MembersIcon,
  available: (conversation) => conversation.kind === 'group',
  Panel: MembersPanel,
};
