/**
 * Delivers conversations to MQTT subscriptions: committed messages from the
 * bus, and what a device missed, read from the store; signals (devices' QoS
 * 0 publishes and members' apps' alike) to the subscribers on this node, as
 * gateway/signals.ts relays them. Per subscription a DeliveryCursor decides
 * what goes out, so each device gets the seqs it may read in order, once per
 * connection, without gaps: a live message that does not follow the last
 * one handed over (overtaken or lost on the bus, a device that was away or
 * fell behind) makes the subscription read the missing range from the store
 * (MessagingService.pull, which also applies the member's access window)
 * before anything newer.
 *
 * Bounded: each connection has at most MAX_IN_FLIGHT deliveries handed to
 * the broker and not yet written (QoS 0, clean sessions) or acknowledged
 * (QoS 1 on a persistent session); past it the device's subscriptions stop
 * taking live messages and catch up from the store once it acknowledges.
 * The store is the queue.
 */
import type { SignalEvent } from '@parley/protocol';
import type { Logger } from 'pino';
import type { BusEvent } from '../bus/bus.js';
import type { MemberLists } from '../services/member-lists.js';
import type { MessagingService } from '../services/messaging.js';
import type { StoredMessage } from '../services/model.js';
import type { ReceiptService } from '../services/receipts.js';
import { DeliveryCursor } from './cursor.js';
import { conversationTopic, messagePayload, payloadSeq, signalPayload } from './mapping.js';
import type { ConversationSubscription, DeviceLink, DeviceSession, DeviceSessions } from './sessions.js';

/** Deliveries per connection handed to the broker and not yet written or acknowledged. */
export const MAX_IN_FLIGHT = 64;
/** Messages one catch-up read asks for at most. */
const CATCH_UP_PAGE = 64;

/** What the delivery needs of an aedes client. */
export interface DeliveryClient {
  publish(packet: { cmd: 'publish'; topic: string; payload: Buffer; qos: 0 | 1; retain: false; dup: false }, done: (error?: Error) => void): void;
}

type MessageEvent = Extract<BusEvent, { type: 'message' }>;

export interface DeviceDeliveryDeps {
  messaging: Pick<MessagingService, 'pull' | 'conversationView'>;
  /** Active members, for messages that do not name their recipients (the node's shared cache, which Delivery keeps current). */
  memberLists: Pick<MemberLists, 'of'>;
  /** Told how far a device acknowledged a conversation (QoS 1), for receipts. */
  receipts?: Pick<ReceiptService, 'delivered'>;
  log: Logger;
}

export class DeviceDelivery<Client extends DeliveryClient> {
  constructor(
    private readonly sessions: DeviceSessions<Client>,
    private readonly deps: DeviceDeliveryDeps,
  ) {}

  /**
   * Grants a subscription to an active member (a persistent session's,
   * restored on reconnect, is checked again and keeps its cursor). A new one
   * starts after the conversation's last seq: the device gets what is
   * committed from now on.
   */
  subscribe(session: DeviceSession<Client>, conversationId: string, requestedQos: number): Promise<boolean> {
    const qos = requestedQos === 0 ? 0 : 1;
    const existing = session.subscriptions.get(conversationId);
    if (existing !== undefined) {
      existing.qos = qos;
      existing.ready = existing.ready.then((granted) => granted && this.stillMember(session, existing));
      return existing.ready;
    }
    const subscription: ConversationSubscription = {
      conversationId,
      topic: conversationTopic(conversationId),
      qos,
      cursor: undefined,
      ready: Promise.resolve(false),
      heardWhileLoading: 0,
      catchingUp: false,
    };
    // Indexed before the start is read, so that nothing committed meanwhile goes unheard.
    this.sessions.addSubscription(session, subscription);
    subscription.ready = this.start(session, subscription);
    return subscription.ready;
  }

  unsubscribe(session: DeviceSession<Client>, conversationId: string): void {
    this.sessions.removeSubscription(session, conversationId);
  }

  /** The device's session is restored on a new connection: what it did not acknowledge, and what it missed, goes out first. */
  attach(session: DeviceSession<Client>, client: Client): void {
    session.link = { client, inFlight: 0, stalled: false };
    for (const subscription of session.subscriptions.values()) {
      subscription.cursor?.rewind();
      void this.catchUp(session, subscription);
    }
  }

  /** A committed message from the bus. */
  onMessage(event: MessageEvent): void {
    const { message } = event;
    const subscribers = this.sessions.subscribersOf(message.conversationId);
    if (subscribers === undefined) return;
    if (event.recipients !== undefined) {
      for (const [subscription, session] of subscribers) if (event.recipients.includes(session.userId)) this.offer(session, subscription, message);
      return;
    }
    // A large group: its members come from the cache. Should a cached list
    // make a message overtake an earlier one, its cursor sees the gap.
    void this.deps.memberLists.of(message.conversationId).then(
      (members) => {
        for (const [subscription, session] of this.sessions.subscribersOf(message.conversationId) ?? []) {
          if (members.has(session.userId)) this.offer(session, subscription, message);
        }
      },
      (error: unknown) => this.deps.log.warn({ err: error, conversationId: message.conversationId }, 'mqtt: member lookup failed; devices catch up with the next message'),
    );
  }

  /** A relayed signal: at most once (QoS 0), to the subscribed devices on this node of the other members it is for; never stored. */
  signal(signal: SignalEvent, isFor: (userId: string) => boolean): void {
    let payload: Buffer | undefined;
    for (const [subscription, session] of this.sessions.subscribersOf(signal.conversationId) ?? []) {
      const link = session.link;
      // A device that is behind loses signals, never messages.
      if (link === undefined || link.inFlight >= MAX_IN_FLIGHT || subscription.cursor === undefined || session.userId === signal.senderId || !isFor(session.userId)) continue;
      payload ??= signalPayload(signal);
      link.inFlight += 1;
      link.client.publish({ cmd: 'publish', topic: subscription.topic, payload, qos: 0, retain: false, dup: false }, () => this.settle(session, link));
    }
  }

  /** A device acknowledged a QoS 1 delivery (aedes' `ack` event, with the packet as queued). */
  acknowledged(session: DeviceSession<Client>, client: Client, packet: { topic?: string; payload?: Buffer | string } | undefined): void {
    const link = session.link;
    if (link === undefined || link.client !== client || packet?.topic === undefined || packet.payload === undefined) return;
    const seq = payloadSeq(Buffer.from(packet.payload));
    for (const subscription of session.subscriptions.values()) {
      const cursor = subscription.cursor;
      if (subscription.topic !== packet.topic || seq === undefined || cursor === undefined) continue;
      cursor.acknowledged(seq);
      if (cursor.resumeAfter > 0) this.deps.receipts?.delivered(session.userId, subscription.conversationId, cursor.resumeAfter);
    }
    this.settle(session, link);
  }

  /** After the bus came back: messages published meanwhile may never have arrived here. */
  catchUpAll(): void {
    for (const session of this.sessions.linked()) {
      for (const subscription of session.subscriptions.values()) {
        subscription.cursor?.heardOf(Number.MAX_SAFE_INTEGER);
        void this.catchUp(session, subscription);
      }
    }
  }

  private async start(session: DeviceSession<Client>, subscription: ConversationSubscription): Promise<boolean> {
    let view: Awaited<ReturnType<DeviceDeliveryDeps['messaging']['conversationView']>>;
    try {
      view = await this.deps.messaging.conversationView(session.userId, subscription.conversationId);
    } catch (error) {
      this.deps.log.warn({ err: error, conversationId: subscription.conversationId }, 'mqtt: subscription refused, the store did not answer');
      view = undefined;
    }
    if (view === undefined || !view.active || view.kind === 'room' || session.subscriptions.get(subscription.conversationId) !== subscription) {
      this.sessions.removeSubscription(session, subscription.conversationId, subscription);
      return false;
    }
    subscription.cursor = new DeliveryCursor(view.lastSeq);
    subscription.cursor.heardOf(subscription.heardWhileLoading);
    if (subscription.cursor.behind) void this.catchUp(session, subscription);
    return true;
  }

  private async stillMember(session: DeviceSession<Client>, subscription: ConversationSubscription): Promise<boolean> {
    const view = await this.deps.messaging.conversationView(session.userId, subscription.conversationId).catch(() => undefined);
    if (view?.active === true) return true;
    this.sessions.removeSubscription(session, subscription.conversationId, subscription);
    return false;
  }

  private offer(session: DeviceSession<Client>, subscription: ConversationSubscription, message: StoredMessage): void {
    const cursor = subscription.cursor;
    if (cursor === undefined) {
      subscription.heardWhileLoading = Math.max(subscription.heardWhileLoading, message.seq);
      return;
    }
    const verdict = cursor.offer(message.seq);
    if (verdict === 'drop') return;
    const link = session.link;
    if (verdict === 'deliver' && link !== undefined && !subscription.catchingUp && link.inFlight < MAX_IN_FLIGHT) {
      this.handOver(session, link, subscription, cursor, message);
      return;
    }
    void this.catchUp(session, subscription);
  }

  /**
   * Reads what the subscription is behind from the store and hands it over,
   * page by page, while the device is connected and has room.
   */
  private async catchUp(session: DeviceSession<Client>, subscription: ConversationSubscription): Promise<void> {
    const cursor = subscription.cursor;
    if (cursor === undefined || subscription.catchingUp) return;
    subscription.catchingUp = true;
    try {
      for (let link = session.link; link !== undefined && cursor.behind; link = session.link) {
        const room = MAX_IN_FLIGHT - link.inFlight;
        if (room <= 0) {
          link.stalled = true;
          return;
        }
        const horizon = cursor.horizon;
        const page = await this.deps.messaging.pull(session.userId, subscription.conversationId, cursor.next, 0, Math.min(room, CATCH_UP_PAGE), false);
        if (session.link !== link || session.subscriptions.get(subscription.conversationId) !== subscription) return;
        for (const message of page.messages) this.handOver(session, link, subscription, cursor, message);
        if (page.messages.length > 0) cursor.passedOver(page.coveredTo);
        cursor.readUpTo(page.lastSeq, horizon);
      }
    } catch (error) {
      // Left, or the store did not answer: the next message of the conversation tries again.
      this.deps.log.warn({ err: error, conversationId: subscription.conversationId, clientId: session.clientId }, 'mqtt: catch-up failed');
      cursor.readUpTo(cursor.next - 1, cursor.horizon);
    } finally {
      subscription.catchingUp = false;
    }
  }

  /** Hands a message to the broker for the device, or passes over one the user may not read. */
  private handOver(session: DeviceSession<Client>, link: DeviceLink<Client>, subscription: ConversationSubscription, cursor: DeliveryCursor, message: StoredMessage): void {
    if (!cursor.wants(message.seq)) return;
    // Placeholders, system events and messages addressed to someone else keep the seq but are not shown.
    if (message.hidden === true || message.type !== 'user' || (message.visibleTo !== undefined && message.visibleTo !== session.userId)) {
      cursor.passedOver(message.seq);
      return;
    }
    const awaitingAck = subscription.qos === 1 && session.persistent;
    cursor.handedOver(message.seq, awaitingAck);
    link.inFlight += 1;
    link.client.publish({ cmd: 'publish', topic: subscription.topic, payload: messagePayload(message), qos: subscription.qos, retain: false, dup: false }, () => {
      if (!awaitingAck) this.settle(session, link);
    });
  }

  /** A delivery left the in-flight window; held-back subscriptions resume once half of it is free. */
  private settle(session: DeviceSession<Client>, link: DeviceLink<Client>): void {
    link.inFlight = Math.max(0, link.inFlight - 1);
    if (!link.stalled || link.inFlight > MAX_IN_FLIGHT / 2 || session.link !== link) return;
    link.stalled = false;
    for (const subscription of session.subscriptions.values()) if (subscription.cursor?.behind === true) void this.catchUp(session, subscription);
  }
}
