/**
 * Signals: ephemeral custom events a member sends to a conversation, or to
 * one of its members (a remote control's command, a location, a whiteboard
 * stroke, a game move). Nothing is stored or answered. The path is typing's
 * (typing.ts): the member-list cache says who may send and who gets it, a
 * bucket per connection bounds the rate, and the bus carries each signal,
 * routed per user in small conversations.
 *
 * Order per sender: each connection's signals go through one chain, so a
 * signal that waits for a member list to load is never overtaken by the next.
 * The same holds where they arrive: while one of a conversation's signals
 * waits for its member list, the conversation's next ones wait behind it.
 *
 * A signal with a `key` is also kept, in memory on every node, as the
 * sender's latest value for that key in the conversation (each member's last
 * location), for members who ask later (`signal_values`). Keyed signals
 * therefore reach every node; values lapse after VALUE_TTL_MS and are
 * bounded per conversation and in all.
 *
 * MQTT devices take part (mqtt/): a QoS 0 publish is relayed here like a
 * connection's signal, and every relayed signal is offered to the node's
 * subscribed devices too (onRelayed).
 */
import { CUSTOM_TYPE_PATTERN, type Clock, type SignalEvent, encodeFrameEntry } from '@parley/protocol';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { MemberLists } from '../services/member-lists.js';
import { ROUTED_MEMBERS_MAX } from '../services/recipients.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Session } from './session.js';

/** What a signal carries from its sender. */
export interface SignalInput {
  conversationId: string;
  type: string;
  data: Uint8Array;
  /** Empty: every other member. */
  toUserId: string;
  /** Empty: not kept. */
  key: string;
}

/** What became of a signal: relayed, dropped (bad input, rate, size), or refused because the sender or `toUserId` is not a member. */
export type SignalOutcome = 'relayed' | 'dropped' | 'not_member';

/** Told of each signal this node delivers: `isFor` says which members it is for (the sender is left to the listener). */
export type SignalListener = (signal: SignalEvent, isFor: (userId: string) => boolean) => void;

/** Largest signal data. */
export const MAX_SIGNAL_BYTES = 4096;
/** Per connection: enough for a location every second in a few conversations, or a whiteboard's batched strokes. */
export const SIGNALS_PER_SECOND = 20;
const SIGNAL_BURST = 40;
const MAX_KEY_CHARS = 64;
/** A kept value lapses this long after it was sent. */
export const VALUE_TTL_MS = 10 * 60_000;
const MAX_VALUES_PER_CONVERSATION = 1000;
const MAX_CONVERSATIONS_WITH_VALUES = 10_000;
/** Signals waiting in one connection's chain; past it they are dropped (a client flooding a slow member-list load). */
const MAX_QUEUED_PER_CONNECTION = 64;

export type SignalBusEvent = Extract<BusEvent, { type: 'signal' }>;

export interface SignalDeps {
  bus: Bus;
  memberLists: Pick<MemberLists, 'of'>;
  sessionsOf(userId: string): Iterable<Session> | undefined;
  clock: Clock;
}

interface ConnectionState {
  bucket: TokenBucket;
  chain: Promise<void>;
  queued: number;
}

export class SignalRelay {
  /** Per sending connection: a Session, or an MQTT device's connection. */
  private readonly connections = new WeakMap<object, ConnectionState>();
  private readonly listeners = new Set<SignalListener>();
  /** Per conversation: "sender\0key" → the latest keyed signal. */
  private readonly values = new Map<string, Map<string, SignalEvent>>();
  /** Per conversation: the last delivery still waiting for a member list; later ones queue behind it. */
  private readonly waiting = new Map<string, Promise<void>>();
  private readonly unsubscribe: () => void;
  /** Signals relayed, and dropped (over the rate or size, not a member, bad input), since start. */
  readonly counts = { relayed: 0, dropped: 0 };

  constructor(private readonly deps: SignalDeps) {
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'signal') this.deliver(event);
    });
  }

  /** `userId` sends a signal from `connection` (its session, or its MQTT connection). Resolves once it is relayed or refused; never rejects. */
  relay(connection: object, userId: string, request: SignalInput): Promise<SignalOutcome> {
    let state = this.connections.get(connection);
    if (state === undefined) {
      state = { bucket: new TokenBucket(SIGNALS_PER_SECOND, SIGNAL_BURST), chain: Promise.resolve(), queued: 0 };
      this.connections.set(connection, state);
    }
    const valid =
      CUSTOM_TYPE_PATTERN.test(request.type) && request.data.length <= MAX_SIGNAL_BYTES && request.key.length <= MAX_KEY_CHARS && request.conversationId.length > 0 && request.conversationId.length <= 80;
    if (!valid || state.queued >= MAX_QUEUED_PER_CONNECTION || state.bucket.take(this.deps.clock.now()) > 0) {
      this.counts.dropped += 1;
      return Promise.resolve('dropped');
    }
    const sender = state;
    sender.queued += 1;
    const outcome = sender.chain.then(() => {
      sender.queued -= 1;
      return this.publish(userId, request);
    });
    sender.chain = outcome.then(() => undefined);
    return outcome;
  }

  /** Calls `listener` for every signal delivered on this node, in order; returns the way to stop. */
  onRelayed(listener: SignalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The conversation's live keyed values a member may see (not addressed to someone else), newest first. */
  async valuesOf(userId: string, conversationId: string): Promise<SignalEvent[]> {
    const members = await this.deps.memberLists.of(conversationId);
    if (!members.has(userId)) return [];
    const now = this.deps.clock.now();
    const kept = this.values.get(conversationId);
    if (kept === undefined) return [];
    const shown: SignalEvent[] = [];
    for (const [slot, value] of kept) {
      if (now - value.sentAt > VALUE_TTL_MS || !members.has(value.senderId)) kept.delete(slot);
      else if (value.toUserId === '' || value.toUserId === userId || value.senderId === userId) shown.push(value);
    }
    return shown.sort((a, b) => b.sentAt - a.sentAt);
  }

  close(): void {
    this.unsubscribe();
  }

  private async publish(userId: string, request: SignalInput): Promise<SignalOutcome> {
    let members: Awaited<ReturnType<MemberLists['of']>>;
    try {
      members = await this.deps.memberLists.of(request.conversationId);
    } catch {
      this.counts.dropped += 1;
      return 'dropped';
    }
    if (!members.has(userId) || (request.toUserId !== '' && !members.has(request.toUserId))) {
      this.counts.dropped += 1;
      return 'not_member';
    }
    this.counts.relayed += 1;
    const signal: SignalEvent = {
      conversationId: request.conversationId,
      senderId: userId,
      type: request.type,
      data: request.data,
      toUserId: request.toUserId,
      key: request.key,
      sentAt: this.deps.clock.now(),
    };
    // Keyed values are kept on every node: those go everywhere. Others are routed when the conversation is small.
    const recipients =
      request.key !== '' ? undefined : request.toUserId !== '' ? [request.toUserId] : members.ids.length <= ROUTED_MEMBERS_MAX ? members.ids.filter((id) => id !== userId) : undefined;
    this.deps.bus.publish({ type: 'signal', signal, recipients });
    return 'relayed';
  }

  /** To this node's connections of the members it is for (not the sender's own); keeps a keyed value. */
  private deliver(event: SignalBusEvent): void {
    const { signal } = event;
    if (signal.key !== '') this.keep(signal);
    const conversationId = signal.conversationId;
    const named = signal.toUserId !== '' ? [signal.toUserId] : event.recipients;
    const earlier = this.waiting.get(conversationId);
    if (named !== undefined && earlier === undefined) {
      this.write(signal, named, (userId) => named.includes(userId));
      return;
    }
    const delivered = (earlier ?? Promise.resolve()).then(async () => {
      try {
        if (named !== undefined) this.write(signal, named, (userId) => named.includes(userId));
        else {
          const members = await this.deps.memberLists.of(conversationId);
          this.write(signal, members.ids, (userId) => members.has(userId));
        }
      } catch {
        // No member list, no recipients: a signal is never retried.
      }
    });
    this.waiting.set(conversationId, delivered);
    void delivered.then(() => {
      if (this.waiting.get(conversationId) === delivered) this.waiting.delete(conversationId);
    });
  }

  private write(signal: SignalEvent, targets: readonly string[], isFor: (userId: string) => boolean): void {
    let entry: Uint8Array | undefined;
    for (const userId of targets) {
      if (userId === signal.senderId) continue;
      const sessions = this.deps.sessionsOf(userId);
      if (sessions === undefined) continue;
      entry ??= encodeFrameEntry({ requestId: 0, body: { $case: 'signalEvent', value: signal } });
      for (const session of sessions) session.enqueue(entry);
    }
    for (const listener of this.listeners) listener(signal, isFor);
  }

  private keep(signal: SignalEvent): void {
    let kept = this.values.get(signal.conversationId);
    if (kept === undefined) {
      if (this.values.size >= MAX_CONVERSATIONS_WITH_VALUES) this.dropOldestConversation();
      kept = new Map();
      this.values.set(signal.conversationId, kept);
    }
    const slot = `${signal.senderId}\0${signal.key}`;
    kept.delete(slot);
    if (signal.data.length === 0) return;
    if (kept.size >= MAX_VALUES_PER_CONVERSATION) {
      const oldest = kept.keys().next().value;
      if (oldest !== undefined) kept.delete(oldest);
    }
    kept.set(slot, signal);
  }

  private dropOldestConversation(): void {
    const oldest = this.values.keys().next().value;
    if (oldest !== undefined) this.values.delete(oldest);
  }
}
