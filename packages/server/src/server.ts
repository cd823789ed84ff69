/**
 * startServer: wires store, bus, services, gateway, listeners and the HTTP API
 * into one running server, and closes them in the reverse order.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { type Logger, pino } from 'pino';
import type { Bus } from './bus/bus.js';
import { LocalBus } from './bus/local-bus.js';
import { NatsBus } from './bus/nats-bus.js';
import { type ResolvedOptions, type ServerOptions, resolveOptions } from './config.js';
import { Delivery } from './gateway/delivery.js';
import { Gateway } from './gateway/gateway.js';
import { BusRecovery } from './gateway/bus-recovery.js';
import { ClusterPresence } from './gateway/cluster-presence.js';
import { TypingRelay } from './gateway/typing.js';
import { PresenceHub } from './gateway/presence-hub.js';
import { PresenceService } from './services/presence.js';
import { ROUTED_MEMBERS_MAX } from './services/recipients.js';
import { ReceiptsRelay } from './gateway/receipts-relay.js';
import { SignalRelay } from './gateway/signals.js';
import { ReceiptService } from './services/receipts.js';
import { MessageAmendments } from './services/amendments.js';
import { NodeStats } from './gateway/node-stats.js';
import { RoomHub, type RoomHubCounters } from './gateway/room-hub.js';
import { LISTEN_BACKLOG, TcpListener } from './gateway/tcp-listener.js';
import { MqttListener } from './mqtt/mqtt-listener.js';
import { WEBSOCKET_PATH, WebSocketListener } from './gateway/ws-listener.js';
import { registerAdminApi } from './http/admin-api.js';
import { MEDIA_PREFIX, registerMediaApi } from './http/media-api.js';
import { OPERATIONS_PATHS, OperationsTimings, registerOperationsApi } from './http/operations-api.js';
import { registerRequestIds, requestIdOf } from './http/request-ids.js';
import { registerOpenApi } from './http/openapi.js';
import { LocalDiskMediaStore } from './media/local-disk-store.js';
import type { MediaStore } from './media/media-store.js';
import { MediaService } from './services/media.js';
import { frameworkErrors, registerHttpConventions } from './http/conventions.js';
import { DEV_AUTH_PREFIX, registerDevAuth } from './http/dev-auth.js';
import { registerWebApp } from './http/web-app.js';
import { AuthService } from './services/auth.js';
import { ConversationService } from './services/conversations.js';
import { DevAccountService } from './services/dev-accounts.js';
import { UserDirectory } from './services/directory.js';
import { MemberLists } from './services/member-lists.js';
import { MessagingService } from './services/messaging.js';
import { RoomService } from './services/rooms.js';
import { UserService } from './services/users.js';
import { readLegacyDevAuth } from './store/sqlite/legacy-dev-auth.js';
import { PostgresStore } from './store/postgres/postgres-store.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';
import { TimedStore } from './store/timed-store.js';
import { within } from './util/within.js';
import { httpBeforeSend } from './moderation/before-send.js';
import { Moderation } from './moderation/moderation.js';
import { WordFilter } from './moderation/word-filter.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { USER_EVENT_TYPES, webhookEventTypes } from './webhooks/events.js';
import { LiveEvents } from './webhooks/live-events.js';
import { WebhookFeed } from './webhooks/feed.js';
import { type PushSender, allPushSenders } from './push/push-sender.js';
import { DEFAULT_PUSH_OPTIONS, PushService } from './push/push-service.js';
import { WebhookPushSender } from './push/webhook-push.js';
import { WebPushSender, generateVapidKeys } from './push/web-push.js';
import { WebPushSubscriptions } from './push/web-push-subscriptions.js';
import { PUSH_PREFIX, registerPushApi } from './http/push-api.js';
import { SEARCH_PREFIX, registerSearchApi } from './http/search-api.js';
import { SearchService } from './services/search.js';
import { PushPreferences } from './push/push-preferences.js';
import { ConversationSettings } from './services/conversation-settings.js';
import { cachedFor } from './util/cached.js';
import { TimedBus } from './util/timed-bus.js';
import { SERVER_VERSION } from './version.js';

export interface ParleyServer {
  /** e.g. http://127.0.0.1:8080 (https with TLS) */
  httpUrl: string;
  /** e.g. ws://127.0.0.1:8080/ws (wss with TLS) */
  wsUrl: string;
  /** e.g. tcp://127.0.0.1:8081 (tls:// with TLS), or undefined when TCP is disabled */
  tcpUrl: string | undefined;
  port: number;
  tcpPort: number | undefined;
  /** e.g. mqtt://127.0.0.1:1883 (mqtts:// with TLS), or undefined when MQTT is off (the default) */
  mqttUrl: string | undefined;
  mqttPort: number | undefined;
  /** The admin key in force (given, from the environment, or generated). */
  adminKey: string;
  /** True when the admin key was generated (and stored in dataDir/admin-key) by this or an earlier start. */
  adminKeyGenerated: boolean;
  dataDir: string;
  /** The store in use, for embedding programs and tests. */
  store: Store;
  /** Number of open connections. */
  connectionCount(): number;
  /** Requests handled since start, by kind ("send", "pull", "sync", ...): what clients asked of this node. */
  requestCounts(): Record<string, number>;
  /** What this node's live rooms did since start (batches, deliveries inside them, drops). */
  roomCounters(): RoomHubCounters;
  /** Stops listening, closes every connection and the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Web Push, when it is on: the VAPID key pair (given, or generated into the
 * data folder on a single node), the registered browsers, and the sender.
 */
function startWebPush(config: ResolvedOptions, dataDir: string, store: Store, log: Logger): { publicKey: string; subscriptions: WebPushSubscriptions; sender: WebPushSender } | undefined {
  const settings = config.push.webPush;
  if (settings === undefined) return undefined;
  let vapid = settings.vapid;
  if (vapid === undefined) {
    if (config.busUrl !== undefined) {
      // A browser subscribes with one node's key; another node's pushes would be refused.
      log.warn('Web Push is off: cluster nodes need one shared VAPID key pair (PARLEY_VAPID_PUBLIC_KEY, PARLEY_VAPID_PRIVATE_KEY)');
      return undefined;
    }
    vapid = persistentJson(dataDir, 'vapid.json', generateVapidKeys);
  }
  const subscriptions = new WebPushSubscriptions(store, settings.allowedHosts, config.clock);
  const sender = new WebPushSender(
    {
      vapid,
      subject: settings.subject,
      subscriptionsOf: (userId) => subscriptions.of(userId),
      forget: (endpoint) => subscriptions.forget(endpoint),
      agent: settings.agent,
    },
    log,
  );
  return { publicKey: vapid.publicKey, subscriptions, sender };
}

/** The embedded SQLite store in dataDir, or PostgreSQL when a store URL is set (cluster mode). */
async function openStore(config: ResolvedOptions, dataDir: string): Promise<Store> {
  if (config.storeUrl === undefined) return new SqliteStore({ path: join(dataDir, 'parley.db'), durability: config.durability });
  return PostgresStore.open({ url: config.storeUrl, schema: config.storeSchema, poolSize: config.storePoolSize, applicationName: `parley-${config.nodeId}` });
}

/** Reads a secret from dataDir, creating it on first use. */
function persistentSecret(dataDir: string, file: string): string {
  // Hex, not base64url: a key that starts with '-' would be read as an option
  // by `parley ... --admin-key KEY` (one generated key in 64 did).
  return persistentFile(dataDir, file, () => randomBytes(24).toString('hex'));
}

function persistentJson<T>(dataDir: string, file: string, make: () => T): T {
  return JSON.parse(persistentFile(dataDir, file, () => JSON.stringify(make()))) as T;
}

/** A file in the data folder made on first use, readable by this user only. */
function persistentFile(dataDir: string, file: string, make: () => string): string {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const content = make();
  // Flushed before use: tokens signed with a secret lost to a power cut would
  // all turn invalid at the next start (and browsers subscribed with a lost
  // VAPID key would hear nothing more).
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${content}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return content;
}

/** How long /healthz waits for the user count before it answers without it. */
const HEALTH_STORE_WAIT_MS = 500;

/**
 * Starts a server. Everything the protocol times (deadlines, token lifetimes,
 * rate limits, timestamps) runs on `options.clock`, by default the system clock.
 */
export async function startServer(options: ServerOptions = {}): Promise<ParleyServer> {
  const config = resolveOptions(options);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logOptions = { level: config.logLevel, base: { service: 'parley', node: config.nodeId } };
  const log = options.logDestination === undefined ? pino(logOptions) : pino(logOptions, options.logDestination);

  const adminKeyGenerated = config.adminKey === undefined;
  const adminKey = config.adminKey ?? persistentSecret(dataDir, 'admin-key');
  const tokenSecret = config.tokenSecret ?? persistentSecret(dataDir, 'token-secret');

  const store: Store = options.store ?? (await openStore(config, dataDir));
  let bus: Bus;
  try {
    bus = options.bus ?? (config.busUrl === undefined ? new LocalBus() : await NatsBus.connect({ servers: config.busUrl, prefix: config.busPrefix, name: config.nodeId }));
  } catch (error) {
    await store.close();
    throw error;
  }
  // The rest of the server sees the adapters through these, timed for the operations view.
  const timings = new OperationsTimings();
  const timedStore = new TimedStore(store, { write: timings.storeWrite, read: timings.storeRead });
  const timedBus = new TimedBus(bus, { publish: timings.busPublish, transit: timings.busTransit });
  const clock = config.clock;
  const auth = new AuthService(tokenSecret, adminKey, timedStore, config.tokenTtlSeconds, clock);
  const mediaStore: MediaStore = config.mediaStore ?? new LocalDiskMediaStore(join(dataDir, 'media'));
  // The token secret, under its own label: cluster nodes share it already.
  const media = new MediaService(timedStore, mediaStore, config.mediaLimits, `media-url:${tokenSecret}`, { customTypes: config.customContentTypes }, clock);
  // Generated on first use only: a deployment without hooks has no such file.
  const hookSecret = () => config.hookSecret ?? persistentSecret(dataDir, 'hook-secret');
  const moderationConfig = config.moderation;
  const words = moderationConfig.blockedWords.length === 0 ? undefined : new WordFilter(moderationConfig.blockedWords, moderationConfig.blockedWordAction);
  const beforeSend =
    moderationConfig.beforeSendUrl === undefined
      ? moderationConfig.beforeSend
      : httpBeforeSend({ url: moderationConfig.beforeSendUrl, secret: hookSecret(), timeoutMs: moderationConfig.beforeSendTimeoutMs });
  const moderation =
    words === undefined && beforeSend === undefined
      ? undefined
      : new Moderation({ words, beforeSend, hookFailure: moderationConfig.beforeSendFailure, log: log.child({ component: 'moderation' }) });
  const messaging = new MessagingService(timedStore, timedBus, config.limits, clock, media, moderation);
  const conversations = new ConversationService(timedStore, timedBus, config.limits, clock);
  const settings = new ConversationSettings(
    timedStore,
    timedBus,
    config.limits,
    { view: (userId, conversationId) => messaging.conversationView(userId, conversationId), totalUnread: (userId) => messaging.totalUnread(userId) },
    clock,
  );
  const users = new UserService(timedStore, timedBus, clock);
  const receipts = new ReceiptService(timedStore, timedBus, config.limits, clock);
  const amendments = new MessageAmendments(timedStore, timedBus, config.limits, config.amendments, clock, moderation);
  messaging.onReadMoved((conversationId, userId, fromSeq) => receipts.readMoved(conversationId, userId, fromSeq));
  const devAccounts = new DevAccountService(timedStore, clock);
  const directory = new UserDirectory(timedStore, config.userDirectory);
  let databaseId: string;
  try {
    databaseId = await store.databaseId();
    // Data folders from before development accounts moved into the main store.
    const legacy = readLegacyDevAuth(dataDir);
    if (legacy !== undefined) {
      await devAccounts.importCredentials(legacy.credentials);
      legacy.retire();
    }
  } catch (error) {
    await bus.close();
    await store.close();
    throw error;
  }

  const rooms = new RoomService(timedStore, timedBus, config.limits, config.rooms, clock, words);
  const roomHub = new RoomHub({
    bus: timedBus,
    rooms,
    limits: config.rooms,
    nodeId: config.nodeId,
    clock,
    log,
    userName: async (userId) => (await timedStore.getUser(userId))?.name ?? userId,
  });
  const gateway = new Gateway(
    {
      auth,
      messaging,
      conversations,
      settings,
      // The relay needs the member-list cache, made just after the gateway.
      typing: { relay: (session, userId, conversationId, typing): Promise<void> => typingRelay.relay(session, userId, conversationId, typing) },
      receipts,
      amendments,
      receiptsRelay: { delivered: (session, userId, conversationId, seq) => receiptsRelay.delivered(session, userId, conversationId, seq) },
      signals: {
        relay: (session, userId, request) => signalRelay.relay(session, userId, request),
        valuesOf: (userId, conversationId) => signalRelay.valuesOf(userId, conversationId),
      },
      // The hub needs the registry and the cluster's presence, made after the gateway.
      presence: {
        subscribe: (session, userId, userIds) => presenceHub.subscribe(session, userId, userIds),
        setAway: (session, away) => presenceHub.setAway(session, away),
        removeSession: (session) => presenceHub.removeSession(session),
      },
      directory,
      rooms,
      roomHub,
      limits: config.limits,
      roomLimits: config.rooms,
      mediaLimits: config.mediaLimits,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      serverVersion: SERVER_VERSION,
      databaseId,
      log,
      clock,
      sendAckTiming: timings.sendAck,
    },
    config.authTimeoutMs,
    log,
    timedBus,
  );
  // One cache of member lists for Delivery, MQTT and push: invalidated by local membership commits, 'members' events (Delivery) and bus recovery.
  const memberLists = new MemberLists(conversations);
  conversations.onMembersChanged((conversationId) => memberLists.invalidate(conversationId));
  const delivery = new Delivery(timedBus, { memberLists, messaging }, gateway.registry, log, gateway);
  const typingRelay: TypingRelay = new TypingRelay({ bus: timedBus, memberLists, sessionsOf: (userId) => gateway.registry.sessionsOf(userId), clock });
  const signalRelay: SignalRelay = new SignalRelay({ bus: timedBus, memberLists, sessionsOf: (userId) => gateway.registry.sessionsOf(userId), clock });
  const receiptsRelay = new ReceiptsRelay({ bus: timedBus, receipts, sessionsOf: (userId) => gateway.registry.sessionsOf(userId), clock });
  delivery.timePushes(timings.sendDeliver, clock);
  // A single node has no other lists to learn after its start.
  const presence = new ClusterPresence({ bus: timedBus, nodeId: config.nodeId, local: gateway.registry, warmUpMs: config.busUrl === undefined ? 0 : undefined });
  gateway.registry.attachCluster(presence);
  const presenceHub: PresenceHub = new PresenceHub({
    presence,
    registry: gateway.registry,
    service: new PresenceService(timedStore, clock),
    bus: timedBus,
    nodeId: config.nodeId,
    clock,
    offlineGraceMs: config.presence.offlineGraceMs,
  });
  const busRecovery = new BusRecovery({
    bus: timedBus,
    messaging,
    registry: gateway.registry,
    forgetMembers: () => memberLists.invalidateAll(),
    resyncPresence: () => presence.resync(),
    catchUpRooms: () => roomHub.catchUp(),
    log,
  });
  const nodeStats = new NodeStats({
    bus: timedBus,
    nodeId: config.nodeId,
    clock,
    registry: gateway.registry,
    roomHub,
    messagesIn: () => gateway.counters.messagesIn.ws + gateway.counters.messagesIn.tcp,
    messagesOut: () => delivery.pushedMessages,
  });
  gateway.setBeforeAck((session, conversationId) => {
    nodeStats.noteSend(conversationId);
    delivery.beforeAck(session, conversationId);
  });

  const tls = config.tls === undefined ? undefined : { cert: config.tls.cert, key: config.tls.key, minVersion: config.tls.minVersion ?? ('TLSv1.3' as const) };
  const app = Fastify({
    ...(tls === undefined ? {} : { https: tls }),
    // Bounds slow HTTP clients (slowloris); WebSocket upgrades leave this timer behind.
    // Socket-level timeouts like this one and the TLS handshake bound real I/O,
    // so they stay on Node's timers rather than the injected clock.
    requestTimeout: 30_000,
    // close() ends every connection, including one that opened TCP and never
    // sent a request: Node would otherwise wait out its 60 s header timeout.
    forceCloseConnections: true,
    // Per-request lines only at debug level: an IM server's REST traffic is integration chatter.
    loggerInstance: log.child({ component: 'http' }, { level: config.logLevel === 'debug' ? 'debug' : 'warn' }) as unknown as FastifyBaseLogger,
    // A caller's x-request-id is kept (http/request-ids.ts); log lines carry it as requestId.
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.limits.maxHttpBodyBytes,
    // verbose: a failed pattern check carries its schema, whose description says the rule in words.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, verbose: true } },
    frameworkErrors,
  });
  registerRequestIds(app, log.child({ component: 'http' }));
  registerHttpConventions(app, { strictPrefixes: ['/v1'], apiPrefixes: ['/v1', DEV_AUTH_PREFIX, WEBSOCKET_PATH, MEDIA_PREFIX, PUSH_PREFIX, SEARCH_PREFIX, '/healthz', ...OPERATIONS_PATHS] });
  // Before any route: the OpenAPI document is made from the routes registered after it.
  await registerOpenApi(app, { version: SERVER_VERSION });
  /** Set when close() starts draining (ServerOptions.drainSeconds). */
  let draining = false;
  registerOperationsApi(app, {
    auth,
    gateway,
    roomHub,
    bus,
    nodeId: config.nodeId,
    timings,
    messagesOut: () => delivery.pushedMessages,
    pendingStoreWrites: () => timedStore.pendingWrites,
    draining: () => draining,
    integrations: () => ({
      moderation: {
        masked: words?.masked ?? 0,
        refused: words?.refused ?? 0,
        hook_rejected: moderation?.hookCounts.rejected ?? 0,
        hook_rewritten: moderation?.hookCounts.rewritten ?? 0,
        hook_failed: moderation?.hookCounts.failures ?? 0,
      },
      webhooks: {
        delivered: webhooks?.status.delivered ?? 0,
        failures: webhooks?.status.failures ?? 0,
        failingSeconds: webhooks?.status.failingSince === undefined ? 0 : (Date.now() - webhooks.status.failingSince) / 1000,
      },
      push: {
        notified: push?.counts.sent ?? 0,
        skipped_online: push?.counts.skippedOnline ?? 0,
        dropped: push?.counts.dropped ?? 0,
        unreachable: push?.counts.unreachable ?? 0,
        muted: push?.counts.muted ?? 0,
        undelivered: push?.counts.undelivered ?? 0,
        delivered: webhookPush?.counts.delivered ?? 0,
        dead_lettered: webhookPush?.counts.deadLettered ?? 0,
        web_push_delivered: webPush?.sender.counts.delivered ?? 0,
        web_push_failed: webPush?.sender.counts.failed ?? 0,
        web_push_gone: webPush?.sender.counts.gone ?? 0,
      },
    }),
    storeAnswers: () => store.syncVersion().then(
      () => true,
      () => false,
    ),
  });
  // Health checks may come every second from several probes: counting a large users table that often is waste.
  const userCount = cachedFor(1000, () => store.countUsers(), clock);
  const webhookPush =
    config.push.webhookUrl === undefined
      ? undefined
      : new WebhookPushSender({ url: config.push.webhookUrl, secret: hookSecret(), deadLetterPath: join(dataDir, 'push-dead-letters.jsonl') }, log.child({ component: 'push' }));
  const webPush = startWebPush(config, dataDir, timedStore, log.child({ component: 'web-push' }));
  const pushSender: PushSender | undefined = allPushSenders([config.push.sender, webhookPush, webPush?.sender].filter((sender) => sender !== undefined));
  const push =
    pushSender === undefined
      ? undefined
      : new PushService(
          {
            sender: pushSender,
            isOnline: (userId) => presence.isOnline(userId),
            membersOf: async (conversationId) => (await memberLists.of(conversationId)).ids,
            totalUnread: (userId) => messaging.badgeCount(userId),
            previewOf: (userId) => timedStore.pushPreviewOf(userId),
            mutedUntil: async (userId, conversationId) => (await timedStore.getMember(conversationId, userId))?.mutedUntil,
            followsThread: async (userId, conversationId, rootSeq) => (await timedStore.threadFollows(conversationId, userId, [rootSeq])).has(rootSeq),
            deliveredSeq: async (userId, conversationId) => {
              const member = await timedStore.getMember(conversationId, userId);
              return member === undefined || member.leftSeq !== undefined ? undefined : Math.max(member.deliveredSeq ?? 0, member.readSeq);
            },
            now: () => clock.now(),
            userName: async (userId) => (await timedStore.getUser(userId))?.name ?? userId,
            groupName: async (conversationId) => {
              const conversation = await timedStore.getConversation(conversationId);
              return conversation?.kind === 'group' ? conversation.name : undefined;
            },
            log: log.child({ component: 'push' }),
          },
          {
            ...DEFAULT_PUSH_OPTIONS,
            preview: config.push.preview,
            windowMs: config.push.windowMs,
            // Positions are kept only up to maxReceiptMembers: above it every online member would look behind.
            undeliveredAfterMs: config.limits.maxReceiptMembers >= ROUTED_MEMBERS_MAX ? config.push.undeliveredAfterMs : 0,
          },
        );
  if (push !== undefined) {
    messaging.onStored((message, recipients) => {
      push.messageStored(message, recipients).catch((error: unknown) => log.error({ err: error, conversationId: message.conversationId }, 'push skipped'));
    });
  }
  const webhookTypes = webhookEventTypes(config.webhooks.events);
  const liveEvents =
    config.webhooks.url === undefined ? undefined : new LiveEvents({ types: webhookTypes, offlineGraceMs: config.webhooks.offlineGraceMs, onEvent: () => webhooks?.wake() });
  const stopWatchingPresence =
    liveEvents === undefined || !USER_EVENT_TYPES.some((type) => webhookTypes.has(type)) ? undefined : presence.onUserChanged((userId, online) => liveEvents.changed(userId, online));
  const stopWatchingRooms =
    liveEvents === undefined
      ? undefined
      : timedBus.subscribe((event) => {
          if (event.type === 'roomOpened') liveEvents.roomOpened(event.room);
        });
  const webhooks =
    config.webhooks.url === undefined
      ? undefined
      : new WebhookDispatcher(
          timedStore,
          { url: config.webhooks.url, secret: hookSecret(), events: webhookTypes, nodeId: config.nodeId, live: liveEvents },
          log.child({ component: 'webhooks' }),
        );
  registerAdminApi(app, {
    auth,
    users,
    directory,
    messaging,
    conversations,
    accounts: devAccounts,
    limits: config.limits,
    rooms: { rooms, roomHub },
    webhooks: { status: webhooks?.status, feed: new WebhookFeed(timedStore, webhookTypes) },
    overview: {
      nodeStats,
      clock,
      usersOnline: () => presence.usersOnline(),
      presenceOf: (userId) => presence.connectionsOf(userId),
    },
    // Liveness: the process answers. A store that does not answer is /readyz's
    // business; failing here would have probes restart every node of a
    // cluster during a database outage, which mends nothing.
    health: async () => ({
      version: SERVER_VERSION,
      users: await within(userCount(), HEALTH_STORE_WAIT_MS, null),
      connectedUsers: gateway.registry.userCount,
      connections: gateway.registry.size,
    }),
  });
  const mediaApi = registerMediaApi(app, { auth, media, stagingDir: join(dataDir, 'uploads') });
  registerPushApi(app, {
    auth,
    webPush: webPush === undefined ? undefined : { publicKey: webPush.publicKey, subscriptions: webPush.subscriptions },
    preferences: new PushPreferences(timedStore, config.push.preview),
  });
  registerSearchApi(app, { auth, search: new SearchService(timedStore), clock });
  const wsListener = new WebSocketListener(app.server, gateway, config.limits.maxFrameBytes, config.allowedOrigins, tls !== undefined);
  const tcpListener =
    config.tcpPort === false ? undefined : new TcpListener(gateway, config.limits.maxFrameBytes, tls === undefined ? undefined : { ...tls, handshakeTimeout: config.authTimeoutMs });

  try {
    if (config.devAuth) await registerDevAuth(app, { auth, users, accounts: devAccounts, limits: config.limits, clock });
    if (config.webRoot !== undefined) await registerWebApp(app, { root: config.webRoot });
    await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  } catch (error) {
    await bus.close();
    await store.close();
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;
  const mqttListener =
    config.mqttPort === false
      ? undefined
      : new MqttListener({
          auth,
          messaging,
          memberLists,
          receipts,
          bus: timedBus,
          limits: config.limits,
          signalRate: { perSecond: config.rooms.userEventsPerSecond, burst: config.rooms.userEventBurst },
          signals: signalRelay,
          clock,
          log: log.child({ component: 'mqtt' }),
          otherConnectionsOf: (userId) => presence.connectionsOf(userId).connections,
          sendBucketOf: (userId, now) => gateway.registry.sendBucketOf(userId, now),
          connectTimeoutMs: config.authTimeoutMs,
          tls: tls === undefined ? undefined : { ...tls, handshakeTimeout: config.authTimeoutMs },
          sessionFile: join(dataDir, 'mqtt-sessions.json'),
        });
  let tcpPort: number | undefined;
  let mqttPort: number | undefined;
  try {
    if (tcpListener !== undefined && config.tcpPort !== false) tcpPort = (await tcpListener.listen(config.tcpPort, config.host)).port;
    if (mqttListener !== undefined && config.mqttPort !== false) mqttPort = (await mqttListener.listen(config.mqttPort, config.host)).port;
  } catch (error) {
    await mqttListener?.close();
    await tcpListener?.close();
    await app.close();
    await bus.close();
    await store.close();
    throw error;
  }
  // Any node's commit wakes the dispatcher (if this node holds the cursor) instead of waiting for its next poll.
  const stopWakingWebhooks = webhooks === undefined ? undefined : timedBus.subscribe((event) => {
    if (event.type === 'message' || event.type === 'roomMessage') webhooks.wake();
  });
  webhooks?.start();
  const displayHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const secure = tls !== undefined;
  return {
    httpUrl: `${secure ? 'https' : 'http'}://${displayHost}:${port}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${displayHost}:${port}${WEBSOCKET_PATH}`,
    tcpUrl: tcpPort === undefined ? undefined : `${secure ? 'tls' : 'tcp'}://${displayHost}:${tcpPort}`,
    port,
    tcpPort,
    mqttUrl: mqttPort === undefined ? undefined : `${secure ? 'mqtts' : 'mqtt'}://${displayHost}:${mqttPort}`,
    mqttPort,
    adminKey,
    adminKeyGenerated,
    dataDir,
    store,
    connectionCount: () => gateway.registry.size,
    requestCounts: () => Object.fromEntries(gateway.requestCounts),
    roomCounters: () => ({ ...roomHub.counters }),
    close() {
      closing ??= (async () => {
        if (config.drainSeconds > 0) {
          // Still serving everyone; only the balancer is told to look elsewhere.
          draining = true;
          log.info({ seconds: config.drainSeconds }, 'draining: /readyz answers 503 before the node stops');
          await new Promise((resolve) => setTimeout(resolve, config.drainSeconds * 1000));
        }
        stopWakingWebhooks?.();
        stopWatchingPresence?.();
        stopWatchingRooms?.();
        liveEvents?.close();
        await push?.close();
        await webhooks?.close();
        nodeStats.close();
        // Before the cluster view closes: it still says who is connected elsewhere.
        await presenceHub.close();
        presence.close();
        typingRelay.close();
        receiptsRelay.close();
        signalRelay.close();
        await receipts.close();
        messaging.close();
        busRecovery.close();
        gateway.close();
        delivery.close();
        roomHub.close();
        wsListener.close();
        await tcpListener?.close();
        await mqttListener?.close();
        await app.close();
        mediaApi.close();
        await mediaStore.close();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}
