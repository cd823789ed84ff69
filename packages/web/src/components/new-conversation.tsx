/**
 * The "new chat" dialog: a direct chat by user id, or a group with a name and
 * members. A modal <dialog>: focus stays inside, Escape closes it.
 */
import { ParleyError } from '@parley/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { parseIdList } from '../format.js';
import { UserSearchField } from './user-search-field.js';

interface NewConversationProps {
  onClose(): void;
  onOpened(conversationId: string): void;
}

type Mode = 'direct' | 'group';

function explain(error: unknown, what: string): string {
  if (error instanceof ParleyError) {
    if (error.codeName === 'NOT_FOUND') return what === 'direct' ? 'There is no user with that id.' : `Unknown user: ${error.message.replace(/^unknown user /u, '')}`;
    if (error.codeName === 'INVALID_ARGUMENT') return error.message.charAt(0).toUpperCase() + error.message.slice(1);
  }
  return describeError(error);
}

export function NewConversation({ onClose, onOpened }: NewConversationProps) {
  const store = useChatStore();
  const dialog = useRef<HTMLDialogElement>(null);
  const [mode, setMode] = useState<Mode>('direct');
  const [userId, setUserId] = useState('');
  const [groupName, setGroupName] = useState('');
  const [memberIds, setMemberIds] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const connected = useChat((state) => state.connection.state === 'open');
  // The request waits for the connection (bounded by the SDK); an answer after the dialog closed is dropped.
  const open = useRef(true);
  useEffect(
    () => () => {
      open.current = false;
    },
    [],
  );

  // The first field of the form shown, focused: the dialog opens to type an id.
  const firstField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);
  useEffect(() => firstField.current?.focus(), [mode]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const conversationId =
        mode === 'direct' ? await store.openDirect(userId.trim().replace(/^@/u, '')) : await store.createGroup(groupName.trim(), parseIdList(memberIds));
      if (!open.current) return;
      onOpened(conversationId);
      onClose();
    } catch (caught) {
      if (!open.current) return;
      setError(explain(caught, mode));
      setBusy(false);
    }
  };

  const switchTo = (next: Mode) => {
    setMode(next);
    setError(undefined);
  };

  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the click is on the backdrop; the keyboard closes a dialog with Escape natively
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="new-conversation-title"
      data-testid="new-conversation"
      onClose={onClose}
      onClick={(event) => {
        // A click on the backdrop (the dialog element itself, outside the card) closes.
        if (event.target === dialog.current) dialog.current?.close();
      }}
    >
      <form class="dialog-card" onSubmit={submit}>
        <h2 id="new-conversation-title">New conversation</h2>
        <div class="segmented" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'direct'} data-testid="mode-direct" onClick={() => switchTo('direct')}>
            Direct chat
          </button>
          <button type="button" role="tab" aria-selected={mode === 'group'} data-testid="mode-group" onClick={() => switchTo('group')}>
            Group
          </button>
        </div>
        {mode === 'direct' ? (
          <div class="field">
            <label for="direct-user-id">User id or name</label>
            <UserSearchField
              id="direct-user-id"
              testId="direct-user-id"
              mode="single"
              value={userId}
              required
              placeholder="e.g. bob"
              inputRef={firstField}
              onInput={setUserId}
            />
          </div>
        ) : (
          <>
            <label class="field">
              <span>Group name</span>
              <input
                ref={firstField}
                data-testid="group-name"
                value={groupName}
                required
                maxLength={128}
                placeholder="e.g. Weekend trip"
                onInput={(event) => setGroupName(event.currentTarget.value)}
              />
            </label>
            <div class="field">
              <label for="group-members">Members (user ids, separated by commas)</label>
              <UserSearchField id="group-members" testId="group-members" mode="list" value={memberIds} placeholder="e.g. bob, carol" onInput={setMemberIds} />
            </div>
          </>
        )}
        {error !== undefined && (
          <p class="form-error" role="alert" data-testid="new-conversation-error">
            {error}
          </p>
        )}
        {busy && !connected && (
          <p class="waiting-note" role="status" data-testid="new-conversation-waiting">
            <span class="spinner" aria-hidden="true" />
            Connecting… this goes ahead once the server is reachable.
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="button primary" data-testid="new-conversation-submit" disabled={busy}>
            {mode === 'direct' ? 'Start chat' : 'Create group'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
