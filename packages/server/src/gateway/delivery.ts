/**
 * Delivery: turns committed events from the bus into pushes on this node's
 * connections. Each message is encoded once. The messages of one
 * conversation that commit in the same event-loop turn are joined into one
 * packet, built once, and the same bytes are queued on every recipient
 * connection: a busy group costs one write per member per turn, not one per
 * member per message (see flushPushes).
 *
 * Who gets a message: a message that names its recipients (a direct chat
 * or a small group: services/recipients.ts) goes to those users, each in a
 * stream of their own (on a routing bus every node gets one copy per user it
 * holds). Any other message goes to the members this node finds in its
 * member list (services/member-lists.ts, shared with MQTT and push, and
 * invalidated here on 'members' events); while a conversation's list loads,
 * its messages wait in arrival order, so pushes of one conversation never
 * overtake each other.
 */
import { type Clock, encodeFrameEntry, joinEntries } from '@parley/protocol';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { MemberList, MemberLists } from '../services/member-lists.js';
import type { MessagingService } from '../services/messaging.js';
import type { StoredMessage } from '../services/model.js';
import type { Timing } from '../util/metrics-sink.js';
import type { SessionRegistry } from './registry.js';
import { SeqOrder } from './seq-order.js';
import type { Session } from './session.js';
import { hiddenWireMessage, toWireMessage, toWireSummary } from './wire.js';

type MessageEvent = Extract<BusEvent, { type: 'message' }>;

/** A conversation's messages waiting for the end of the turn, with the members they go to. */
interface PendingPushes {
  members: readonly string[];
  events: MessageEvent[];
  /** Encoded pushes by event index: the message, and the placeholder for those it is not addressed to. */
  full: Array<Uint8Array | undefined>;
  hidden: Array<Uint8Array | undefined>;
  /** Connections that already got the first N events ahead of the batch (see beforeAck), by session id. */
  sentEarly?: Map<string, number>;
}

/** Large conversations whose last flush time is kept. */
const MAX_LARGE_FLUSH_TIMES = 20_000;
/** How long a message that overtook its predecessor on the bus waits for it. */
const SEQ_WAIT_MS = 200;
/** Seq positions kept: conversations, and one per user for addressed messages. */
const MAX_SEQ_STREAMS = 100_000;
/**
 * Conversations with at least this many members are flushed at most every
 * LARGE_FLUSH_INTERVAL_MS. Writing to a socket costs the same for one message
 * as for ten (the syscall is most of a delivery's cost), so a busy large group
 * waits a few milliseconds and sends its messages together; a quiet one, and
 * every small conversation, goes out at the end of the turn.
 */
const LARGE_CONVERSATION_MEMBERS = 64;
const LARGE_FLUSH_INTERVAL_MS = 5;

export class Delivery {
  /** Messages pushed to this node's connections since start, one per message per connection (the admin overview's "out"). */
  pushedMessages = 0;
  /** Messages waiting for their conversation's member list to load, in arrival order, by conversation. */
  private readonly waitingForMembers = new Map<string, MessageEvent[]>();
  /** Messages of one conversation committed on different nodes can arrive out of seq order: pushed in order (seq-order.ts). */
  private readonly seqOrder = new SeqOrder({ maxWaitMs: SEQ_WAIT_MS, maxConversations: MAX_SEQ_STREAMS });
  private readonly unsubscribe: () => void;
  private pending = new Map<string, PendingPushes>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** When each large conversation was last flushed (see LARGE_CONVERSATION_MEMBERS). */
  private readonly largeFlushedAt = new Map<string, number>();
  /** Set by timePushes. */
  private pushAges: PushAges | undefined;

  constructor(
    bus: Bus,
    private readonly services: {
      memberLists: Pick<MemberLists, 'of' | 'cached' | 'invalidate'>;
      messaging: Pick<MessagingService, 'conversationView' | 'totalUnread'>;
    },
    private readonly registry: SessionRegistry,
    private readonly log: Logger,
    flushSteps: { addFlushStep(step: () => void): () => void },
  ) {
    this.unsubscribe = bus.subscribe((event) => this.onEvent(event));
    // Pending pushes are written by the gateway's flush, in the same turn as
    // the connections' other output.
    this.requestFlush = flushSteps.addFlushStep(() => this.flushPushes(false));
  }

  private readonly requestFlush: () => void;

  /**
   * Times every push from its message's commit (createdAt, on `clock`) to
   * its hand-over to a connection, which writes it in the same flush
   * (parley_send_deliver_seconds).
   */
  timePushes(timing: Timing, clock: Clock): void {
    this.pushAges = new PushAges(timing, clock);
  }

  close(): void {
    this.unsubscribe();
    this.seqOrder.close();
    this.pending.clear();
    clearTimeout(this.flushTimer);
  }

  private onEvent(event: BusEvent): void {
    // Whatever else reaches a connection must not overtake the messages
    // published before it: write those first.
    if (event.type !== 'message') this.flushPushes(true);
    switch (event.type) {
      case 'message':
        if (event.recipients !== undefined) this.onAddressedMessage(event, event.recipients);
        else this.seqOrder.admit(event.message.conversationId, event.message.seq, () => this.onMessage(event));
        break;
      case 'members':
        // After the flush above: pushes queued under the old list went out with it.
        this.services.memberLists.invalidate(event.conversationId);
        break;
      case 'membership':
        void this.pushMembership(event.conversationId, event.userIds);
        break;
      case 'summary': {
        const sessions = this.registry.sessionsOf(event.userId);
        if (sessions === undefined) return;
        const entry = encodeFrameEntry({
          requestId: 0,
          body: { $case: 'conversationChanged', value: { summary: toWireSummary(event.summary), totalUnread: event.totalUnread } },
        });
        for (const session of sessions) if (session.id !== event.originSessionId) session.enqueue(entry);
        break;
      }
      case 'revoked':
        this.registry.closeUser(event.userId);
        break;
    }
  }

  /**
   * Pushes `conversation_changed` to the connected devices of users whose own
   * membership changed. Views are loaded only for users connected to this
   * node, so a change to a large group costs what its online members cost.
   */
  private async pushMembership(conversationId: string, userIds: readonly string[]): Promise<void> {
    for (const userId of new Set(userIds)) {
      if (this.registry.sessionsOf(userId) === undefined) continue;
      let entry: Uint8Array;
      try {
        const [summary, totalUnread] = await Promise.all([
          this.services.messaging.conversationView(userId, conversationId),
          this.services.messaging.totalUnread(userId),
        ]);
        if (summary === undefined) continue;
        entry = encodeFrameEntry({ requestId: 0, body: { $case: 'conversationChanged', value: { summary: toWireSummary(summary), totalUnread } } });
      } catch (error) {
        // The system message already told the user's devices to sync.
        this.log.error({ err: error, conversationId, userId }, 'membership view failed; push skipped');
        continue;
      }
      for (const session of this.registry.sessionsOf(userId) ?? []) session.enqueue(entry);
    }
  }

  /**
   * A message for named users: each user's pushes are put in seq order and
   * batched on their own (userStream), since a node gets one copy per user
   * it holds, possibly from several publishers in between. A user with no
   * connection here has their stream forgotten: until they connect here
   * again their messages go to other nodes, so the first one after that
   * starts the stream afresh instead of waiting for the ones in between.
   * (A device that connects reads what came before its welcome by sync.)
   */
  private onAddressedMessage(event: MessageEvent, recipients: readonly string[]): void {
    const { message } = event;
    // The removed member of a membership change is addressed like the others.
    const users = event.alsoNotify === undefined || event.alsoNotify.length === 0 ? recipients : [...new Set([...recipients, ...event.alsoNotify])];
    const addressed: MessageEvent = event.alsoNotify === undefined ? event : { ...event, alsoNotify: undefined };
    for (const userId of users) {
      const stream = userStream(message.conversationId, userId);
      if (this.registry.sessionsOf(userId) === undefined) this.seqOrder.forget(stream);
      else this.seqOrder.admit(stream, message.seq, () => this.push(stream, addressed, [userId]));
    }
  }

  private onMessage(event: MessageEvent): void {
    const conversationId = event.message.conversationId;
    const waiting = this.waitingForMembers.get(conversationId);
    if (waiting !== undefined) {
      waiting.push(event);
      return;
    }
    const members = this.services.memberLists.cached(conversationId);
    if (members !== undefined) {
      this.push(conversationId, event, members.ids);
      return;
    }
    const queue = [event];
    this.waitingForMembers.set(conversationId, queue);
    void this.load(conversationId, queue);
  }

  private async load(conversationId: string, queue: MessageEvent[]): Promise<void> {
    let members: MemberList;
    try {
      members = await this.services.memberLists.of(conversationId);
    } catch (error) {
      // Recipients resume by sync; dropping a push loses nothing stored.
      this.log.error({ err: error, conversationId }, 'member lookup failed; pushes skipped');
      this.waitingForMembers.delete(conversationId);
      return;
    }
    this.waitingForMembers.delete(conversationId);
    for (const event of queue) this.push(conversationId, event, members.ids);
  }

  /** `stream`: the conversation, or one user's stream of it (userStream). */
  private push(stream: string, event: MessageEvent, members: readonly string[]): void {
    const batch = this.pending.get(stream);
    if (batch === undefined) this.pending.set(stream, { members, events: [event], full: [], hidden: [] });
    else {
      // The cached list changes only on a 'members' event, which flushes first.
      batch.members = members;
      batch.events.push(event);
    }
    this.requestFlush();
  }

  /**
   * Writes the conversations' pending messages (see writeBatch); large
   * conversations flushed less than LARGE_FLUSH_INTERVAL_MS ago wait for a
   * timer unless `everything` (an event that must not overtake them).
   */
  private flushPushes(everything: boolean): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const now = performance.now();
    let nextDue = Number.POSITIVE_INFINITY;
    const batches = this.pending;
    this.pending = new Map();
    for (const [conversationId, batch] of batches) {
      if (batch.members.length >= LARGE_CONVERSATION_MEMBERS) {
        const due = (this.largeFlushedAt.get(conversationId) ?? Number.NEGATIVE_INFINITY) + LARGE_FLUSH_INTERVAL_MS;
        if (!everything && now < due) {
          this.pending.set(conversationId, batch);
          nextDue = Math.min(nextDue, due);
          continue;
        }
        this.rememberLargeFlush(conversationId, now);
      }
      this.writeBatch(batch);
    }
    if (this.pending.size > 0) this.flushTimer = setTimeout(() => this.requestFlush(), Math.max(0, nextDue - now));
  }

  private rememberLargeFlush(conversationId: string, now: number): void {
    if (this.largeFlushedAt.size >= MAX_LARGE_FLUSH_TIMES) {
      for (const [key, at] of this.largeFlushedAt) if (now - at >= LARGE_FLUSH_INTERVAL_MS) this.largeFlushedAt.delete(key);
    }
    this.largeFlushedAt.set(conversationId, now);
  }

  /**
   * Called right before a send's ack is queued on the connection that sent
   * it. Messages of the same conversation committed before the acked one may
   * still wait for the end of the turn; they are queued on that connection
   * now, so that its ack never overtakes them (a client would take the hole
   * for a gap and pull it). Everyone else still gets them in the batch.
   */
  beforeAck(session: Session, conversationId: string): void {
    if (session.userId === undefined) return;
    const stream = userStream(conversationId, session.userId);
    const batch = this.pending.get(stream) ?? this.pending.get(conversationId);
    if (batch === undefined) return;
    this.pushedMessages += enqueueOwnPacket(batch, session, session.userId, batch.sentEarly?.get(session.id) ?? 0, this.pushAges);
    batch.sentEarly ??= new Map();
    batch.sentEarly.set(session.id, batch.events.length);
  }

  /**
   * Queues one conversation's messages of this turn on its members'
   * connections. Most connections get the same packet: every message, with
   * placeholders for those addressed to someone else. The connection that
   * sent a message (it had it in its ack), the users a message is addressed
   * to, and connections that got the first messages early (beforeAck) get a
   * packet of their own.
   */
  private writeBatch(batch: PendingPushes): void {
    const { events, members } = batch;
    const origins = new Set<string>();
    const addressed = new Set<string>();
    for (const event of events) {
      if (event.originSessionId !== undefined) origins.add(event.originSessionId);
      if (event.message.visibleTo !== undefined) addressed.add(event.message.visibleTo);
    }
    let shared: Uint8Array | undefined;
    let sharedWrites = 0;
    const sharedPacket = (): Uint8Array => {
      shared ??= joinEntries(events.map((_, index) => entryAt(batch, index, '')));
      return shared;
    };
    for (const userId of members) {
      const sessions = this.registry.sessionsOf(userId);
      if (sessions === undefined) continue;
      for (const session of sessions) {
        const start = batch.sentEarly?.get(session.id) ?? 0;
        if (start === 0 && !origins.has(session.id) && !addressed.has(userId)) {
          session.writeOrEnqueue(sharedPacket());
          sharedWrites += 1;
          this.pushedMessages += events.length;
        } else this.pushedMessages += enqueueOwnPacket(batch, session, userId, start, this.pushAges);
      }
    }
    // Every connection handed the shared packet got all of its messages: each is timed once for all of them.
    if (sharedWrites > 0 && this.pushAges !== undefined) for (const event of events) this.pushAges.pushed(event.message, sharedWrites);
    // Users told about one message besides the members (someone just removed).
    for (let index = 0; index < events.length; index++) {
      const event = events[index] as MessageEvent;
      for (const userId of event.alsoNotify ?? []) {
        for (const session of this.registry.sessionsOf(userId) ?? []) {
          if (session.id === event.originSessionId) continue;
          session.enqueue(entryAt(batch, index, userId));
          this.pushedMessages += 1;
          this.pushAges?.pushed(event.message, 1);
        }
      }
    }
  }
}

/** The key of one user's pushes of a conversation (addressed messages), beside the conversation's own. */
function userStream(conversationId: string, userId: string): string {
  return `${conversationId}\u0000${userId}`;
}

/**
 * Queues on `session` a packet of its own: the batch's events from `start`,
 * as `userId` sees them, without the ones this session sent (it had them in
 * their acks). Returns how many messages it queued.
 */
function enqueueOwnPacket(batch: PendingPushes, session: Session, userId: string, start: number, ages: PushAges | undefined): number {
  const own: Uint8Array[] = [];
  for (let index = start; index < batch.events.length; index++) {
    const event = batch.events[index] as MessageEvent;
    if (event.originSessionId === session.id) continue;
    own.push(entryAt(batch, index, userId));
    ages?.pushed(event.message, 1);
  }
  if (own.length > 0) session.enqueue(joinEntries(own));
  return own.length;
}

/** The push of a batch's event as `userId` gets it, encoded once per batch. */
function entryAt(batch: PendingPushes, index: number, userId: string): Uint8Array {
  const message = (batch.events[index] as MessageEvent).message;
  const placeholder = message.visibleTo !== undefined && message.visibleTo !== userId;
  const cache = placeholder ? batch.hidden : batch.full;
  let bytes = cache[index];
  if (bytes === undefined) {
    bytes = placeholder ? entryOf(message, true) : fullEntryOf(message);
    cache[index] = bytes;
  }
  return bytes;
}

/**
 * A message's push, encoded once however many users' streams carry it: an
 * addressed message is batched per user, but on one node those batches
 * share the one message object they were handed.
 */
const fullEntries = new WeakMap<StoredMessage, Uint8Array>();

function fullEntryOf(message: StoredMessage): Uint8Array {
  let bytes = fullEntries.get(message);
  if (bytes === undefined) {
    bytes = entryOf(message, false);
    fullEntries.set(message, bytes);
  }
  return bytes;
}

function entryOf(message: StoredMessage, hidden: boolean): Uint8Array {
  return encodeFrameEntry({ requestId: 0, body: { $case: 'push', value: hidden ? hiddenWireMessage(message) : toWireMessage(message) } });
}

/** Records how old messages are (since their commit) when their pushes go to connections. */
class PushAges {
  constructor(
    private readonly timing: Timing,
    private readonly clock: Clock,
  ) {}

  /** `message` went to `connections` connections just now. */
  pushed(message: StoredMessage, connections: number): void {
    // Another node's clock may be a little ahead: a negative age counts as 0.
    this.timing.observe(Math.max(0, this.clock.now() - message.createdAt) / 1000, connections);
  }
}
