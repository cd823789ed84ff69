/**
 * One message in a conversation. The message's kind (messages/registry.tsx)
 * decides its body and layout; this component adds what every bubble has:
 * sender, time, and for this user's own messages the send state
 * (sending / sent / delivered / read, or failed with retry); in groups, how
 * many of the members it is for read it. A stored message has an options
 * menu (edit, recall, delete for me, as far as the user may); editing
 * happens in the bubble. A thread's root says how many replies it has (and
 * how many are new to the user), which opens the thread.
 */
import type { Message } from '@parley/client';
import { memo } from 'preact/compat';
import { useState } from 'preact/hooks';
import { MenuButton, type MenuItem } from './menu-button.js';
import { avatarHue, messageTime, nameOf } from '../format.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { Avatar } from './avatar.js';
import { EditedMark, type EditVersion } from './edit-history.js';

export type SendState = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

interface MessageItemProps {
  message: Message;
  context: MessageContext;
  /** Own messages only. */
  sendState?: SendState;
  /** Own group messages: how many read it ("2/5"), and the same in words ("Read by 2 of 5"). */
  readers?: { count: string; label: string };
  /** Why a failed message failed. */
  error?: string;
  /** First of a run of messages from one sender: show the name (groups) and avatar. */
  firstInRun: boolean;
  onRetry?: () => void;
  onDiscard?: () => void;
  /** Changes to a stored message; absent on messages not stored yet. */
  actions?: MessageActions;
  /** What this message answers, as a quote shows it. */
  quote?: { name: string; preview: string };
  /** Opens this message's thread: its replies link, and "Reply in thread" in the menu. Absent where threads do not open (inside one). */
  onOpenThread?: () => void;
}

export interface MessageActions {
  recall(): void;
  edit(text: string): void;
  deleteForMe(): void;
  react(emoji: string, add: boolean): void;
  /** The texts an edited message had, oldest first (its "edited" mark opens them). */
  editHistory?: () => Promise<EditVersion[]>;
  /** Quotes the message in the composer; absent where there is no such composer (a thread's). */
  reply?(): void;
}

/** The reactions the menu offers; any emoji another client sends shows too. */
const QUICK_REACTIONS: ReadonlyArray<[emoji: string, name: string]> = [
  ['👍', 'Like'],
  ['❤️', 'Love'],
  ['😂', 'Laugh'],
  ['😮', 'Wow'],
  ['😢', 'Sad'],
  ['🙏', 'Thanks'],
];

function ReactionChips({ message, actions }: { message: Message; actions: MessageActions | undefined }) {
  const reactions = message.reactions ?? [];
  if (reactions.length === 0) return null;
  return (
    <ul class="reactions" aria-label="Reactions" data-testid="reactions">
      {reactions.map((reaction) => (
        <li key={reaction.emoji}>
          <button
            type="button"
            class={`reaction${reaction.mine ? ' mine' : ''}`}
            aria-pressed={reaction.mine}
            aria-label={`${reaction.emoji} ${reaction.count}${reaction.mine ? ', yours' : ''}`}
            data-testid="reaction"
            disabled={actions === undefined}
            onClick={() => actions?.react(reaction.emoji, !reaction.mine)}
          >
            <span aria-hidden="true">{reaction.emoji}</span> <span aria-hidden="true">{reaction.count}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** What the user may do with a stored message: edit and recall their own (recall also as a group admin), delete any for themselves. */
function menuItems(
  message: Message,
  context: { selfId: string; moderates?: boolean },
  actions: MessageActions,
  startEditing: () => void,
  openThread: (() => void) | undefined,
): MenuItem[][] {
  const own = message.senderId === context.selfId;
  const change: MenuItem[] = [];
  if (own && message.content === undefined && message.data === undefined && message.text !== undefined) change.push({ label: 'Edit', run: startEditing });
  if (own || context.moderates === true) change.push({ label: 'Recall', run: () => actions.recall() });
  const given = new Set((message.reactions ?? []).filter((reaction) => reaction.mine).map((reaction) => reaction.emoji));
  const react: MenuItem[] = QUICK_REACTIONS.map(([emoji, name]) => ({
    label: `${emoji} ${given.has(emoji) ? `Remove ${name.toLowerCase()}` : name}`,
    run: () => actions.react(emoji, !given.has(emoji)),
  }));
  const answer: MenuItem[] = [];
  if (actions.reply !== undefined) answer.push({ label: 'Reply', run: () => actions.reply?.() });
  // A reply is not a root: threads are one level deep. Nothing is left of a recalled message to answer.
  if (openThread !== undefined && message.threadRoot === undefined && message.type === 'user' && message.recalledAt === undefined) {
    answer.push({ label: 'Reply in thread', run: openThread });
  }
  const groups = [react, [...answer, ...change], [{ label: 'Delete for me', run: () => actions.deleteForMe() }]];
  return groups.filter((group) => group.length > 0);
}

function MessageEditor({ text, onSave, onCancel }: { text: string; onSave(text: string): void; onCancel(): void }) {
  const [value, setValue] = useState(text);
  const save = () => {
    const trimmed = value.trim();
    if (trimmed === '' || trimmed === text) onCancel();
    else onSave(trimmed);
  };
  return (
    <form
      class="message-editor"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <textarea
        aria-label="Edit message"
        data-testid="message-editor"
        value={value}
        rows={Math.min(6, value.split('\n').length + 1)}
        // biome-ignore lint/a11y/noAutofocus: the user just asked to edit this message
        autoFocus
        onInput={(event) => setValue(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onCancel();
          } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            save();
          }
        }}
      />
      <div class="message-editor-actions">
        <button type="button" class="link-button muted" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="link-button" data-testid="message-editor-save">
          Save
        </button>
      </div>
    </form>
  );
}

function SendStateIcon({ state }: { state: SendState }) {
  if (state === 'sending') {
    return (
      <svg class="send-icon" viewBox="0 0 16 16" aria-hidden="true">
        <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.6" />
        <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />
      </svg>
    );
  }
  if (state === 'sent') {
    return (
      <svg class="send-icon" viewBox="0 0 16 16" aria-hidden="true">
        <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
      </svg>
    );
  }
  if (state === 'delivered' || state === 'read') {
    // Two ticks; read ones take the accent colour (CSS: .send-read).
    return (
      <svg class="send-icon double" viewBox="0 0 20 16" aria-hidden="true">
        <path d="M1.5 8.5l3 3 7-7M8.5 11.5l7-7" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
      </svg>
    );
  }
  return (
    <svg class="send-icon" viewBox="0 0 16 16" aria-hidden="true">
      <circle cx="8" cy="8" r="7" fill="currentColor" />
      <path d="M8 4.5v4.5M8 11.2v.3" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
    </svg>
  );
}

const SEND_STATE_LABELS: Record<SendState, string> = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' };

/** "3 replies · 2 new" under a thread's root: opens the thread. */
function ThreadLink({ message, onOpen }: { message: Message; onOpen: () => void }) {
  const replies = message.thread?.replies ?? 0;
  const unread = message.thread?.unread ?? 0;
  if (replies === 0) return null;
  return (
    <button type="button" class={`thread-link${unread > 0 ? ' has-unread' : ''}`} data-testid="thread-link" data-unread={unread} onClick={onOpen}>
      <span>{replies === 1 ? '1 reply' : `${replies} replies`}</span>
      {unread > 0 && <span class="thread-new"> · {unread} new</span>}
      <span class="visually-hidden">, open the thread</span>
    </button>
  );
}

export const MessageItem = memo(function MessageItem({ message, context, sendState, readers, error, firstInRun, onRetry, onDiscard, actions, quote, onOpenThread }: MessageItemProps) {
  const [editing, setEditing] = useState(false);
  const kind = messageKind(message);
  const { Body } = kind;
  const seq = message.seq > 0 ? message.seq : undefined;
  if (kind.layout === 'event') {
    return (
      <li class="message-event" data-testid="message" data-kind={kind.name} data-seq={seq}>
        <Body message={message} context={context} />
      </li>
    );
  }
  const own = message.senderId === context.selfId;
  const showSender = !own && context.conversationKind === 'group';
  const senderName = nameOf(context.names, message.senderId);
  return (
    <li
      class={`message-row${own ? ' own' : ''}${firstInRun ? ' first-in-run' : ''}`}
      data-testid="message"
      data-kind={kind.name}
      data-seq={seq}
      data-sender={message.senderId}
      // The send lifecycle (sending, sent, failed); how far a stored one got is on its tick.
      data-state={sendState === 'delivered' || sendState === 'read' ? 'sent' : sendState}
      style={showSender ? { '--avatar-hue': String(avatarHue(message.senderId)) } : undefined}
    >
      {showSender && (firstInRun ? <Avatar id={message.senderId} name={senderName} size="small" /> : <span class="avatar-spacer" />)}
      <div class={`bubble${sendState === 'failed' ? ' bubble-failed' : ''}`}>
        {showSender && firstInRun && (
          <div class="bubble-sender" data-testid="message-sender">
            {senderName}
          </div>
        )}
        {quote !== undefined && (
          <blockquote class="message-quote" data-testid="message-quote">
            <span class="message-quote-name">{quote.name}</span>
            <span class="message-quote-text">{quote.preview}</span>
          </blockquote>
        )}
        {editing && actions !== undefined ? (
          <MessageEditor
            text={message.text ?? ''}
            onCancel={() => setEditing(false)}
            onSave={(text) => {
              setEditing(false);
              actions.edit(text);
            }}
          />
        ) : (
          <Body message={message} context={context} />
        )}
        <div class="bubble-meta">
          {message.editedAt !== undefined && <EditedMark load={actions?.editHistory} />}
          <time dateTime={new Date(message.createdAt).toISOString()}>{messageTime(message.createdAt)}</time>
          {sendState !== undefined && (
            <span class={`send-state send-${sendState}`} data-testid="send-state" data-state={sendState} title={readers?.label ?? SEND_STATE_LABELS[sendState]}>
              <SendStateIcon state={sendState} />
              {readers !== undefined && (
                <span class="read-count" aria-hidden="true" data-testid="read-count">
                  {readers.count}
                </span>
              )}
              <span class="visually-hidden">{readers === undefined ? SEND_STATE_LABELS[sendState] : `${SEND_STATE_LABELS[sendState]}, ${readers.label.toLowerCase()}`}</span>
            </span>
          )}
          {actions !== undefined && !editing && (
            <span class="message-actions">
              <MenuButton label="Message options" items={menuItems(message, context, actions, () => setEditing(true), onOpenThread)} buttonClass="message-options" testId="message-options">
                <svg viewBox="0 0 20 20" aria-hidden="true">
                  <circle cx="4.5" cy="10" r="1.6" fill="currentColor" />
                  <circle cx="10" cy="10" r="1.6" fill="currentColor" />
                  <circle cx="15.5" cy="10" r="1.6" fill="currentColor" />
                </svg>
              </MenuButton>
            </span>
          )}
        </div>
        <ReactionChips message={message} actions={actions} />
        {onOpenThread !== undefined && <ThreadLink message={message} onOpen={onOpenThread} />}
      </div>
      {sendState === 'failed' && (
        // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls; this groups a reason and two buttons
        <div class="failed-actions" role="group" aria-label="Message not sent">
          <span class="failed-reason">{error ?? 'Not sent'}</span>
          <button type="button" class="link-button" data-testid="retry-button" onClick={onRetry}>
            Retry
          </button>
          <button type="button" class="link-button muted" onClick={onDiscard}>
            Delete
          </button>
        </div>
      )}
    </li>
  );
});
