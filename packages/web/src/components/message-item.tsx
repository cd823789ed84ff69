/**
 * One message in a conversation. The message's kind (messages/registry.tsx)
 * decides its body and layout; this component adds what every bubble has:
 * sender, time, and for this user's own messages the send state
 * (sending / sent / failed with retry).
 */
import type { Message } from '@parley/client';
import { memo } from 'preact/compat';
import { avatarHue, messageTime, nameOf } from '../format.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { Avatar } from './avatar.js';

export type SendState = 'sending' | 'sent' | 'failed';

interface MessageItemProps {
  message: Message;
  context: MessageContext;
  /** Own messages only. */
  sendState?: SendState;
  /** Why a failed message failed. */
  error?: string;
  /** First of a run of messages from one sender: show the name (groups) and avatar. */
  firstInRun: boolean;
  onRetry?: () => void;
  onDiscard?: () => void;
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
  return (
    <svg class="send-icon" viewBox="0 0 16 16" aria-hidden="true">
      <circle cx="8" cy="8" r="7" fill="currentColor" />
      <path d="M8 4.5v4.5M8 11.2v.3" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
    </svg>
  );
}

const SEND_STATE_LABELS: Record<SendState, string> = { sending: 'Sending', sent: 'Sent', failed: 'Not sent' };

export const MessageItem = memo(function MessageItem({ message, context, sendState, error, firstInRun, onRetry, onDiscard }: MessageItemProps) {
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
      data-state={sendState}
      style={showSender ? { '--avatar-hue': String(avatarHue(message.senderId)) } : undefined}
    >
      {showSender && (firstInRun ? <Avatar id={message.senderId} name={senderName} size="small" /> : <span class="avatar-spacer" />)}
      <div class={`bubble${sendState === 'failed' ? ' bubble-failed' : ''}`}>
        {showSender && firstInRun && (
          <div class="bubble-sender" data-testid="message-sender">
            {senderName}
          </div>
        )}
        <Body message={message} context={context} />
        <div class="bubble-meta">
          <time dateTime={new Date(message.createdAt).toISOString()}>{messageTime(message.createdAt)}</time>
          {sendState !== undefined && (
            <span class={`send-state send-${sendState}`} data-testid="send-state" title={SEND_STATE_LABELS[sendState]}>
              <SendStateIcon state={sendState} />
              <span class="visually-hidden">{SEND_STATE_LABELS[sendState]}</span>
            </span>
          )}
        </div>
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
