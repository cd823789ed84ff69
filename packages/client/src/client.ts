/**
 * ParleyClient, the runtime-independent core of the SDK. It owns the
 * connection lifecycle (connect, welcome, first sync, heartbeat via
 * Connection, reconnect with backoff, fatal errors), and wires the pure parts
 * together: the sync engine decides what to apply and pull, the conversation
 * list keeps summaries and unread counts, the outbox keeps sends until the
 * server acknowledges them. It imports nothing runtime-specific: the Node and
 * browser entries subclass it and inject how transports are opened.
 */
import {
  DEFAULT_LIMITS,
  MUTED_FOREVER,
  ParleyError,
  type ConversationSummary as WireSummary,
  type AnsweredRequestCase,
  type BodyOf,
  type FrameBody,
  type Limits,
  type Message as WireMessage,
  type PullResult,
  type ReplyValue,
  type SyncResult,
  type Welcome,
} from '@parley/protocol';
import { CacheKeeper } from './cache/cache-keeper.js';
import type { CachedState } from './cache/cached-state.js';
import { type Clock, type TimerHandle, systemClock } from './clock.js';
import { Connection, type BodyValue } from './connection.js';
import { ConversationList, isMuted } from './conversations.js';
import { toMember, toMessage, toSummary, toWireContent, toWireRole } from './convert.js';
import { Emitter } from './emitter.js';
import { RestApi } from './http.js';
import { PushSettings } from './push.js';
import { MessageSearch } from './search.js';
import { TypingIndicators } from './typing.js';
import { AwayState, MAX_WATCHED_USERS, type Presence, PresenceBook } from './presence.js';
import { amendmentOf } from './amendments.js';
import { toSignal } from './convert.js';
import { SignalBudget, checkSignal } from './signals.js';
import { type MemberReceipt, type MessageReceipts, ReceiptBook } from './receipts.js';
import { MediaChannel, type OpenSource, type TusUploadConstructor, throwIfCancelled } from './media.js';
import { Outbox, validateContent, type Transmission } from './outbox.js';
import { type Room, type RoomInfo, RoomSet, toRoomInfo } from './rooms.js';
import { SyncEngine, initialSyncedSeq, type SyncStep } from './sync-engine.js';
import type { OpenTransport } from './transport.js';
import type {
  ServerLimits,
  ClientEventName,
  ClientEvents,
  ClientState,
  ConversationMember,
  ConversationSummary,
  CreateGroupOptions,
  DirectOptions,
  HistoryOptions,
  MediaKind,
  MediaSize,
  MediaSource,
  Message,
  MessageContent,
  OutgoingContent,
  ParleyClientOptions,
  SendMediaOptions,
  UploadedMedia,
  Role,
  SearchUsersOptions,
  SendOptions,
  UserProfile,
  UserSettings,
  Signal,
  SignalOptions,
  ThreadPage,
} from './types.js';

const DEFAULT_MIN_RECONNECT_DELAY_MS = 250;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
const DEFAULT_CONNECTION_WAIT_MS = 30_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_INITIAL_BACKLOG = 100;
const DEFAULT_CLIENT_NAME = 'parley-js/0.1';
const DEFAULT_HISTORY_LIMIT = 50;
const DEFAULT_PREFETCH_CACHE_BYTES = 32 * 1024 * 1024;
/** Ids per getUsers request: the server's bound. */
const USER_LOOKUP_BATCH = 100;
/**
 * Catch-up pulls in flight at once: enough to hide the round trips after a
 * reconnect (at 4, 100 changed conversations took 25 round trips), few enough
 * that one client cannot queue much work on the server at a time.
 */
const PARALLEL_PULLS = 16;
/**
 * Delivered positions are coalesced: at most one report per conversation per
 * this interval. They are cumulative, so a report a second late loses
 * nothing, while one every 50 ms cost the server as much as a push.
 */
const DELIVERED_COALESCE_MS = 500;
/** Conversations whose receipts are kept current at once; the least recently asked is dropped beyond it. */
const MAX_RECEIPTS_WATCHED = 20;
/**
 * After a sync on a live connection, catch-up pulls wait this long: pushes of
 * the messages the sync already counted are usually right behind it.
 */
const LIVE_SYNC_PULL_DELAY_MS = 250;
/**
 * Messages per changed conversation a sync after the first one asks to carry
 * (SyncRequest.recent_limit): a reconnect after a short absence then needs no
 * pull. More than this in a conversation is pulled as before.
 */
const SYNC_RECENT_LIMIT = 20;
/**
 * A connection lost while its sync answer was on the way suggests a link too
 * slow to carry it within the silence limit: the next sync asks for this
 * fraction as many recent messages (20, 5, 1, 0), and a completed sync
 * restores the full count. Without it a slow link could lose every attempt.
 */
const SYNC_RECENT_BACKOFF = 4;
/** Positions one sync sends at most (the protocol's default bound); the rest fall back to the version. */
const MAX_SYNC_POSITIONS = 1_000;
/** A burst of system messages (a group of 100 being built) triggers one sync, not 100. */
const SYSTEM_SYNC_DEBOUNCE_MS = 100;
/** Retry delay for a sync or pull that failed with a retryable error on a live connection. */
const BACKGROUND_RETRY_MS = 1_000;
const ROLES: readonly Role[] = ['member', 'admin', 'owner'];
/** Signal bounds until a server says its own (docs/protocol.md, "Signals"). */
const DEFAULT_MAX_SIGNAL_BYTES = 4096;
const DEFAULT_SIGNALS_PER_SECOND = 20;
/** Room requests sent again on the next connection when the connection is lost before their answer. */
const IDEMPOTENT_ROOM_REQUESTS: ReadonlySet<string> = new Set(['joinRoom', 'leaveRoom', 'pull']);
/** A reconnect the server asked to delay waits its hint plus up to this share of it. */
const RETRY_HINT_JITTER = 0.25;

interface ConnectWaiter {
  resolve(): void;
  reject(error: ParleyError): void;
}

/** A request waiting for the connection to open. */
interface OpenWaiter {
  resolve(connection: Connection): void;
  reject(error: ParleyError): void;
  timer: TimerHandle;
}

/**
 * Whether a request may be transmitted again when its connection is lost
 * before the answer arrives. Only requests whose repeat has the same effect
 * as one (opening a direct chat, reading, marking read, adding members) are;
 * a repeated rename or role change would add a second system message, and a
 * repeated group creation a second group.
 */
type Repeat = 'idempotent' | 'once';

export class ParleyClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly engine = new SyncEngine<WireMessage>();
  private readonly list = new ConversationList();
  private readonly outbox = new Outbox<Message>();
  private readonly reconnectPolicy: { minDelayMs: number; maxDelayMs: number } | false;
  private readonly requestTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly connectionWaitMs: number;
  private readonly initialBacklog: number;
  private readonly clientName: string;
  private readonly clock: Clock;

  private currentState: ClientState = 'idle';
  private currentUserId: string | undefined;
  private limits: Limits | undefined;
  /** This connection's signal budget, renewed with each welcome (signals.ts). */
  private signalBudget: SignalBudget | undefined;
  private settings: UserSettings | undefined;
  /** Others' delivered and read positions, for the conversations receipts were asked for. */
  private readonly receiptBook = new ReceiptBook();
  /** Conversations whose receipts were asked for, most recent last: asked again after a reconnect. */
  private readonly receiptsWatched = new Set<string>();
  private syncVersion = 0;
  /** Recent messages the next sync asks for (SYNC_RECENT_LIMIT, less after syncs lost on the way). */
  private syncRecentLimit = SYNC_RECENT_LIMIT;
  /**
   * Conversations whose synced seq moved since the last sync was sent: they
   * may hold messages stored after syncVersion, so the next sync sends their
   * positions and its recent messages start there instead.
   */
  private readonly movedSinceSync = new Set<string>();
  private hasBeenOpen = false;
  private reconnectAttempt = 0;
  private connectWaiters: ConnectWaiter[] = [];
  private readonly openWaiters = new Set<OpenWaiter>();

  // The current connection and what only lives as long as it does.
  private connection: Connection | undefined;
  /** The first sync on the current connection completed. */
  private sessionOpen = false;
  private syncInFlight = false;
  private syncAgain = false;
  private pullQueue: string[] = [];
  private readonly pullQueued = new Set<string>();
  private pullsRunning = 0;

  private readonly deliveredPending = new Set<string>();
  /**
   * Read positions applied locally whose mark_read the server may not have
   * received (the request failed with its connection, or timed out). They are
   * sent again on the next session, so that the server, and through it the
   * user's other devices, catch up with what this device shows. mark_read is
   * cumulative and never moves back, so a repeat is harmless.
   */
  private readonly unconfirmedReads = new Map<string, number>();
  private readonly timers = new Set<TimerHandle>();
  private reconnectTimer: TimerHandle | undefined;
  private deliveredTimer: TimerHandle | undefined;
  private systemSyncTimer: TimerHandle | undefined;
  private outboxTimer: TimerHandle | undefined;
  private outboxTimerAt = 0;
  private readonly media: MediaChannel;
  private readonly prefetchVideo: boolean;
  private readonly roomSet: RoomSet;
  /** Offline notifications: this browser's Web Push registration and the user's preview setting (docs/push.md). */
  readonly push: PushSettings;
  /** Full-text search of the messages this user may read: `client.search.messages(query, options)` (docs/search.md). */
  readonly search: MessageSearch;
  private readonly typingIndicators: TypingIndicators;
  /** Whom this client watches and what it heard of them; watched again on every new connection. */
  private readonly presenceBook = new PresenceBook();
  /** Whether this device wants to be seen away, and what the server took on this connection. */
  private readonly awayState = new AwayState();
  /** The local cache, when the `cache` option names one. */
  private readonly cacheKeeper: CacheKeeper | undefined;
  /**
   * The server database everything held came from (Welcome.database_id):
   * from the cache, then from each welcome. A welcome from another database
   * means none of it holds.
   */
  private databaseId: string | undefined;
  /** The sync version restored from the cache, until the first sync confirms or refutes it. */
  private restoredVersion: number | undefined;
  /** The synced seqs restored from the cache, for the same check. */
  private readonly restoredSynced = new Map<string, number>();

  /**
   * `runtime`: what the Node and browser entries inject besides transports:
   * how a media source is read and hashed, their build of tus-js-client, and
   * the prefetch default.
   */
  constructor(
    private readonly options: ParleyClientOptions,
    private readonly openTransport: OpenTransport,
    runtime: { openSource: OpenSource; Upload: TusUploadConstructor; prefetchVideo: boolean },
  ) {
    if (typeof options !== 'object' || options === null) throw new ParleyError('INVALID_ARGUMENT', 'options are required');
    if (typeof options.url !== 'string' || options.url === '') throw new ParleyError('INVALID_ARGUMENT', 'url is required');
    if (typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new ParleyError('INVALID_ARGUMENT', 'token must be a string or a function');
    }
    this.reconnectPolicy =
      options.reconnect === false
        ? false
        : {
            minDelayMs: positive(options.reconnect?.minDelayMs, DEFAULT_MIN_RECONNECT_DELAY_MS),
            maxDelayMs: positive(options.reconnect?.maxDelayMs, DEFAULT_MAX_RECONNECT_DELAY_MS),
          };
    this.requestTimeoutMs = positive(options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
    this.handshakeTimeoutMs = positive(options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.connectionWaitMs = positive(options.connectionWaitMs, DEFAULT_CONNECTION_WAIT_MS);
    this.initialBacklog = options.initialBacklog !== undefined && options.initialBacklog >= 0 ? options.initialBacklog : DEFAULT_INITIAL_BACKLOG;
    this.clientName = options.clientName ?? DEFAULT_CLIENT_NAME;
    this.clock = options.clock ?? systemClock;
    this.media = new MediaChannel({
      httpUrl: options.httpUrl ?? httpUrlOf(options.url),
      token: () => this.currentToken(),
      openSource: runtime.openSource,
      Upload: runtime.Upload,
      now: () => this.clock.now(),
      prefetchCacheBytes: options.prefetchCacheBytes ?? DEFAULT_PREFETCH_CACHE_BYTES,
    });
    this.prefetchVideo = options.prefetchVideo ?? runtime.prefetchVideo;
    this.typingIndicators = new TypingIndicators(
      this.clock,
      (conversationId, typing) => {
        const connection = this.connection;
        if (connection?.ready && this.sessionOpen) connection.notify({ $case: 'typing', value: { conversationId, typing } });
      },
      (change) => this.emitter.emit('typing', change),
    );
    this.push = new PushSettings(new RestApi({ httpUrl: options.httpUrl ?? httpUrlOf(options.url), token: () => this.currentToken() }, 'push settings'));
    this.search = new MessageSearch(new RestApi({ httpUrl: options.httpUrl ?? httpUrlOf(options.url), token: () => this.currentToken() }, 'message search'));
    this.roomSet = new RoomSet({
      // Joining, leaving and pulling mean the same when repeated; a chat line would not.
      request: (body) => this.request(body, IDEMPOTENT_ROOM_REQUESTS.has(body.$case) ? 'idempotent' : 'once'),
      clock: this.clock,
      maxPullLimit: () => this.maxPullLimit,
      reportError: (error) => this.emitter.emit('error', error),
    });
    this.cacheKeeper =
      options.cache === undefined
        ? undefined
        : new CacheKeeper({
            store: options.cache.store,
            owner: { serverUrl: options.url, userId: options.cache.userId },
            clock: this.clock,
            live: () => ({
              databaseId: this.databaseId,
              version: this.syncVersion,
              summaries: this.list.list(),
              syncedOf: (conversationId) => this.engine.syncedSeq(conversationId),
              unconfirmedReads: this.unconfirmedReads,
            }),
            onFailed: (operation, error) => this.emitter.emit('cache', { type: 'failed', operation, error }),
          });
  }

  private async currentToken(): Promise<string> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    if (typeof token !== 'string') throw new ParleyError('UNAUTHENTICATED', 'the token provider returned no string');
    return token;
  }

  // ---- connection ----

  get state(): ClientState {
    return this.currentState;
  }

  /** The authenticated user, known from the first welcome on. */
  get userId(): string | undefined {
    return this.currentUserId;
  }

  /** The bounds the server announced in its welcome (undefined before the first one), for checks before a request is made. */
  get serverLimits(): ServerLimits | undefined {
    const limits = this.limits;
    if (limits === undefined) return undefined;
    return {
      maxTextChars: limits.maxTextChars,
      maxDataBytes: limits.maxDataBytes,
      maxGroupMembers: limits.maxGroupMembers,
      maxDraftChars: limits.maxDraftChars,
      maxPinned: limits.maxPinned,
      maxReceiptMembers: limits.maxReceiptMembers,
      maxUploadBytes: { image: limits.maxImageBytes, file: limits.maxFileBytes, voice: limits.maxVoiceBytes, video: limits.maxVideoBytes },
    };
  }

  /**
   * Connects, and resolves once the server welcomed this client and the
   * conversation list is loaded. Network failures are retried (see
   * `reconnect`); rejects on a fatal authentication error or close().
   */
  connect(): Promise<void> {
    if (this.currentState === 'closed') return Promise.reject(new ParleyError('CLOSED', 'client is closed'));
    if (this.currentState === 'open') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'idle') {
      this.setState('connecting');
      void this.restoreThenOpen();
    }
    return ready;
  }

  /**
   * Reconnects at once instead of waiting out the backoff delay: call it when
   * the device says the network is back (the browser's `online` event, an
   * app returning to the foreground). Does nothing while connected, while an
   * attempt is under way, before connect() and after close().
   */
  reconnectNow(): void {
    if (this.reconnectTimer === undefined || this.currentState === 'closed') return;
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnectAttempt = 0;
    void this.openConnection();
  }

  /**
   * Drops the connection now, because the device says the network is gone
   * (the browser's `offline` event): the state turns 'reconnecting' at once
   * instead of after the heartbeat's silence, and unacknowledged sends wait
   * in the outbox. Reconnecting goes on as usual; pair with reconnectNow().
   */
  networkLost(): void {
    this.connection?.close(new ParleyError('UNAVAILABLE', 'the network is offline'));
  }

  /** Closes for good: no more reconnects; pending sends and requests reject with CLOSED. */
  async close(): Promise<void> {
    if (this.currentState !== 'closed') this.shutDown(undefined);
    // The last state lands before close resolves, so that the next start finds it.
    await this.cacheKeeper?.close();
  }

  /**
   * Deletes what the local cache (the `cache` option) keeps for this user
   * on this server, and stops writing it: call it on sign-out. Resolves once
   * it is gone; does nothing without the option.
   */
  async clearCache(): Promise<void> {
    await this.cacheKeeper?.clear();
  }

  on<K extends ClientEventName>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  off<K extends ClientEventName>(event: K, listener: (payload: ClientEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  // ---- conversations ----

  /** The local conversation list: pinned first (the latest pinned on top), then newest activity first. */
  conversations(): ConversationSummary[] {
    return this.list.list();
  }

  conversation(conversationId: string): ConversationSummary | undefined {
    return this.list.get(conversationId);
  }

  /** Sum of unread messages and unread replies of followed threads over the local list. */
  get totalUnread(): number {
    return this.list.totalUnread;
  }

  /**
   * The number for an app icon or title: totalUnread, without the
   * conversations muted now when the user chose so (setHideMutedFromBadge).
   * A mute that runs out counts again without an event: read it again on
   * any 'conversation' event or on a timer.
   */
  get badgeCount(): number {
    if (this.settings?.hideMutedFromBadge !== true) return this.list.totalUnread;
    const now = this.clock.now();
    let total = 0;
    for (const summary of this.list.list()) if (!isMuted(summary, now)) total += summary.unread + (summary.threadUnread ?? 0);
    return total;
  }

  /** Opens (creating if needed) the direct conversation with `userId`; resolves with its id. */
  async direct(userId: string, options: DirectOptions = {}): Promise<string> {
    const result = await this.request(
      { $case: 'openDirect', value: { peerId: userId, subject: options.subject ?? '' } },
      'idempotent',
    );
    return this.applyConversationResult(result.summary).id;
  }

  /** Creates a group owned by this user. */
  async createGroup(options: CreateGroupOptions): Promise<ConversationSummary> {
    const result = await this.request(
      { $case: 'createGroup', value: { id: options.id ?? '', name: options.name, memberIds: [...options.memberIds] } },
    );
    return this.applyConversationResult(result.summary);
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.request({ $case: 'updateMembers', value: { conversationId, add: [...userIds], remove: [] } }, 'idempotent');
  }

  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.request({ $case: 'updateMembers', value: { conversationId, add: [], remove: [userId] } });
  }

  /** Removes this user from the group. */
  async leave(conversationId: string): Promise<void> {
    // The user id is known from the first welcome on.
    if (this.currentUserId === undefined) await this.whenOpen(this.clock.now() + this.connectionWaitMs);
    const userId = this.currentUserId;
    if (userId === undefined) throw new ParleyError('INTERNAL', 'welcomed without a user id');
    await this.removeMember(conversationId, userId);
  }

  async renameGroup(conversationId: string, name: string): Promise<void> {
    await this.request({ $case: 'rename', value: { conversationId, name } });
  }

  async setRole(conversationId: string, userId: string, role: Role): Promise<void> {
    if (!ROLES.includes(role)) throw new ParleyError('INVALID_ARGUMENT', `unknown role ${String(role)}`);
    await this.request({ $case: 'setRole', value: { conversationId, userId, role: toWireRole(role) } });
  }

  async members(conversationId: string): Promise<ConversationMember[]> {
    const result = await this.request({ $case: 'members', value: { conversationId } }, 'idempotent');
    return result.members.map(toMember);
  }

  /**
   * Display names for user ids (senders, members, a peer), in the order asked;
   * ids that name no user are left out. Any number of ids: they are asked for
   * in batches of 100.
   */
  async getUsers(userIds: readonly string[]): Promise<UserProfile[]> {
    const unique = [...new Set(userIds)];
    const batches: string[][] = [];
    for (let start = 0; start < unique.length; start += USER_LOOKUP_BATCH) batches.push(unique.slice(start, start + USER_LOOKUP_BATCH));
    const answers = await Promise.all(batches.map((batch) => this.request({ $case: 'getUsers', value: { userIds: batch } }, 'idempotent')));
    const found = new Map(answers.flatMap((answer) => answer.users.map((user) => [user.id, { id: user.id, name: user.name }] as const)));
    return unique.flatMap((id) => found.get(id) ?? []);
  }

  /**
   * Finds users by part of their id or name (ignoring case), the user whose
   * id equals the query first. How much can be found is the server's choice:
   * everyone, only the user whose id is typed in full (then at most one
   * result), or nobody — then it rejects with a ParleyError whose codeName is
   * 'FORBIDDEN'.
   */
  async searchUsers(query: string, options: SearchUsersOptions = {}): Promise<UserProfile[]> {
    const result = await this.request({ $case: 'searchUsers', value: { query, limit: options.limit ?? 0 } }, 'idempotent');
    return result.users.map((user) => ({ id: user.id, name: user.name }));
  }

  // ---- typing indicators ----

  /**
   * Call on every change of a conversation's composer: the other members
   * see this user typing. Sent at most every 3 s per conversation, and only
   * while connected (a stale indicator is worse than none).
   */
  typing(conversationId: string): void {
    this.typingIndicators.typing(conversationId);
  }

  /** The composer was cleared or left: the others stop seeing this user typing at once. Sending a message does it too. */
  stopTyping(conversationId: string): void {
    this.typingIndicators.stopped(conversationId);
  }

  /** Who else is typing in a conversation now; the 'typing' event says when it changes. */
  typingIn(conversationId: string): string[] {
    return this.typingIndicators.typingIn(conversationId);
  }

  // ---- presence ----

  /**
   * Watches whether these users are online, away or offline (and when they
   * were last seen), replacing the list given before; an empty list stops
   * watching. At most 200 users, each sharing a conversation with this user
   * (others come back 'unknown', like users who hide their presence).
   * Resolves with each user's presence now; then the 'presence' event says
   * when one changes, also after a reconnect (the list is watched again).
   */
  async watchPresence(userIds: readonly string[]): Promise<Presence[]> {
    if (!Array.isArray(userIds) || userIds.some((id) => typeof id !== 'string')) throw new ParleyError('INVALID_ARGUMENT', 'userIds must be an array of user ids');
    const list = [...new Set(userIds)];
    if (list.length > MAX_WATCHED_USERS) throw new ParleyError('TOO_LARGE', `at most ${MAX_WATCHED_USERS} users may be watched at once`);
    this.presenceBook.watch(list);
    await this.subscribePresence();
    return list.map((userId) => this.presenceBook.of(userId) ?? { userId, state: 'unknown' });
  }

  /** What this client last heard of a watched user's presence; undefined when not watched or not heard of yet. */
  presenceOf(userId: string): Presence | undefined {
    return this.presenceBook.of(userId);
  }

  /**
   * This device is away (the app went to the background, or the user is
   * idle) or active again. The user shows as away to their contacts when
   * every device of theirs is away. Kept across reconnects; sent when
   * connected, the latest value winning.
   */
  setAway(away: boolean): void {
    this.awayState.set(away === true);
    this.sendAway();
  }

  /**
   * Hides when this user is online and was last seen from everyone (and
   * then they see nobody's last seen), or shows it again, on all the user's
   * devices.
   */
  async setPresenceHidden(hidden: boolean): Promise<UserSettings> {
    const result = await this.request({ $case: 'updateUserSettings', value: { hidePresence: hidden } }, 'idempotent');
    this.applySettings(result);
    return { ...result };
  }

  private async subscribePresence(): Promise<void> {
    const list = this.presenceBook.watched;
    const result = await this.request({ $case: 'presenceSubscribe', value: { userIds: [...list] } }, 'idempotent');
    // A later list may have replaced this one meanwhile: its own answer applies.
    if (list !== this.presenceBook.watched) return;
    this.applyPresence(result.users);
  }

  private applyPresence(users: Parameters<PresenceBook['apply']>[0]): void {
    for (const presence of this.presenceBook.apply(users)) this.emitter.emit('presence', presence);
  }

  /** Sends this device's away state when it differs from what the server took; a refusal for the rate is retried later. */
  private sendAway(): void {
    if (!this.sessionOpen) return;
    const away = this.awayState.due();
    if (away === undefined) return;
    this.request({ $case: 'setPresence', value: { away } }).then(
      () => {
        this.awayState.settled(away);
        this.sendAway();
      },
      (error: unknown) => {
        this.awayState.settled(undefined);
        if (error instanceof ParleyError && error.codeName === 'RATE_LIMITED') this.later(error.retryAfterMs, () => this.sendAway());
      },
    );
  }

  // ---- this user's own conversation settings (every device of the user sees them) ----

  /** Mutes the conversation's notifications until `until` (ms since the epoch), by default until unmuted. Unread counts go on. */
  async mute(conversationId: string, until: number = MUTED_FOREVER): Promise<ConversationSummary> {
    if (!Number.isSafeInteger(until) || until <= 0) throw new ParleyError('INVALID_ARGUMENT', 'until must be a time in ms since the epoch');
    return this.updateSettings(conversationId, { mutedUntil: until });
  }

  async unmute(conversationId: string): Promise<ConversationSummary> {
    return this.updateSettings(conversationId, { mutedUntil: 0 });
  }

  /** Keeps the conversation at the top of `conversations()` (a few at most: Welcome limits say how many). Pinning a pinned one keeps its place. */
  async pin(conversationId: string): Promise<ConversationSummary> {
    return this.updateSettings(conversationId, { pinned: true });
  }

  async unpin(conversationId: string): Promise<ConversationSummary> {
    return this.updateSettings(conversationId, { pinned: false });
  }

  /**
   * Keeps text left unsent in the conversation's composer for the user's
   * other devices; '' clears it. Save when typing pauses or the
   * conversation is left, not on every key.
   */
  async saveDraft(conversationId: string, text: string): Promise<ConversationSummary> {
    if (typeof text !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'a draft is a string');
    return this.updateSettings(conversationId, { draft: text });
  }

  private async updateSettings(conversationId: string, change: { mutedUntil?: number; pinned?: boolean; draft?: string }): Promise<ConversationSummary> {
    // Setting a value twice leaves it as once: safe to repeat after a lost answer.
    const result = await this.request({ $case: 'conversationSettings', value: { conversationId, ...change } }, 'idempotent');
    return this.applyConversationResult(result.summary);
  }

  // ---- receipts ----

  /**
   * The other members' delivered and read positions in a conversation,
   * asked from the server; from then on pushes keep them current (also
   * after a reconnect) and `receiptsOf` answers for each message. Ask when
   * the conversation is opened. Refused with LIMIT_EXCEEDED in conversations
   * above the server's maxReceiptMembers.
   */
  async receipts(conversationId: string): Promise<MemberReceipt[]> {
    const result = await this.request({ $case: 'receipts', value: { conversationId } }, 'idempotent');
    this.receiptsWatched.delete(conversationId);
    this.receiptsWatched.add(conversationId);
    for (const stale of this.receiptsWatched) {
      if (this.receiptsWatched.size <= MAX_RECEIPTS_WATCHED) break;
      this.receiptsWatched.delete(stale);
      this.receiptBook.forget(stale);
    }
    const changed = this.receiptBook.apply(conversationId, result.members, this.currentUserId);
    this.receiptBook.keepOnly(conversationId, new Set(result.members.map((member) => member.userId)));
    if (changed) this.emitter.emit('receipts', { conversationId });
    return this.receiptBook.of(conversationId) ?? [];
  }

  /**
   * Sent, delivered or read, and by whom, for one of the user's own
   * messages; undefined until `receipts` was asked for its conversation.
   * A message still waiting in the outbox is not sent yet: it has no seq.
   */
  receiptsOf(message: Pick<Message, 'conversationId' | 'seq' | 'senderId' | 'visibleTo'>): MessageReceipts | undefined {
    return this.receiptBook.receiptsOf(message);
  }

  /** The user's own account settings, from the welcome on (undefined before the first one). */
  get userSettings(): UserSettings | undefined {
    return this.settings === undefined ? undefined : { ...this.settings };
  }

  /**
   * Turns read receipts off (others do not see when you read, and you do
   * not see when they read; delivery still shows) or back on, on all the
   * user's devices.
   */
  async setReadReceipts(enabled: boolean): Promise<UserSettings> {
    const result = await this.request({ $case: 'updateUserSettings', value: { readReceiptsOff: !enabled } }, 'idempotent');
    this.applySettings(result);
    return { ...result };
  }

  /**
   * Leaves muted conversations out of the badge (badgeCount here, and the
   * badge of this user's notifications), or counts them again, on all the
   * user's devices.
   */
  async setHideMutedFromBadge(hide: boolean): Promise<UserSettings> {
    const result = await this.request({ $case: 'updateUserSettings', value: { hideMutedFromBadge: hide } }, 'idempotent');
    this.applySettings(result);
    return { ...result };
  }

  private applySettings(settings: UserSettings): void {
    const before = this.settings;
    this.settings = { readReceiptsOff: settings.readReceiptsOff, hidePresence: settings.hidePresence, hideMutedFromBadge: settings.hideMutedFromBadge };
    const same = before !== undefined && before.readReceiptsOff === settings.readReceiptsOff && before.hidePresence === settings.hidePresence;
    if (same && before.hideMutedFromBadge === settings.hideMutedFromBadge) return;
    this.emitter.emit('settings', { ...this.settings });
    if (before === undefined || before.readReceiptsOff === settings.readReceiptsOff) return;
    // Reads shown before the change may no longer be shown (or may be now): ask again.
    for (const conversationId of this.receiptsWatched) {
      this.receiptBook.forget(conversationId);
      if (this.sessionOpen) void this.receipts(conversationId).catch(() => undefined);
    }
  }

  /**
   * Moves the read position forward to `seq` (default: the newest local
   * message), locally at once, then on the server, whose answer gives the
   * exact unread count. Other devices of the user hear it from the server.
   * When the request fails with a retryable error (the connection dropped),
   * the promise rejects but the local read stands and is sent again once
   * connected, so the server and the other devices still catch up.
   */
  async markRead(conversationId: string, seq?: number): Promise<void> {
    if (seq !== undefined && (!Number.isInteger(seq) || seq < 0)) {
      throw new ParleyError('INVALID_ARGUMENT', 'seq must be a non-negative integer');
    }
    if (this.currentState === 'closed') throw new ParleyError('CLOSED', 'client is closed');
    const target = seq ?? this.list.get(conversationId)?.lastSeq ?? 0;
    if (target > 0) this.emitConversation(this.list.markReadLocally(conversationId, target));
    let result: BodyValue<'readResult'>;
    try {
      // mark_read is cumulative and never moves back: a repeat is harmless.
      result = await this.request({ $case: 'markRead', value: { conversationId, seq: target } }, 'idempotent');
    } catch (error) {
      if (target > 0 && error instanceof ParleyError && error.retryable) this.rememberRead(conversationId, target);
      throw error;
    }
    this.applyReadResult(conversationId, result);
  }

  // ---- messages ----

  /**
   * Sends a message reliably: it is queued, sent when connected, and resent
   * with the same clientMsgId after a disconnect until the server acknowledges
   * it, so it is stored exactly once. Resolves with the stored message; rejects
   * when the server refuses it (FORBIDDEN, NOT_FOUND, INVALID_ARGUMENT,
   * TOO_LARGE) or the client is closed.
   *
   * `options.clientMsgId` lets the application choose the idempotency key, so
   * that a send it kept across an app restart (an outbox in IndexedDB, a file)
   * can be sent again by a new client and still be stored once. A send with
   * the key of one still queued in this client returns that send's promise.
   */
  send(conversationId: string, content: MessageContent, options: SendOptions = {}): Promise<Message> {
    if (this.currentState === 'closed') return Promise.reject(new ParleyError('CLOSED', 'client is closed'));
    if (typeof conversationId !== 'string' || conversationId === '') {
      return Promise.reject(new ParleyError('INVALID_ARGUMENT', 'conversationId is required'));
    }
    const invalid = validateContent(content, this.limits);
    if (invalid !== undefined) return Promise.reject(invalid);
    const acknowledged = this.outbox.add(conversationId, content, options.clientMsgId);
    // The message itself tells the others this user stopped typing.
    this.typingIndicators.stopped(conversationId, false);
    this.flushOutbox();
    return acknowledged;
  }

  /** Uploads a photo, then sends it: see sendMedia. */
  sendImage(conversationId: string, source: MediaSource, options: SendMediaOptions = {}): Promise<Message> {
    return this.sendMedia('image', conversationId, source, options);
  }

  /** Uploads any file, then sends it as a file card: see sendMedia. */
  sendFile(conversationId: string, source: MediaSource, options: SendMediaOptions = {}): Promise<Message> {
    return this.sendMedia('file', conversationId, source, options);
  }

  /** Uploads a voice note (any audio, or WebM/MP4 audio from a recorder), then sends it: see sendMedia. */
  sendVoice(conversationId: string, source: MediaSource, options: SendMediaOptions = {}): Promise<Message> {
    return this.sendMedia('voice', conversationId, source, options);
  }

  /** Uploads a video (and its poster, when given), then sends it: see sendMedia. */
  sendVideo(conversationId: string, source: MediaSource, options: SendMediaOptions = {}): Promise<Message> {
    return this.sendMedia('video', conversationId, source, options);
  }

  /**
   * One call that uploads media over the media channel, with progress, and
   * then sends the message that carries it. Safe to call again with the same
   * clientMsgId after a failure or an app restart: bytes already uploaded are
   * not sent again, an interrupted upload resumes, and the message is stored
   * once. The message connection may drop and come back meanwhile; the
   * upload does not depend on it.
   */
  async sendMedia(kind: MediaKind, conversationId: string, source: MediaSource, options: SendMediaOptions = {}): Promise<Message> {
    if (this.currentState === 'closed') throw new ParleyError('CLOSED', 'client is closed');
    if (typeof conversationId !== 'string' || conversationId === '') throw new ParleyError('INVALID_ARGUMENT', 'conversationId is required');
    let posterMediaId: string | undefined;
    if (kind === 'video' && options.poster !== undefined) {
      posterMediaId = (await this.media.upload('image', options.poster, { signal: options.signal })).mediaId;
    }
    const uploaded = await this.uploadMedia(kind, source, options);
    throwIfCancelled(options.signal);
    const { mediaId } = uploaded;
    const content: OutgoingContent =
      kind === 'image'
        ? { type: 'image', mediaId, caption: options.caption }
        : kind === 'file'
          ? { type: 'file', mediaId, caption: options.caption, fileName: options.fileName }
          : kind === 'voice'
            ? { type: 'voice', mediaId, durationMs: options.durationMs, waveform: options.waveform }
            : { type: 'video', mediaId, caption: options.caption, durationMs: options.durationMs, width: options.width, height: options.height, posterMediaId };
    return this.send(conversationId, { content }, { clientMsgId: options.clientMsgId });
  }

  /** Uploads without sending: for applications that compose typed content themselves. */
  uploadMedia(kind: MediaKind, source: MediaSource, options: Pick<SendMediaOptions, 'fileName' | 'onProgress' | 'signal'> = {}): Promise<UploadedMedia> {
    return this.media.upload(kind, source, {
      fileName: options.fileName,
      signal: options.signal,
      maxBytes: this.maxUploadBytes(kind),
      onProgress: (sentBytes, totalBytes) => options.onProgress?.({ sentBytes, totalBytes }),
    });
  }

  /**
   * A URL to render one size of a media item (`<img src>`, `<video src>`, a
   * download link): signed by the server, valid for about ten minutes, cached
   * until shortly before it expires. 'medium' and 'poster' fall back to the
   * original for items without them.
   */
  mediaUrl(ref: { mediaId: string } | string, size: MediaSize = 'original'): Promise<string> {
    return this.media.url(typeof ref === 'string' ? ref : ref.mediaId, size);
  }

  /** The prefetched first seconds of a video message's media, if the prefetch has run. */
  prefetchedMedia(mediaId: string): Uint8Array | undefined {
    return this.media.prefetched(mediaId);
  }

  private maxUploadBytes(kind: MediaKind): number {
    const limits = this.limits;
    if (limits === undefined) return 0;
    return kind === 'image' ? limits.maxImageBytes : kind === 'file' ? limits.maxFileBytes : kind === 'voice' ? limits.maxVoiceBytes : limits.maxVideoBytes;
  }

  /**
   * Older messages for scrolling back: the newest `limit` readable messages
   * with seq below `beforeSeq`, in ascending order. History is not emitted as
   * 'message' events.
   */
  async history(conversationId: string, options: HistoryOptions = {}): Promise<Message[]> {
    const { beforeSeq } = options;
    if (beforeSeq !== undefined && (!Number.isInteger(beforeSeq) || beforeSeq < 0)) {
      throw new ParleyError('INVALID_ARGUMENT', 'beforeSeq must be a non-negative integer');
    }
    if (beforeSeq !== undefined && beforeSeq <= 1) return [];
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? DEFAULT_HISTORY_LIMIT)), this.maxPullLimit);
    const result = await this.request(
      {
        $case: 'pull',
        value: { conversationId, fromSeq: 1, toSeq: beforeSeq === undefined ? 0 : beforeSeq - 1, limit, descending: true },
      },
      'idempotent',
    );
    const older = result.messages
      .filter((message) => !message.hidden)
      .map(toMessage)
      .filter((message) => amendmentOf(message) === undefined)
      .sort((a, b) => a.seq - b.seq);
    // A page that reaches what the cache holds extends it, so that a restart shows it too.
    const synced = this.engine.syncedSeq(conversationId);
    if (this.cacheKeeper !== undefined && synced !== undefined) {
      const coveredTo = beforeSeq === undefined ? Number.MAX_SAFE_INTEGER : beforeSeq - 1;
      this.cacheKeeper.runs.prepend(conversationId, { coveredFrom: result.coveredFrom, coveredTo, messages: older }, synced);
      this.cacheKeeper.changed();
    }
    return older;
  }

  // ---- signals ----

  /**
   * Sends an ephemeral event to a conversation's other members (or one of
   * them), in order per sender; nothing is stored. Returns false, having
   * sent nothing, while not connected (signals are never queued for later)
   * or past this connection's budget (the server's signals_per_second).
   * Throws INVALID_ARGUMENT for a malformed type or key, TOO_LARGE for data
   * over the server's max_signal_bytes. Batch high-rate sources (a
   * whiteboard's points per animation frame).
   */
  signal(conversationId: string, type: string, data: Uint8Array, options: SignalOptions = {}): boolean {
    checkSignal(type, data, options.key ?? '', this.limits?.maxSignalBytes || DEFAULT_MAX_SIGNAL_BYTES);
    const connection = this.connection;
    if (connection === undefined || !connection.ready || !this.sessionOpen) return false;
    if (this.signalBudget?.take(this.clock.now()) === false) return false;
    connection.notify({ $case: 'signal', value: { conversationId, type, data, toUserId: options.to ?? '', key: options.key ?? '' } });
    return true;
  }

  /** The latest keyed signals of a conversation (each member's last location...), newest first. */
  async signalValues(conversationId: string): Promise<Signal[]> {
    const result = await this.request({ $case: 'signalValues', value: { conversationId } }, 'idempotent');
    return result.values.map(toSignal);
  }

  // ---- recall, edit, delete for me ----

  /**
   * Recalls a message for everyone: your own within the server's recall
   * window, or anyone's in a group you administer. Every device gets an
   * `amended` event; the message then reads as recalled (`recalledAt`, no
   * content). Repeating it does nothing more.
   */
  async recall(conversationId: string, seq: number): Promise<void> {
    const result = await this.request({ $case: 'recall', value: { conversationId, seq } }, 'idempotent');
    this.applyAmendment(result.amendment);
  }

  /** Replaces the text of your own text message (within the server's edit window); every device gets an `amended` event. */
  async edit(conversationId: string, seq: number, text: string): Promise<void> {
    if (typeof text !== 'string' || text.trim() === '') throw new ParleyError('INVALID_ARGUMENT', 'an edit needs text');
    const result = await this.request({ $case: 'edit', value: { conversationId, seq, text } }, 'idempotent');
    this.applyAmendment(result.amendment);
  }

  /** Deletes a message from your own devices only (others keep it); they get an `amended` event. */
  async deleteForMe(conversationId: string, seq: number): Promise<void> {
    const result = await this.request({ $case: 'deleteForMe', value: { conversationId, seq } }, 'idempotent');
    this.applyAmendment(result.amendment);
  }

  /**
   * Adds a reaction (one emoji) to a message, or takes it back with `add`
   * false; a user gives at most 3 different ones to a message. Every device
   * gets an `amended` event (change 'reacted').
   */
  async react(conversationId: string, seq: number, emoji: string, add = true): Promise<void> {
    const result = await this.request({ $case: 'react', value: { conversationId, seq, emoji, add } }, 'idempotent');
    this.applyAmendment(result.amendment);
  }

  /** The texts an edited message had, oldest first, the current one last (empty for a recalled one). */
  async editHistory(conversationId: string, seq: number): Promise<Array<{ text: string; at: number }>> {
    const result = await this.request({ $case: 'editHistory', value: { conversationId, seq } }, 'idempotent');
    return result.versions.map((version) => ({ text: version.text, at: version.at }));
  }

  /**
   * A thread's root and a page of its replies after `afterSeq` (default: from
   * the first; at most `limit`, default and at most 100). Replies also arrive
   * as ordinary messages (with `threadRoot`); this is for opening a thread.
   */
  async thread(conversationId: string, rootSeq: number, options: { afterSeq?: number; limit?: number } = {}): Promise<ThreadPage> {
    const value = { conversationId, rootSeq, afterSeq: options.afterSeq ?? 0, limit: options.limit ?? 0 };
    const result = await this.request({ $case: 'thread', value }, 'idempotent');
    if (result.root === undefined) throw new ParleyError('INTERNAL', 'thread answer without its root');
    return {
      root: toMessage(result.root),
      replies: result.replies.map(toMessage),
      hasMore: result.hasMore,
      following: result.following,
      readSeq: result.readSeq,
      unread: result.unread,
    };
  }

  /**
   * Reads a thread this user follows up to `seq` (default: every reply so
   * far). The conversation's summary (its `threadUnread`) and the total
   * follow, here and on the user's other devices. Nothing is kept for a
   * thread the user does not follow.
   */
  async markThreadRead(conversationId: string, rootSeq: number, seq = 0): Promise<void> {
    const result = await this.request({ $case: 'markThreadRead', value: { conversationId, rootSeq, seq } }, 'idempotent');
    this.applyReadResult(conversationId, result);
  }

  /** The answer's amendment is applied at once; its push, arriving too, is then a seq already held. */
  private applyAmendment(wire: WireMessage | undefined): void {
    if (wire !== undefined) this.receiveMessage(wire);
  }

  // ---- live rooms ----

  /** Creates a live room hosted by this user (docs/rooms.md). Join it to watch and send. */
  async createRoom(options: { id?: string; name: string }): Promise<RoomInfo> {
    const result = await this.request({ $case: 'createRoom', value: { id: options.id ?? '', name: options.name } });
    if (result.room === undefined) throw new ParleyError('INTERNAL', 'room_result without a room');
    const room = toRoomInfo(result.room);
    this.roomSet.remember(room.id);
    return room;
  }

  /**
   * Joins a live room on this connection, and again after every reconnect
   * until left. Its reliable messages (gifts, cards: sent with `send` by the
   * host and admins) come from the Room's 'message' event exactly once and in
   * order; chatter from its 'events' event. Joining a joined room returns it.
   */
  joinRoom(roomId: string): Promise<Room> {
    return this.roomSet.join(roomId);
  }

  /** A room this client joined, or undefined. */
  room(roomId: string): Room | undefined {
    return this.roomSet.get(roomId);
  }

  /** The rooms this client joined. */
  joinedRooms(): Room[] {
    return this.roomSet.list();
  }

  async leaveRoom(roomId: string): Promise<void> {
    await this.roomSet.get(roomId)?.leave();
  }

  /** Ends a live room (host and admins): every viewer gets its last batch and leaves. */
  async closeRoom(roomId: string): Promise<void> {
    await this.request({ $case: 'closeRoom', value: { roomId } });
  }

  /** Makes a user an admin of a room, or a plain viewer again (host only). */
  async setRoomAdmin(roomId: string, userId: string, admin: boolean): Promise<void> {
    await this.request({ $case: 'setRoomAdmin', value: { roomId, userId, admin } });
  }

  /** Mutes a viewer for `seconds` (0 lifts the mute; host and admins). */
  async muteViewer(roomId: string, userId: string, seconds: number): Promise<void> {
    await this.request({ $case: 'muteViewer', value: { roomId, userId, seconds } });
  }

  // ---- connection lifecycle (internal) ----

  /** Shows what the local cache kept, then connects. */
  private async restoreThenOpen(): Promise<void> {
    const state = await this.cacheKeeper?.load();
    if (this.currentState === 'closed') return;
    if (state !== undefined) this.restore(state);
    await this.openConnection();
  }

  /**
   * Takes the cached state back as if it had just been synced, and emits it:
   * summaries, then each conversation's messages in seq order. The first
   * sync then asks from the cached version with every cached position, so
   * only conversations that changed come back, with messages after what is
   * held; the sync engine drops any it holds already and pulls any gap.
   */
  private restore(state: CachedState): void {
    const runs = (this.cacheKeeper as CacheKeeper).runs;
    this.databaseId = state.databaseId;
    this.syncVersion = state.version;
    this.restoredVersion = state.version;
    for (const { summary, synced, run } of state.conversations) {
      this.list.applyServerSummary(summary);
      this.engine.track(summary.id, synced, readableLastSeq(summary));
      this.restoredSynced.set(summary.id, synced);
      this.movedSinceSync.add(summary.id);
      if (run !== undefined) runs.restore(summary.id, run);
    }
    for (const { conversationId, seq } of state.unconfirmedReads) this.unconfirmedReads.set(conversationId, seq);
    for (const summary of this.list.list()) this.emitConversation(summary);
    let messages = 0;
    for (const { run } of state.conversations) {
      for (const message of run?.messages ?? []) {
        this.emitter.emit('message', message);
        messages += 1;
      }
    }
    this.emitter.emit('cache', { type: 'restored', conversations: state.conversations.length, messages });
  }

  /**
   * True when the first sync after a restore shows that the server's data is
   * not what the cache was written from, where the welcome could not tell (a
   * database restored from a backup keeps its id; an older server sends
   * none): its version went back, or a conversation ends before what the
   * cache holds of it.
   */
  private refutesRestored(result: SyncResult): boolean {
    const restoredVersion = this.restoredVersion;
    if (restoredVersion === undefined) return false;
    this.restoredVersion = undefined;
    const refuted =
      result.version < restoredVersion || result.conversations.some((wire) => (this.restoredSynced.get(wire.id) ?? 0) > toSummary(wire).lastSeq);
    this.restoredSynced.clear();
    return refuted;
  }

  /**
   * Forgets every conversation and message held, restored from the cache or
   * synced on earlier connections; the application hears it ('cache' event)
   * and the next sync starts from scratch. Unsent messages stay queued. After
   * a server reset the stored state goes too; another user's is left as it was.
   */
  private discardHeld(reason: 'server reset' | 'another user'): void {
    this.databaseId = undefined;
    this.restoredVersion = undefined;
    this.restoredSynced.clear();
    this.list.clear();
    this.engine.clear();
    if (reason === 'server reset') this.cacheKeeper?.discard();
    else this.cacheKeeper?.runs.clear();
    this.movedSinceSync.clear();
    this.unconfirmedReads.clear();
    this.deliveredPending.clear();
    this.syncVersion = 0;
    this.emitter.emit('cache', { type: 'discarded', reason });
  }

  private async openConnection(): Promise<void> {
    this.reconnectTimer = undefined;
    let token: string;
    try {
      token = await this.currentToken();
    } catch (cause) {
      if (this.currentState === 'closed') return;
      this.connectionFailed(cause instanceof ParleyError ? cause : new ParleyError('UNAVAILABLE', 'the token provider failed', { cause }));
      return;
    }
    if (this.currentState === 'closed') return;
    let connection: Connection;
    try {
      connection = new Connection(
        this.openTransport,
        { token, clientName: this.clientName, requestTimeoutMs: this.requestTimeoutMs, handshakeTimeoutMs: this.handshakeTimeoutMs, clock: this.clock },
        {
          onWelcome: (welcome) => this.onWelcome(connection, welcome),
          onServerFrame: (body) => this.onServerFrame(connection, body),
          onLost: (error) => this.onConnectionLost(connection, error),
        },
      );
    } catch (cause) {
      // Opening a transport only throws for a URL the entry should have refused.
      this.shutDown(cause instanceof ParleyError ? cause : new ParleyError('INVALID_ARGUMENT', 'cannot open a transport', { cause }));
      return;
    }
    this.connection = connection;
  }

  private onWelcome(connection: Connection, welcome: Welcome): void {
    if (connection !== this.connection) return;
    this.currentUserId = welcome.userId;
    if (this.cacheKeeper !== undefined && this.cacheKeeper.owner.userId !== welcome.userId) {
      // The cache was named for another user: none of it may stay, and this user's state is not written under that user's key.
      this.cacheKeeper.stop();
      if (this.restoredVersion !== undefined) this.discardHeld('another user');
    }
    const databaseId = welcome.databaseId === '' ? undefined : welcome.databaseId;
    if (databaseId !== undefined && this.databaseId !== undefined && databaseId !== this.databaseId) {
      // The server's database was replaced or reset since this state was
      // synced (before a restart of this app, or of the server while this
      // client stayed up): a sync from the old version would mix two databases.
      this.discardHeld('server reset');
    }
    if (databaseId !== undefined) this.databaseId = databaseId;
    this.limits = welcome.limits;
    this.signalBudget = new SignalBudget(welcome.limits?.signalsPerSecond || DEFAULT_SIGNALS_PER_SECOND, this.clock.now());
    this.applySettings({
      readReceiptsOff: welcome.settings?.readReceiptsOff === true,
      hidePresence: welcome.settings?.hidePresence === true,
      hideMutedFromBadge: welcome.settings?.hideMutedFromBadge === true,
    });
    this.reconnectAttempt = 0;
    this.requestSync();
  }

  /** The first sync on a connection completed: the client is usable. */
  private openSession(): void {
    this.sessionOpen = true;
    this.flushOutbox();
    this.flushReads();
    // Positions kept from the last connection, and the ones this sync moved,
    // go out together after the coalescing interval, not in the middle of
    // the catch-up.
    this.scheduleDelivered();
    this.hasBeenOpen = true;
    this.roomSet.rejoinAll();
    // Positions moved while this client was away; pushes resume from here.
    for (const conversationId of this.receiptsWatched) void this.receipts(conversationId).catch(() => undefined);
    // A new connection is active and watches nobody until told.
    this.awayState.reset();
    this.sendAway();
    if (this.presenceBook.watched.length > 0) void this.subscribePresence().catch(() => undefined);
    this.setState('open');
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    const connection = this.connection;
    if (connection === undefined || !this.sessionOpen) return; // a listener closed it meanwhile
    for (const waiter of [...this.openWaiters]) {
      this.openWaiters.delete(waiter);
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(connection);
    }
  }

  private onConnectionLost(connection: Connection, error: ParleyError): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    this.sessionOpen = false;
    this.syncInFlight = false;
    this.syncAgain = false;
    this.pullQueue = [];
    this.pullQueued.clear();
    this.pullsRunning = 0;
    this.engine.abortPulls();
    this.outbox.requeueInFlight();
    if (this.currentState === 'closed') return;
    this.connectionFailed(error);
  }

  /** A connection attempt failed or a connection was lost: reconnect, or stop for good. */
  private connectionFailed(error: ParleyError): void {
    if (this.isFatal(error) || this.reconnectPolicy === false) {
      this.shutDown(error);
      return;
    }
    this.setState(this.hasBeenOpen ? 'reconnecting' : 'connecting', error);
    // Full jitter: a random delay up to an exponentially growing ceiling, so
    // that clients dropped together do not come back together.
    const ceiling = Math.min(this.reconnectPolicy.maxDelayMs, this.reconnectPolicy.minDelayMs * 2 ** Math.min(this.reconnectAttempt, 30));
    this.reconnectAttempt += 1;
    // A server refusing connections in a surge says when to come back (it
    // hands out successive slots): that, plus a little jitter, is the delay.
    const delay = error.retryAfterMs > 0 ? error.retryAfterMs * (1 + Math.random() * RETRY_HINT_JITTER) : Math.random() * ceiling;
    this.reconnectTimer = this.clock.setTimeout(() => void this.openConnection(), delay);
  }

  private isFatal(error: ParleyError): boolean {
    switch (error.codeName) {
      case 'UNAUTHENTICATED':
      case 'UNSUPPORTED_VERSION':
        return true;
      case 'TOKEN_EXPIRED':
        // A token function is asked again on reconnect; a static token would just expire again.
        return typeof this.options.token !== 'function';
      default:
        return false;
    }
  }

  /** Enters 'closed': every timer stops, every pending promise settles. */
  private shutDown(error: ParleyError | undefined): void {
    if (this.currentState === 'closed') return;
    this.setState('closed', error);
    this.clock.clearTimeout(this.reconnectTimer);
    this.clock.clearTimeout(this.deliveredTimer);
    this.clock.clearTimeout(this.systemSyncTimer);
    this.clock.clearTimeout(this.outboxTimer);
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    const rejection = error ?? new ParleyError('CLOSED', 'client closed');
    this.outbox.rejectAll(rejection);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.reject(rejection);
    for (const waiter of this.openWaiters) {
      this.clock.clearTimeout(waiter.timer);
      waiter.reject(rejection);
    }
    this.openWaiters.clear();
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
    void this.cacheKeeper?.close();
  }

  private setState(state: ClientState, error?: ParleyError): void {
    if (state === this.currentState && error === undefined) return;
    if (this.currentState === 'open' && state !== 'open') this.typingIndicators.clear();
    this.currentState = state;
    this.emitter.emit('state', error === undefined ? { state } : { state, error });
  }

  /**
   * The open connection (welcomed and synced): at once when there is one,
   * otherwise when the next one opens. Rejects with TIMEOUT at `deadline`
   * (ms since epoch), and with the closing error when the client closes.
   */
  private whenOpen(deadline: number): Promise<Connection> {
    if (this.currentState === 'closed') return Promise.reject(new ParleyError('CLOSED', 'client is closed'));
    const connection = this.connection;
    if (connection?.ready && this.sessionOpen) return Promise.resolve(connection);
    return new Promise<Connection>((resolve, reject) => {
      const waiter: OpenWaiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          this.openWaiters.delete(waiter);
          reject(new ParleyError('TIMEOUT', `not connected within ${this.connectionWaitMs} ms`));
        }, Math.max(0, deadline - this.clock.now())),
      };
      this.openWaiters.add(waiter);
    });
  }

  /**
   * An application request. Made while disconnected, it waits for the
   * connection (up to connectionWaitMs) instead of failing; an idempotent one
   * whose connection is lost before the answer is transmitted again on the
   * next connection, within the same bound.
   */
  private async request<C extends AnsweredRequestCase>(body: BodyOf<C>, repeat: Repeat = 'once'): Promise<ReplyValue<C>> {
    const deadline = this.clock.now() + this.connectionWaitMs;
    for (;;) {
      const connection = await this.whenOpen(deadline);
      try {
        // Awaited<ReplyValue<C>> is ReplyValue<C>: reply values are never promises.
        return (await connection.request(body)) as ReplyValue<C>;
      } catch (error) {
        const lostWithConnection = error instanceof ParleyError && error.codeName === 'CLOSED' && connection !== this.connection;
        if (repeat === 'idempotent' && lostWithConnection && this.currentState !== 'closed' && this.clock.now() < deadline) continue;
        throw error;
      }
    }
  }

  private get maxPullLimit(): number {
    const limit = this.limits?.maxPullLimit ?? 0;
    return limit > 0 ? limit : DEFAULT_LIMITS.maxPullLimit;
  }

  /** A timer that close() cancels. */
  private later(delayMs: number, run: () => void): void {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delayMs);
    this.timers.add(timer);
  }

  // ---- server frames ----

  private onServerFrame(connection: Connection, body: FrameBody): void {
    if (connection !== this.connection) return;
    switch (body.$case) {
      case 'push':
        this.receiveMessage(body.value);
        return;
      case 'roomBatch':
        this.roomSet.onBatch(body.value);
        return;
      case 'typingEvent':
        this.typingIndicators.received(body.value.conversationId, body.value.userId, body.value.typing);
        return;
      case 'receiptsChanged':
        if (this.receiptBook.apply(body.value.conversationId, body.value.members, this.currentUserId)) {
          this.emitter.emit('receipts', { conversationId: body.value.conversationId });
        }
        return;
      case 'userSettings':
        this.applySettings(body.value);
        return;
      case 'signalEvent':
        this.emitter.emit('signal', toSignal(body.value));
        return;
      case 'presenceEvent':
        this.applyPresence(body.value.users);
        return;
      case 'conversationChanged':
        // Pushes of the messages it counts are queued ahead of it, so this
        // pulls only when one never came: a device added back to a group
        // whose event was routed to the members as they were a moment before.
        if (body.value.summary !== undefined) this.applyServerSummary(toSummary(body.value.summary), true);
        return;
      case 'error':
        this.emitter.emit('error', ParleyError.fromCode(body.value.code, body.value.message, body.value.retryAfterMs, body.value.reason));
        return;
      default:
        return;
    }
  }

  // ---- sync ----

  /** Runs a sync now, or right after the one in flight. */
  private requestSync(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready) return; // the next connection syncs first anyway
    if (this.syncInFlight) {
      this.syncAgain = true;
      return;
    }
    this.syncInFlight = true;
    const positions = this.takePositions();
    // The first sync starts from read positions and the backlog instead (initialSyncedSeq).
    const recentLimit = this.syncVersion > 0 ? this.syncRecentLimit : 0;
    const lostOnTheWay = () => {
      for (const { conversationId } of positions) this.movedSinceSync.add(conversationId);
      if (recentLimit > 0) this.syncRecentLimit = Math.floor(recentLimit / SYNC_RECENT_BACKOFF);
    };
    connection.request({ $case: 'sync', value: { sinceVersion: this.syncVersion, recentLimit, positions } }).then(
      (result) => {
        if (connection !== this.connection) return lostOnTheWay();
        this.syncInFlight = false;
        this.syncRecentLimit = SYNC_RECENT_LIMIT;
        if (this.refutesRestored(result)) {
          // The cached state does not hold: forget it and sync everything, as a fresh client would.
          this.discardHeld('server reset');
          this.requestSync();
          return;
        }
        this.applySyncResult(result);
        if (!this.sessionOpen) this.openSession();
        if (this.syncAgain) {
          this.syncAgain = false;
          this.requestSync();
        }
      },
      (error: ParleyError) => {
        lostOnTheWay();
        if (connection !== this.connection) return;
        this.syncInFlight = false;
        if (!this.sessionOpen) {
          // Without its first sync a connection is not usable: start over. A
          // refused version (a server that lost its state) is dropped first.
          if (!error.retryable) this.syncVersion = 0;
          connection.close(error);
          return;
        }
        if (!error.retryable) this.emitter.emit('error', error);
        this.later(BACKGROUND_RETRY_MS, () => this.requestSync());
      },
    );
  }

  /** The positions for the next sync, and a fresh start for the conversations that move after it. */
  private takePositions(): Array<{ conversationId: string; seq: number }> {
    const positions: Array<{ conversationId: string; seq: number }> = [];
    for (const conversationId of this.movedSinceSync) {
      if (positions.length >= MAX_SYNC_POSITIONS) break;
      this.movedSinceSync.delete(conversationId);
      const seq = this.engine.syncedSeq(conversationId);
      if (seq !== undefined) positions.push({ conversationId, seq });
    }
    return positions;
  }

  private applySyncResult(result: SyncResult): void {
    const live = this.sessionOpen;
    const newlySeen = new Set<string>();
    for (const wire of result.conversations) {
      if (!this.engine.isTracked(wire.id)) newlySeen.add(wire.id);
      this.applyServerSummary(toSummary(wire), true, false);
    }
    // A run is applied as a pull answer would be, or held above a gap that is then pulled.
    for (const run of result.recent) {
      const step = this.engine.applyRun(run.conversationId, {
        messages: messagesOf(run.conversationId, run.messages),
        coveredFrom: run.coveredFrom,
        coveredTo: run.coveredTo,
      });
      this.applyStep(run.conversationId, step);
    }
    this.syncVersion = result.version;
    this.cacheKeeper?.changed();
    if (!live) {
      this.pullWhatSyncFound(() => true);
      return;
    }
    // A sync on a live connection (after a system message, say) describes
    // messages whose pushes may still be on their way behind it. Conversations
    // met just now are pulled at once; known ones get a moment for those
    // pushes, then only what is still missing is pulled.
    this.pullWhatSyncFound((conversationId) => newlySeen.has(conversationId));
    this.later(LIVE_SYNC_PULL_DELAY_MS, () => this.pullWhatSyncFound(() => true));
  }

  /** Catch-up pulls for the conversations behind their known last seq that `now` picks, most recently active first. */
  private pullWhatSyncFound(now: (conversationId: string) => boolean): void {
    const wanting = this.engine
      .conversationsWantingPull()
      .filter(now)
      .sort((a, b) => (this.list.get(b)?.updatedAt ?? 0) - (this.list.get(a)?.updatedAt ?? 0));
    for (const conversationId of wanting) this.schedulePull(conversationId, false);
  }

  private applyConversationResult(wire: WireSummary | undefined): ConversationSummary {
    if (wire === undefined) throw new ParleyError('INTERNAL', 'conversation_result without a summary');
    const summary = toSummary(wire);
    this.applyServerSummary(summary, true);
    return this.list.get(summary.id) ?? summary;
  }

  /**
   * Merges a server summary and starts tracking the conversation on first
   * sight. `catchUp` says the summary's lastSeq should be pulled up to (sync,
   * conversation_result, conversation_changed); a read result describes
   * this device's own read, of messages it already has.
   */
  private applyServerSummary(summary: ConversationSummary, catchUp: boolean, schedule = true): void {
    this.emitConversation(this.list.applyServerSummary(summary));
    const merged = this.list.get(summary.id) ?? summary;
    if (!this.engine.isTracked(summary.id)) {
      // Before the first sync completes, the list is what the user had at
      // login; afterwards every newly seen conversation is news to this device.
      const mode = this.hasBeenOpen ? 'live' : 'login';
      const start = initialSyncedSeq(merged, this.initialBacklog, mode);
      this.applyStep(summary.id, this.engine.track(summary.id, start, readableLastSeq(merged)));
    } else if (catchUp) {
      this.engine.catchUp(summary.id, readableLastSeq(merged));
    }
    if (schedule && this.engine.wantsPull(summary.id)) this.schedulePull(summary.id, true);
  }

  // ---- receiving ----

  /** A pushed message or this device's acknowledged send. */
  private receiveMessage(wire: WireMessage): void {
    const result = this.engine.receive(wire.conversationId, wire);
    if (result.untracked) {
      // First sight of the conversation: its summary decides where tracking starts.
      this.requestSync();
      return;
    }
    this.applyStep(wire.conversationId, result);
    if (this.engine.wantsPull(wire.conversationId)) this.schedulePull(wire.conversationId, true);
  }

  /** Notify-pull: a video that just arrived starts downloading its first seconds, so that it plays at once when tapped. */
  private prefetchHead(content: { media: { mediaId: string; size: number }; durationMs: number }): void {
    this.media.prefetch(content.media.mediaId, content.media.size, content.durationMs).catch((cause: unknown) => {
      this.emitter.emit('error', cause instanceof ParleyError ? cause : new ParleyError('UNAVAILABLE', 'a video prefetch failed', { cause }));
    });
  }

  /** Emits what the sync engine released and updates the conversation's summary. */
  private applyStep(conversationId: string, step: SyncStep<WireMessage>): void {
    let changed: ConversationSummary | undefined;
    const shown: Message[] = [];
    for (const wire of step.messages) {
      const message = toMessage(wire);
      const amended = amendmentOf(message);
      if (amended !== undefined) {
        // Not a message to show: it changes one. Unread and the last message
        // may change with it, which the server's summary says.
        this.emitter.emit('amended', amended);
        this.cacheKeeper?.runs.amend(amended, this.currentUserId);
        this.cacheKeeper?.changed();
        this.scheduleSystemSync();
        continue;
      }
      changed = this.list.applyMessage(message, this.currentUserId) ?? changed;
      this.typingIndicators.messageFrom(conversationId, message.senderId);
      this.emitter.emit('message', message);
      shown.push(message);
      if (message.content?.type === 'video' && this.prefetchVideo && message.senderId !== this.currentUserId) this.prefetchHead(message.content);
      if (message.type === 'system') this.scheduleSystemSync();
    }
    if (step.lastAppliedSeq > 0) changed = this.list.advanceLastSeq(conversationId, step.lastAppliedSeq) ?? changed;
    if (changed !== undefined) this.emitConversation(this.list.get(conversationId));
    if (step.advanced) {
      this.cacheKeeper?.runs.advance(conversationId, this.engine.syncedSeq(conversationId) ?? 0, shown);
      this.cacheKeeper?.changed();
      this.movedSinceSync.add(conversationId);
      this.reportDelivered(conversationId);
    }
  }

  private emitConversation(summary: ConversationSummary | undefined): void {
    if (summary === undefined) return;
    this.emitter.emit('conversation', summary);
    this.cacheKeeper?.changed();
  }

  /** System messages change names, members and roles, read results leave counts to confirm: refresh summaries soon. */
  private scheduleSystemSync(): void {
    if (this.systemSyncTimer !== undefined) return;
    this.systemSyncTimer = this.clock.setTimeout(() => {
      this.systemSyncTimer = undefined;
      this.requestSync();
    }, SYSTEM_SYNC_DEBOUNCE_MS);
  }

  // ---- pulls ----

  /** Queues a catch-up or gap pull; `urgent` ones (gaps behind live pushes) go first. */
  private schedulePull(conversationId: string, urgent: boolean): void {
    if (!this.pullQueued.has(conversationId)) {
      this.pullQueued.add(conversationId);
      if (urgent) this.pullQueue.unshift(conversationId);
      else this.pullQueue.push(conversationId);
    }
    this.runPulls();
  }

  private runPulls(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready) return;
    while (this.pullsRunning < PARALLEL_PULLS && this.pullQueue.length > 0) {
      const conversationId = this.pullQueue.shift() as string;
      this.pullQueued.delete(conversationId);
      const range = this.engine.startPull(conversationId);
      if (range === undefined) continue;
      this.pullsRunning += 1;
      connection
        .request(
          {
            $case: 'pull',
            value: { conversationId, fromSeq: range.fromSeq, toSeq: range.toSeq, limit: this.maxPullLimit, descending: false },
          },
        )
        .then(
          (result) => {
            if (connection !== this.connection) return;
            this.pullsRunning -= 1;
            this.applyPullResult(conversationId, result);
            this.runPulls();
          },
          (error: ParleyError) => {
            if (connection !== this.connection) return;
            this.pullsRunning -= 1;
            this.engine.pullFailed(conversationId);
            if (error.retryable) {
              this.later(BACKGROUND_RETRY_MS, () => {
                this.engine.resume(conversationId);
                if (this.engine.wantsPull(conversationId)) this.schedulePull(conversationId, false);
              });
            } else if (error.codeName === 'FORBIDDEN' || error.codeName === 'NOT_FOUND') {
              // Removed from the conversation meanwhile: the summary will say so.
              this.requestSync();
            } else {
              this.emitter.emit('error', error);
            }
            this.runPulls();
          },
        );
    }
  }

  private applyPullResult(conversationId: string, result: PullResult): void {
    const summary = this.list.get(conversationId);
    const lastSeq = summary?.leftSeq !== undefined ? Math.min(result.lastSeq, summary.leftSeq) : result.lastSeq;
    const step = this.engine.applyPull(conversationId, {
      messages: messagesOf(conversationId, result.messages),
      coveredFrom: result.coveredFrom,
      coveredTo: result.coveredTo,
      lastSeq,
    });
    this.applyStep(conversationId, step);
    // Pulls are capped by the server's limit: continue while behind.
    if (this.engine.wantsPull(conversationId)) this.schedulePull(conversationId, true);
  }

  // ---- reads the server has not confirmed ----

  private applyReadResult(conversationId: string, result: BodyValue<'readResult'>): void {
    const unconfirmed = this.unconfirmedReads.get(conversationId);
    if (unconfirmed !== undefined && unconfirmed <= result.readSeq) this.unconfirmedReads.delete(conversationId);
    // The summary says which seq its count covers, so messages pushed around
    // the read (committed just before or just after it) merge exactly.
    if (result.summary !== undefined) this.applyServerSummary(toSummary(result.summary), false);
    else this.emitConversation(this.list.applyReadResult(conversationId, result.readSeq, result.unread));
  }

  private rememberRead(conversationId: string, seq: number): void {
    this.unconfirmedReads.set(conversationId, Math.max(seq, this.unconfirmedReads.get(conversationId) ?? 0));
    this.cacheKeeper?.changed();
    // Still connected (a timeout, a rate limit): try again soon; otherwise the next session sends it.
    if (this.sessionOpen) this.later(BACKGROUND_RETRY_MS, () => this.flushReads());
  }

  private flushReads(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready || !this.sessionOpen) return;
    for (const [conversationId, seq] of [...this.unconfirmedReads]) {
      this.unconfirmedReads.delete(conversationId);
      connection.request({ $case: 'markRead', value: { conversationId, seq } }).then(
        (result) => this.applyReadResult(conversationId, result),
        (error: ParleyError) => {
          // Not retryable: no longer a member, or the conversation is gone; nothing left to read.
          if (error.retryable) this.rememberRead(conversationId, seq);
        },
      );
    }
  }

  // ---- delivered ----

  private reportDelivered(conversationId: string): void {
    this.deliveredPending.add(conversationId);
    this.scheduleDelivered();
  }

  private scheduleDelivered(): void {
    if (this.deliveredTimer === undefined && this.deliveredPending.size > 0) {
      this.deliveredTimer = this.clock.setTimeout(() => this.flushDelivered(), DELIVERED_COALESCE_MS);
    }
  }

  private flushDelivered(): void {
    this.clock.clearTimeout(this.deliveredTimer);
    this.deliveredTimer = undefined;
    const connection = this.connection;
    if (connection === undefined || !connection.ready) return; // kept for the next connection
    for (const conversationId of this.deliveredPending) {
      const seq = this.engine.syncedSeq(conversationId);
      if (seq !== undefined && seq > 0) connection.notify({ $case: 'delivered', value: { conversationId, seq } });
    }
    this.deliveredPending.clear();
  }

  // ---- outbox ----

  /** Sends what the outbox allows now; only once the connection finished its first sync. */
  private flushOutbox(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready || !this.sessionOpen) return;
    for (let transmission = this.outbox.nextToSend(this.clock.now()); transmission !== undefined; transmission = this.outbox.nextToSend(this.clock.now())) {
      const { entry } = transmission;
      const sent = transmission;
      const typed = entry.content.content;
      const value = {
        conversationId: entry.conversationId,
        clientMsgId: entry.clientMsgId,
        text: entry.content.text,
        data: entry.content.data,
        content: typed === undefined ? undefined : toWireContent(typed),
        mentions:
          entry.content.mentions === undefined && entry.content.mentionAll !== true
            ? undefined
            : { userIds: entry.content.mentions ?? [], all: entry.content.mentionAll === true },
        replyTo: entry.content.replyTo,
        threadRoot: entry.content.threadRoot,
      };
      connection.requestInOrder(
        { $case: 'send', value },
        (ack) => this.onSendAcknowledged(connection, sent, ack.message),
        (error) => this.onSendFailed(sent, error),
      );
    }
    this.scheduleOutboxRetry();
  }

  private onSendAcknowledged(connection: Connection, transmission: Transmission<Message>, wire: WireMessage | undefined): void {
    if (wire === undefined) {
      this.onSendFailed(transmission, new ParleyError('INTERNAL', 'send_ack without a message'));
      return;
    }
    this.outbox.acknowledge(transmission, toMessage(wire));
    // The sending connection gets its own message only in the ack: feed it to
    // the sync engine like a push, so it is emitted once, in seq order.
    if (connection === this.connection) {
      // A room's reliable message belongs to the room, not to the conversation list.
      if (this.roomSet.isRoom(wire.conversationId)) this.roomSet.onOwnMessage(wire);
      else this.receiveMessage(wire);
    }
    this.flushOutbox();
  }

  private onSendFailed(transmission: Transmission<Message>, error: ParleyError): void {
    if (this.outbox.fail(transmission, error, this.clock.now()) === 'stale') return;
    this.flushOutbox();
  }

  private scheduleOutboxRetry(): void {
    const retryAt = this.outbox.nextRetryAt();
    if (retryAt === undefined) return;
    if (this.outboxTimer !== undefined && this.outboxTimerAt <= retryAt) return;
    this.clock.clearTimeout(this.outboxTimer);
    this.outboxTimerAt = retryAt;
    this.outboxTimer = this.clock.setTimeout(() => {
      this.outboxTimer = undefined;
      this.flushOutbox();
    }, Math.max(0, retryAt - this.clock.now()));
  }
}

/** The highest seq this user may read: a member who left reads up to leftSeq. */
function readableLastSeq(summary: ConversationSummary): number {
  return summary.leftSeq !== undefined ? Math.min(summary.lastSeq, summary.leftSeq) : summary.lastSeq;
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** A pull answer's or run's messages that belong to `conversationId` (hidden placeholders carry no id). */
function messagesOf(conversationId: string, messages: readonly WireMessage[]): WireMessage[] {
  return messages.filter((message) => message.conversationId === conversationId || message.conversationId === '');
}

/** ws://host:port/ws → http://host:port; undefined for TCP URLs. */
function httpUrlOf(url: string): string | undefined {
  const match = /^(wss?):\/\/([^/?#]+)/i.exec(url);
  if (match === null) return undefined;
  return `${match[1]?.toLowerCase() === 'wss' ? 'https' : 'http'}://${match[2]}`;
}
