/**
 * The open thread, beside its conversation (covering it on a phone): the
 * root, its replies in order (pages from the server, then live ones), this
 * user's replies not stored yet, and a small composer (Enter sends,
 * Shift+Enter adds a line). Replies count as read while the thread is open
 * in a visible page, as the timeline's messages do on screen. Escape closes
 * it.
 */
import type { ConversationSummary, Message } from '@parley/client';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type OpenThread, type PendingMessage, describeError, pendingAsMessage } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';
import type { MessageContext } from '../messages/registry.js';
import { type MessageActions, MessageItem } from './message-item.js';

/** Within this many pixels of the bottom counts as "at the bottom": new replies keep it there. */
const BOTTOM_SLACK_PX = 48;
const MAX_COMPOSER_HEIGHT_PX = 120;

interface ThreadPanelProps {
  conversation: ConversationSummary;
  context: MessageContext;
  maxLength: number;
  onClose(): void;
}

export function ThreadPanel({ conversation, context, maxLength, onClose }: ThreadPanelProps) {
  const thread = useChat((state) => (state.thread?.conversationId === conversation.id ? state.thread : undefined));
  if (thread === undefined) return null;
  return <ThreadView key={thread.rootSeq} thread={thread} conversation={conversation} context={context} maxLength={maxLength} onClose={onClose} />;
}

interface ThreadViewProps extends ThreadPanelProps {
  thread: OpenThread;
}

function ThreadView({ thread, conversation, context, maxLength, onClose }: ThreadViewProps) {
  const store = useChatStore();
  const { conversationId, rootSeq } = thread;
  const connection = useChat((state) => state.connection.state);
  const allPending = useChat((state) => state.timelines.get(conversationId)?.pending);
  const pending = (allPending ?? []).filter((entry) => entry.extras?.threadRoot === rootSeq);
  const [actionError, setActionError] = useState<string | undefined>();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [sentSignal, setSentSignal] = useState(0);

  // Read while open and seen: on opening, as replies arrive, when the page is looked at again.
  const unread = thread.root?.thread?.unread ?? 0;
  useEffect(() => {
    const markIfSeen = () => {
      if (document.visibilityState === 'visible') store.markThreadRead();
    };
    markIfSeen();
    document.addEventListener('visibilitychange', markIfSeen);
    window.addEventListener('focus', markIfSeen);
    return () => {
      document.removeEventListener('visibilitychange', markIfSeen);
      window.removeEventListener('focus', markIfSeen);
    };
  }, [unread, connection, store]);

  // Newest replies in view: on opening, after sending, and as replies arrive while the reader is at the bottom.
  const replyCount = thread.replies.length + pending.length;
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element !== null && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [replyCount, thread.status, sentSignal]);

  const onScroll = () => {
    const element = scroller.current;
    if (element !== null) atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < BOTTOM_SLACK_PX;
  };

  const failed = (error: unknown) => setActionError(describeError(error));
  const actionsFor = (message: Message): MessageActions => ({
    recall: () => void store.recall(conversationId, message.seq).catch(failed),
    edit: (text) => void store.edit(conversationId, message.seq, text).catch(failed),
    editHistory: () => store.editHistory(conversationId, message.seq),
    deleteForMe: () => void store.deleteForMe(conversationId, message.seq).catch(failed),
    react: (emoji, add) => void store.react(conversationId, message.seq, emoji, add).catch(failed),
  });
  const stored = (message: Message) => (message.seq > 0 && message.type === 'user' ? actionsFor(message) : undefined);

  // Replies after what the pages brought arrived live; the rest of the pages goes between.
  const paged = thread.hasMore ? thread.replies.filter((reply) => reply.seq <= thread.pagedThrough) : thread.replies;
  const live = thread.hasMore ? thread.replies.filter((reply) => reply.seq > thread.pagedThrough) : [];
  const renderReplies = (replies: readonly Message[], previous: Message | undefined) =>
    replies.map((reply, index) => (
      <MessageItem
        key={`m-${reply.seq}`}
        message={reply}
        context={context}
        firstInRun={(index === 0 ? previous : replies[index - 1])?.senderId !== reply.senderId}
        actions={stored(reply)}
      />
    ));
  const replies = thread.root?.thread?.replies ?? thread.replies.length;

  return (
    <section
      class="side-panel thread-panel"
      aria-label="Thread"
      data-testid="thread-panel"
      data-root-seq={rootSeq}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && !event.defaultPrevented) {
          event.preventDefault();
          onClose();
        }
      }}
    >
      <header class="side-panel-header">
        <h3>Thread</h3>
        <button type="button" class="icon-button" aria-label="Close thread" data-testid="thread-close" onClick={onClose}>
          <svg viewBox="0 0 20 20" aria-hidden="true">
            <path d="M5 5l10 10M15 5L5 15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
          </svg>
        </button>
      </header>
      <div class="thread-scroller" ref={scroller} onScroll={onScroll}>
        {thread.root === undefined ? (
          thread.status === 'loading' && (
            <div class="thread-status">
              <span class="spinner" role="status" aria-label="Loading the thread" />
            </div>
          )
        ) : (
          <ol class="messages thread-root" aria-label="Thread root">
            <MessageItem message={thread.root} context={context} firstInRun={true} actions={stored(thread.root)} />
          </ol>
        )}
        {thread.status === 'error' ? (
          <div class="thread-status" role="alert">
            <p>{thread.error ?? 'The thread could not be loaded.'}</p>
            <button type="button" class="button" onClick={() => store.openThread(conversationId, rootSeq)}>
              Try again
            </button>
          </div>
        ) : (
          thread.status === 'ready' && (
            <div class="thread-divider" data-testid="thread-count">
              <span>{replies === 0 ? 'No replies yet' : replies === 1 ? '1 reply' : `${replies} replies`}</span>
            </div>
          )
        )}
        <ol class="messages thread-replies" aria-label="Replies" aria-live="polite" aria-relevant="additions" data-testid="thread-replies">
          {renderReplies(paged, thread.root)}
          {thread.hasMore && (
            <li class="thread-more">
              <button type="button" class="link-button" data-testid="thread-load-more" disabled={thread.loadingMore} onClick={() => store.loadMoreThread()}>
                {thread.loadingMore ? 'Loading…' : 'Load more'}
              </button>
            </li>
          )}
          {renderReplies(live, paged[paged.length - 1] ?? thread.root)}
          {pending.map((entry) => (
            <PendingReply key={`p-${entry.clientMsgId}`} pending={entry} context={context} />
          ))}
        </ol>
        {thread.status === 'ready' && thread.error !== undefined && (
          <p class="form-error thread-error" role="alert">
            {thread.error}
          </p>
        )}
        {actionError !== undefined && (
          <p class="form-error thread-error" role="alert">
            {actionError}
          </p>
        )}
      </div>
      {conversation.active ? (
        <ThreadComposer
          maxLength={maxLength}
          onSend={(text) => {
            setActionError(undefined);
            atBottom.current = true;
            store.sendThreadReply(text);
            setSentSignal((signal) => signal + 1);
          }}
        />
      ) : (
        <div class="composer-closed">You are no longer a member of this group.</div>
      )}
    </section>
  );
}

/** One of this user's replies the server has not stored: sending, or failed with retry. */
function PendingReply({ pending, context }: { pending: PendingMessage; context: MessageContext }) {
  const store = useChatStore();
  return (
    <MessageItem
      message={pendingAsMessage(pending, context.selfId)}
      context={context}
      firstInRun={false}
      sendState={pending.state}
      error={pending.error}
      onRetry={() => store.retry(pending.conversationId, pending.clientMsgId)}
      onDiscard={() => store.discard(pending.conversationId, pending.clientMsgId)}
    />
  );
}

function ThreadComposer({ maxLength, onSend }: { maxLength: number; onSend(text: string): void }) {
  const [text, setText] = useState('');
  const input = useRef<HTMLTextAreaElement>(null);

  // Opened to answer: the cursor is where the answer goes.
  useEffect(() => input.current?.focus(), []);

  const resize = () => {
    const element = input.current;
    if (element === null) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight, MAX_COMPOSER_HEIGHT_PX)}px`;
  };
  useLayoutEffect(resize, [text]);

  const tooLong = text.length > maxLength;
  const send = () => {
    const trimmed = text.trim();
    if (trimmed === '' || tooLong) return;
    onSend(trimmed);
    setText('');
    input.current?.focus();
  };

  return (
    <form
      class="thread-composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <textarea
        ref={input}
        rows={1}
        value={text}
        aria-label="Reply in thread"
        placeholder="Reply…"
        data-testid="thread-composer"
        aria-invalid={tooLong}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            send();
          }
        }}
      />
      <button type="submit" class="button primary small thread-send" data-testid="thread-send" disabled={text.trim() === '' || tooLong}>
        Reply
      </button>
      {tooLong && (
        <p class="form-error thread-error" role="alert">
          Too long: at most {maxLength} characters.
        </p>
      )}
    </form>
  );
}
