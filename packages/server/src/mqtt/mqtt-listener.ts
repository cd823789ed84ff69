/**
 * The MQTT listener (docs/mqtt.md): stock MQTT 3.1.1 clients (devices,
 * mosquitto_pub, the `mqtt` package) talk to Parley through an aedes broker
 * on its own port, off by default (`mqttPort`).
 *
 * - CONNECT: the password is a Parley access token (AuthService); a user
 *   name, when given, must be the token's user. The connection is closed
 *   when the token expires or the user's tokens are revoked.
 * - PUBLISH QoS 1 (and 2) to `conversations/<id>` is a send by the token's
 *   user (MessagingService.send); the PUBACK goes out only after the commit,
 *   and a refused publish closes the connection (MQTT 3.1.1 has no negative
 *   acknowledgement). PUBLISH QoS 0 is a signal of type `mqtt`: never stored,
 *   relayed as any member's signal (gateway/signals.ts) to the other
 *   members' apps and subscribed devices, on every node.
 * - SUBSCRIBE `conversations/<id>`: active members only; deliveries come from
 *   Parley's store and bus (device-delivery.ts), never from aedes' own
 *   routing, which sees nothing: every accepted publish is re-addressed to a
 *   topic no one can subscribe to before aedes would forward it.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TlsOptions as NodeTlsOptions } from 'node:tls';
import { type Clock, ParleyError, type SignalEvent, type TimerHandle } from '@parley/protocol';
import { Aedes, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { ReceiptService } from '../services/receipts.js';
import { declareUserRoute } from '../bus/user-route.js';
import type { ServerLimits } from '../config.js';
import type { AuthService } from '../services/auth.js';
import type { MemberLists } from '../services/member-lists.js';
import type { MessagingService } from '../services/messaging.js';
import { Admission } from '../util/admission.js';
import { setMostRecent } from '../util/recent-map.js';
import { socketServer } from '../util/socket-server.js';
import { unrefTimer } from '../util/timers.js';
import { TokenBucket } from '../util/token-bucket.js';
import { DeviceDelivery } from './device-delivery.js';
import { MQTT_SIGNAL_TYPE, publishContent, publishTarget, subscribedConversation } from './mapping.js';
import { SizeCheckedStream } from './packet-size.js';
import { PublishLedger, deviceKey, publishFingerprint } from './publish-ledger.js';
import { readSessionFile, writeSessionFile } from './session-file.js';
import { ClientIdTaken, type DeviceSession, DeviceSessions, SessionPersistence } from './sessions.js';

/** MQTT connections one node accepts; further TCP connections are closed at once. */
export const MAX_MQTT_CONNECTIONS = 10_000;
/** Conversations one connection may subscribe to; more are refused in the SUBACK (0x80). */
export const MAX_SUBSCRIPTIONS = 100;
/** Persistent sessions of devices that are away, and for how long (7 days). */
const MAX_OFFLINE_SESSIONS = 10_000;
const OFFLINE_SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
/** Longest client id accepted (MQTT 3.1.1 servers must take 23 characters; longer is allowed). */
const MAX_CLIENT_ID_CHARS = 128;
/** QoS 2 publishes one connection may have waiting for PUBREL. */
const MAX_INBOUND_QOS2 = 100;
/** Users whose signal budgets are remembered. */
const MAX_TRACKED_USERS = 100_000;
/** Where accepted publishes are re-addressed: no subscription can match it (subscriptions name a conversation). */
const DISCARDED_TOPIC = '$parley/discarded';
/** How often the persistent sessions are written to the session file when they changed. */
const SESSION_SAVE_INTERVAL_MS = 5000;
/** Node timers cannot wait longer; a token expiring later is checked again then. */
const MAX_TIMER_MS = 2_147_483_647;

/** CONNACK return codes of MQTT 3.1.1. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

export interface MqttListenerDeps {
  auth: Pick<AuthService, 'verifyToken'>;
  messaging: Pick<MessagingService, 'send' | 'pull' | 'conversationView' | 'busy' | 'onceDrained'>;
  /** The node's member lists, shared with Delivery (which invalidates them on 'members' events) and push. */
  memberLists: Pick<MemberLists, 'of'>;
  /** Where a device's QoS 1 acknowledgements go: how far it holds a conversation, for receipts. */
  receipts?: Pick<ReceiptService, 'delivered'>;
  bus: Bus;
  limits: ServerLimits;
  /** QoS 0 signals one user may publish per second and at once (the live rooms' budget for ephemeral events). */
  signalRate: { perSecond: number; burst: number };
  /** The node's signal relay (gateway/signals.ts): takes QoS 0 publishes as signals, and tells of the signals this node delivers. */
  signals: {
    relay(connection: object, userId: string, signal: Pick<SignalEvent, 'conversationId' | 'type' | 'data' | 'toUserId' | 'key'>): Promise<'relayed' | 'dropped' | 'not_member'>;
    onRelayed(listener: (signal: SignalEvent, isFor: (userId: string) => boolean) => void): () => void;
  };
  clock: Clock;
  log: Logger;
  /** The user's WebSocket and TCP connections (all nodes): MQTT connections are counted with them against maxConnectionsPerUser. */
  otherConnectionsOf(userId: string): number;
  /** The user's send budget, shared with the user's WebSocket and TCP connections. */
  sendBucketOf(userId: string, now: number): TokenBucket;
  /** How long a connection may take to send CONNECT. */
  connectTimeoutMs: number;
  /** TLS for the listener (mqtts), when the server has a certificate. */
  tls?: NodeTlsOptions & { handshakeTimeout: number };
  /** Where persistent sessions are kept across restarts (session-file.ts); none: in memory only. */
  sessionFile?: string;
}

/** One TCP connection and what it authenticated as. */
interface DeviceConnection {
  client: Client | undefined;
  /** CONNECT named no client id (aedes made one up). */
  anonymous: boolean;
  userId: string | undefined;
  session: DeviceSession<Client> | undefined;
  /** Withdraws the user's bus route, once this connection declared it. */
  withdrawRoute: (() => void) | undefined;
  expiry: TimerHandle | undefined;
  /** Each send waits for the one before it to be admitted (rate, overload), so they reach the store in arrival order. */
  admitted: Promise<void>;
  /** Each publish is answered after the one before it. */
  answered: Promise<void>;
  /** A publish was refused: the connection is closing and takes no more. */
  refused: boolean;
  closed: boolean;
}

export class MqttListener {
  private readonly server: Server;
  private broker: Aedes | undefined;
  private readonly sessions = new DeviceSessions<Client>({ maxOffline: MAX_OFFLINE_SESSIONS, offlineTtlMs: OFFLINE_SESSION_TTL_MS });
  private readonly delivery: DeviceDelivery<Client>;
  private readonly ledger = new PublishLedger({ maxPerDevice: 100, maxDevices: MAX_MQTT_CONNECTIONS });
  private readonly connections = new WeakMap<object, DeviceConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly byUser = new Map<string, Set<DeviceConnection>>();
  private readonly signalBuckets = new Map<string, TokenBucket>();
  private readonly connects: Admission;
  private readonly stopListening: Array<() => void> = [];
  private sweep: ReturnType<typeof setInterval> | undefined;
  private saver: ReturnType<typeof setInterval> | undefined;
  /** The session file's content as last written, and the write under way. */
  private savedText: string | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly deps: MqttListenerDeps) {
    this.delivery = new DeviceDelivery(this.sessions, { messaging: deps.messaging, memberLists: deps.memberLists, receipts: deps.receipts, log: deps.log });
    this.connects = new Admission(deps.limits.connectsPerSecond, deps.limits.connectBurst);
    this.server = socketServer(deps.tls, (socket) => this.onSocket(socket));
    this.server.maxConnections = MAX_MQTT_CONNECTIONS;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const sessionFile = this.deps.sessionFile;
    if (sessionFile !== undefined) {
      const { snapshot, problem } = await readSessionFile(sessionFile);
      if (problem !== undefined) this.deps.log.warn({ file: sessionFile, problem }, 'mqtt: persistent sessions not restored');
      this.sessions.restore(snapshot, this.deps.clock.now());
      this.savedText = JSON.stringify(snapshot);
      this.saver = setInterval(() => void this.save(), SESSION_SAVE_INTERVAL_MS);
      this.saver.unref();
    }
    const broker = await Aedes.createBroker({
      persistence: new SessionPersistence(this.sessions as DeviceSessions),
      connectTimeout: this.deps.connectTimeoutMs,
      maxInflightInbound: MAX_INBOUND_QOS2,
      maxTopicLevels: 8,
      preConnect: (client, packet, done) => this.preConnect(client, packet, done),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, subscription, done) => this.authorizeSubscribe(client, subscription, done),
    });
    this.broker = broker;
    broker.on('clientReady', (client) => {
      const connection = this.connectionOf(client);
      if (connection?.session !== undefined && connection.session.holder === connection) this.delivery.attach(connection.session, client);
    });
    broker.on('ack', (packet, client) => {
      const session = this.connectionOf(client)?.session;
      // A PUBACK of a persistent session's delivery comes with the packet as queued (SessionPersistence); others without.
      if (session !== undefined && packet?.cmd === 'publish') this.delivery.acknowledged(session, client, packet);
    });
    broker.on('unsubscribe', (topics, client) => {
      const session = this.connectionOf(client)?.session;
      for (const topic of topics) {
        const conversationId = subscribedConversation(topic);
        if (session !== undefined && conversationId !== undefined) this.delivery.unsubscribe(session, conversationId);
      }
    });
    this.stopListening.push(this.deps.bus.subscribe((event) => this.onBusEvent(event)));
    this.stopListening.push(this.deps.signals.onRelayed((signal, isFor) => this.delivery.signal(signal, isFor)));
    // Member lists are dropped by the node's bus recovery, which every node has.
    const onReconnect = this.deps.bus.onReconnect?.(() => this.delivery.catchUpAll());
    if (onReconnect !== undefined) this.stopListening.push(onReconnect);
    this.sweep = setInterval(() => this.sessions.expire(this.deps.clock.now()), 60_000);
    this.sweep.unref();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    for (const stop of this.stopListening.splice(0)) stop();
    clearInterval(this.sweep);
    clearInterval(this.saver);
    const broker = this.broker;
    if (broker !== undefined) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.save();
  }

  /** Writes the persistent sessions to the session file when they changed since the last write. */
  private save(): Promise<void> {
    const file = this.deps.sessionFile;
    if (file === undefined) return Promise.resolve();
    this.saving = this.saving.then(async () => {
      const text = JSON.stringify(this.sessions.snapshot());
      if (text === this.savedText) return;
      try {
        await writeSessionFile(file, text);
        this.savedText = text;
      } catch (error) {
        this.deps.log.warn({ err: error, file }, 'mqtt: persistent sessions not saved');
      }
    });
    return this.saving;
  }

  private onSocket(socket: Socket): void {
    socket.setKeepAlive(true, 60_000);
    const stream = new SizeCheckedStream(socket, this.deps.limits.maxFrameBytes);
    const connection: DeviceConnection = {
      client: undefined,
      anonymous: false,
      userId: undefined,
      session: undefined,
      withdrawRoute: undefined,
      expiry: undefined,
      admitted: Promise.resolve(),
      answered: Promise.resolve(),
      refused: false,
      closed: false,
    };
    this.connections.set(stream, connection);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.onClosed(connection);
    });
    if (this.broker === undefined) socket.destroy();
    else this.broker.handle(stream);
  }

  private connectionOf(client: Client): DeviceConnection | undefined {
    return this.connections.get(client.conn);
  }

  /** Wills are not kept: a device that vanishes publishes nothing on its behalf. */
  private preConnect(client: Client, packet: ConnectPacket, done: (error: Error | null, success: boolean) => void): void {
    const connection = this.connectionOf(client);
    if (connection !== undefined) connection.anonymous = packet.clientId === '';
    packet.will = undefined;
    done(null, true);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const connection = this.connectionOf(client);
    if (connection === undefined) {
      done(refusal(SERVER_UNAVAILABLE, 'unknown connection'), false);
      return;
    }
    this.admit(client, connection, username, password).then(
      () => done(null, true),
      (error: unknown) => {
        const refused = error instanceof ConnectRefused ? error : refusal(SERVER_UNAVAILABLE, 'the server could not check the connection');
        if (!(error instanceof ConnectRefused)) this.deps.log.error({ err: error }, 'mqtt: connect failed');
        this.deps.log.debug({ clientId: client.id, returnCode: refused.returnCode, reason: refused.message }, 'mqtt: connect refused');
        done(refused, false);
      },
    );
  }

  private async admit(client: Client, connection: DeviceConnection, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const { clock, limits } = this.deps;
    if (this.connects.admit(clock.now()) > 0) throw refusal(SERVER_UNAVAILABLE, 'too many connections at once; try again shortly');
    if (connection.anonymous && !client.clean) throw refusal(IDENTIFIER_REJECTED, 'a persistent session needs a client id');
    if (client.id.length > MAX_CLIENT_ID_CHARS) throw refusal(IDENTIFIER_REJECTED, `a client id has at most ${MAX_CLIENT_ID_CHARS} characters`);
    let identity: { userId: string; expiresAt: number };
    try {
      identity = await this.deps.auth.verifyToken(password === undefined ? '' : password.toString('utf8'));
    } catch (error) {
      throw refusal(NOT_AUTHORIZED, error instanceof ParleyError ? error.message : 'invalid token');
    }
    const { userId } = identity;
    if (username !== undefined && username !== '' && username !== userId) throw refusal(NOT_AUTHORIZED, 'the user name is not the token\u2019s user');
    if (connection.closed) throw refusal(SERVER_UNAVAILABLE, 'the connection closed');
    const mqttConnections = this.byUser.get(userId)?.size ?? 0;
    if (mqttConnections + this.deps.otherConnectionsOf(userId) >= limits.maxConnectionsPerUser) {
      throw refusal(NOT_AUTHORIZED, `at most ${limits.maxConnectionsPerUser} connections per user`);
    }
    let session: DeviceSession<Client>;
    try {
      session = this.sessions.claim(client.id, userId, !client.clean, connection);
    } catch (error) {
      if (error instanceof ClientIdTaken) throw refusal(IDENTIFIER_REJECTED, error.message);
      throw error;
    }
    // From here on, the connection's close undoes what follows.
    connection.client = client;
    connection.userId = userId;
    connection.session = session;
    let connections = this.byUser.get(userId);
    if (connections === undefined) {
      connections = new Set();
      this.byUser.set(userId, connections);
    }
    connections.add(connection);
    this.expireAt(connection, client, identity.expiresAt);
    const route = declareUserRoute(this.deps.bus, userId);
    if (route !== undefined) {
      connection.withdrawRoute = route.withdraw;
      // Once declared, every message for the user reaches this node, so positions read afterwards miss nothing.
      await route.routed;
    }
  }

  /** Closes the connection when its token expires. */
  private expireAt(connection: DeviceConnection, client: Client, expiresAt: number): void {
    if (expiresAt >= Number.MAX_SAFE_INTEGER) return;
    const { clock } = this.deps;
    connection.expiry = clock.setTimeout(
      () => {
        if (connection.closed) return;
        if (clock.now() < expiresAt) this.expireAt(connection, client, expiresAt);
        else {
          this.deps.log.debug({ clientId: client.id }, 'mqtt: token expired, connection closed');
          client.close();
        }
      },
      Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - clock.now())),
    );
    unrefTimer(connection.expiry);
  }

  private onClosed(connection: DeviceConnection): void {
    connection.closed = true;
    this.deps.clock.clearTimeout(connection.expiry);
    const { userId, session } = connection;
    if (userId !== undefined) {
      const connections = this.byUser.get(userId);
      connections?.delete(connection);
      if (connections?.size === 0) this.byUser.delete(userId);
      connection.withdrawRoute?.();
    }
    if (session !== undefined && session.holder === connection) this.sessions.release(session, this.deps.clock.now());
  }

  private onBusEvent(event: BusEvent): void {
    switch (event.type) {
      case 'message':
        this.delivery.onMessage(event);
        break;
      case 'revoked':
        for (const connection of this.byUser.get(event.userId) ?? []) connection.client?.close();
        break;
    }
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const connection = client === null ? undefined : this.connectionOf(client);
    const session = connection?.session;
    // A will, or a publish the connection did not authenticate for.
    if (client === null || connection === undefined || session === undefined) {
      done(new Error('not accepted'));
      return;
    }
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // aedes forwards what is authorised, to subscriptions and to persistent
    // sessions' queues; Parley delivers stored messages itself, so the
    // publish goes on to a topic that nothing matches, without its payload.
    packet.topic = DISCARDED_TOPIC;
    packet.payload = Buffer.alloc(0);
    packet.retain = false;
    let conversationId: string;
    let clientMsgId: string | undefined;
    let content: ReturnType<typeof publishContent>;
    try {
      if (connection.refused) throw new ParleyError('UNAVAILABLE', 'an earlier publish was refused; the connection is closing');
      ({ conversationId, clientMsgId } = publishTarget(topic));
      content = publishContent(payload, this.deps.limits);
    } catch (error) {
      // Publishes behind this one are not admitted any more (admitSend).
      connection.refused = true;
      this.answer(connection, Promise.reject(error), done, topic);
      return;
    }
    if (packet.qos === 0) {
      this.signal(connection, session.userId, conversationId, payload, done, topic);
      return;
    }
    const packetId = packet.messageId ?? 0;
    // QoS 2 sent again before PUBREL: aedes holds it already, and answers it without forwarding.
    if (packet.qos === 2 && session.incoming.has(packetId)) {
      this.answer(connection, Promise.resolve(), done, topic);
      return;
    }
    const device = deviceKey(session.userId, session.clientId);
    const derived = clientMsgId === undefined;
    const messageKey = clientMsgId ?? this.ledger.attempt(device, packetId, publishFingerprint(topic, payload));
    const admitted = connection.admitted.then(() => this.admitSend(connection, session.userId));
    connection.admitted = admitted.catch(() => undefined);
    const sent = admitted.then(() => this.deps.messaging.send(session.userId, { conversationId, clientMsgId: messageKey, ...content }));
    this.answer(connection, sent, done, topic, () => {
      // The PUBACK goes out now: the device may reuse the packet identifier.
      // On a connection that is closing it does not: the device will send the publish again.
      if (derived && !connection.closed && !connection.refused) this.ledger.acknowledged(device, packetId, messageKey);
    });
  }

  /** Waits for the user's send budget and for an overloaded server, as a WebSocket or TCP connection would be paused. */
  private async admitSend(connection: DeviceConnection, userId: string): Promise<void> {
    const { clock, messaging } = this.deps;
    for (;;) {
      if (connection.closed || connection.refused) throw new ParleyError('UNAVAILABLE', 'the connection is closing');
      if (messaging.busy) {
        await new Promise<void>((resolve) => messaging.onceDrained(resolve));
        continue;
      }
      const now = clock.now();
      const waitMs = this.deps.sendBucketOf(userId, now).take(now);
      if (waitMs === 0) return;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
    }
  }

  /**
   * Answers a publish once `outcome` settles and every earlier publish of
   * the connection was answered: aedes then sends the PUBACK, or closes the
   * connection on a refusal (MQTT 3.1.1 cannot refuse a publish otherwise).
   */
  private answer(connection: DeviceConnection, outcome: Promise<unknown>, done: (error?: Error | null) => void, topic: string, onAccepted?: () => void): void {
    const answered = connection.answered.then(() => outcome);
    connection.answered = answered.then(
      () => undefined,
      () => undefined,
    );
    answered.then(
      () => {
        onAccepted?.();
        done(null);
      },
      (error: unknown) => {
        connection.refused = true;
        const code = error instanceof ParleyError ? error.codeName : 'INTERNAL';
        if (code === 'INTERNAL') this.deps.log.error({ err: error, topic }, 'mqtt: publish failed');
        else this.deps.log.debug({ clientId: connection.client?.id, topic, code, reason: (error as Error).message }, 'mqtt: publish refused, connection closed');
        done(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  private signal(connection: DeviceConnection, userId: string, conversationId: string, payload: Uint8Array, done: (error?: Error | null) => void, topic: string): void {
    const now = this.deps.clock.now();
    let bucket = this.signalBuckets.get(userId);
    if (bucket === undefined) bucket = new TokenBucket(this.deps.signalRate.perSecond, this.deps.signalRate.burst);
    setMostRecent(this.signalBuckets, userId, bucket, MAX_TRACKED_USERS);
    // Past the budget a signal is dropped, as QoS 0 allows; the device is not disconnected for it.
    if (bucket.take(now) > 0) {
      done(null);
      return;
    }
    // Dropped past the signals' own bounds too (4 KiB, a rate per connection); a stranger is refused.
    void this.deps.signals.relay(connection, userId, { conversationId, type: MQTT_SIGNAL_TYPE, data: payload, toUserId: '', key: '' }).then((outcome) => {
      if (outcome === 'not_member') this.answer(connection, Promise.reject(new ParleyError('FORBIDDEN', 'not an active member of this conversation')), done, topic);
      else done(null);
    });
  }

  private authorizeSubscribe(client: Client, subscription: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const session = this.connectionOf(client)?.session;
    const conversationId = subscribedConversation(subscription.topic);
    if (session === undefined || conversationId === undefined || (!session.subscriptions.has(conversationId) && session.subscriptions.size >= MAX_SUBSCRIPTIONS)) {
      this.deps.log.debug({ clientId: client.id, topic: subscription.topic }, 'mqtt: subscription refused');
      done(null, null);
      return;
    }
    this.delivery.subscribe(session, conversationId, subscription.qos).then(
      (granted) => done(null, granted ? subscription : null),
      () => done(null, null),
    );
  }
}

class ConnectRefused extends Error {
  constructor(
    readonly returnCode: number,
    message: string,
  ) {
    super(message);
  }
}

function refusal(returnCode: number, message: string): ConnectRefused & AuthenticateError {
  return new ConnectRefused(returnCode, message) as ConnectRefused & AuthenticateError;
}
