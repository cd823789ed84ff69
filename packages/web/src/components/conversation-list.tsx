/**
 * The conversation list: newest activity first, each with avatar, name, last
 * message preview and time, and its unread badge. Updates live from the SDK's
 * summaries.
 */
import type { ConversationSummary } from '@parley/client';
import { memo } from 'preact/compat';
import { useChat } from '../chat/use-chat.js';
import { listTime, nameOf } from '../format.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { Avatar } from './avatar.js';

interface ConversationListProps {
  activeId: string | undefined;
  onOpen(conversationId: string): void;
}

export function ConversationList({ activeId, onOpen }: ConversationListProps) {
  const conversations = useChat((state) => state.conversations);
  const names = useChat((state) => state.names);
  const selfId = useChat((state) => state.self.userId);
  const connection = useChat((state) => state.connection.state);

  if (conversations.length === 0) {
    return (
      <div class="list-empty">
        {connection === 'open' || connection === 'reconnecting' ? (
          <>
            <p>No conversations yet.</p>
            <p class="muted">Start one with the “New chat” button.</p>
          </>
        ) : (
          <p class="muted">Loading conversations…</p>
        )}
      </div>
    );
  }
  return (
    <ul class="conversation-list" aria-label="Conversations" data-testid="conversation-list">
      {conversations.map((conversation) => (
        <ConversationItem
          key={conversation.id}
          conversation={conversation}
          active={conversation.id === activeId}
          names={names}
          selfId={selfId}
          onOpen={onOpen}
        />
      ))}
    </ul>
  );
}

interface ItemProps {
  conversation: ConversationSummary;
  active: boolean;
  names: ReadonlyMap<string, string>;
  selfId: string;
  onOpen(conversationId: string): void;
}

export function conversationTitle(conversation: ConversationSummary): string {
  if (conversation.name !== '') return conversation.name;
  return conversation.kind === 'direct' ? (conversation.peerId ?? 'Direct chat') : 'Unnamed group';
}

function preview(conversation: ConversationSummary, names: ReadonlyMap<string, string>, selfId: string): string {
  const message = conversation.lastMessage;
  if (message === undefined) return conversation.active ? 'No messages yet' : 'You are no longer a member';
  const context: MessageContext = { selfId, names, conversationKind: conversation.kind };
  const kind = messageKind(message);
  const line = kind.preview(message, context);
  if (kind.layout === 'event') return line;
  if (message.senderId === selfId) return `You: ${line}`;
  return conversation.kind === 'group' ? `${nameOf(names, message.senderId)}: ${line}` : line;
}

const ConversationItem = memo(function ConversationItem({ conversation, active, names, selfId, onOpen }: ItemProps) {
  const title = conversationTitle(conversation);
  const unread = conversation.unread;
  return (
    <li>
      <button
        type="button"
        class={`conversation-item${active ? ' active' : ''}${unread > 0 ? ' has-unread' : ''}${conversation.active ? '' : ' inactive'}`}
        data-testid="conversation-item"
        data-conversation-id={conversation.id}
        aria-current={active ? 'true' : undefined}
        onClick={() => onOpen(conversation.id)}
      >
        <Avatar id={conversation.kind === 'direct' ? (conversation.peerId ?? conversation.id) : conversation.id} name={title} group={conversation.kind === 'group'} />
        <span class="conversation-main">
          <span class="conversation-top">
            <span class="conversation-name" data-testid="conversation-name">
              {title}
            </span>
            <span class="conversation-time">{listTime(conversation.lastMessage?.createdAt ?? conversation.updatedAt)}</span>
          </span>
          <span class="conversation-bottom">
            <span class="conversation-preview" data-testid="conversation-preview">
              {preview(conversation, names, selfId)}
            </span>
            {unread > 0 && (
              <span class="unread-badge" data-testid="unread-badge" aria-label={`${unread} unread`}>
                {unread > 99 ? '99+' : unread}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
});
