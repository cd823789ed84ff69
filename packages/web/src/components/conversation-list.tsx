/**
 * The conversation list: pinned first, then newest activity first (the
 * store's order, which is the SDK's), each with avatar, name, last message
 * preview and time, and its unread badge; beside it, a thread badge counts
 * unread replies in the threads the user follows there. Updates live from the SDK's
 * summaries; a message still waiting to be sent is the preview, with its send
 * state, since the chat shows it last.
 *
 * The user's own settings show too: a pin on pinned conversations, a crossed
 * bell and a grey badge on muted ones, and "Draft:" with the text left
 * unsent in a conversation that is not the open one.
 *
 * Someone typing takes the preview's place while it lasts: "typing…" in a
 * direct chat, who it is in a group.
 */
import { type ConversationSummary, isMuted } from '@parley/client';
import { memo } from 'preact/compat';
import { useEffect, useReducer } from 'preact/hooks';
import { type Timeline, type WaitingItem, newestWaiting } from '../chat/chat-store.js';
import { useChat } from '../chat/use-chat.js';
import { listTime, nameOf, typingSentence } from '../format.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { Avatar } from './avatar.js';
import { WithPresence } from './presence-dot.js';

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
  const typingIn = useChat((state) => state.typingIn);
  useRenderWhenMuteEnds(conversations);

  if (conversations.length === 0 || !listLoaded) {
    if (conversations.length > 0) {
      // After a reload while offline: only conversations with waiting messages are known yet.
      return (
        <>
          <ConversationItems conversations={conversations} activeId={activeId} names={names} selfId={selfId} timelines={timelines} typingIn={typingIn} onOpen={onOpen} />
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
  return <ConversationItems conversations={conversations} activeId={activeId} names={names} selfId={selfId} timelines={timelines} typingIn={typingIn} onOpen={onOpen} />;
}

/** setTimeout's longest delay (about 24 days); a mute ending later is checked again on a later render. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A mute ends when its time passes, with nothing from the server saying so:
 * renders the list again then, for its marker and badge to change.
 */
export function useRenderWhenMuteEnds(conversations: readonly ConversationSummary[]): void {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  const now = Date.now();
  let nextEnd = Number.POSITIVE_INFINITY;
  for (const summary of conversations) {
    if (summary.mutedUntil !== undefined && summary.mutedUntil > now) nextEnd = Math.min(nextEnd, summary.mutedUntil);
  }
  useEffect(() => {
    const delay = nextEnd - Date.now();
    if (!(delay <= MAX_TIMER_DELAY_MS)) return;
    const timer = setTimeout(() => rerender(0), Math.max(0, delay));
    return () => clearTimeout(timer);
  }, [nextEnd]);
}

interface ItemsProps {
  conversations: readonly ConversationSummary[];
  activeId: string | undefined;
  names: ReadonlyMap<string, string>;
  selfId: string;
  timelines: ReadonlyMap<string, Timeline>;
  typingIn: ReadonlyMap<string, readonly string[]>;
  onOpen(conversationId: string): void;
}

function ConversationItems({ conversations, activeId, names, selfId, timelines, typingIn, onOpen }: ItemsProps) {
  const now = Date.now();
  return (
    <ul class="conversation-list" aria-label="Conversations" data-testid="conversation-list">
      {conversations.map((conversation) => (
        <ConversationItem
          key={conversation.id}
          conversation={conversation}
          active={conversation.id === activeId}
          muted={isMuted(conversation, now)}
          names={names}
          selfId={selfId}
          waiting={newestWaiting(timelines.get(conversation.id))}
          typers={typingIn.get(conversation.id)}
          onOpen={onOpen}
        />
      ))}
    </ul>
  );
}

interface ItemProps {
  conversation: ConversationSummary;
  active: boolean;
  /** Muted now (the summary alone cannot say: a mute runs out by itself). */
  muted: boolean;
  names: ReadonlyMap<string, string>;
  selfId: string;
  /** The newest message or upload waiting to be sent, shown as the last message. */
  waiting: WaitingItem | undefined;
  /** Others typing there now, if anyone is. */
  typers: readonly string[] | undefined;
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

/** What a conversation's row says while someone types there. */
function typingLine(conversation: ConversationSummary, typers: readonly string[], names: ReadonlyMap<string, string>): string {
  // A direct chat's row already names the one person who can be typing.
  if (conversation.kind === 'direct') return 'typing…';
  return typingSentence(typers.map((userId) => nameOf(names, userId)));
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

function PinnedIcon() {
  return (
    <span class="conversation-marker pinned-marker" data-testid="pinned-marker" role="img" aria-label="Pinned" title="Pinned">
      <svg viewBox="0 0 16 16" aria-hidden="true">
        <g transform="rotate(40 8 8)">
          <path d="M5.2 1.5h5.6l-1.1 4.3 2.3 3H4l2.3-3z" fill="currentColor" />
          <path d="M8 8.8v5.7" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
        </g>
      </svg>
    </span>
  );
}

function MutedIcon() {
  return (
    <span class="conversation-marker muted-marker" data-testid="muted-marker" role="img" aria-label="Muted" title="Muted">
      <svg viewBox="0 0 16 16" aria-hidden="true">
        <path
          d="M8 2.5A3.5 3.5 0 0 0 4.5 6v2.3L3.2 11h9.6l-1.3-2.7V6A3.5 3.5 0 0 0 8 2.5zM6.6 12.8a1.5 1.5 0 0 0 2.8 0"
          fill="none"
          stroke="currentColor"
          stroke-width="1.4"
          stroke-linecap="round"
          stroke-linejoin="round"
        />
        <path d="M2.5 2.5l11 11" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" />
      </svg>
    </span>
  );
}

function ThreadIcon() {
  return (
    <svg class="thread-unread-icon" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M2.5 3.5h11v6.5h-6l-3 2.5V10h-2z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
    </svg>
  );
}

const ConversationItem = memo(function ConversationItem({ conversation, active, muted, names, selfId, waiting, typers, onOpen }: ItemProps) {
  const title = conversationTitle(conversation);
  const unread = conversation.unread;
  const threadUnread = conversation.threadUnread ?? 0;
  // Someone typing is news for a few seconds; the draft and the last message are still there after.
  const typing = typers === undefined || typers.length === 0 ? undefined : typingLine(conversation, typers, names);
  // The open conversation's draft is in its composer.
  const draft = typing === undefined && !active && conversation.draft !== undefined && conversation.draft !== '' ? conversation.draft : undefined;
  return (
    <li>
      <button
        type="button"
        class={`conversation-item${active ? ' active' : ''}${unread > 0 ? ' has-unread' : ''}${muted ? ' muted-conversation' : ''}${conversation.active ? '' : ' inactive'}`}
        data-testid="conversation-item"
        data-conversation-id={conversation.id}
        aria-current={active ? 'true' : undefined}
        onClick={() => onOpen(conversation.id)}
      >
        <WithPresence userId={conversation.kind === 'direct' ? conversation.peerId : undefined}>
          <Avatar id={conversation.kind === 'direct' ? (conversation.peerId ?? conversation.id) : conversation.id} name={title} group={conversation.kind === 'group'} />
        </WithPresence>
        <span class="conversation-main">
          <span class="conversation-top">
            <span class="conversation-name" data-testid="conversation-name">
              {title}
            </span>
            {muted && <MutedIcon />}
            <span class="conversation-time">{listTime(waiting?.createdAt ?? conversation.lastMessage?.createdAt ?? conversation.updatedAt)}</span>
          </span>
          <span class="conversation-bottom">
            <span class="conversation-preview-line">
              {typing === undefined && draft === undefined && waiting !== undefined && <WaitingIcon state={waiting.state} />}
              <span class={`conversation-preview${typing === undefined ? '' : ' typing-preview'}`} data-testid="conversation-preview">
                {typing !== undefined ? (
                  typing
                ) : draft !== undefined ? (
                  <>
                    <span class="draft-label">Draft:</span> {draft}
                  </>
                ) : waiting !== undefined ? (
                  `You: ${waiting.text}`
                ) : (
                  preview(conversation, names, selfId)
                )}
              </span>
            </span>
            {conversation.pinnedAt !== undefined && <PinnedIcon />}
            {(conversation.mentions ?? 0) > 0 && unread > 0 && (
              // Mentions stand out even where the conversation is muted.
              <span class="mention-badge" data-testid="mention-badge" role="img" aria-label={`${conversation.mentions} mentioning you`}>
                @
              </span>
            )}
            {threadUnread > 0 && (
              <span
                class={`thread-unread-badge${muted ? ' muted-badge' : ''}`}
                data-testid="thread-unread"
                role="img"
                aria-label={`${threadUnread} unread thread ${threadUnread === 1 ? 'reply' : 'replies'}`}
                title={`${threadUnread} unread in threads`}
              >
                <ThreadIcon />
                {threadUnread > 99 ? '99+' : threadUnread}
              </span>
            )}
            {unread > 0 && (
              <span class={`unread-badge${muted ? ' muted-badge' : ''}`} data-testid="unread-badge" role="img" aria-label={`${unread} unread`}>
                {unread > 99 ? '99+' : unread}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
});
