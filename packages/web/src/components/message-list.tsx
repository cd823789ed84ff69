/**
 * The scrolling list of a conversation's messages: day separators, the
 * new-message divider, runs of messages from one sender, this tab's pending
 * sends and uploads after the stored messages; replies in threads are not
 * in it (their roots say how many there are). It owns scrolling: it opens at the first
 * unread (or the bottom), keeps the view steady while older pages load above,
 * follows new messages while at the bottom, and reports the newest message on
 * screen so the conversation can be marked read as it is viewed.
 */
import type { ConversationSummary, Message, MessageReceipts } from '@parley/client';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type PendingUpload, type Timeline, isThreadReply, pendingAsMessage } from '../chat/chat-store.js';
import { dayLabel, nameOf, sameDay } from '../format.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { type MessageActions, MessageItem, type SendState } from './message-item.js';
import { UploadItem } from './upload-item.js';

/** Within this many pixels of the bottom counts as "at the bottom". */
const BOTTOM_SLACK_PX = 64;
/** Older messages load when the top is this close. */
const LOAD_OLDER_THRESHOLD_PX = 400;
/** How long a message opened from a search stays marked. */
const SEARCH_FOCUS_MS = 2500;
/** Consecutive messages from one sender within this time form one run. */
const RUN_GAP_MS = 5 * 60_000;

interface MessageListProps {
  conversation: ConversationSummary;
  timeline: Timeline;
  context: MessageContext;
  /** The divider goes before the first message from someone else above this seq. */
  dividerAfterSeq: number | undefined;
  /** A message to show (a search hit): older pages load until it is there, then it is scrolled to the middle and marked for a moment. */
  focusSeq?: number;
  /** Changes when this user sent something: jump to the bottom. */
  sentSignal: number;
  onLoadOlder(): void;
  /** The newest stored message visible on screen. */
  onViewed(seq: number): void;
  onRetry(clientMsgId: string): void;
  onDiscard(clientMsgId: string): void;
  onCancelUpload(clientMsgId: string): void;
  onRetryUpload(clientMsgId: string): void;
  /** Sent, delivered or read, for the user's own stored messages; undefined while unknown (shown as sent). */
  receiptsOf(message: Message): MessageReceipts | undefined;
  /** What a stored message's options menu does. */
  actionsFor(message: Message): MessageActions;
  /** Opens the thread under a root (its "N replies" link). */
  onOpenThread(rootSeq: number): void;
}

type Entry =
  | { type: 'day'; key: string; label: string }
  | { type: 'divider'; key: string }
  | {
      type: 'message';
      key: string;
      message: Message;
      firstInRun: boolean;
      sendState?: SendState;
      readers?: { count: string; label: string };
      error?: string;
      clientMsgId?: string;
    }
  | { type: 'upload'; key: string; upload: PendingUpload; firstInRun: boolean };

/** An own stored message's state from its receipts; in groups, also how many of its members read it. */
function receiptState(receipts: MessageReceipts | undefined, group: boolean): { sendState: SendState; readers?: { count: string; label: string } } {
  if (receipts === undefined) return { sendState: 'sent' };
  if (!group || receipts.total === 0) return { sendState: receipts.status };
  return { sendState: receipts.status, readers: { count: `${receipts.readBy.length}/${receipts.total}`, label: `Read by ${receipts.readBy.length} of ${receipts.total}` } };
}

function buildEntries(
  timeline: Timeline,
  context: MessageContext,
  dividerAfterSeq: number | undefined,
  receiptsOf: (message: Message) => MessageReceipts | undefined,
): Entry[] {
  const entries: Entry[] = [];
  let previous: Message | undefined;
  let dividerPlaced = dividerAfterSeq === undefined;
  const add = (
    message: Message,
    extra: { sendState?: SendState; readers?: { count: string; label: string }; error?: string; clientMsgId?: string; upload?: PendingUpload },
    key: string,
  ) => {
    if (previous === undefined || !sameDay(previous.createdAt, message.createdAt)) {
      entries.push({ type: 'day', key: `day-${message.createdAt}-${key}`, label: dayLabel(message.createdAt) });
      previous = undefined;
    }
    if (!dividerPlaced && message.seq > (dividerAfterSeq ?? 0) && message.type === 'user' && message.senderId !== context.selfId) {
      entries.push({ type: 'divider', key: 'divider' });
      dividerPlaced = true;
      previous = undefined;
    }
    const bubble = messageKind(message).layout === 'bubble';
    const firstInRun =
      !bubble ||
      previous === undefined ||
      messageKind(previous).layout !== 'bubble' ||
      previous.senderId !== message.senderId ||
      message.createdAt - previous.createdAt > RUN_GAP_MS;
    const { upload, ...messageExtra } = extra;
    entries.push(upload === undefined ? { type: 'message', key, message, firstInRun, ...messageExtra } : { type: 'upload', key, upload, firstInRun });
    previous = message;
  };
  for (const message of timeline.messages) {
    const own = message.senderId === context.selfId && message.type === 'user';
    add(message, own ? receiptState(receiptsOf(message), context.conversationKind === 'group') : {}, `m-${message.seq}`);
  }
  // Texts and uploads not stored yet, in the order they were made.
  const waiting = [
    ...timeline.pending.filter((pending) => !isThreadReply(pending)).map((pending) => ({ createdAt: pending.createdAt, pending })),
    ...timeline.uploads.map((upload) => ({ createdAt: upload.createdAt, upload })),
  ].sort((a, b) => a.createdAt - b.createdAt);
  for (const item of waiting) {
    if ('upload' in item) {
      const { upload } = item;
      // Stands in for the message it becomes, for day separators and runs.
      const message: Message = {
        id: upload.clientMsgId,
        conversationId: upload.conversationId,
        seq: 0,
        senderId: context.selfId,
        clientMsgId: upload.clientMsgId,
        type: 'user',
        text: upload.text,
        createdAt: upload.createdAt,
      };
      add(message, { upload }, `u-${upload.clientMsgId}`);
      continue;
    }
    const { pending } = item;
    const message = pendingAsMessage(pending, context.selfId);
    const extra: { sendState: SendState; clientMsgId: string; error?: string } = { sendState: pending.state, clientMsgId: pending.clientMsgId };
    if (pending.error !== undefined) extra.error = pending.error;
    add(message, extra, `p-${pending.clientMsgId}`);
  }
  return entries;
}

/** How a reply shows what it answers: its sender and one line, or a stand-in when this view does not hold it. */
function quoteOf(messages: readonly Message[], seq: number, context: MessageContext): { name: string; preview: string } {
  const quoted = messages.find((message) => message.seq === seq);
  if (quoted === undefined) return { name: '', preview: 'An earlier message' };
  return { name: nameOf(context.names, quoted.senderId), preview: messageKind(quoted).preview(quoted, context) };
}

function distanceFromBottom(element: HTMLElement): number {
  return element.scrollHeight - element.scrollTop - element.clientHeight;
}

export function MessageList(props: MessageListProps) {
  const { conversation, timeline, context, dividerAfterSeq, sentSignal, onLoadOlder, onRetry, onDiscard, onCancelUpload, onRetryUpload } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const list = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const initialScrollDone = useRef(false);
  const previousHeight = useRef(0);
  const previousFirstSeq = useRef<number | undefined>(undefined);
  const previousSentSignal = useRef(sentSignal);
  const latest = useRef(props);
  latest.current = props;
  const [atBottom, setAtBottom] = useState(true);

  const reportViewed = () => {
    const element = scroller.current;
    if (element === null || document.visibilityState !== 'visible') return;
    const bottom = element.getBoundingClientRect().bottom;
    const items = element.querySelectorAll<HTMLElement>('[data-seq]');
    for (let index = items.length - 1; index >= 0; index--) {
      const item = items[index] as HTMLElement;
      if (item.getBoundingClientRect().top < bottom - 8) {
        latest.current.onViewed(Number(item.dataset.seq));
        return;
      }
    }
  };

  const messages = timeline.messages;
  const firstSeq = messages[0]?.seq;
  const hasContent = messages.length > 0 || timeline.pending.some((pending) => !isThreadReply(pending)) || timeline.uploads.length > 0;

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    if (!initialScrollDone.current) {
      if (hasContent || timeline.history === 'complete') {
        const divider = element.querySelector<HTMLElement>('[data-divider]');
        if (divider !== null) element.scrollTop = Math.max(0, divider.offsetTop - element.clientHeight / 4);
        else element.scrollTop = element.scrollHeight;
        stickToBottom.current = distanceFromBottom(element) < BOTTOM_SLACK_PX;
        setAtBottom(stickToBottom.current);
        initialScrollDone.current = true;
      }
    } else if (sentSignal !== previousSentSignal.current) {
      element.scrollTop = element.scrollHeight;
      stickToBottom.current = true;
      setAtBottom(true);
    } else if (firstSeq !== undefined && previousFirstSeq.current !== undefined && firstSeq < previousFirstSeq.current) {
      // An older page arrived above: keep what the user looks at in place.
      element.scrollTop += element.scrollHeight - previousHeight.current;
    } else if (stickToBottom.current) {
      element.scrollTop = element.scrollHeight;
    }
    previousSentSignal.current = sentSignal;
    previousHeight.current = element.scrollHeight;
    previousFirstSeq.current = firstSeq;
    reportViewed();
    // Not enough to fill the screen: there is no scrolling up to ask for more.
    if (element.scrollHeight <= element.clientHeight + LOAD_OLDER_THRESHOLD_PX && timeline.history === 'idle') onLoadOlder();
  });

  // Content that grows after it rendered (a photo being sent, shown once
  // decoded from the local file), and a view that shrinks (the composer
  // growing a line, the typing indicator showing), keep a view that was at
  // the bottom there.
  useEffect(() => {
    const element = scroller.current;
    const content = list.current;
    if (element === null || content === null || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => {
      if (initialScrollDone.current && stickToBottom.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(content);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const onVisible = () => reportViewed();
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
    };
  }, []);

  const frame = useRef(0);
  const lastScrollTop = useRef(0);
  const onScroll = () => {
    const element = scroller.current;
    if (element === null) return;
    // Content growing below the view (a photo being sent, decoded after the
    // jump to the bottom) is not the user leaving the bottom: scrolling up is.
    const scrolledUp = element.scrollTop < lastScrollTop.current;
    lastScrollTop.current = element.scrollTop;
    stickToBottom.current = distanceFromBottom(element) < BOTTOM_SLACK_PX || (stickToBottom.current && !scrolledUp);
    if (stickToBottom.current !== atBottom) setAtBottom(stickToBottom.current);
    if (element.scrollTop < LOAD_OLDER_THRESHOLD_PX && latest.current.timeline.history === 'idle') latest.current.onLoadOlder();
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(reportViewed);
  };

  // After the layout effect above: the first scroll is done, and a page that
  // just arrived above is in place, before the view moves to the message.
  const focusedSeq = useRef<number | undefined>(undefined);
  useEffect(() => {
    const focusSeq = props.focusSeq;
    const element = scroller.current;
    if (focusSeq === undefined || focusedSeq.current === focusSeq || element === null || !initialScrollDone.current) return;
    const item = element.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
    if (item === null) {
      // Older than what is loaded: one more page, and look again when it arrives.
      if (firstSeq !== undefined && firstSeq > focusSeq && timeline.history === 'idle') onLoadOlder();
      return;
    }
    focusedSeq.current = focusSeq;
    item.scrollIntoView({ block: 'center' });
    stickToBottom.current = distanceFromBottom(element) < BOTTOM_SLACK_PX;
    setAtBottom(stickToBottom.current);
    // An attribute the renderer does not own, so a re-render keeps it until it is taken off.
    item.dataset.searchFocus = '';
    setTimeout(() => delete item.dataset.searchFocus, SEARCH_FOCUS_MS);
  });

  const jumpToBottom = () => {
    const element = scroller.current;
    if (element !== null) element.scrollTo({ top: element.scrollHeight, behavior: 'smooth' });
  };

  const entries = buildEntries(timeline, context, dividerAfterSeq, props.receiptsOf);
  return (
    <div class="message-pane">
      <div class="message-scroller" ref={scroller} onScroll={onScroll} data-testid="message-scroller">
        <div class="history-edge" data-testid="history-state" data-state={timeline.history}>
          {timeline.history === 'loading' && <span class="spinner" role="status" aria-label="Loading older messages" />}
          {timeline.history === 'complete' && hasContent && (
            <span class="muted">{conversation.kind === 'group' ? 'The beginning of this group' : 'The beginning of your conversation'}</span>
          )}
          {timeline.history === 'error' && <span class="muted">Older messages could not be loaded.</span>}
        </div>
        {!hasContent && timeline.history === 'complete' && (
          <div class="conversation-empty">
            <p>No messages yet.</p>
            <p class="muted">Say hello!</p>
          </div>
        )}
        <ol ref={list} class="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions">
          {entries.map((entry) => {
            if (entry.type === 'day') {
              return (
                <li key={entry.key} class="day-separator">
                  <span>{entry.label}</span>
                </li>
              );
            }
            if (entry.type === 'divider') {
              return (
                <li key={entry.key} class="unread-divider" data-divider data-testid="unread-divider">
                  <span>New messages</span>
                </li>
              );
            }
            if (entry.type === 'upload') {
              const { clientMsgId } = entry.upload;
              return (
                <UploadItem
                  key={entry.key}
                  upload={entry.upload}
                  firstInRun={entry.firstInRun}
                  onCancel={() => onCancelUpload(clientMsgId)}
                  onRetry={() => onRetryUpload(clientMsgId)}
                />
              );
            }
            const clientMsgId = entry.clientMsgId;
            return (
              <MessageItem
                key={entry.key}
                message={entry.message}
                context={context}
                sendState={entry.sendState}
                readers={entry.readers}
                actions={entry.message.seq > 0 && entry.message.type === 'user' ? props.actionsFor(entry.message) : undefined}
                quote={entry.message.replyTo === undefined ? undefined : quoteOf(timeline.messages, entry.message.replyTo, context)}
                error={entry.error}
                firstInRun={entry.firstInRun}
                onRetry={clientMsgId === undefined ? undefined : () => onRetry(clientMsgId)}
                onDiscard={clientMsgId === undefined ? undefined : () => onDiscard(clientMsgId)}
                onOpenThread={entry.message.seq > 0 ? () => props.onOpenThread(entry.message.seq) : undefined}
              />
            );
          })}
        </ol>
      </div>
      {!atBottom && (
        <button type="button" class="jump-button" onClick={jumpToBottom} aria-label="Jump to the newest message">
          <svg viewBox="0 0 16 16" aria-hidden="true">
            <path d="M8 3v10M3.5 8.5L8 13l4.5-4.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
          </svg>
          {conversation.unread > 0 && <span class="jump-count">{conversation.unread}</span>}
        </button>
      )}
    </div>
  );
}
