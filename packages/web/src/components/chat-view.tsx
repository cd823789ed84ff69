/**
 * One open conversation: header (with buttons for the side panels that apply
 * and the options menu), message list, who else is typing, composer, and the
 * open side panel or thread (one at a time, in the same place). It decides when messages count as read: when they are on
 * screen in a visible page. Files dropped anywhere on it are sent to the
 * conversation, like attached ones.
 */
import type { ConversationSummary, Message } from '@parley/client';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { EMPTY_TIMELINE, describeError } from '../chat/chat-store.js';
import { type MessageContext, messageKind } from '../messages/registry.js';
import { nameOf } from '../format.js';
import type { MentionCandidate } from '../chat/mentions.js';
import { PANELS, type PanelDefinition } from '../panels/registry.js';
import { Avatar } from './avatar.js';
import { Composer } from './composer.js';
import { conversationTitle } from './conversation-list.js';
import { ConversationMenu } from './conversation-menu.js';
import { MessageList } from './message-list.js';
import { PresenceLine, WithPresence } from './presence-dot.js';
import { ThreadPanel } from './thread-panel.js';
import { TypingIndicator } from './typing-indicator.js';

/** The server's default maxTextChars, until its welcome says what it allows. */
const DEFAULT_MAX_TEXT_CHARS = 8000;

interface ChatViewProps {
  conversationId: string;
  /** A message to scroll to (a search hit); absent: open at the first unread. */
  focusSeq?: number;
  panelId: string | undefined;
  onPanel(panelId: string | undefined): void;
  onBack(): void;
}

export function ChatView({ conversationId, focusSeq, panelId, onPanel, onBack }: ChatViewProps) {
  const store = useChatStore();
  const conversation = useChat((state) => state.conversations.find((summary) => summary.id === conversationId));
  const connection = useChat((state) => state.connection.state);

  if (conversation === undefined) {
    return (
      <section class="chat chat-missing">
        <header class="chat-header">
          <button type="button" class="icon-button back-button" onClick={onBack} aria-label="Back to conversations">
            <BackIcon />
          </button>
        </header>
        <div class="chat-placeholder">
          {connection === 'open' ? (
            <>
              <p>This conversation is not in your list.</p>
              <button type="button" class="button" onClick={onBack}>
                Back to conversations
              </button>
            </>
          ) : (
            <p class="muted">Loading…</p>
          )}
        </div>
      </section>
    );
  }
  return <OpenChat conversation={conversation} store={store} focusSeq={focusSeq} panelId={panelId} onPanel={onPanel} onBack={onBack} />;
}

function BackIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <path d="M12.5 4L6.5 10l6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

interface OpenChatProps {
  conversation: ConversationSummary;
  store: ReturnType<typeof useChatStore>;
  focusSeq: number | undefined;
  panelId: string | undefined;
  onPanel(panelId: string | undefined): void;
  onBack(): void;
}

function OpenChat({ conversation, store, focusSeq, panelId, onPanel, onBack }: OpenChatProps) {
  const conversationId = conversation.id;
  const timeline = useChat((state) => state.timelines.get(conversationId)) ?? EMPTY_TIMELINE;
  const names = useChat((state) => state.names);
  const selfId = useChat((state) => state.self.userId);
  const connection = useChat((state) => state.connection.state);
  const threadOpen = useChat((state) => state.thread?.conversationId === conversationId);
  // Read so the list renders again when the receipts held for this conversation change.
  useChat((state) => state.receiptsChanged.get(conversationId));
  const context = useMemo<MessageContext>(
    () => ({
      selfId,
      names,
      conversationKind: conversation.kind,
      conversationName: conversation.kind === 'group' ? conversation.name : undefined,
      moderates: conversation.kind === 'group' && conversation.active && (conversation.role === 'admin' || conversation.role === 'owner'),
    }),
    [selfId, names, conversation.kind, conversation.name, conversation.active, conversation.role],
  );

  // The divider marks where unread began when the conversation was opened (or
  // when the page became visible again with unread messages); it stays put.
  const [dividerAfterSeq, setDividerAfterSeq] = useState<number | undefined>(() => (conversation.unread > 0 ? conversation.readSeq : undefined));
  const [sentSignal, setSentSignal] = useState(0);
  const [settingsError, setSettingsError] = useState<string | undefined>();
  const [replyingTo, setReplyingTo] = useState<Message | undefined>();
  const members = useChat((state) => state.members.get(conversationId)?.members);
  const people = useMemo<MentionCandidate[]>(() => {
    if (conversation.kind === 'group') return (members ?? []).map((member) => ({ id: member.userId, name: member.name }));
    return conversation.peerId === undefined ? [] : [{ id: conversation.peerId, name: conversation.name || conversation.peerId }];
  }, [conversation.kind, conversation.peerId, conversation.name, members]);
  const current = useRef(conversation);
  current.current = conversation;

  useEffect(() => {
    const onVisible = () => {
      const latest = current.current;
      if (document.visibilityState === 'visible' && latest.unread > 0) setDividerAfterSeq((divider) => divider ?? latest.readSeq);
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, []);

  // First page of history, and again after a reconnect if it could not load.
  useEffect(() => {
    if (connection === 'open' && timeline.history === 'idle' && timeline.messages.length === 0) store.loadOlder(conversationId);
  }, [connection, timeline.history, timeline.messages.length, conversationId, store]);

  // The peer of a direct chat: online, away or last seen, in the header.
  const peerId = conversation.kind === 'direct' ? conversation.peerId : undefined;
  useEffect(() => {
    store.watchOpenPeer(peerId);
    return () => store.watchOpenPeer(undefined);
  }, [peerId, store]);

  // Ticks: the other members' positions, kept current by the SDK once asked for.
  useEffect(() => {
    if (connection === 'open') store.loadReceipts(conversationId);
  }, [connection, conversationId, store]);

  // Group senders are labelled with names from the members list.
  const isGroup = conversation.kind === 'group';
  useEffect(() => {
    if (connection === 'open' && isGroup && conversation.active) store.loadMembers(conversationId);
  }, [connection, isGroup, conversation.active, conversationId, store]);

  // A thread belongs to its conversation: opening another one closes it.
  useEffect(() => () => store.closeThread(conversationId), [conversationId, store]);
  const openThread = (rootSeq: number) => {
    onPanel(undefined);
    store.openThread(conversationId, rootSeq);
  };
  const choosePanel = (chosenId: string | undefined) => {
    store.closeThread(conversationId);
    onPanel(chosenId);
  };

  const sent = () => {
    setDividerAfterSeq(undefined);
    setSentSignal((signal) => signal + 1);
  };
  const attach = (files: File[]) => {
    for (const file of files) store.sendMedia(conversationId, file);
    sent();
  };

  // Dragging files over the conversation shows where they go; other drags (text, links) pass by.
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const carriesFiles = (event: DragEvent) => conversation.active && (event.dataTransfer?.types.includes('Files') ?? false);
  const dropHandlers = {
    onDragEnter: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      dragDepth.current++;
      setDragging(true);
    },
    onDragOver: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      // Accepting the drag is what lets the drop happen here rather than the browser opening the file.
      event.preventDefault();
      if (event.dataTransfer !== null) event.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      dragDepth.current = Math.max(0, dragDepth.current - 1);
      if (dragDepth.current === 0) setDragging(false);
    },
    onDrop: (event: DragEvent) => {
      dragDepth.current = 0;
      setDragging(false);
      if (!carriesFiles(event)) return;
      event.preventDefault();
      const files = Array.from(event.dataTransfer?.files ?? []);
      if (files.length > 0) attach(files);
    },
  };

  const panels = PANELS.filter((panel) => panel.available(conversation));
  const openPanel: PanelDefinition | undefined = threadOpen ? undefined : panels.find((panel) => panel.id === panelId);
  const maxTextChars = store.client.serverLimits?.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  const title = conversationTitle(conversation);
  const subtitle =
    conversation.kind === 'direct'
      ? `@${conversation.peerId ?? ''}`
      : `${conversation.memberCount} member${conversation.memberCount === 1 ? '' : 's'}${conversation.active ? '' : ' · you are no longer a member'}`;

  return (
    <section class={`chat${openPanel === undefined && !threadOpen ? '' : ' with-panel'}`} data-testid="chat-view" data-conversation-id={conversationId}>
      <div class="chat-column" {...dropHandlers}>
        {dragging && (
          <div class="drop-overlay" data-testid="drop-overlay" aria-hidden="true">
            <span>Drop to send to {title}</span>
          </div>
        )}
        <header class="chat-header">
          <button type="button" class="icon-button back-button" onClick={onBack} aria-label="Back to conversations">
            <BackIcon />
          </button>
          <WithPresence userId={peerId}>
            <Avatar id={conversation.kind === 'direct' ? (conversation.peerId ?? conversationId) : conversationId} name={title} group={conversation.kind === 'group'} />
          </WithPresence>
          <div class="chat-title">
            <h2 data-testid="chat-title">{title}</h2>
            {peerId === undefined ? <span class="chat-subtitle">{subtitle}</span> : <PresenceLine userId={peerId} fallback={subtitle} />}
          </div>
          <div class="chat-actions">
            {panels.map((panel) => (
              <button
                key={panel.id}
                type="button"
                class={`icon-button${panel.id === openPanel?.id ? ' pressed' : ''}`}
                aria-pressed={panel.id === openPanel?.id}
                aria-label={panel.title}
                title={panel.title}
                data-testid={`panel-button-${panel.id}`}
                onClick={() => choosePanel(panel.id === openPanel?.id ? undefined : panel.id)}
              >
                <panel.Icon />
              </button>
            ))}
            <ConversationMenu conversation={conversation} onError={setSettingsError} />
          </div>
        </header>
        {settingsError !== undefined && (
          <div class="form-error chat-error" role="alert" data-testid="conversation-error">
            <span>{settingsError}</span>
            <button type="button" class="icon-button small" aria-label="Dismiss" onClick={() => setSettingsError(undefined)}>
              <svg viewBox="0 0 20 20" aria-hidden="true">
                <path d="M5 5l10 10M15 5L5 15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
              </svg>
            </button>
          </div>
        )}
        <AboutBanner conversation={conversation} />
        <MessageList
          key={conversationId}
          conversation={conversation}
          timeline={timeline}
          context={context}
          dividerAfterSeq={dividerAfterSeq}
          focusSeq={focusSeq}
          sentSignal={sentSignal}
          onLoadOlder={() => store.loadOlder(conversationId)}
          onViewed={(seq) => store.markRead(conversationId, seq)}
          onRetry={(clientMsgId) => store.retry(conversationId, clientMsgId)}
          onDiscard={(clientMsgId) => store.discard(conversationId, clientMsgId)}
          onCancelUpload={(clientMsgId) => store.cancelUpload(conversationId, clientMsgId)}
          onRetryUpload={(clientMsgId) => store.retryUpload(conversationId, clientMsgId)}
          receiptsOf={(message) => store.receiptsOf(message)}
          onOpenThread={openThread}
          actionsFor={(message) => ({
            recall: () => void store.recall(conversationId, message.seq).catch((error: unknown) => setSettingsError(describeError(error))),
            edit: (text) => void store.edit(conversationId, message.seq, text).catch((error: unknown) => setSettingsError(describeError(error))),
            editHistory: () => store.editHistory(conversationId, message.seq),
            deleteForMe: () => void store.deleteForMe(conversationId, message.seq).catch((error: unknown) => setSettingsError(describeError(error))),
            reply: () => setReplyingTo(message),
            react: (emoji, add) => void store.react(conversationId, message.seq, emoji, add).catch((error: unknown) => setSettingsError(describeError(error))),
          })}
        />
        <TypingIndicator conversationId={conversationId} />
        {conversation.active ? (
          <Composer
            key={conversationId}
            conversationId={conversationId}
            maxLength={maxTextChars}
            people={people}
            group={conversation.kind === 'group'}
            replyingTo={
              replyingTo === undefined
                ? undefined
                : { name: nameOf(names, replyingTo.senderId), preview: messageKind(replyingTo).preview(replyingTo, context) }
            }
            onCancelReply={() => setReplyingTo(undefined)}
            onSend={(text, extras) => {
              store.send(conversationId, text, replyingTo === undefined ? extras : { ...extras, replyTo: replyingTo.seq });
              setReplyingTo(undefined);
              sent();
            }}
            onAttach={attach}
            onVoice={(voice) => {
              store.sendMedia(conversationId, voice.audio, { kind: 'voice', fileName: voiceFileName(voice.audio.type), durationMs: voice.durationMs, waveform: voice.waveform });
              sent();
            }}
          />
        ) : (
          <div class="composer-closed">You are no longer a member of this group. You can read what was said until you left.</div>
        )}
      </div>
      {threadOpen && <ThreadPanel conversation={conversation} context={context} maxLength={maxTextChars} onClose={() => store.closeThread(conversationId)} />}
      {openPanel !== undefined && (
        <aside class="side-panel" aria-label={openPanel.title} data-testid={`panel-${openPanel.id}`}>
          <header class="side-panel-header">
            <h3>{openPanel.title}</h3>
            <button type="button" class="icon-button" aria-label={`Close ${openPanel.title.toLowerCase()}`} onClick={() => choosePanel(undefined)}>
              <svg viewBox="0 0 20 20" aria-hidden="true">
                <path d="M5 5l10 10M15 5L5 15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
              </svg>
            </button>
          </header>
          <div class="side-panel-body">
            <openPanel.Panel conversation={conversation} />
          </div>
        </aside>
      )}
    </section>
  );
}

/** A recorded note's name, with the extension its container has ("voice-message.webm"). */
function voiceFileName(mimeType: string): string {
  const container = mimeType.split(';')[0] ?? '';
  const extension = container === 'audio/ogg' ? 'ogg' : container === 'audio/mp4' ? 'm4a' : 'webm';
  return `voice-message.${extension}`;
}

/**
 * What the conversation is about in the host's product (its `title`
 * attribute, a link when it also has `url`), else its subject: the item a
 * buyer and a seller talk about, say. Nothing when it has neither.
 */
function AboutBanner({ conversation }: { conversation: ConversationSummary }) {
  const title = conversation.attributes.title ?? conversation.subject;
  if (title === undefined || title === '') return null;
  const url = conversation.attributes.url;
  const safeUrl = url !== undefined && /^https?:\/\//u.test(url) ? url : undefined;
  return (
    <div class="about-banner" data-testid="about-banner">
      <span class="about-label">About</span>
      {safeUrl === undefined ? (
        <span class="about-title">{title}</span>
      ) : (
        <a class="about-title" href={safeUrl} target="_blank" rel="noopener noreferrer">
          {title}
        </a>
      )}
    </div>
  );
}
