/**
 * The conversation list: newest activity first, each with avatar, name, last
 * message preview and time, and its unread badge. Updates live from the SDK's
 * summaries; a message still waiting to be sent is the preview, with its send
 * state, since the chat shows it last.
 */
import type { ConversationSummary } from '@parley/client';
import { memo } from 'preact/compat';
import { type Timeline, type WaitingItem, newestWaiting } from '../chat/chat-store.js';
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
  const listLoaded = useChat((state) => state.listLoaded);
  const timelines = useChat((state) => state.timelines);

  if (conversations.length === 0 || !listLoaded) {
    if (conversations.length > 0) {
      // After a reload while offline: only conversations with waiting messages are known yet.
      return (
        <>
          <ConversationItems conversations={conversations} activeId={activeId} names={names} selfId={selfId} timelines={timelines} onOpen={onOpen} />
          <p class="muted list-note" data-testid="list-loading-note">
            Your other conversations appear once connected.
          </p>
        </>
      );
    }
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
  return <ConversationItems conversations={conversations} activeId={activeId} names={names} selfId={selfId} timelines={timelines} onOpen={onOpen} />;
}

interface ItemsProps {
  conversations: readonly ConversationSummary[];
  activeId: string | undefined;
  names: ReadonlyMap<string, string>;
  selfId: string;
  timelines: ReadonlyMap<string, Timeline>;
  onOpen(conversationId: string): void;
}

function ConversationItems({ conversations, activeId, names, selfId, timelines, onOpen }: ItemsProps) {
  return (
    <ul class="conversation-list" aria-label="Conversations" data-testid="conversation-list">
      {conversations.map((conversation) => (
        <ConversationItem
          key={conversation.id}
          conversation={conversation}
          active={conversation.id === activeId}
          names={names}
          selfId={selfId}
          waiting={newestWaiting(timelines.get(conversation.id))}
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
  /** The newest message or upload waiting to be sent, shown as the last message. */
  waiting: WaitingItem | undefined;
  onOpen(conversationId: string): void;
}

export function conversationTitle(conversation: ConversationSummary): string {
  if (conversation.name !== '') return conversation.name;
  return conversation.kind === 'direct' ? (conversation.peerId ?? 'Direct chat') : 'Unnamed group';
}

function preview(conversation: ConversationSummary, names: ReadonlyMap<string, string>, selfId: string): string {
  const message = conversation.lastMessage;
  if (message === undefined) return conversation.active ? 'No messages yet' : 'You are no longer a member';
  const context: MessageContext = { selfId, names, conversationKind: conversation.kind, conversationName: conversation.kind === 'group' ? conversation.name : undefined };
  const kind = messageKind(message);
  const line = kind.preview(message, context);
  if (kind.layout === 'event') return line;
  if (message.senderId === selfId) return `You: ${line}`;
  return conversation.kind === 'group' ? `${nameOf(names, message.senderId)}: ${line}` : line;
}

function WaitingIcon({ state }: { state: WaitingItem['state'] }) {
  return (
    <span class={`preview-state send-${state}`} data-testid="preview-send-state" data-state={state} title={state === 'sending' ? 'Sending' : 'Not sent'}>
      <svg class="send-icon" viewBox="0 0 16 16" aria-hidden="true">
        {state === 'sending' ? (
          <>
            <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.6" />
            <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />
          </>
        ) : (
          <>
            <circle cx="8" cy="8" r="7" fill="currentColor" />
            <path d="M8 4.5v4.5M8 11.2v.3" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
          </>
        )}
      </svg>
      <span class="visually-hidden">{state === 'sending' ? 'Sending: ' : 'Not sent: '}</span>
    </span>
  );
}

const ConversationItem = memo(function ConversationItem({ conversation, active, names, selfId, waiting, onOpen }: ItemProps) {
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
            <span class="conversation-time">{listTime(waiting?.createdAt ?? conversation.lastMessage?.createdAt ?? conversation.updatedAt)}</span>
          </span>
          <span class="conversation-bottom">
            <span class="conversation-preview-line">
              {waiting !== undefined && <WaitingIcon state={waiting.state} />}
              <span class="conversation-preview" data-testid="conversation-preview">
                {waiting !== undefined ? `You: ${waiting.text}` : preview(conversation, names, selfId)}
              </span>
            </span>
            {unread > 0 && (
              <span class="unread-badge" data-testid="unread-badge" role="img" aria-label={`${unread} unread`}>
                {unread > 99 ? '99+' : unread}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
});
