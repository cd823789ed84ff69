/**
 * Server options, their defaults, and how environment variables fill them in.
 * Explicit options win over PARLEY_* variables, which win over defaults.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, DEFAULT_LIMITS, systemClock } from '@parley/protocol';
import type { DestinationStream } from 'pino';
import type { Bus } from './bus/bus.js';
import type { MediaStore } from './media/media-store.js';
import type { BeforeSend, HookFailure } from './moderation/before-send.js';
import type { Agent as HttpsAgent } from 'node:https';
import type { PushSender } from './push/push-sender.js';
import type { PushPreview } from './push/push-service.js';
import { DEFAULT_WEB_PUSH_HOSTS } from './push/web-push-subscriptions.js';
import { type AmendmentLimits, DEFAULT_AMENDMENT_LIMITS } from './services/amendments.js';
import { type BlockedWordAction, parseWordList } from './moderation/word-filter.js';
import { readFileSync } from 'node:fs';
import { S3MediaStore } from './media/s3-store.js';
import { DEFAULT_MEDIA_LIMITS, type MediaLimits } from './services/media.js';
import { USER_DIRECTORY_MODES, type UserDirectoryMode } from './services/directory.js';
import type { Store } from './store/store.js';
import { type TlsOptions, tlsFromEnvironment } from './tls.js';

export interface ServerLimits {
  /** Largest packet accepted on any transport, in bytes. Default 256 KiB. */
  maxFrameBytes: number;
  /** Longest message text, in UTF-16 code units. Default 8000. */
  maxTextChars: number;
  /** Largest binary `data` payload of a message, in bytes. Default 64 KiB. */
  maxDataBytes: number;
  /** Most messages one pull returns. Default 500. */
  maxPullLimit: number;
  /** Most messages per conversation a sync carries (SyncRequest.recent_limit is capped to it). Default 50. */
  maxSyncRecent: number;
  /**
   * Message content (texts, data, ids; about the encoded size) one sync
   * answer carries over all its conversations; the rest are pulled. It keeps
   * the answer, which a client must receive whole before its session opens,
   * short enough for a slow link to carry well within the heartbeat's
   * silence limit. Default 64 KiB.
   */
  maxSyncRecentBytes: number;
  /** Message content one pull answer carries at most (at least one message); the client pulls on from covered_to. Default 512 KiB. */
  maxPullBytes: number;
  /** Most positions one sync may send. Default 1,000; more is TOO_LARGE. */
  maxSyncPositions: number;
  /** Most members in one group. Default 10,000. */
  maxGroupMembers: number;
  /** Longest group name or direct-conversation subject. Default 128. */
  maxNameChars: number;
  /** Longest draft a user keeps in a conversation, in UTF-16 code units. Default 4000. */
  maxDraftChars: number;
  /** Most conversations one user may have pinned. Default 10. */
  maxPinned: number;
  /** Largest conversation with receipts (delivery positions kept, receipts requests answered). Default 500. */
  maxReceiptMembers: number;
  /** Sustained requests per second per connection. Default 500. */
  requestsPerSecond: number;
  /** Requests one connection may make in a burst. Default 1000. */
  requestBurst: number;
  /** Messages one user may send per second, across all their connections. Default 200. */
  sendsPerSecondPerUser: number;
  /** Messages one user may send in a burst. Default 400. */
  sendBurstPerUser: number;
  /** Simultaneous connections of one user; more are refused with LIMIT_EXCEEDED. Default 20. */
  maxConnectionsPerUser: number;
  /** Bytes queued for one connection before it is closed as a slow consumer. Default 8 MiB. */
  maxQueuedBytes: number;
  /**
   * Sends accepted but not yet committed, server-wide. Past it, connections
   * that add sends are not read from until half of them are committed
   * (backpressure: clients wait in TCP); past twice as many, sends are
   * refused with a retryable UNAVAILABLE and retry_after_ms. An overloaded
   * server so keeps the latency of what it accepts bounded instead of
   * queuing without end. Default 4,000 (a few hundred ms of work at this
   * machine's durable ceiling).
   */
  maxPendingSends: number;
  /** Largest REST request body, in bytes. Default 1 MiB (a 10,000-member list fits). */
  maxHttpBodyBytes: number;
  /**
   * Connections this node admits per second (sustained) and at once. A hello
   * past them is refused with a fatal UNAVAILABLE whose retry_after_ms spreads
   * the refused clients over the next seconds, so that a reconnect storm
   * (every client of a crashed node at once) is served at the rate the node
   * can take instead of overwhelming it. Defaults 2,000/s and 2,000.
   */
  connectsPerSecond: number;
  connectBurst: number;
}

/** Live rooms (docs/rooms.md). Every figure is per node. */
export interface RoomLimits {
  /** How often each room's batch goes out, in ms (50-1000). Default 100 (env PARLEY_ROOM_TICK_MS). */
  tickMs: number;
  /** Ephemeral events per batch; a tick's others are sampled out (counted in `skipped`). Default 40. */
  maxEventsPerBatch: number;
  /**
   * When a node is too busy to keep its tick, a batch may carry
   * maxEventsPerBatch for each tick's worth of time since the previous one,
   * up to this many (1-4). 1 keeps batches small and reliable messages
   * fastest; more keeps more chatter per viewer when the node falls behind
   * (bench/README.md, "Live rooms"). Default 1.
   */
  maxBatchStretch: number;
  /** Ephemeral events one room takes per second (its inbound budget); past it they are dropped at once. Default 2,000. */
  roomEventsPerSecond: number;
  /** Ephemeral events one user may send per second, across rooms and connections, and in a burst. Defaults 5 and 20. */
  userEventsPerSecond: number;
  userEventBurst: number;
  /** Longest chat line, in UTF-16 code units. Default 200. */
  maxTextChars: number;
  /** Largest custom event payload, in bytes. Default 1,024. */
  maxDataBytes: number;
  /** Rooms one connection may be in at once. Default 10. */
  maxRoomsPerConnection: number;
  /** Reliable messages a first join carries. Default 20. */
  joinRecent: number;
  /** Batches after the first that carry a reliable message again. Default 3. */
  repeatBatches: number;
  /**
   * Bytes a viewer's connection may still hold unsent before its batches
   * lose their ephemeral events (reliable messages, counts and `skipped`
   * only). Default 16 KiB: any backlog means the link is not keeping up.
   */
  lagBytes: number;
  /**
   * Bytes of batches a viewer may have outstanding (written, not yet proven
   * read) before its batches lose their ephemeral events. On WebSocket, a
   * ping sent behind the batches is the proof; this bounds how long a
   * reliable message can wait behind chatter at a slow reader. Default 64 KiB.
   */
  windowBytes: number;
  /** How often nodes exchange online counts and top viewers, in ms. Default 2,000. */
  statsIntervalMs: number;
  /** Length of the top-viewers list. Default 10. */
  topViewers: number;
  /** Joins this node admits per second (sustained) and at once; past them RATE_LIMITED with a retry hint. Defaults 5,000 and 5,000. */
  joinsPerSecond: number;
  joinBurst: number;
}

export interface ServerOptions {
  /** HTTP + WebSocket port. Default 8080 (env PARLEY_PORT); 0 picks a free port. */
  port?: number;
  /** Raw TCP port. Default 8081 (env PARLEY_TCP_PORT); 0 picks a free port; false disables TCP. */
  tcpPort?: number | false;
  /** MQTT 3.1.1 port for devices (docs/mqtt.md). Default false: off (env PARLEY_MQTT_PORT); 0 picks a free port. */
  mqttPort?: number | false;
  /** Interface to listen on. Default 127.0.0.1 (env PARLEY_HOST). */
  host?: string;
  /** Where the embedded store and generated secrets live. Default ./data (env PARLEY_DATA_DIR). */
  dataDir?: string;
  /** Bearer key for the admin REST API. Default: env PARLEY_ADMIN_KEY, else generated and kept in dataDir/admin-key. */
  adminKey?: string;
  /** HMAC secret for access tokens; every node of a cluster needs the same. Default: env PARLEY_TOKEN_SECRET, else generated and kept in dataDir/token-secret. */
  tokenSecret?: string;
  /** Default lifetime of minted tokens, in seconds; connections end when their token expires. Default 3600. */
  tokenTtlSeconds?: number;
  /** 'full' (default) survives power loss; 'normal' survives process crashes only (env PARLEY_DURABILITY). */
  durability?: 'full' | 'normal';
  /** Interval at which clients ping; silent connections are closed after twice this. Default 25000 ms. */
  heartbeatIntervalMs?: number;
  /** Time a new connection has to send its hello. Default 10000 ms. */
  authTimeoutMs?: number;
  /** Size and rate bounds; see ServerLimits for defaults. */
  limits?: Partial<ServerLimits>;
  /** Live-room batching and bounds; see RoomLimits for defaults. */
  rooms?: Partial<RoomLimits>;
  /**
   * Recall and edit: how long after sending a sender may recall (default 24 h,
   * env PARLEY_RECALL_WINDOW_MS) or edit (default 48 h, env
   * PARLEY_EDIT_WINDOW_MS) a message, and edits per message (default 20).
   */
  amendments?: Partial<AmendmentLimits>;
  /** Presence (docs/protocol.md, "Presence"); see PresenceSettings for defaults. */
  presence?: PresenceSettings;
  /** This node's name in a cluster (logs, room statistics). Default: random per start (env PARLEY_NODE_ID). */
  nodeId?: string;
  /** Log level: fatal, error, warn, info, debug, silent. Default info (env PARLEY_LOG_LEVEL). */
  logLevel?: string;
  /** Where log lines (one JSON object each) are written. Default: standard output. */
  logDestination?: DestinationStream;
  /** TLS for every listener (https + wss, tls://). Default: env PARLEY_TLS_CERT + PARLEY_TLS_KEY (file paths), else plain. */
  tls?: TlsOptions;
  /**
   * Origins allowed to open browser WebSocket connections (exact `scheme://host[:port]`,
   * or '*'). Connections without an Origin header (native clients) are always
   * allowed. Default: same origin only (env PARLEY_ALLOWED_ORIGINS, comma-separated).
   */
  allowedOrigins?: string[];
  /** Directory of the built web app (static files) served at `/`. Default: none, no web app is served. */
  webRoot?: string;
  /** Development-only sign-up / sign-in under `/dev/` (argon2id password hashes kept in the store). Default true; env PARLEY_DEV_AUTH=0 turns it off. */
  devAuth?: boolean;
  /**
   * What signed-in users may find in the user directory: 'open' (search by part
   * of an id or name), 'exact' (only a full id) or 'off'. Default 'open'
   * (env PARLEY_USER_DIRECTORY).
   */
  userDirectory?: UserDirectoryMode;
  /** A Store adapter to use instead of the embedded SQLite store. */
  store?: Store;
  /**
   * PostgreSQL for storage (postgres://user@host:port/database), when no
   * `store` is given. Default: none, the embedded SQLite store in dataDir
   * (env PARLEY_STORE). Nodes that share one database and `storeSchema`
   * (env PARLEY_STORE_SCHEMA, default "parley") share every conversation;
   * `storePoolSize` (env PARLEY_STORE_POOL, default 10) is per node.
   */
  storeUrl?: string;
  storeSchema?: string;
  storePoolSize?: number;
  /**
   * Where uploaded media is kept. Default: the local disk under
   * dataDir/media; with env PARLEY_S3_BUCKET set, that S3 bucket
   * (PARLEY_S3_ENDPOINT for S3-compatible servers, PARLEY_S3_REGION,
   * PARLEY_S3_PREFIX; credentials from the AWS variables).
   */
  mediaStore?: MediaStore;
  /** Upload size limits, quota, signed-URL lifetime; see MediaLimits for defaults. */
  mediaLimits?: Partial<MediaLimits>;
  /**
   * The custom content types (CustomContent.type) this server accepts.
   * Default: any well-formed name (env PARLEY_CUSTOM_TYPES, comma-separated,
   * restricts it).
   */
  customContentTypes?: string[];
  /** A Bus adapter to use instead of the in-process bus. */
  bus?: Bus;
  /**
   * NATS for the bus between cluster nodes (nats://host:port), when no `bus`
   * is given. Default: none, the in-process bus (env PARLEY_BUS). Nodes that
   * share one NATS and `busPrefix` (env PARLEY_BUS_PREFIX, default "parley")
   * form one cluster.
   */
  busUrl?: string;
  busPrefix?: string;
  /** What users may send: blocked words, the before-send hook (docs/moderation.md). */
  moderation?: ModerationSettings;
  /** After-event webhooks (docs/webhooks.md). */
  webhooks?: WebhookSettings;
  /** Offline push (docs/push.md). */
  push?: PushSettings;
  /**
   * Signs Parley's requests to the host's endpoints (the before-send hook,
   * webhooks): env PARLEY_HOOK_SECRET; default generated into the data
   * directory as hook-secret.
   */
  hookSecret?: string;
  /**
   * How long close() keeps serving, with /readyz answering 503 "draining",
   * before it tells clients to move and stops (env PARLEY_DRAIN_SECONDS,
   * default 0, at most 300). Behind a load balancer, set it to the time the
   * balancer takes to notice a failing readiness check, so it stops sending
   * new connections here before this node's clients are moved.
   */
  drainSeconds?: number;
  /**
   * The time source and timers for everything the protocol times: auth and
   * heartbeat deadlines, token lifetimes, rate limits, message and conversation
   * timestamps. Tests pass a ManualClock (from @parley/protocol) to move time
   * instead of sleeping. Default: the system clock.
   */
  clock?: Clock;
}

/**
 * Moderation of what users send. Operator sends (the admin API) are not
 * checked. Each setting has an environment variable, used when the option
 * is not given.
 */
export interface ModerationSettings {
  /** Blocked words, matched anywhere in a text without regard to case (env PARLEY_BLOCKED_WORDS, comma-separated; or PARLEY_BLOCKED_WORDS_FILE, one per line). */
  blockedWords?: string[];
  /** 'mask' (default) replaces each match with `*`s; 'reject' refuses the message with REJECTED, reason "blocked_word" (env PARLEY_BLOCKED_WORD_ACTION). */
  blockedWordAction?: BlockedWordAction;
  /** The before-send hook as a function, when Parley runs inside the host's process. */
  beforeSend?: BeforeSend;
  /** The before-send hook as an HTTP(S) endpoint that is POSTed each message (env PARLEY_BEFORE_SEND_URL). */
  beforeSendUrl?: string;
  /** How long a send waits for the hook's answer, 50-10000 ms (env PARLEY_BEFORE_SEND_TIMEOUT_MS, default 1000). */
  beforeSendTimeoutMs?: number;
  /** When the hook gives no usable answer: 'open' (default) stores the message as it is, 'closed' refuses it with a retryable UNAVAILABLE (env PARLEY_BEFORE_SEND_FAILURE). */
  beforeSendFailure?: HookFailure;
}

/** Presence as contacts see it. */
export interface PresenceSettings {
  /** How long a user must stay without a connection before their contacts see them offline (env PARLEY_PRESENCE_OFFLINE_GRACE_MS, 0-300000, default 5000). */
  offlineGraceMs?: number;
}

/** After-event webhooks (docs/webhooks.md). */
export interface WebhookSettings {
  /** The endpoint every stored event is POSTed to, in order (env PARLEY_WEBHOOK_URL). None: no webhooks. */
  url?: string;
  /** Which event types to send (env PARLEY_WEBHOOK_EVENTS, comma-separated). Default: every message type; user.online and user.offline when named. */
  events?: string[];
  /** How long a user must stay away before user.offline (env PARLEY_WEBHOOK_OFFLINE_GRACE_MS, 0-300000, default 5000). */
  offlineGraceMs?: number;
}

export interface ResolvedModeration {
  blockedWords: string[];
  blockedWordAction: BlockedWordAction;
  beforeSend: BeforeSend | undefined;
  beforeSendUrl: string | undefined;
  beforeSendTimeoutMs: number;
  beforeSendFailure: HookFailure;
}

/** Offline push: notifications for users with no device connected (docs/push.md). */
export interface PushSettings {
  /** The host's push sender, POSTed each notification (env PARLEY_PUSH_WEBHOOK_URL). None: no offline push. */
  webhookUrl?: string;
  /** A sender of your own instead (embedded): it gets the notifications to deliver. */
  sender?: PushSender;
  /** How much a notification shows: 'full' text (default), 'sender' only, or 'hidden' (env PARLEY_PUSH_PREVIEW). */
  preview?: PushPreview;
  /** How long notifications to one user are gathered into one, 100-60000 ms (env PARLEY_PUSH_WINDOW_MS, default 2000). */
  windowMs?: number;
  /**
   * A user with a device connected is notified all the same when no device
   * of theirs acknowledged a message within this long (a connection the
   * phone's system froze), 1000-600000 ms, or 0 for never (env
   * PARLEY_PUSH_UNDELIVERED_MS, default 10000). Conversations of up to 16 members.
   */
  undeliveredAfterMs?: number;
  /** Web Push to browsers that registered (docs/push.md); on unless false (env PARLEY_WEB_PUSH=off). */
  webPush?: false | WebPushSettings;
}

export interface WebPushSettings {
  /**
   * The VAPID key pair, base64url (env PARLEY_VAPID_PUBLIC_KEY and
   * PARLEY_VAPID_PRIVATE_KEY). Without them a pair is generated into the data
   * folder (vapid.json) on a single node; cluster nodes must share one pair,
   * so in cluster mode Web Push stays off until it is given.
   */
  vapid?: { publicKey: string; privateKey: string };
  /** Who runs the server, for the push services: a mailto: or https: URL (env PARLEY_VAPID_SUBJECT). */
  subject?: string;
  /** Hosts subscriptions may point at; `*.example.com` matches subdomains (env PARLEY_WEB_PUSH_HOSTS, comma-separated; default the browsers' push services). */
  allowedHosts?: string[];
  /** An HTTPS agent for the requests to push services (a private CA, a proxy). */
  agent?: HttpsAgent;
}

export interface ResolvedWebPush {
  vapid: { publicKey: string; privateKey: string } | undefined;
  subject: string;
  allowedHosts: string[];
  agent: HttpsAgent | undefined;
}

export interface ResolvedPush {
  webhookUrl: string | undefined;
  sender: PushSender | undefined;
  preview: PushPreview;
  windowMs: number;
  /** 0: never. */
  undeliveredAfterMs: number;
  /** undefined: Web Push is off. */
  webPush: ResolvedWebPush | undefined;
}

export interface ResolvedWebhooks {
  url: string | undefined;
  events: string[] | undefined;
  offlineGraceMs: number;
}

export interface ResolvedOptions {
  port: number;
  tcpPort: number | false;
  mqttPort: number | false;
  host: string;
  dataDir: string;
  adminKey: string | undefined;
  tokenSecret: string | undefined;
  tokenTtlSeconds: number;
  durability: 'full' | 'normal';
  heartbeatIntervalMs: number;
  authTimeoutMs: number;
  limits: ServerLimits;
  rooms: RoomLimits;
  amendments: AmendmentLimits;
  presence: Required<PresenceSettings>;
  nodeId: string;
  busUrl: string | undefined;
  busPrefix: string;
  storeUrl: string | undefined;
  storeSchema: string;
  storePoolSize: number;
  drainSeconds: number;
  moderation: ResolvedModeration;
  webhooks: ResolvedWebhooks;
  push: ResolvedPush;
  hookSecret: string | undefined;
  mediaLimits: MediaLimits;
  /** Undefined: the server keeps media under dataDir/media. */
  mediaStore: MediaStore | undefined;
  customContentTypes: string[] | undefined;
  logLevel: string;
  tls: TlsOptions | undefined;
  allowedOrigins: string[];
  webRoot: string | undefined;
  devAuth: boolean;
  userDirectory: UserDirectoryMode;
  clock: Clock;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
  maxTextChars: DEFAULT_LIMITS.maxTextChars,
  maxDataBytes: DEFAULT_LIMITS.maxDataBytes,
  maxPullLimit: DEFAULT_LIMITS.maxPullLimit,
  maxSyncRecent: 50,
  maxSyncRecentBytes: 64 * 1024,
  maxPullBytes: 512 * 1024,
  maxSyncPositions: 1000,
  maxGroupMembers: DEFAULT_LIMITS.maxGroupMembers,
  maxNameChars: DEFAULT_LIMITS.maxNameChars,
  maxDraftChars: DEFAULT_LIMITS.maxDraftChars,
  maxPinned: DEFAULT_LIMITS.maxPinned,
  maxReceiptMembers: DEFAULT_LIMITS.maxReceiptMembers,
  requestsPerSecond: 500,
  requestBurst: 1000,
  sendsPerSecondPerUser: 200,
  sendBurstPerUser: 400,
  maxConnectionsPerUser: 20,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxPendingSends: 4000,
  maxHttpBodyBytes: 1024 * 1024,
  connectsPerSecond: 2000,
  connectBurst: 2000,
};

export const DEFAULT_ROOM_LIMITS: RoomLimits = {
  tickMs: 100,
  maxEventsPerBatch: 40,
  maxBatchStretch: 1,
  roomEventsPerSecond: 2000,
  userEventsPerSecond: 5,
  userEventBurst: 20,
  maxTextChars: 200,
  maxDataBytes: 1024,
  maxRoomsPerConnection: 10,
  joinRecent: 20,
  repeatBatches: 3,
  lagBytes: 16 * 1024,
  windowBytes: 64 * 1024,
  statsIntervalMs: 2000,
  topViewers: 10,
  joinsPerSecond: 5000,
  joinBurst: 5000,
};

function roomLimits(options: Partial<RoomLimits> | undefined, env: NodeJS.ProcessEnv): RoomLimits {
  const tick = options?.tickMs ?? (env.PARLEY_ROOM_TICK_MS ? Number(env.PARLEY_ROOM_TICK_MS) : DEFAULT_ROOM_LIMITS.tickMs);
  if (!Number.isInteger(tick) || tick < 50 || tick > 1000) throw new Error(`invalid room tick: ${tick} (50-1000 ms)`);
  return { ...DEFAULT_ROOM_LIMITS, ...options, tickMs: tick };
}

function amendmentLimits(options: Partial<AmendmentLimits> | undefined, env: NodeJS.ProcessEnv): AmendmentLimits {
  const windowOf = (given: number | undefined, name: string, fallback: number) => {
    const value = given ?? (env[name]?.trim() ? Number(env[name]) : fallback);
    if (!Number.isInteger(value) || value < 0 || value > 365 * 24 * 3_600_000) throw new Error(`invalid ${name}: ${value} (0 to a year, in ms)`);
    return value;
  };
  return {
    recallWindowMs: windowOf(options?.recallWindowMs, 'PARLEY_RECALL_WINDOW_MS', DEFAULT_AMENDMENT_LIMITS.recallWindowMs),
    editWindowMs: windowOf(options?.editWindowMs, 'PARLEY_EDIT_WINDOW_MS', DEFAULT_AMENDMENT_LIMITS.editWindowMs),
    maxEdits: options?.maxEdits ?? DEFAULT_AMENDMENT_LIMITS.maxEdits,
  };
}

function presenceSettings(settings: PresenceSettings, env: NodeJS.ProcessEnv): Required<PresenceSettings> {
  const offlineGraceMs = settings.offlineGraceMs ?? Number(env.PARLEY_PRESENCE_OFFLINE_GRACE_MS?.trim() || 5000);
  if (!Number.isInteger(offlineGraceMs) || offlineGraceMs < 0 || offlineGraceMs > 300_000) {
    throw new Error(`invalid PARLEY_PRESENCE_OFFLINE_GRACE_MS: ${offlineGraceMs} (0-300000)`);
  }
  return { offlineGraceMs };
}

function poolSize(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 10;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 1000) throw new Error(`invalid PARLEY_STORE_POOL: ${value} (1-1000 connections)`);
  return size;
}

function moderationSettings(settings: ModerationSettings, env: NodeJS.ProcessEnv): ResolvedModeration {
  let blockedWords = settings.blockedWords;
  if (blockedWords === undefined && env.PARLEY_BLOCKED_WORDS_FILE?.trim()) blockedWords = parseWordList(readFileSync(env.PARLEY_BLOCKED_WORDS_FILE.trim(), 'utf8'));
  blockedWords ??= parseWordList(env.PARLEY_BLOCKED_WORDS ?? '');
  const action = settings.blockedWordAction ?? (env.PARLEY_BLOCKED_WORD_ACTION?.trim() || 'mask');
  if (action !== 'mask' && action !== 'reject') throw new Error(`invalid PARLEY_BLOCKED_WORD_ACTION: ${action} (mask or reject)`);
  const url = settings.beforeSendUrl ?? (env.PARLEY_BEFORE_SEND_URL?.trim() || undefined);
  if (url !== undefined && !/^https?:\/\//u.test(url)) throw new Error(`invalid PARLEY_BEFORE_SEND_URL: ${url} (an http:// or https:// URL)`);
  if (url !== undefined && settings.beforeSend !== undefined) throw new Error('give the before-send hook as a function or as a URL, not both');
  const timeout = settings.beforeSendTimeoutMs ?? Number(env.PARLEY_BEFORE_SEND_TIMEOUT_MS?.trim() || 1000);
  if (!Number.isInteger(timeout) || timeout < 50 || timeout > 10_000) throw new Error(`invalid PARLEY_BEFORE_SEND_TIMEOUT_MS: ${timeout} (50-10000)`);
  const failure = settings.beforeSendFailure ?? (env.PARLEY_BEFORE_SEND_FAILURE?.trim() || 'open');
  if (failure !== 'open' && failure !== 'closed') throw new Error(`invalid PARLEY_BEFORE_SEND_FAILURE: ${failure} (open or closed)`);
  return {
    blockedWords,
    blockedWordAction: action,
    beforeSend: settings.beforeSend,
    beforeSendUrl: url,
    beforeSendTimeoutMs: timeout,
    beforeSendFailure: failure,
  };
}

function pushSettings(settings: PushSettings, env: NodeJS.ProcessEnv): ResolvedPush {
  const webhookUrl = settings.webhookUrl ?? (env.PARLEY_PUSH_WEBHOOK_URL?.trim() || undefined);
  if (webhookUrl !== undefined && !/^https?:\/\//u.test(webhookUrl)) throw new Error(`invalid PARLEY_PUSH_WEBHOOK_URL: ${webhookUrl} (an http:// or https:// URL)`);
  if (webhookUrl !== undefined && settings.sender !== undefined) throw new Error('give the push sender as a URL or as an object, not both');
  const preview = settings.preview ?? (env.PARLEY_PUSH_PREVIEW?.trim() || 'full');
  if (preview !== 'full' && preview !== 'sender' && preview !== 'hidden') throw new Error(`invalid PARLEY_PUSH_PREVIEW: ${preview} (full, sender or hidden)`);
  const windowMs = settings.windowMs ?? Number(env.PARLEY_PUSH_WINDOW_MS?.trim() || 2000);
  if (!Number.isInteger(windowMs) || windowMs < 100 || windowMs > 60_000) throw new Error(`invalid PARLEY_PUSH_WINDOW_MS: ${windowMs} (100-60000)`);
  const undeliveredAfterMs = settings.undeliveredAfterMs ?? Number(env.PARLEY_PUSH_UNDELIVERED_MS?.trim() || 10_000);
  if (!Number.isInteger(undeliveredAfterMs) || (undeliveredAfterMs !== 0 && (undeliveredAfterMs < 1000 || undeliveredAfterMs > 600_000))) {
    throw new Error(`invalid PARLEY_PUSH_UNDELIVERED_MS: ${undeliveredAfterMs} (0, or 1000-600000)`);
  }
  return { webhookUrl, sender: settings.sender, preview, windowMs, undeliveredAfterMs, webPush: webPushSettings(settings.webPush, env) };
}

function webPushSettings(settings: false | WebPushSettings | undefined, env: NodeJS.ProcessEnv): ResolvedWebPush | undefined {
  const switched = env.PARLEY_WEB_PUSH?.trim().toLowerCase();
  if (settings === false || (settings === undefined && (switched === 'off' || switched === 'false' || switched === '0'))) return undefined;
  const publicKey = settings?.vapid?.publicKey ?? (env.PARLEY_VAPID_PUBLIC_KEY?.trim() || undefined);
  const privateKey = settings?.vapid?.privateKey ?? (env.PARLEY_VAPID_PRIVATE_KEY?.trim() || undefined);
  if ((publicKey === undefined) !== (privateKey === undefined)) throw new Error('give both PARLEY_VAPID_PUBLIC_KEY and PARLEY_VAPID_PRIVATE_KEY, or neither');
  if (publicKey !== undefined && Buffer.from(publicKey, 'base64url').length !== 65) throw new Error('invalid PARLEY_VAPID_PUBLIC_KEY (base64url of an uncompressed P-256 point, 65 bytes)');
  if (privateKey !== undefined && Buffer.from(privateKey, 'base64url').length !== 32) throw new Error('invalid PARLEY_VAPID_PRIVATE_KEY (base64url, 32 bytes)');
  const subject = settings?.subject ?? (env.PARLEY_VAPID_SUBJECT?.trim() || 'mailto:postmaster@localhost');
  if (!/^(mailto:|https:\/\/)/u.test(subject)) throw new Error(`invalid PARLEY_VAPID_SUBJECT: ${subject} (a mailto: or https:// URL)`);
  const listed = env.PARLEY_WEB_PUSH_HOSTS?.trim() ? env.PARLEY_WEB_PUSH_HOSTS.split(',').map((host) => host.trim()).filter(Boolean) : undefined;
  return {
    vapid: publicKey === undefined || privateKey === undefined ? undefined : { publicKey, privateKey },
    subject,
    allowedHosts: settings?.allowedHosts ?? listed ?? [...DEFAULT_WEB_PUSH_HOSTS],
    agent: settings?.agent,
  };
}

function webhookSettings(settings: WebhookSettings, env: NodeJS.ProcessEnv): ResolvedWebhooks {
  const url = settings.url ?? (env.PARLEY_WEBHOOK_URL?.trim() || undefined);
  if (url !== undefined && !/^https?:\/\//u.test(url)) throw new Error(`invalid PARLEY_WEBHOOK_URL: ${url} (an http:// or https:// URL)`);
  const events = settings.events ?? (env.PARLEY_WEBHOOK_EVENTS?.trim() ? env.PARLEY_WEBHOOK_EVENTS.split(',').map((type) => type.trim()).filter(Boolean) : undefined);
  const offlineGraceMs = settings.offlineGraceMs ?? Number(env.PARLEY_WEBHOOK_OFFLINE_GRACE_MS?.trim() || 5000);
  if (!Number.isInteger(offlineGraceMs) || offlineGraceMs < 0 || offlineGraceMs > 300_000) throw new Error(`invalid PARLEY_WEBHOOK_OFFLINE_GRACE_MS: ${offlineGraceMs} (0-300000)`);
  return { url, events, offlineGraceMs };
}

function drainSeconds(value: number | string | undefined): number {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return 0;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 300) throw new Error(`invalid PARLEY_DRAIN_SECONDS: ${value} (0-300 seconds)`);
  return seconds;
}

function envPort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${value}`);
  return port;
}

function directoryMode(value: string | undefined): UserDirectoryMode {
  const mode = (value ?? '').trim().toLowerCase();
  if (mode === '') return 'open';
  if (!(USER_DIRECTORY_MODES as readonly string[]).includes(mode)) {
    throw new Error(`invalid PARLEY_USER_DIRECTORY: ${value} (expected ${USER_DIRECTORY_MODES.join(', ')})`);
  }
  return mode as UserDirectoryMode;
}

export function resolveOptions(options: ServerOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const durability = options.durability ?? (env.PARLEY_DURABILITY === 'normal' ? 'normal' : 'full');
  return {
    port: options.port ?? envPort(env.PARLEY_PORT) ?? 8080,
    tcpPort: options.tcpPort ?? envPort(env.PARLEY_TCP_PORT) ?? 8081,
    mqttPort: options.mqttPort ?? envPort(env.PARLEY_MQTT_PORT) ?? false,
    host: options.host ?? env.PARLEY_HOST ?? '127.0.0.1',
    dataDir: options.dataDir ?? env.PARLEY_DATA_DIR ?? './data',
    adminKey: options.adminKey ?? (env.PARLEY_ADMIN_KEY || undefined),
    tokenSecret: options.tokenSecret ?? (env.PARLEY_TOKEN_SECRET || undefined),
    tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
    durability,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 25_000,
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
    limits: { ...DEFAULT_SERVER_LIMITS, ...options.limits },
    rooms: roomLimits(options.rooms, env),
    amendments: amendmentLimits(options.amendments, env),
    presence: presenceSettings(options.presence ?? {}, env),
    nodeId: options.nodeId ?? (env.PARLEY_NODE_ID || randomUUID().slice(0, 8)),
    busUrl: options.busUrl ?? (env.PARLEY_BUS?.trim() || undefined),
    busPrefix: options.busPrefix ?? (env.PARLEY_BUS_PREFIX?.trim() || 'parley'),
    storeUrl: options.storeUrl ?? (env.PARLEY_STORE?.trim() || undefined),
    storeSchema: options.storeSchema ?? (env.PARLEY_STORE_SCHEMA?.trim() || 'parley'),
    storePoolSize: options.storePoolSize ?? poolSize(env.PARLEY_STORE_POOL),
    drainSeconds: drainSeconds(options.drainSeconds ?? env.PARLEY_DRAIN_SECONDS),
    moderation: moderationSettings(options.moderation ?? {}, env),
    webhooks: webhookSettings(options.webhooks ?? {}, env),
    push: pushSettings(options.push ?? {}, env),
    hookSecret: options.hookSecret ?? (env.PARLEY_HOOK_SECRET || undefined),
    mediaLimits: { ...DEFAULT_MEDIA_LIMITS, ...options.mediaLimits },
    mediaStore: options.mediaStore ?? mediaStoreFromEnvironment(env),
    customContentTypes: options.customContentTypes ?? (env.PARLEY_CUSTOM_TYPES ? env.PARLEY_CUSTOM_TYPES.split(',').map((type) => type.trim()).filter(Boolean) : undefined),
    logLevel: options.logLevel ?? env.PARLEY_LOG_LEVEL ?? 'info',
    tls: options.tls ?? tlsFromEnvironment(env),
    allowedOrigins: options.allowedOrigins ?? (env.PARLEY_ALLOWED_ORIGINS ? env.PARLEY_ALLOWED_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean) : []),
    webRoot: options.webRoot,
    clock: options.clock ?? systemClock,
    userDirectory: options.userDirectory ?? directoryMode(env.PARLEY_USER_DIRECTORY),
    devAuth: options.devAuth ?? !['0', 'false', 'off', 'no'].includes((env.PARLEY_DEV_AUTH ?? '').trim().toLowerCase()),
  };
}

function mediaStoreFromEnvironment(env: NodeJS.ProcessEnv): MediaStore | undefined {
  const bucket = env.PARLEY_S3_BUCKET?.trim();
  if (!bucket) return undefined;
  return new S3MediaStore({
    bucket,
    ...(env.PARLEY_S3_ENDPOINT ? { endpoint: env.PARLEY_S3_ENDPOINT } : {}),
    ...(env.PARLEY_S3_REGION ? { region: env.PARLEY_S3_REGION } : {}),
    ...(env.PARLEY_S3_PREFIX ? { prefix: env.PARLEY_S3_PREFIX } : {}),
  });
}
