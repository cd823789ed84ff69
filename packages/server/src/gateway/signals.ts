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
 *
 * A signal with a `key` is also kept, in memory on every node, as the
 * sender's latest value for that key in the conversation (each member's last
 * location), for members who ask later (`signal_values`). Keyed signals
 * therefore reach every node; values lapse after VALUE_TTL_MS and are
 * bounded per conversation and in all.
 */
import { CUSTOM_TYPE_PATTERN, type Clock, type SignalEvent, encodeFrameEntry } from '@parley/protocol';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { MemberLists } from '../services/member-lists.js';
import { ROUTED_MEMBERS_MAX } from '../services/recipients.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Session } from './session.js';

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
  private readonly connections = new WeakMap<Session, ConnectionState>();
  /** Per conversation: "sender\0key" → the latest keyed signal. */
  private readonly values = new Map<string, Map<string, SignalEvent>>();
  private readonly unsubscribe: () => void;
  /** Signals relayed, and dropped (over the rate or size, not a member, bad input), since start. */
  readonly counts = { relayed: 0, dropped: 0 };

  constructor(private readonly deps: SignalDeps) {
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'signal') void this.deliver(event);
    });
  }

  /** From a session: its user sends a signal. */
  relay(session: Session, userId: string, request: { conversationId: string; type: string; data: Uint8Array; toUserId: string; key: string }): void {
    let state = this.connections.get(session);
    if (state === undefined) {
      state = { bucket: new TokenBucket(SIGNALS_PER_SECOND, SIGNAL_BURST), chain: Promise.resolve(), queued: 0 };
      this.connections.set(session, state);
    }
    const valid =
      CUSTOM_TYPE_PATTERN.test(request.type) && request.data.length <= MAX_SIGNAL_BYTES && request.key.length <= MAX_KEY_CHARS && request.conversationId.length > 0 && request.conversationId.length <= 80;
    if (!valid || state.queued >= MAX_QUEUED_PER_CONNECTION || state.bucket.take(this.deps.clock.now()) > 0) {
      this.counts.dropped += 1;
      return;
    }
    const connection = state;
    connection.queued += 1;
    connection.chain = connection.chain.then(async () => {
      connection.queued -= 1;
      await this.publish(userId, request);
    });
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

  private async publish(userId: string, request: { conversationId: string; type: string; data: Uint8Array; toUserId: string; key: string }): Promise<void> {
    let members: Awaited<ReturnType<MemberLists['of']>>;
    try {
      members = await this.deps.memberLists.of(request.conversationId);
    } catch {
      this.counts.dropped += 1;
      return;
    }
    if (!members.has(userId) || (request.toUserId !== '' && !members.has(request.toUserId))) {
      this.counts.dropped += 1;
      return;
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
  }

  /** To this node's connections of the members it is for (not the sender's own); keeps a keyed value. */
  private async deliver(event: SignalBusEvent): Promise<void> {
    const { signal } = event;
    if (signal.key !== '') this.keep(signal);
    let targets: readonly string[];
    if (signal.toUserId !== '') targets = [signal.toUserId];
    else if (event.recipients !== undefined) targets = event.recipients;
    else {
      try {
        targets = (await this.deps.memberLists.of(signal.conversationId)).ids;
      } catch {
        return;
      }
    }
    let entry: Uint8Array | undefined;
    for (const userId of targets) {
      if (userId === signal.senderId) continue;
      const sessions = this.deps.sessionsOf(userId);
      if (sessions === undefined) continue;
      entry ??= encodeFrameEntry({ requestId: 0, body: { $case: 'signalEvent', value: signal } });
      for (const session of sessions) session.enqueue(entry);
    }
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
