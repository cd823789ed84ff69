/**
 * ChatStore: the app's state, kept from one ParleyClient. It owns what the SDK
 * leaves to applications — the messages held per conversation (live ones from
 * 'message' events plus older pages from history()), this tab's outgoing
 * messages and their send state, members lists, known display names — and
 * exposes one immutable snapshot that components read through hooks
 * (use-chat.ts). Changes are batched: listeners hear once per microtask.
 *
 * Outgoing messages are written to the outbox (outbox-store.ts, IndexedDB)
 * before they are handed to the SDK, each with its clientMsgId, and forgotten
 * once the server stored or refused them; on start the user's entries are
 * shown again and resent with the same keys, so a reload loses nothing and
 * the server stores each once, also when two tabs resend the same entry.
 *
 * Media (photos, files, voice notes, videos) go through the SDK's upload
 * channel instead: each upload is a PendingUpload in its timeline, with its
 * progress, cancellable, and on failure retryable with the same clientMsgId,
 * so that the server stores it once. Uploads live in memory only: a reload
 * forgets those not yet sent (the browser holds the bytes, not the app).
 *
 * The user's own settings of a conversation (mute, pin, draft) live in the
 * SDK's summaries, the same on all their devices; the list keeps the SDK's
 * order (pinned first). Drafts typed here are kept and saved by a
 * DraftKeeper (draft-keeper.ts).
 *
 * Replies in threads (messages with `threadRoot`) stay out of the
 * timelines: each updates its root's reply count there, and the open thread
 * (one at a time, shown beside the conversation) holds its root and
 * replies, from client.thread() pages and then live. Own replies are sent
 * like any message, through the outbox, with their thread in their extras.
 *
 * Who else is typing where comes from the SDK's 'typing' event, which also
 * says when an indicator lapses; the typers' names are asked for like any
 * other id met. Direct peers' presence comes from the SDK's 'presence'
 * event, for the peers a PresenceWatch (presence-watch.ts) picks.
 *
 * The SDK does the hard parts (ordering, exactly-once, resume, unread counts);
 * nothing here second-guesses it.
 */
import {
  ParleyClient,
  ParleyError,
  newClientMsgId,
  type ClientState,
  type ConversationMember,
  type ConversationSummary,
  type MediaKind,
  type MediaRef,
  type MediaSize,
  type Message,
  type MessageReceipts,
  type AmendedMessage,
  applyAmendment,
  applyThreadReply,
  type CacheEvent,
  type LocalCache,
  type SendMediaOptions,
  type TypingChange,
  type UserProfile,
  type Presence,
} from '@parley/client';
import { formatDuration } from '../format.js';
import { DEFAULT_MAX_DRAFT_CHARS, DraftKeeper } from './draft-keeper.js';
import { PresenceWatch } from './presence-watch.js';
import { type ConversationLabel, MemoryOutboxStore, type MessageExtras, type OutboxRecord, type OutboxStore } from './outbox-store.js';
import { measureVideo } from './video-facts.js';

/** How many older messages one scroll-back loads. */
export const HISTORY_PAGE = 40;
/** Names met within this time are asked for in one request. */
const NAMES_BATCH_DELAY_MS = 30;
/** People suggested by one directory search. */
export const USER_SUGGESTIONS = 8;
/** Members lists are reloaded this long after the last membership event of a burst. */
const MEMBERS_RELOAD_DEBOUNCE_MS = 150;
/** Replies one page of a thread loads (the server's maximum). */
export const THREAD_PAGE = 100;

/**
 * What a message carries besides its text. The outbox keeps extras as they
 * are given, so a thread reply restored after a reload still goes to its thread.
 */
export type SendExtras = MessageExtras & {
  /** The root's seq: a reply in that thread. */
  threadRoot?: number;
};

/** A message the user sent that the server has not stored (yet), from this tab or restored from the outbox. */
export interface PendingMessage {
  /** The idempotency key it is sent with; also its identity in the UI. */
  clientMsgId: string;
  conversationId: string;
  text: string;
  /** Mentions, the message it answers, the thread it is a reply in. */
  extras?: SendExtras;
  state: 'sending' | 'failed';
  /** Why the server refused it (failed only). */
  error?: string;
  /** Local clock, ms since epoch. */
  createdAt: number;
}

/** A photo, file, voice note or video being uploaded and sent, or whose upload failed. */
export interface PendingUpload {
  /** The idempotency key of the message it becomes; kept across retries. */
  clientMsgId: string;
  conversationId: string;
  kind: MediaKind;
  fileName: string;
  /** As the browser reports it ('' when unknown). */
  mimeType: string;
  /** The line the conversation list shows meanwhile, worded like the server's ("📷 Photo"). */
  text: string;
  state: 'sending' | 'failed';
  /** Bytes the server has received; equal to totalBytes once only the message is left to send. */
  sentBytes: number;
  totalBytes: number;
  /** Why it failed (failed only). */
  error?: string;
  /** Local clock, ms since epoch. */
  createdAt: number;
  /** Photos: an object URL of the local file, shown while it uploads. */
  previewUrl?: string;
}

/** A send the server has not stored yet: a text or an upload. */
export type WaitingItem = PendingMessage | PendingUpload;

/** What a voice note or a recording adds to an upload. */
export interface MediaDetails {
  /** Default: chosen from the file's type (mediaKindOf). */
  kind?: MediaKind;
  /** Default: the File's name. */
  fileName?: string;
  durationMs?: number;
  waveform?: Uint8Array;
}

export type HistoryState = 'idle' | 'loading' | 'complete' | 'error';

export interface Timeline {
  /** Stored messages in seq order, each once. */
  readonly messages: readonly Message[];
  /** Unacknowledged or refused sends, in the order they were made. */
  readonly pending: readonly PendingMessage[];
  /** Media being uploaded and sent, or whose upload failed, in the order they were attached. */
  readonly uploads: readonly PendingUpload[];
  /** Whether older messages can still be loaded. */
  readonly history: HistoryState;
}

/** The thread shown beside its conversation. */
export interface OpenThread {
  readonly conversationId: string;
  readonly rootSeq: number;
  /** With its reply count and unread; undefined until the first page arrives, unless the timeline held it. */
  readonly root?: Message;
  /** Stored replies in seq order, each once: the pages loaded, and those that arrived since it opened. */
  readonly replies: readonly Message[];
  /** The newest reply the pages brought: the next page starts after it. */
  readonly pagedThrough: number;
  /** Replies after `pagedThrough` that no page brought yet (live ones may already be held). */
  readonly hasMore: boolean;
  /** The first page: loading, ready, or failed (see `error`). */
  readonly status: 'loading' | 'ready' | 'error';
  readonly loadingMore: boolean;
  /** Why the first page or the last "load more" failed. */
  readonly error?: string;
}

export interface MembersState {
  readonly status: 'loading' | 'ready' | 'error';
  readonly members: readonly ConversationMember[];
  readonly error?: string;
}

export interface ConnectionInfo {
  readonly state: ClientState;
  /** The last connection failure, while not open. */
  readonly error?: string;
  /** The browser reports no network. */
  readonly browserOffline: boolean;
}

export interface ChatState {
  readonly self: { readonly userId: string; readonly name: string };
  readonly connection: ConnectionInfo;
  /**
   * Pinned first (the latest pinned on top), then newest activity first; a
   * message waiting to be sent counts as activity.
   * Includes, until the server's summary arrives, a stand-in for each
   * conversation that only restored outbox entries are known of (after a
   * reload while offline).
   */
  readonly conversations: readonly ConversationSummary[];
  /** Whether the conversation list came from the server at least once in this session. */
  readonly listLoaded: boolean;
  readonly timelines: ReadonlyMap<string, Timeline>;
  readonly members: ReadonlyMap<string, MembersState>;
  /** Display names by user id, as far as this client knows them (itself, direct peers). */
  readonly names: ReadonlyMap<string, string>;
  /** The thread open beside its conversation, if any. */
  readonly thread?: OpenThread;
  /** Others typing now, per conversation: user ids in the order they started. Absent where nobody is. */
  readonly typingIn: ReadonlyMap<string, readonly string[]>;
  /** Counts each change of the receipts held per conversation (ChatStore.receiptsOf reads them). */
  readonly receiptsChanged: ReadonlyMap<string, number>;
  /** The user's own setting, from the server (undefined before the first connection). */
  readonly readReceiptsOff?: boolean;
  /** Watched direct peers' presence (online, away, last seen), by user id. */
  readonly presence: ReadonlyMap<string, Presence>;
  /** The user's own setting, from the server (undefined before the first connection). */
  readonly hidePresence?: boolean;
  /** The user's own setting, from the server: muted conversations are left out of the badge (undefined before the first connection). */
  readonly hideMutedFromBadge?: boolean;
  /** Set when the session ended for good (token refused): the app returns to sign-in. */
  readonly ended?: string;
}

export interface ChatStoreOptions {
  url: string;
  self: { userId: string; name: string };
  token: () => Promise<string>;
  /** Reconnect backoff ceiling. Default 5000 ms: a chat UI should come back quickly. */
  maxReconnectDelayMs?: number;
  /** Where unsent messages are kept across reloads. Default: in memory (lost on reload). */
  outbox?: OutboxStore | Promise<OutboxStore>;
  /** Where the SDK keeps the conversation list and recent messages, so that a reload shows them at once. Default: none. */
  cache?: LocalCache;
}

export const EMPTY_TIMELINE: Timeline = { messages: [], pending: [], uploads: [], history: 'idle' };

/** Types the server accepts as photos (it sniffs the bytes); other images go as files. */
const PHOTO_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']);

/** How an attached file is sent: photos, videos and audio as such, anything else as a file. */
export function mediaKindOf(mimeType: string): MediaKind {
  if (PHOTO_TYPES.has(mimeType)) return 'image';
  if (mimeType.startsWith('video/')) return 'video';
  if (mimeType.startsWith('audio/')) return 'voice';
  return 'file';
}

/** An upload in flight: what a cancel aborts and a retry sends again. */
interface UploadJob {
  source: Blob;
  details: MediaDetails;
  controller: AbortController;
}

export class ChatStore {
  readonly client: ParleyClient;
  /** What is typed in each conversation's composer and not sent. */
  readonly drafts: DraftKeeper;
  private current: ChatState;
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private listChanged = false;
  private closed = false;
  private readonly outbox: Promise<OutboxStore>;
  /** Outbox reads and writes, one at a time, so that a message's removal never overtakes its write. */
  private outboxQueue: Promise<void> = Promise.resolve();
  /** The kept messages were shown and handed to the SDK: new sends may go straight out after them. */
  private restored = false;
  /** How conversations looked when messages to them were written, for the stand-ins. */
  private readonly labels = new Map<string, ConversationLabel>();
  /** Highest read position requested per conversation, so a scroll does not send a request per pixel. */
  private readonly readRequested = new Map<string, number>();
  /**
   * Read positions the server did not confirm (the connection dropped). The
   * SDK already moved them locally, so they are sent again on reconnect, for
   * the user's other devices to hear of them.
   */
  private readonly unconfirmedReads = new Map<string, number>();
  /** Thread read positions asked for and not answered yet, by `conversationId/rootSeq`: one request per position. */
  private readonly threadReadsRequested = new Map<string, number>();
  private readonly membersReloads = new Map<string, ReturnType<typeof setTimeout>>();
  /** Uploads by clientMsgId: their bytes (for a retry) and their abort switch. */
  private readonly uploadJobs = new Map<string, UploadJob>();
  private readonly cleanups: Array<() => void> = [];
  /** Ids whose display name was asked for (or is being asked for): each is asked once. */
  private readonly namesAsked = new Set<string>();
  private readonly namesWanted = new Set<string>();
  private readonly presenceWatch: PresenceWatch;
  private namesTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ChatStoreOptions) {
    this.client = new ParleyClient({
      url: options.url,
      token: options.token,
      reconnect: { minDelayMs: 250, maxDelayMs: options.maxReconnectDelayMs ?? 5000 },
      clientName: 'parley-web/0.1',
      ...(options.cache === undefined ? {} : { cache: { store: options.cache, userId: options.self.userId } }),
    });
    this.outbox = Promise.resolve(options.outbox ?? new MemoryOutboxStore());
    this.drafts = new DraftKeeper({
      draftOf: (conversationId) => this.client.conversation(conversationId)?.draft ?? '',
      save: (conversationId, text) => this.client.saveDraft(conversationId, text),
      maxChars: () => this.client.serverLimits?.maxDraftChars || DEFAULT_MAX_DRAFT_CHARS,
    });
    const names = new Map([[options.self.userId, options.self.name]]);
    this.current = {
      self: options.self,
      connection: { state: 'idle', browserOffline: typeof navigator !== 'undefined' && navigator.onLine === false },
      conversations: [],
      listLoaded: false,
      timelines: new Map(),
      members: new Map(),
      names,
      typingIn: new Map(),
      receiptsChanged: new Map(),
      presence: new Map(),
    };
    this.presenceWatch = new PresenceWatch(this.client);
    this.cleanups.push(() => this.presenceWatch.close());
    this.cleanups.push(
      this.client.on('message', (message) => this.onMessage(message)),
      this.client.on('typing', (change) => this.onTyping(change)),
      this.client.on('receipts', ({ conversationId }) => this.onReceipts(conversationId)),
      this.client.on('amended', (change) => this.onAmended(change)),
      this.client.on('settings', (settings) =>
        this.set({ ...this.current, readReceiptsOff: settings.readReceiptsOff, hidePresence: settings.hidePresence, hideMutedFromBadge: settings.hideMutedFromBadge }),
      ),
      this.client.on('presence', (presence) => this.set({ ...this.current, presence: new Map(this.current.presence).set(presence.userId, presence) })),
      this.client.on('conversation', () => this.markListChanged()),
      this.client.on('state', ({ state, error }) => this.onState(state, error)),
      this.client.on('cache', (event) => this.onCache(event)),
      // Background failures (a pull refused, ...) have no promise to reject; the SDK recovers by itself.
      this.client.on('error', (error) => console.warn('parley:', error.codeName, error.message)),
    );
    // The browser knows at once when the network goes or comes back; the
    // connection would only notice after a heartbeat's silence (tens of
    // seconds) or the next backoff step. So: drop it now, and retry now.
    const onNetwork = () => {
      const offline = navigator.onLine === false;
      this.setConnection({ browserOffline: offline });
      if (offline) this.client.networkLost();
      else this.client.reconnectNow();
    };
    window.addEventListener('online', onNetwork);
    window.addEventListener('offline', onNetwork);
    // A page being closed, reloaded or put away (a phone's app switcher) may
    // never run another timer: drafts waiting for typing to pause go now.
    const onLeaving = () => this.drafts.flush();
    const onHidden = () => {
      if (document.visibilityState === 'hidden') this.drafts.flush();
    };
    window.addEventListener('pagehide', onLeaving);
    document.addEventListener('visibilitychange', onHidden);
    this.cleanups.push(() => {
      window.removeEventListener('online', onNetwork);
      window.removeEventListener('offline', onNetwork);
      window.removeEventListener('pagehide', onLeaving);
      document.removeEventListener('visibilitychange', onHidden);
    });
  }

  // ---- subscription ----

  get state(): ChatState {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Connects, and shows and resends what the outbox kept for this user;
   * failures show in state.connection, and a refused session in state.ended.
   */
  start(): void {
    this.client.connect().catch(() => undefined);
    this.enqueue((outbox) => this.restoreOutbox(outbox));
  }

  close(): void {
    if (this.closed) return;
    // Best effort: sent ahead of the close, unless the connection is down.
    this.drafts.flush();
    this.drafts.close();
    this.closed = true;
    for (const cleanup of this.cleanups) cleanup();
    for (const timer of this.membersReloads.values()) clearTimeout(timer);
    clearTimeout(this.namesTimer);
    for (const job of this.uploadJobs.values()) job.controller.abort();
    this.uploadJobs.clear();
    for (const timeline of this.current.timelines.values()) for (const upload of timeline.uploads) revokePreview(upload);
    // Sends rejected by the close keep their outbox entries: the next start sends them.
    void this.client.close();
    void this.outboxQueue.then(() => this.outbox).then((outbox) => outbox.close());
    this.listeners.clear();
  }

  // ---- conversations ----

  conversation(conversationId: string): ConversationSummary | undefined {
    return this.client.conversation(conversationId);
  }

  /** Opens (creating if needed) the direct conversation with `userId`; resolves with its id. */
  openDirect(userId: string): Promise<string> {
    return this.client.direct(userId);
  }

  async createGroup(name: string, memberIds: string[]): Promise<string> {
    const summary = await this.client.createGroup({ name, memberIds });
    return summary.id;
  }

  /** Creates a live room hosted by this user; resolves with its id. */
  async createRoom(name: string): Promise<string> {
    const room = await this.client.createRoom({ name });
    return room.id;
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.client.addMembers(conversationId, userIds);
    this.reloadMembersSoon(conversationId, 0);
  }

  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.client.removeMember(conversationId, userId);
    this.reloadMembersSoon(conversationId, 0);
  }

  async leave(conversationId: string): Promise<void> {
    await this.client.leave(conversationId);
  }

  // ---- this user's settings of a conversation, the same on all their devices ----

  /** Keeps the conversation at the top of the list. Rejects with LIMIT_EXCEEDED past the server's maxPinned (see describePinError). */
  async pin(conversationId: string): Promise<void> {
    await this.client.pin(conversationId);
  }

  async unpin(conversationId: string): Promise<void> {
    await this.client.unpin(conversationId);
  }

  /** Mutes notifications for `durationMs` from now; default: until unmuted. Unread counts go on. */
  async mute(conversationId: string, durationMs?: number): Promise<void> {
    await this.client.mute(conversationId, durationMs === undefined ? undefined : Date.now() + durationMs);
  }

  async unmute(conversationId: string): Promise<void> {
    await this.client.unmute(conversationId);
  }

  /** Loads (or reloads) the members of a conversation into state.members. */
  loadMembers(conversationId: string): void {
    const previous = this.current.members.get(conversationId);
    this.setMembers(conversationId, { status: previous?.status === 'ready' ? 'ready' : 'loading', members: previous?.members ?? [] });
    this.client.members(conversationId).then(
      (members) => this.setMembers(conversationId, { status: 'ready', members: sortMembers(members) }),
      (error: unknown) => this.setMembers(conversationId, { status: 'error', members: previous?.members ?? [], error: describeError(error) }),
    );
  }

  // ---- recall, edit, delete for me ----

  /** Recalls a message for everyone; the change arrives as an amendment on every device, this one too. */
  recall(conversationId: string, seq: number): Promise<void> {
    return this.client.recall(conversationId, seq);
  }

  edit(conversationId: string, seq: number, text: string): Promise<void> {
    return this.client.edit(conversationId, seq, text);
  }

  /** The texts an edited message had, oldest first, the current one last. */
  editHistory(conversationId: string, seq: number): Promise<Array<{ text: string; at: number }>> {
    return this.client.editHistory(conversationId, seq);
  }

  deleteForMe(conversationId: string, seq: number): Promise<void> {
    return this.client.deleteForMe(conversationId, seq);
  }

  /** Adds a reaction, or takes it back (`add` false). */
  react(conversationId: string, seq: number, emoji: string, add: boolean): Promise<void> {
    return this.client.react(conversationId, seq, emoji, add);
  }

  private onAmended(change: AmendedMessage): void {
    const selfId = this.current.self.userId;
    this.updateTimeline(change.conversationId, (timeline) => {
      const messages = amendedList(timeline.messages, change, selfId);
      return messages === timeline.messages ? timeline : { ...timeline, messages };
    });
    // The open thread's root and replies: an edit, a reaction, a recall or a deletion for oneself.
    const thread = this.current.thread;
    if (thread === undefined || thread.conversationId !== change.conversationId) return;
    const replies = amendedList(thread.replies, change, selfId);
    let root = thread.root;
    if (root !== undefined && root.seq === change.seq) root = applyAmendment(root, change, selfId) ?? root;
    if (replies !== thread.replies || root !== thread.root) this.set({ ...this.current, thread: withRoot({ ...thread, replies }, root) });
  }

  // ---- threads ----

  /** Opens a thread beside its conversation (closing any other) and loads its first page of replies. */
  openThread(conversationId: string, rootSeq: number): void {
    const held = this.timeline(conversationId).messages.find((message) => message.seq === rootSeq);
    const thread: OpenThread = { conversationId, rootSeq, replies: [], pagedThrough: 0, hasMore: false, status: 'loading', loadingMore: false };
    this.set({ ...this.current, thread: withRoot(thread, held) });
    this.loadThreadPage(conversationId, rootSeq, 0);
  }

  /** Closes the open thread; with a conversation id, only when the thread is that conversation's. */
  closeThread(conversationId?: string): void {
    const thread = this.current.thread;
    if (thread === undefined || (conversationId !== undefined && thread.conversationId !== conversationId)) return;
    const { thread: _closed, ...rest } = this.current;
    this.set(rest);
  }

  /** Loads the open thread's next page of replies. */
  loadMoreThread(): void {
    const thread = this.current.thread;
    if (thread === undefined || thread.status !== 'ready' || !thread.hasMore || thread.loadingMore) return;
    this.updateOpenThread(thread.conversationId, thread.rootSeq, (current) => ({ ...current, loadingMore: true }));
    this.loadThreadPage(thread.conversationId, thread.rootSeq, thread.pagedThrough);
  }

  /** Sends a reply in the open thread, through the outbox like every message. */
  sendThreadReply(text: string, extras?: MessageExtras): void {
    const thread = this.current.thread;
    if (thread === undefined) return;
    this.send(thread.conversationId, text, { ...extras, threadRoot: thread.rootSeq });
  }

  /**
   * Marks the open thread read up to its newest reply, when it has unread
   * replies (only threads the user follows count them). The view calls it
   * while the thread is on screen in a visible page; the conversation's
   * summary follows by itself once the server confirms.
   */
  markThreadRead(): void {
    const thread = this.current.thread;
    const info = thread?.root?.thread;
    if (thread === undefined || info === undefined || info.unread === 0 || this.client.state !== 'open') return;
    const { conversationId, rootSeq } = thread;
    const key = `${conversationId}/${rootSeq}`;
    const seq = info.lastSeq;
    if (seq <= (this.threadReadsRequested.get(key) ?? 0)) return;
    this.threadReadsRequested.set(key, seq);
    this.client.markThreadRead(conversationId, rootSeq, seq).then(
      () => {
        this.threadReadsRequested.delete(key);
        this.threadReadUpTo(conversationId, rootSeq, seq);
      },
      (error: unknown) => {
        // Asked again by the view on the next change, or after a reconnect.
        this.threadReadsRequested.delete(key);
        console.warn('parley: marking a thread read:', describeError(error));
      },
    );
  }

  /** The root's unread marker goes once the thread is read up to its newest reply (newer ones keep it). */
  private threadReadUpTo(conversationId: string, rootSeq: number, seq: number): void {
    const read = (root: Message): Message => {
      const info = root.thread;
      if (info === undefined || info.unread === 0 || info.lastSeq > seq) return root;
      return { ...root, thread: { ...info, unread: 0 } };
    };
    this.updateTimeline(conversationId, (timeline) => {
      const messages = replaceMessage(timeline.messages, rootSeq, read);
      return messages === timeline.messages ? timeline : { ...timeline, messages };
    });
    this.updateOpenThread(conversationId, rootSeq, (thread) => (thread.root === undefined ? thread : withRoot(thread, read(thread.root))));
  }

  private loadThreadPage(conversationId: string, rootSeq: number, afterSeq: number): void {
    this.client.thread(conversationId, rootSeq, { afterSeq, limit: THREAD_PAGE }).then(
      (page) => {
        const selfId = this.current.self.userId;
        // The server's word on unread, then the replies that arrived while the page was on its way.
        const answered = page.root.thread === undefined ? page.root : { ...page.root, thread: { ...page.root.thread, unread: page.unread } };
        let root: Message | undefined;
        this.updateOpenThread(conversationId, rootSeq, (thread) => {
          const replies = mergeMessages(thread.replies, page.replies);
          root = thread.replies.reduce((current, reply) => applyThreadReply(current, reply, selfId), answered);
          const next: OpenThread = {
            ...thread,
            replies,
            pagedThrough: Math.max(thread.pagedThrough, page.replies[page.replies.length - 1]?.seq ?? 0),
            hasMore: page.hasMore,
            status: 'ready',
            loadingMore: false,
          };
          delete (next as { error?: string }).error;
          return withRoot(next, root);
        });
        // The timeline's copy of the root may be older (restored from the cache): the page's is the server's now.
        const fresh = root;
        if (fresh !== undefined) {
          this.updateTimeline(conversationId, (timeline) => {
            const messages = replaceMessage(timeline.messages, rootSeq, (held) => ((held.thread?.lastSeq ?? 0) <= (fresh.thread?.lastSeq ?? 0) ? fresh : held));
            return messages === timeline.messages ? timeline : { ...timeline, messages };
          });
        }
      },
      (error: unknown) => {
        this.updateOpenThread(conversationId, rootSeq, (thread) => ({
          ...thread,
          status: thread.status === 'ready' ? 'ready' : 'error',
          loadingMore: false,
          error: afterSeq === 0 ? describeError(error) : `More replies could not be loaded. ${describeError(error)}`,
        }));
      },
    );
  }

  /** Changes the open thread, if it is still this one. */
  private updateOpenThread(conversationId: string, rootSeq: number, change: (thread: OpenThread) => OpenThread): void {
    const thread = this.current.thread;
    if (thread === undefined || thread.conversationId !== conversationId || thread.rootSeq !== rootSeq) return;
    const next = change(thread);
    if (next !== thread) this.set({ ...this.current, thread: next });
  }

  // ---- receipts ----

  /**
   * Asks for the other members' positions in a conversation on screen; the
   * SDK keeps them current from then on. Conversations too large for
   * receipts simply show none.
   */
  loadReceipts(conversationId: string): void {
    this.client.receipts(conversationId).catch((error: unknown) => {
      if (!(error instanceof ParleyError) || error.codeName !== 'LIMIT_EXCEEDED') console.warn('parley: receipts', describeError(error));
    });
  }

  /** Sent, delivered or read, for one of the user's own stored messages; undefined while unknown. */
  receiptsOf(message: Message): MessageReceipts | undefined {
    return this.client.receiptsOf(message);
  }

  /** Turns read receipts off or on, on all the user's devices. */
  async setReadReceipts(enabled: boolean): Promise<void> {
    const settings = await this.client.setReadReceipts(enabled);
    this.set({ ...this.current, readReceiptsOff: settings.readReceiptsOff });
  }

  /** Hides when the user is online and was last seen, or shows it, on all their devices. */
  async setPresenceHidden(hidden: boolean): Promise<void> {
    const settings = await this.client.setPresenceHidden(hidden);
    this.set({ ...this.current, hidePresence: settings.hidePresence });
  }

  /** Leaves muted conversations out of the badge (the title's count, notifications' badge), or counts them again, on all the user's devices. */
  async setHideMutedFromBadge(hide: boolean): Promise<void> {
    const settings = await this.client.setHideMutedFromBadge(hide);
    this.set({ ...this.current, hideMutedFromBadge: settings.hideMutedFromBadge });
  }

  /** The open conversation is a direct one with this peer (undefined: a group, or none): their presence is watched too. */
  watchOpenPeer(peerId: string | undefined): void {
    this.presenceWatch.opened(peerId);
  }

  private onReceipts(conversationId: string): void {
    const receiptsChanged = new Map(this.current.receiptsChanged);
    receiptsChanged.set(conversationId, (receiptsChanged.get(conversationId) ?? 0) + 1);
    this.set({ ...this.current, receiptsChanged });
  }

  /**
   * Marks read up to `seq` (default: everything) when that moves the read
   * position. Offline, nothing happens: the view asks again once connected.
   */
  markRead(conversationId: string, seq?: number): void {
    const summary = this.client.conversation(conversationId);
    if (summary === undefined || this.client.state !== 'open') return;
    const target = Math.min(seq ?? summary.lastSeq, summary.lastSeq);
    if (target <= summary.readSeq || target <= (this.readRequested.get(conversationId) ?? 0)) return;
    this.sendRead(conversationId, target);
  }

  private sendRead(conversationId: string, seq: number): void {
    this.readRequested.set(conversationId, seq);
    this.client.markRead(conversationId, seq).then(
      () => {
        this.readRequested.delete(conversationId);
        if ((this.unconfirmedReads.get(conversationId) ?? 0) <= seq) this.unconfirmedReads.delete(conversationId);
      },
      () => {
        this.readRequested.delete(conversationId);
        this.unconfirmedReads.set(conversationId, Math.max(seq, this.unconfirmedReads.get(conversationId) ?? 0));
      },
    );
  }

  /**
   * People matching `query` in the user directory, as far as the server
   * allows (FORBIDDEN when the deployment turned search off).
   */
  searchUsers(query: string): Promise<UserProfile[]> {
    return this.client.searchUsers(query, { limit: USER_SUGGESTIONS });
  }

  // ---- typing ----

  /**
   * The user changed the composer's text: with text in it, the others see
   * them typing (the SDK sends it at most every few seconds); emptied, they
   * stop seeing it at once. Sending needs nothing: the message ends it.
   */
  composerChanged(conversationId: string, text: string): void {
    if (text.trim() === '') this.client.stopTyping(conversationId);
    else this.client.typing(conversationId);
  }

  /** The user left the composer (another conversation, a closed view): nobody should go on seeing them typing. */
  composerLeft(conversationId: string): void {
    this.client.stopTyping(conversationId);
  }

  // ---- messages ----

  timeline(conversationId: string): Timeline {
    return this.current.timelines.get(conversationId) ?? EMPTY_TIMELINE;
  }

  /**
   * Sends text; the message shows at once as 'sending', is written to the
   * outbox, then handed to the SDK, and shows as stored once the server has it.
   */
  send(conversationId: string, text: string, extras?: SendExtras): void {
    const pending: PendingMessage = { clientMsgId: newClientMsgId(), conversationId, text, state: 'sending', createdAt: Date.now() };
    if (extras !== undefined) pending.extras = extras;
    const summary = this.client.conversation(conversationId);
    if (summary !== undefined) this.labels.set(conversationId, labelOf(summary));
    this.updateTimeline(conversationId, (timeline) => ({ ...timeline, pending: [...timeline.pending, pending] }));
    this.keepAndTransmit(pending);
  }

  /** Sends a refused message again, with the same clientMsgId. */
  retry(conversationId: string, clientMsgId: string): void {
    const pending = this.timeline(conversationId).pending.find((entry) => entry.clientMsgId === clientMsgId);
    if (pending === undefined || pending.state !== 'failed') return;
    const again: PendingMessage = { clientMsgId, conversationId, text: pending.text, state: 'sending', createdAt: Date.now() };
    if (pending.extras !== undefined) again.extras = pending.extras;
    this.replacePending(conversationId, clientMsgId, again);
    this.keepAndTransmit(again);
  }

  /** Drops a refused message. */
  discard(conversationId: string, clientMsgId: string): void {
    this.replacePending(conversationId, clientMsgId, undefined);
    this.forget(clientMsgId);
  }

  /**
   * Uploads a photo, file, voice note or video and sends it. It shows at once
   * as an upload with its progress; the SDK uploads it over HTTP, then sends
   * the message with this upload's clientMsgId. Its kind follows the file's
   * type unless `details.kind` says otherwise.
   */
  sendMedia(conversationId: string, source: Blob, details: MediaDetails = {}): void {
    const kind = details.kind ?? mediaKindOf(source.type);
    const fileName = details.fileName ?? (source instanceof File ? source.name : '');
    const upload: PendingUpload = {
      clientMsgId: newClientMsgId(),
      conversationId,
      kind,
      fileName,
      mimeType: source.type,
      text: waitingLine(kind, fileName, details.durationMs),
      state: 'sending',
      sentBytes: 0,
      totalBytes: source.size,
      createdAt: Date.now(),
    };
    // Shown from the local bytes while they upload: no round trip to see your own photo.
    if (kind === 'image') upload.previewUrl = URL.createObjectURL(source);
    this.updateTimeline(conversationId, (timeline) => ({ ...timeline, uploads: [...timeline.uploads, upload] }));
    this.upload(upload, { source, details: { ...details, kind, fileName }, controller: new AbortController() });
  }

  /** Stops an upload in progress, or drops a failed one: nothing is sent, and its bubble goes away. */
  cancelUpload(conversationId: string, clientMsgId: string): void {
    this.uploadJobs.get(clientMsgId)?.controller.abort();
    this.uploadJobs.delete(clientMsgId);
    this.replaceUpload(conversationId, clientMsgId, undefined);
  }

  /** Uploads and sends a failed upload again, with the same clientMsgId: the server stores it once. */
  retryUpload(conversationId: string, clientMsgId: string): void {
    const upload = this.timeline(conversationId).uploads.find((entry) => entry.clientMsgId === clientMsgId);
    const job = this.uploadJobs.get(clientMsgId);
    if (upload === undefined || upload.state !== 'failed' || job === undefined) return;
    const again: PendingUpload = { ...upload, state: 'sending', sentBytes: 0 };
    delete again.error;
    this.replaceUpload(conversationId, clientMsgId, again);
    this.upload(again, { ...job, controller: new AbortController() });
  }

  /**
   * A URL for one size of a media item, for `<img>`, `<video>`, `<audio>`
   * and download links: signed, short-lived, cached by the SDK until shortly
   * before it expires, so ask again rather than keep one for long.
   */
  mediaUrl(media: MediaRef | string, size: MediaSize): Promise<string> {
    return this.client.mediaUrl(media, size);
  }

  /** Loads the page of messages before the oldest one held. */
  loadOlder(conversationId: string): void {
    const timeline = this.timeline(conversationId);
    if (timeline.history === 'loading' || timeline.history === 'complete') return;
    const summary = this.client.conversation(conversationId);
    const oldest = timeline.messages[0]?.seq;
    const floor = Math.max(1, summary?.firstSeq ?? 1);
    if (summary !== undefined && (summary.lastSeq === 0 || (oldest !== undefined && oldest <= floor))) {
      this.updateTimeline(conversationId, (current) => ({ ...current, history: 'complete' }));
      return;
    }
    if (this.client.state !== 'open') return; // asked again once connected
    this.updateTimeline(conversationId, (current) => ({ ...current, history: 'loading' }));
    this.client.history(conversationId, oldest === undefined ? { limit: HISTORY_PAGE } : { beforeSeq: oldest, limit: HISTORY_PAGE }).then(
      (older) => {
        const lowest = older[0]?.seq;
        // A short page is not the end: amendments are left out of pages. Only an empty one, or the first seq, is.
        const complete = older.length === 0 || (lowest !== undefined && lowest <= floor);
        this.takeStored(conversationId, older, { history: complete ? 'complete' : 'idle' });
      },
      (error: unknown) => {
        // Lost connection: try again later. Anything else would fail again.
        const retryable = error instanceof ParleyError && error.retryable;
        this.updateTimeline(conversationId, (current) => ({ ...current, history: retryable ? 'idle' : 'error' }));
      },
    );
  }

  /** Messages waiting for the server across all conversations (shown while offline). */
  get waitingCount(): number {
    let count = 0;
    for (const timeline of this.current.timelines.values()) count += timeline.pending.filter((entry) => entry.state === 'sending').length;
    return count;
  }

  // ---- internals ----

  /** Runs outbox work after what was queued before it; a failure does not stop the queue. */
  private enqueue(work: (outbox: OutboxStore) => Promise<void>): void {
    this.outboxQueue = this.outboxQueue
      .then(() => this.outbox)
      .then(work)
      .catch((error: unknown) => console.warn('parley: outbox:', error));
  }

  /**
   * Writes the message to the outbox, then hands it to the SDK. The SDK gets
   * it in the same task as the write is issued, not after the write commits:
   * a page closed or reloaded in between would otherwise lose a message that
   * neither reached the server nor the disk. Whichever of the two completes
   * first keeps it; both completing is harmless (the resend is deduplicated).
   * Until the kept messages are restored, new ones wait behind them, so the
   * SDK sends everything in the order it was written.
   */
  private keepAndTransmit(pending: PendingMessage): void {
    const record: Omit<OutboxRecord, 'order'> = {
      userId: this.current.self.userId,
      conversationId: pending.conversationId,
      clientMsgId: pending.clientMsgId,
      text: pending.text,
      createdAt: pending.createdAt,
    };
    if (pending.extras !== undefined) record.extras = pending.extras;
    const label = this.labels.get(pending.conversationId);
    if (label !== undefined) record.conversation = label;
    this.enqueue(async (outbox) => {
      try {
        await outbox.add(record);
      } catch (error) {
        // Storage full or broken: still sent, it just would not survive a reload.
        console.warn('parley: could not keep a message in the outbox:', error);
      }
    });
    if (this.restored) this.transmit(pending);
    else this.enqueue(async () => (this.closed ? undefined : this.transmit(pending)));
  }

  /** Shows the user's kept messages as waiting, in order, and sends them again with their keys. */
  private async restoreOutbox(outbox: OutboxStore): Promise<void> {
    let records: OutboxRecord[];
    try {
      records = await outbox.list(this.current.self.userId);
    } finally {
      this.restored = true;
    }
    if (this.closed) return;
    for (const record of records) {
      if (record.conversation !== undefined && !this.labels.has(record.conversationId)) this.labels.set(record.conversationId, record.conversation);
      const timeline = this.timeline(record.conversationId);
      // Already stored (it arrived meanwhile) or already shown: only forget or skip it.
      if (timeline.messages.some((message) => message.clientMsgId === record.clientMsgId && message.senderId === this.current.self.userId)) {
        void outbox.remove(record.userId, record.clientMsgId);
        continue;
      }
      if (timeline.pending.some((entry) => entry.clientMsgId === record.clientMsgId)) continue;
      const pending: PendingMessage = {
        clientMsgId: record.clientMsgId,
        conversationId: record.conversationId,
        text: record.text,
        state: 'sending',
        createdAt: record.createdAt,
      };
      if (record.extras !== undefined) pending.extras = record.extras;
      this.updateTimeline(record.conversationId, (current) => ({ ...current, pending: [...current.pending, pending] }));
      this.transmit(pending);
    }
  }

  /** Forgets an outbox entry (stored by the server, refused, or dropped by the user). */
  private forget(clientMsgId: string): void {
    const userId = this.current.self.userId;
    this.enqueue((outbox) => outbox.remove(userId, clientMsgId));
  }

  private transmit(pending: PendingMessage): void {
    this.client.send(pending.conversationId, { text: pending.text, ...pending.extras }, { clientMsgId: pending.clientMsgId }).then(
      (message) => {
        // The 'message' event usually came first; merging is idempotent.
        this.takeStored(pending.conversationId, [message]);
        this.forget(pending.clientMsgId);
      },
      (error: unknown) => {
        // Closed (signed out, the page going away) or the session refused: not
        // this message's fault. Its entry stays and the next start sends it.
        if (this.closed || this.client.state === 'closed') return;
        this.forget(pending.clientMsgId);
        this.replacePending(pending.conversationId, pending.clientMsgId, { ...pending, state: 'failed', error: describeError(error) });
      },
    );
  }

  private upload(upload: PendingUpload, job: UploadJob): void {
    const { clientMsgId, conversationId } = upload;
    this.uploadJobs.set(clientMsgId, job);
    const { source, details, controller } = job;
    const options: SendMediaOptions = {
      clientMsgId,
      signal: controller.signal,
      onProgress: ({ sentBytes, totalBytes }) => {
        if (controller.signal.aborted) return;
        this.updateUpload(conversationId, clientMsgId, (current) => (current.state === 'sending' ? { ...current, sentBytes, totalBytes } : current));
      },
    };
    if (details.fileName !== undefined && details.fileName !== '') options.fileName = details.fileName;
    if (details.durationMs !== undefined) options.durationMs = details.durationMs;
    if (details.waveform !== undefined) options.waveform = details.waveform;
    const kind = details.kind ?? upload.kind;
    const sent =
      kind === 'image'
        ? this.client.sendImage(conversationId, source, options)
        : kind === 'video'
          ? // The shape, length and a poster, measured here first: the server cannot read them from every container.
            measureVideo(source).then((facts) => this.client.sendVideo(conversationId, source, { ...options, ...facts }))
          : kind === 'voice'
            ? this.client.sendVoice(conversationId, source, options)
            : this.client.sendFile(conversationId, source, options);
    sent.then(
      (message) => {
        this.uploadJobs.delete(clientMsgId);
        this.takeStored(conversationId, [message]);
        // Cancelled after the message was already on its way: the message is what counts.
        this.replaceUpload(conversationId, clientMsgId, undefined);
      },
      (error: unknown) => {
        // Cancelled (the bubble is gone already), or the app is closing.
        if (controller.signal.aborted || this.closed) return;
        this.updateUpload(conversationId, clientMsgId, (current) => ({ ...current, state: 'failed', error: describeUploadError(error, kind) }));
      },
    );
  }

  private updateUpload(conversationId: string, clientMsgId: string, change: (upload: PendingUpload) => PendingUpload): void {
    this.updateTimeline(conversationId, (timeline) => {
      const index = timeline.uploads.findIndex((entry) => entry.clientMsgId === clientMsgId);
      const current = timeline.uploads[index];
      if (current === undefined) return timeline;
      const next = change(current);
      if (next === current) return timeline;
      const uploads = [...timeline.uploads];
      uploads[index] = next;
      return { ...timeline, uploads };
    });
  }

  private replaceUpload(conversationId: string, clientMsgId: string, next: PendingUpload | undefined): void {
    this.updateTimeline(conversationId, (timeline) => {
      const current = timeline.uploads.find((entry) => entry.clientMsgId === clientMsgId);
      if (current === undefined) return timeline;
      if (next === undefined) revokePreview(current);
      return {
        ...timeline,
        uploads: next === undefined ? timeline.uploads.filter((entry) => entry !== current) : timeline.uploads.map((entry) => (entry === current ? next : entry)),
      };
    });
  }

  /**
   * Takes messages the server stored into their conversation (with `change`
   * to the timeline besides): timeline messages into the timeline, replies
   * in threads onto their roots' counts and into the open thread. Either
   * settles the waiting bubble it was sent from.
   */
  private takeStored(conversationId: string, stored: readonly Message[], change: Partial<Timeline> = {}): void {
    const main = stored.filter((message) => message.threadRoot === undefined);
    const replies = stored.length === main.length ? [] : stored.filter((message) => message.threadRoot !== undefined);
    const selfId = this.current.self.userId;
    this.updateTimeline(conversationId, (timeline) => {
      const messages = withThreadReplies(mergeMessages(timeline.messages, main), replies, selfId);
      const next = messages === timeline.messages && Object.keys(change).length === 0 ? timeline : { ...timeline, ...change, messages };
      return this.settle(next, stored);
    });
    const thread = this.current.thread;
    if (thread === undefined || thread.conversationId !== conversationId) return;
    const threadReplies = replies.filter((reply) => reply.threadRoot === thread.rootSeq);
    if (threadReplies.length === 0) return;
    this.updateOpenThread(conversationId, thread.rootSeq, (current) =>
      withRoot(
        { ...current, replies: mergeMessages(current.replies, threadReplies) },
        current.root === undefined ? undefined : threadReplies.reduce((root, reply) => applyThreadReply(root, reply, selfId), current.root),
      ),
    );
  }

  /**
   * Drops waiting bubbles whose message is among `stored`: the server has it,
   * whichever tab or client instance sent it. One message, one bubble.
   */
  private settle(timeline: Timeline, stored: readonly Message[]): Timeline {
    if (timeline.pending.length === 0 && timeline.uploads.length === 0) return timeline;
    const selfId = this.current.self.userId;
    const storedKeys = new Set(stored.filter((message) => message.senderId === selfId).map((message) => message.clientMsgId));
    const pending = timeline.pending.filter((entry) => !storedKeys.has(entry.clientMsgId));
    const uploads = timeline.uploads.filter((entry) => !storedKeys.has(entry.clientMsgId));
    if (pending.length === timeline.pending.length && uploads.length === timeline.uploads.length) return timeline;
    for (const entry of timeline.pending) if (storedKeys.has(entry.clientMsgId)) this.forget(entry.clientMsgId);
    for (const entry of timeline.uploads) {
      if (!storedKeys.has(entry.clientMsgId)) continue;
      revokePreview(entry);
      this.uploadJobs.delete(entry.clientMsgId);
    }
    return { ...timeline, pending, uploads };
  }

  private replacePending(conversationId: string, clientMsgId: string, next: PendingMessage | undefined): void {
    this.updateTimeline(conversationId, (timeline) => ({
      ...timeline,
      pending:
        next === undefined
          ? timeline.pending.filter((entry) => entry.clientMsgId !== clientMsgId)
          : timeline.pending.map((entry) => (entry.clientMsgId === clientMsgId ? next : entry)),
    }));
  }

  private onMessage(message: Message): void {
    this.learnNames(idsIn(message));
    this.takeStored(message.conversationId, [message]);
    // Membership events change who is in the conversation: refresh a list on screen.
    if (message.type === 'system' && this.current.members.has(message.conversationId)) this.reloadMembersSoon(message.conversationId, MEMBERS_RELOAD_DEBOUNCE_MS);
  }

  /**
   * The SDK's cache: what it restored is the list as it was (shown before
   * the connection is up, like a loaded list); what it discarded was never
   * this server's, so every timeline's messages go (unsent ones stay) and
   * the first sync fills them again.
   */
  private onCache(event: CacheEvent): void {
    if (event.type === 'restored') {
      this.set({ ...this.current, listLoaded: true });
      this.markListChanged();
    } else if (event.type === 'discarded') {
      const timelines = new Map([...this.current.timelines].map(([conversationId, timeline]) => [conversationId, { ...timeline, messages: [], history: 'idle' as const }]));
      this.set({ ...this.current, timelines, members: new Map() });
      this.markListChanged();
    } else {
      console.warn('parley: local cache:', event.operation, event.error.message);
    }
  }

  private onTyping({ conversationId, userIds }: TypingChange): void {
    this.learnNames(userIds);
    const typingIn = new Map(this.current.typingIn);
    if (userIds.length === 0) typingIn.delete(conversationId);
    else typingIn.set(conversationId, userIds);
    this.set({ ...this.current, typingIn });
  }

  private onState(state: ClientState, error: ParleyError | undefined): void {
    if (state === 'open') {
      this.readRequested.clear();
      for (const [conversationId, seq] of this.unconfirmedReads) this.sendRead(conversationId, seq);
      // Drafts whose save failed while the connection was down.
      this.drafts.flush();
    }
    if (state === 'open' && !this.current.listLoaded) this.markListChanged();
    const next: { state: ClientState; error?: string } = { state };
    if (error !== undefined && state !== 'open') next.error = describeError(error);
    this.setConnection(next, true);
    if (state === 'closed' && error !== undefined && (error.codeName === 'UNAUTHENTICATED' || error.codeName === 'TOKEN_EXPIRED')) {
      this.set({ ...this.current, ended: 'Your session has ended. Sign in again.' });
    }
    // Pages that could not load while offline are asked for again by the views.
    if (state === 'open') {
      for (const [conversationId, timeline] of this.current.timelines) {
        if (timeline.history === 'error') this.updateTimeline(conversationId, (current) => ({ ...current, history: 'idle' }));
      }
    }
  }

  /**
   * Display names come from one map for the whole app, so the list preview
   * says "Sam Ortiz:" before the group was ever opened. Ids met without a
   * name (senders, last messages, event subjects) are asked for in the
   * background, batched, each once; a failed ask is forgotten so that the
   * next sighting asks again. A live room passes on the ids it meets.
   */
  learnNames(userIds: Iterable<string>): void {
    for (const userId of userIds) {
      if (userId === '' || this.current.names.has(userId) || this.namesAsked.has(userId)) continue;
      this.namesAsked.add(userId);
      this.namesWanted.add(userId);
    }
    if (this.namesWanted.size === 0 || this.namesTimer !== undefined || this.closed) return;
    this.namesTimer = setTimeout(() => {
      this.namesTimer = undefined;
      const batch = [...this.namesWanted];
      this.namesWanted.clear();
      this.client.getUsers(batch).then(
        (profiles) => {
          const names = new Map(this.current.names);
          for (const profile of profiles) if (profile.name !== '') names.set(profile.id, profile.name);
          this.set({ ...this.current, names });
        },
        () => {
          for (const userId of batch) this.namesAsked.delete(userId);
        },
      );
    }, NAMES_BATCH_DELAY_MS);
  }

  private setConnection(change: Partial<ConnectionInfo>, replaceError = false): void {
    const connection: ConnectionInfo = { ...this.current.connection, ...change };
    if (replaceError && change.error === undefined) delete (connection as { error?: string }).error;
    this.set({ ...this.current, connection });
  }

  private reloadMembersSoon(conversationId: string, delayMs: number): void {
    clearTimeout(this.membersReloads.get(conversationId));
    this.membersReloads.set(
      conversationId,
      setTimeout(() => {
        this.membersReloads.delete(conversationId);
        if (!this.closed) this.loadMembers(conversationId);
      }, delayMs),
    );
  }

  private setMembers(conversationId: string, members: MembersState): void {
    const map = new Map(this.current.members);
    map.set(conversationId, members);
    // Members lists carry display names: the way senders in groups get named.
    let names = this.current.names;
    for (const member of members.members) {
      if (member.name !== '' && names.get(member.userId) !== member.name) {
        if (names === this.current.names) names = new Map(names);
        (names as Map<string, string>).set(member.userId, member.name);
      }
    }
    this.set({ ...this.current, members: map, names });
  }

  private updateTimeline(conversationId: string, change: (timeline: Timeline) => Timeline): void {
    const before = this.timeline(conversationId);
    const after = change(before);
    if (after === before) return;
    const timelines = new Map(this.current.timelines);
    timelines.set(conversationId, after);
    this.set({ ...this.current, timelines });
    // Waiting messages move their conversation up the list, or make up a stand-in for it.
    if (after.pending !== before.pending || after.uploads !== before.uploads) this.markListChanged();
  }

  private markListChanged(): void {
    this.listChanged = true;
    this.scheduleNotify();
  }

  private set(next: ChatState): void {
    this.current = next;
    this.scheduleNotify();
  }

  private scheduleNotify(): void {
    if (this.notifyScheduled || this.closed) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      if (this.closed) return;
      if (this.listChanged) {
        // A burst of summaries (the first sync) becomes one list update.
        this.listChanged = false;
        const known = this.client.conversations();
        this.learnNames(known.flatMap((summary) => [...(summary.peerId === undefined ? [] : [summary.peerId]), ...(summary.lastMessage === undefined ? [] : idsIn(summary.lastMessage))]));
        const conversations = withWaiting(known, this.current.timelines, this.labels);
        this.presenceWatch.listChanged(conversations);
        this.current = {
          ...this.current,
          conversations,
          listLoaded: this.current.listLoaded || this.client.state === 'open',
          names: namesFrom(this.current, known),
        };
      }
      for (const listener of [...this.listeners]) listener();
    });
  }
}

/** Every user a message names: its sender and, for an event, who acted and who it was about. */
function idsIn(message: Message): string[] {
  // Mentioned people are shown by name in the text.
  const ids = [message.senderId, ...(message.mentions ?? [])];
  const event = message.system;
  if (event !== undefined) {
    ids.push(event.actorId);
    if ('userIds' in event) ids.push(...event.userIds);
    if ('userId' in event) ids.push(event.userId);
  }
  return ids;
}

/** Replaces the message at `seq` with what `change` makes of it. Returns `messages` when nothing changed. */
function replaceMessage(messages: readonly Message[], seq: number, change: (message: Message) => Message): readonly Message[] {
  const index = messages.findIndex((message) => message.seq === seq);
  const held = messages[index];
  if (held === undefined) return messages;
  const next = change(held);
  if (next === held) return messages;
  const copy = [...messages];
  copy[index] = next;
  return copy;
}

/** A list with an amendment applied to the message it changes (a deletion for oneself removes it). Returns `messages` when none does. */
function amendedList(messages: readonly Message[], change: AmendedMessage, selfId: string): readonly Message[] {
  const index = messages.findIndex((message) => message.seq === change.seq);
  const target = messages[index];
  if (target === undefined) return messages;
  const amended = applyAmendment(target, change, selfId);
  const copy = [...messages];
  if (amended === undefined) copy.splice(index, 1);
  else copy[index] = amended;
  return copy;
}

/** The roots among `messages` counting the `replies` that answer them. Returns `messages` when no root is held or all counted them already. */
function withThreadReplies(messages: readonly Message[], replies: readonly Message[], selfId: string): readonly Message[] {
  let result = messages;
  for (const reply of replies) {
    if (reply.threadRoot !== undefined) result = replaceMessage(result, reply.threadRoot, (root) => applyThreadReply(root, reply, selfId));
  }
  return result;
}

/** The thread with this root, or without one while none is known. */
function withRoot(thread: OpenThread, root: Message | undefined): OpenThread {
  if (root === thread.root) return thread;
  if (root !== undefined) return { ...thread, root };
  const { root: _none, ...rest } = thread;
  return rest;
}

/** A waiting message as a bubble shows it: the user's own, without a seq (0) until stored. */
export function pendingAsMessage(pending: PendingMessage, selfId: string): Message {
  const message: Message = {
    id: pending.clientMsgId,
    conversationId: pending.conversationId,
    seq: 0,
    senderId: selfId,
    clientMsgId: pending.clientMsgId,
    type: 'user',
    text: pending.text,
    createdAt: pending.createdAt,
  };
  // Shown while it is sent as it will be stored: mentions marked, the quote above it.
  const { mentions, mentionAll, replyTo, threadRoot } = pending.extras ?? {};
  if (mentions !== undefined && mentions.length > 0) message.mentions = mentions;
  if (mentionAll === true) message.mentionAll = true;
  if (replyTo !== undefined) message.replyTo = replyTo;
  if (threadRoot !== undefined) message.threadRoot = threadRoot;
  return message;
}

/** Whether a waiting message is a reply in a thread: it shows in its thread, not in the timeline. */
export function isThreadReply(pending: PendingMessage): boolean {
  return pending.extras?.threadRoot !== undefined;
}

/** Merges messages into a seq-ordered list, each seq once. Returns `existing` when nothing is new. */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): readonly Message[] {
  const last = existing[existing.length - 1];
  const only = incoming.length === 1 ? incoming[0] : undefined;
  // The common case: one live message after everything held.
  if (only !== undefined && (last === undefined || only.seq > last.seq)) return [...existing, only];
  const held = new Set(existing.map((message) => message.seq));
  const fresh = incoming.filter((message) => !held.has(message.seq));
  if (fresh.length === 0) return existing;
  return [...existing, ...fresh].sort((a, b) => a.seq - b.seq);
}

function labelOf(summary: ConversationSummary): ConversationLabel {
  const label: ConversationLabel = { kind: summary.kind, name: summary.name, memberCount: summary.memberCount };
  if (summary.peerId !== undefined) label.peerId = summary.peerId;
  return label;
}

/** The newest send of a conversation that the server has not stored yet (a text or an upload), if any. */
export function newestWaiting(timeline: Timeline | undefined): WaitingItem | undefined {
  // A thread reply is not the conversation's last message, sent or not.
  let text: PendingMessage | undefined;
  for (const entry of timeline?.pending ?? []) if (!isThreadReply(entry)) text = entry;
  const upload = timeline?.uploads[timeline.uploads.length - 1];
  if (text === undefined || upload === undefined) return text ?? upload;
  return upload.createdAt > text.createdAt ? upload : text;
}

/** The conversation list's line for an upload, worded like the server's fallback lines. */
export function waitingLine(kind: MediaKind, fileName: string, durationMs?: number): string {
  switch (kind) {
    case 'image':
      return '📷 Photo';
    case 'video':
      return '🎬 Video';
    case 'voice':
      return durationMs === undefined ? '🎤 Voice message' : `🎤 Voice message (${formatDuration(durationMs)})`;
    case 'file':
      return `📎 ${fileName === '' ? 'File' : fileName}`;
  }
}

function revokePreview(upload: PendingUpload): void {
  if (upload.previewUrl !== undefined) URL.revokeObjectURL(upload.previewUrl);
}

/**
 * The list as shown: the server's summaries plus stand-ins for conversations
 * known only from waiting messages, in the SDK's order (pinned first, the
 * latest pinned on top), then by their newest activity, a waiting message
 * included.
 */
function withWaiting(
  known: readonly ConversationSummary[],
  timelines: ReadonlyMap<string, Timeline>,
  labels: ReadonlyMap<string, ConversationLabel>,
): readonly ConversationSummary[] {
  let changed = false;
  const ids = new Set(known.map((summary) => summary.id));
  const list = [...known];
  for (const [conversationId, timeline] of timelines) {
    const waiting = newestWaiting(timeline);
    if (waiting === undefined) continue;
    changed = true;
    if (ids.has(conversationId)) continue;
    const label = labels.get(conversationId) ?? { kind: 'direct', name: '', memberCount: 2 };
    const standIn: ConversationSummary = {
      id: conversationId,
      kind: label.kind,
      name: label.name,
      lastSeq: 0,
      readSeq: 0,
      unread: 0,
      attributes: {},
      role: 'member',
      firstSeq: 1,
      active: true,
      updatedAt: waiting.createdAt,
      memberCount: label.memberCount,
    };
    if (label.peerId !== undefined) standIn.peerId = label.peerId;
    list.push(standIn);
  }
  if (!changed) return known;
  const activity = (summary: ConversationSummary) => Math.max(summary.updatedAt, newestWaiting(timelines.get(summary.id))?.createdAt ?? 0);
  return list.sort((a, b) => (b.pinnedAt ?? 0) - (a.pinnedAt ?? 0) || activity(b) - activity(a));
}

function namesFrom(state: ChatState, conversations: readonly ConversationSummary[]): ReadonlyMap<string, string> {
  let changed = false;
  const names = new Map(state.names);
  for (const summary of conversations) {
    if (summary.kind === 'direct' && summary.peerId !== undefined && summary.name !== '' && names.get(summary.peerId) !== summary.name) {
      names.set(summary.peerId, summary.name);
      changed = true;
    }
  }
  return changed ? names : state.names;
}

const ROLE_ORDER = { owner: 0, admin: 1, member: 2 } as const;

function sortMembers(members: ConversationMember[]): ConversationMember[] {
  return [...members].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.userId.localeCompare(b.userId));
}

const MEDIA_NOUNS: Record<MediaKind, string> = { image: 'photo', file: 'file', voice: 'voice message', video: 'video' };

/** Human text for a failed upload: what was wrong with this file, or what to try. */
export function describeUploadError(error: unknown, kind: MediaKind): string {
  const noun = MEDIA_NOUNS[kind];
  if (error instanceof ParleyError) {
    switch (error.codeName) {
      case 'TOO_LARGE':
        return `This ${noun} is too large to send.`;
      case 'INVALID_ARGUMENT':
        return `This cannot be sent as a ${noun}.`;
      case 'LIMIT_EXCEEDED':
        return 'Your storage for media is full.';
      case 'UNAVAILABLE':
      case 'TIMEOUT':
        return 'The upload did not get through. Try again.';
    }
  }
  return describeError(error);
}

/**
 * Human text for a refused pin. The user has as many pinned as the server
 * allows when it says LIMIT_EXCEEDED, so their count is the limit.
 */
export function describePinError(error: unknown, pinnedCount: number): string {
  if (error instanceof ParleyError && error.codeName === 'LIMIT_EXCEEDED') {
    if (pinnedCount === 0) return 'You cannot pin more conversations. Unpin one first.';
    return `You can pin at most ${pinnedCount} conversation${pinnedCount === 1 ? '' : 's'}. Unpin one first.`;
  }
  return describeError(error);
}

/** Human text for an SDK error; never a raw stack or code dump. */
export function describeError(error: unknown): string {
  if (error instanceof ParleyError) {
    switch (error.codeName) {
      case 'NOT_FOUND':
        return 'Not found. Check the id.';
      case 'FORBIDDEN':
        return 'You are not allowed to do that here.';
      case 'CLOSED':
        // Requests wait for the connection; this one was under way when it dropped.
        return 'The connection dropped before the server answered. Check whether it happened, then try again.';
      case 'TOO_LARGE':
        return 'That is too long.';
      case 'LIMIT_EXCEEDED':
        return 'That would exceed a limit (group size).';
      case 'RATE_LIMITED':
        return 'Slow down a little and try again.';
      case 'REJECTED':
        // The reason is the deployment's own word: shown as it is, after a sentence the user can read.
        return error.reason === 'blocked_word' ? 'Not sent: it contains a word this service does not allow.' : `Not sent: this service refused it (${error.reason || 'no reason given'}).`;
      case 'TIMEOUT':
      case 'UNAVAILABLE':
        return 'The server could not be reached in time. Try again.';
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}
