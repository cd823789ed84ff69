/**
 * MQTT device sessions on this node: what a client id's session holds (its
 * user, its subscriptions with their delivery cursors, the deliveries it has
 * not acknowledged, QoS 2 publishes waiting for PUBREL), the index of
 * subscriptions by conversation, and aedes' persistence over them.
 *
 * A persistent session (CONNECT with clean session 0) outlives its
 * connection and comes back when the device reconnects to this node, for up
 * to `offlineTtlMs`. Its user, subscriptions and resume points are what
 * `snapshot` gives and `restore` takes back, so that the listener can keep
 * them across a restart (session-file.ts).
 */
import { Readable } from 'node:stream';
import { DeliveryCursor } from './cursor.js';
import { conversationTopic } from './mapping.js';

/** A subscription to one conversation. */
export interface ConversationSubscription {
  conversationId: string;
  topic: string;
  /** What messages go out with: the subscription's QoS, at most 1. */
  qos: 0 | 1;
  /** Undefined until the subscription was authorised and its start read. */
  cursor: DeliveryCursor | undefined;
  /** Resolves to whether the subscription was granted. */
  ready: Promise<boolean>;
  /** The highest seq heard of while the start was loading. */
  heardWhileLoading: number;
  /** True while missing seqs are read from the store. */
  catchingUp: boolean;
}

/** The connection a session is delivered over, while the device is connected. */
export interface DeviceLink<Client> {
  client: Client;
  /** Deliveries handed to the broker and not yet written (QoS 0, clean sessions) or acknowledged (QoS 1, persistent). */
  inFlight: number;
  /** Set when a subscription was held back by the in-flight bound: catch up once it eases. */
  stalled: boolean;
}

/** The subset of an aedes packet the session keeps. */
export interface SessionPacket {
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  topic?: string;
  payload?: Buffer | string;
}

export class DeviceSession<Client = unknown> {
  /** By conversation id. */
  readonly subscriptions = new Map<string, ConversationSubscription>();
  /** QoS 1 deliveries of a persistent session awaiting PUBACK (aedes' outgoing queue). */
  readonly outgoing: SessionPacket[] = [];
  /** QoS 2 publishes awaiting PUBREL, by packet identifier. */
  readonly incoming = new Map<number, SessionPacket>();
  /** The connection that claimed the session last (the listener's record). */
  holder: object | undefined;
  /** Set while the device is connected and its session restored. */
  link: DeviceLink<Client> | undefined;
  /** When the device went away (persistent sessions only; clock ms). */
  offlineSince: number | undefined;

  constructor(
    readonly clientId: string,
    readonly userId: string,
    readonly persistent: boolean,
  ) {}
}

export interface SessionLimits {
  /** Persistent sessions of devices that are away, kept at most; the longest away is dropped first. */
  maxOffline: number;
  /** How long a persistent session of a device that is away is kept. */
  offlineTtlMs: number;
}

/** The persistent sessions as a restart keeps them: whose, which conversations, and where each resumes. */
export interface SessionSnapshot {
  version: 1;
  sessions: Array<{ clientId: string; userId: string; subscriptions: Array<{ conversationId: string; qos: 0 | 1; resumeAfter: number }> }>;
}

/** A client id is in use by another user's session: CONNACK "identifier rejected". */
export class ClientIdTaken extends Error {}

export class DeviceSessions<Client = unknown> {
  private readonly sessions = new Map<string, DeviceSession<Client>>();
  /** Subscriptions by conversation id, for delivering a conversation's messages. */
  private readonly byConversation = new Map<string, Map<ConversationSubscription, DeviceSession<Client>>>();
  /** Persistent sessions of devices that are away, longest away first. */
  private readonly away = new Set<DeviceSession<Client>>();

  constructor(private readonly limits: SessionLimits) {}

  get(clientId: string): DeviceSession<Client> | undefined {
    return this.sessions.get(clientId);
  }

  /**
   * The session a connection of `userId` continues (persistent connect,
   * persistent session) or starts (anything else, which ends the old one).
   * Another user's client id is refused while its session exists.
   */
  claim(clientId: string, userId: string, persistent: boolean, holder: object): DeviceSession<Client> {
    let session = this.sessions.get(clientId);
    if (session !== undefined && session.userId !== userId) throw new ClientIdTaken(`client id ${clientId} belongs to another user's session`);
    if (session === undefined || !session.persistent || !persistent) {
      if (session !== undefined) this.drop(session);
      session = new DeviceSession<Client>(clientId, userId, persistent);
      this.sessions.set(clientId, session);
    }
    this.away.delete(session);
    session.offlineSince = undefined;
    session.holder = holder;
    session.link = undefined;
    return session;
  }

  /** The connection holding `session` closed: a clean session ends, a persistent one waits for its device. */
  release(session: DeviceSession<Client>, now: number): void {
    session.link = undefined;
    session.holder = undefined;
    if (this.sessions.get(session.clientId) !== session) return;
    if (!session.persistent) {
      this.drop(session);
      return;
    }
    session.offlineSince = now;
    this.away.add(session);
    for (const oldest of this.away) {
      if (this.away.size <= this.limits.maxOffline) break;
      this.drop(oldest);
    }
  }

  /** Drops persistent sessions whose devices have been away longer than offlineTtlMs. */
  expire(now: number): void {
    for (const session of this.away) {
      if (now - (session.offlineSince ?? now) < this.limits.offlineTtlMs) break;
      this.drop(session);
    }
  }

  addSubscription(session: DeviceSession<Client>, subscription: ConversationSubscription): void {
    session.subscriptions.set(subscription.conversationId, subscription);
    let subscribers = this.byConversation.get(subscription.conversationId);
    if (subscribers === undefined) {
      subscribers = new Map();
      this.byConversation.set(subscription.conversationId, subscribers);
    }
    subscribers.set(subscription, session);
  }

  /** Removes the session's subscription to a conversation (only `which`, when given: not a newer one). */
  removeSubscription(session: DeviceSession<Client>, conversationId: string, which?: ConversationSubscription): void {
    const subscription = session.subscriptions.get(conversationId);
    if (subscription === undefined || (which !== undefined && subscription !== which)) return;
    session.subscriptions.delete(conversationId);
    const subscribers = this.byConversation.get(conversationId);
    subscribers?.delete(subscription);
    if (subscribers?.size === 0) this.byConversation.delete(conversationId);
  }

  /** Every subscription to a conversation, with its session (connected or away). */
  subscribersOf(conversationId: string): ReadonlyMap<ConversationSubscription, DeviceSession<Client>> | undefined {
    return this.byConversation.get(conversationId);
  }

  /** Sessions of connected devices. */
  *linked(): IterableIterator<DeviceSession<Client>> {
    for (const session of this.sessions.values()) if (session.link !== undefined) yield session;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Every persistent session, connected or away, with the point each subscription resumes after. */
  snapshot(): SessionSnapshot {
    const sessions: SessionSnapshot['sessions'] = [];
    for (const session of this.sessions.values()) {
      if (!session.persistent) continue;
      const subscriptions = [];
      for (const { conversationId, qos, cursor } of session.subscriptions.values()) {
        if (cursor !== undefined) subscriptions.push({ conversationId, qos, resumeAfter: cursor.resumeAfter });
      }
      sessions.push({ clientId: session.clientId, userId: session.userId, subscriptions });
    }
    return { version: 1, sessions };
  }

  /** Takes back the sessions of a snapshot, as devices that are away (a fresh start: nothing else is held yet). */
  restore(snapshot: SessionSnapshot, now: number): void {
    for (const saved of snapshot.sessions) {
      if (this.sessions.has(saved.clientId) || this.away.size >= this.limits.maxOffline) continue;
      const session = new DeviceSession<Client>(saved.clientId, saved.userId, true);
      session.offlineSince = now;
      this.sessions.set(saved.clientId, session);
      this.away.add(session);
      for (const { conversationId, qos, resumeAfter } of saved.subscriptions) {
        this.addSubscription(session, {
          conversationId,
          topic: conversationTopic(conversationId),
          qos,
          cursor: new DeliveryCursor(resumeAfter),
          ready: Promise.resolve(true),
          heardWhileLoading: 0,
          catchingUp: false,
        });
      }
    }
  }

  private drop(session: DeviceSession<Client>): void {
    for (const conversationId of [...session.subscriptions.keys()]) this.removeSubscription(session, conversationId);
    this.away.delete(session);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }
}

/** What aedes passes to its persistence for a client: only the id is read. */
interface ClientRef {
  id: string;
}

/**
 * aedes' persistence over DeviceSessions. Parley keeps no retained messages
 * and no wills, and never routes a message through aedes' topic matching
 * (the listener delivers each conversation itself), so those parts are
 * empty. Deliveries a device did not acknowledge are not replayed by aedes
 * on reconnect: Parley hands them over again from its store, in seq order,
 * from where the device's cursor resumes.
 */
export class SessionPersistence {
  constructor(private readonly sessions: DeviceSessions) {}

  async setup(): Promise<void> {}

  async destroy(): Promise<void> {}

  async storeRetained(): Promise<void> {}

  createRetainedStream(): Readable {
    return Readable.from([]);
  }

  createRetainedStreamCombi(): Readable {
    return Readable.from([]);
  }

  /** Subscriptions are recorded when the listener grants them (aedes would pass refused ones here too). */
  async addSubscriptions(): Promise<void> {}

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    const session = this.sessions.get(client.id);
    if (session === undefined) return;
    for (const subscription of [...session.subscriptions.values()]) {
      if (topics.includes(subscription.topic)) this.sessions.removeSubscription(session, subscription.conversationId);
    }
  }

  /** A persistent session's subscriptions, which aedes restores (and the listener authorises again) on reconnect. */
  async subscriptionsByClient(client: ClientRef): Promise<Array<{ topic: string; qos: 0 | 1 }>> {
    const session = this.sessions.get(client.id);
    return session === undefined ? [] : [...session.subscriptions.values()].map(({ topic, qos }) => ({ topic, qos }));
  }

  async subscriptionsByTopic(): Promise<never[]> {
    return [];
  }

  async cleanSubscriptions(): Promise<void> {}

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: 0, clientsCount: 0 };
  }

  async outgoingEnqueue(subscriber: { clientId: string }, packet: SessionPacket): Promise<void> {
    this.sessions.get(subscriber.clientId)?.outgoing.push(packet);
  }

  async outgoingEnqueueCombi(subscribers: Array<{ clientId: string }>, packet: SessionPacket): Promise<void> {
    for (const subscriber of subscribers) await this.outgoingEnqueue(subscriber, packet);
  }

  /** Records the packet identifier a queued delivery was sent with. */
  async outgoingUpdate(client: ClientRef, packet: SessionPacket): Promise<void> {
    const queued = this.sessions.get(client.id)?.outgoing.find((entry) => entry.brokerId === packet.brokerId && entry.brokerCounter === packet.brokerCounter);
    if (queued === undefined) throw new Error('no such packet');
    queued.messageId = packet.messageId;
  }

  async outgoingClearMessageId(client: ClientRef, packet: SessionPacket): Promise<SessionPacket | undefined> {
    const outgoing = this.sessions.get(client.id)?.outgoing;
    const index = outgoing?.findIndex((entry) => entry.messageId === packet.messageId) ?? -1;
    return index < 0 ? undefined : outgoing?.splice(index, 1)[0];
  }

  /** Called as a device reconnects: what it did not acknowledge is handed over again from the store instead. */
  outgoingStream(client: ClientRef): Readable {
    const outgoing = this.sessions.get(client.id)?.outgoing;
    outgoing?.splice(0);
    return Readable.from([]);
  }

  async incomingStorePacket(client: ClientRef, packet: SessionPacket): Promise<void> {
    if (packet.messageId !== undefined) this.sessions.get(client.id)?.incoming.set(packet.messageId, { messageId: packet.messageId });
  }

  async incomingGetPacket(client: ClientRef, packet: SessionPacket): Promise<SessionPacket> {
    const stored = packet.messageId === undefined ? undefined : this.sessions.get(client.id)?.incoming.get(packet.messageId);
    if (stored === undefined) throw new Error('no such packet');
    return stored;
  }

  async incomingDelPacket(client: ClientRef, packet: SessionPacket): Promise<void> {
    const incoming = this.sessions.get(client.id)?.incoming;
    if (packet.messageId === undefined || incoming?.delete(packet.messageId) !== true) throw new Error('no such packet');
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    this.sessions.get(client.id)?.incoming.clear();
  }

  async putWill(): Promise<void> {}

  async getWill(): Promise<undefined> {
    return undefined;
  }

  async delWill(): Promise<undefined> {
    return undefined;
  }

  streamWill(): Readable {
    return Readable.from([]);
  }

  getClientList(): Readable {
    return Readable.from([]);
  }
}
