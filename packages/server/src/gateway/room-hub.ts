/**
 * RoomHub: this node's side of live rooms. It holds each room's local
 * audience (the sessions that joined it here), takes viewers' ephemeral
 * events in (checks, per-user rate, the room's budget), and once per tick
 * sends every active room one RoomBatch: the reliable messages committed
 * since the last tick plus those of the few ticks before (carried again), the
 * tick's ephemeral events (sampled to a bound, likes and joins merged), and
 * the online count when it changed. A batch is encoded once and the same bytes
 * go to every viewer; a viewer whose connection holds unsent bytes gets a
 * lean copy without the ephemeral events, and one that cannot take even those
 * is closed as a slow consumer (it re-joins and pulls).
 *
 * Everything a room's viewers see crosses the bus once per node: a reliable
 * message, an ephemeral event, a tick's merged likes and joins, and each
 * node's share of the online count every few seconds (bus.ts).
 */
import {
  type Clock,
  ParleyError,
  type RoomBatch,
  type RoomEvent,
  RoomEventKind,
  type RoomEventRequest,
  type RoomInfo,
  type RoomJoined,
  type RoomViewer,
  encodeFrameEntry,
} from '@parley/protocol';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { type Bus, type BusEvent, roomRoute } from '../bus/bus.js';
import type { RoomLimits } from '../config.js';
import type { MemberRole, StoredMessage } from '../services/model.js';
import type { RoomEventRecord, RoomService, RoomView, RoomViewerRecord } from '../services/rooms.js';
import { requireConversationId } from '../services/validate.js';
import { Admission } from '../util/admission.js';
import { setMostRecent } from '../util/recent-map.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Session } from './session.js';
import { roleToWire, toWireMessage } from './wire.js';

/** A room without viewers here is forgotten after this long (a quick re-join finds it warm). */
const IDLE_ROOM_MS = 30_000;
/** Per-room activity scores kept for the top-viewers list; past twice this, the lowest go. */
const MAX_SCORES = 1000;
/** Users whose event buckets are kept (they outlive connections, like send buckets). */
const MAX_TRACKED_USERS = 100_000;
/** The reservoir holds the largest batch any setting allows (see eventCap). */
const MAX_STRETCH = 4;
/** A batch with nothing but joins and counts goes out at most this often. */
const QUIET_BATCH_MS = 1000;
/** A node's statistics count for this many intervals after they were sent. */
const STATS_VALID_INTERVALS = 3;

interface Merged {
  count: number;
  senderId: string;
  senderName: string;
}

interface NodeStats {
  online: number;
  top: RoomViewerRecord[];
  at: number;
}

/** One room as this node serves it. */
class LocalRoom {
  readonly viewers = new Set<Session>();
  view: RoomView | undefined;
  ready: Promise<void> | undefined;
  /** This node declared interest in the room's bus route (withdrawn when the room is forgotten). */
  routed = false;
  /** Reliable messages that arrived while the room was loading. */
  early: StoredMessage[] = [];
  lastSeq = 0;
  /** The newest reliable messages, ascending, for joins. */
  recent: StoredMessage[] = [];
  /** Reliable messages still to go out: in the next batch, then `batchesLeft - 1` more times. */
  carried: Array<{ message: StoredMessage; batchesLeft: number }> = [];
  /** The tick's sampled ephemeral events, with their arrival numbers to keep their order. */
  events: Array<{ event: RoomEventRecord; order: number }> = [];
  seen = 0;
  skipped = 0;
  likes: Merged | undefined;
  joins: Merged | undefined;
  /** Likes and joins of this node's viewers, published merged once per tick. */
  ingressLikes: Merged | undefined;
  ingressJoins: Merged | undefined;
  readonly roles = new Map<string, MemberRole>();
  readonly mutes = new Map<string, number>();
  readonly budget: TokenBucket;
  readonly scores = new Map<string, { name: string; score: number }>();
  readonly nodes = new Map<string, NodeStats>();
  sentOnline = 0;
  sentTop = '';
  /** The merged top viewers as of the last statistics (noteStats): joins and batches reuse it instead of sorting again. */
  top: RoomViewer[] = [];
  statsDue = false;
  closing = false;
  idleSince = 0;
  /** When the last batch went out (performance.now()). */
  lastBatchAt = 0;

  constructor(
    readonly id: string,
    limits: RoomLimits,
  ) {
    this.budget = new TokenBucket(limits.roomEventsPerSecond, limits.roomEventsPerSecond);
  }
}

export interface RoomHubDeps {
  bus: Bus;
  rooms: RoomService;
  limits: RoomLimits;
  nodeId: string;
  clock: Clock;
  log: Logger;
  /** A user's display name, for their events. */
  userName(userId: string): Promise<string>;
}

/** What the hub did since start, for the bench and the operations view. */
export interface RoomHubCounters {
  /** Batches written (one per room per tick with something to say). */
  batches: number;
  /** Events and new reliable messages inside batches, summed over viewers. */
  deliveries: number;
  /** Batches a lagging viewer got without their ephemeral events. */
  leanWrites: number;
  /** Ephemeral events refused by a room's budget at this node. */
  overBudget: number;
  /** Ephemeral events sampled out of a tick. */
  sampledOut: number;
  /** Joins refused by this node's join admission (joinsPerSecond). */
  joinsRefused: number;
  /** Ephemeral events refused for a user's rate (userEventsPerSecond). */
  eventsRefused: number;
}

export class RoomHub {
  readonly counters: RoomHubCounters = { batches: 0, deliveries: 0, leanWrites: 0, overBudget: 0, sampledOut: 0, joinsRefused: 0, eventsRefused: 0 };
  private readonly rooms = new Map<string, LocalRoom>();
  /** Rooms with something to send at the next tick. */
  private readonly active = new Set<LocalRoom>();
  private readonly userBuckets = new Map<string, TokenBucket>();
  private readonly joinAdmission: Admission;
  private readonly unsubscribe: () => void;
  private readonly tickTimer: ReturnType<typeof setInterval>;
  private readonly statsTimer: ReturnType<typeof setInterval>;
  private order = 0;

  constructor(private readonly deps: RoomHubDeps) {
    this.joinAdmission = new Admission(deps.limits.joinsPerSecond, deps.limits.joinBurst);
    this.unsubscribe = deps.bus.subscribe((event) => this.onBusEvent(event));
    // Pacing, not protocol time: real timers, like the socket writes they pace.
    this.tickTimer = setInterval(() => this.tick(), deps.limits.tickMs);
    this.tickTimer.unref();
    this.statsTimer = setInterval(() => this.shareStats(), deps.limits.statsIntervalMs);
    this.statsTimer.unref();
  }

  close(): void {
    clearInterval(this.tickTimer);
    clearInterval(this.statsTimer);
    this.unsubscribe();
    this.rooms.clear();
    this.active.clear();
  }

  /**
   * Brings every room this node serves up to date from the store: reliable
   * messages (and a closing) whose bus events were lost while the bus was
   * out of reach go out in the next batches (gateway/bus-recovery.ts).
   */
  async catchUp(): Promise<void> {
    for (const room of [...this.rooms.values()]) {
      if (room.view === undefined || room.view.closed) continue;
      const state = await this.deps.rooms.load(room.id);
      for (const message of state.recent) this.addReliable(room, message);
    }
  }

  /** A room's online count as this node knows it (0 when it serves no viewers of it). */
  onlineCount(roomId: string): number {
    const room = this.rooms.get(roomId);
    return room === undefined ? 0 : this.online(room);
  }

  /** Rooms this node holds viewers for, with their local audience (operations view). */
  roomSizes(): Map<string, number> {
    return new Map([...this.rooms.values()].map((room) => [room.id, room.viewers.size]));
  }

  /** Ephemeral events taken in and waiting for the next batch of their room (operations view). */
  pendingEvents(): number {
    let pending = 0;
    for (const room of this.active) pending += room.events.length;
    return pending;
  }

  // ---- requests ----

  /**
   * Joins the session to a room. `afterSeq` > 0 is a re-join: the answer's
   * recent messages start after it. The session is added to the audience in
   * the same turn as its answer is queued, so every batch it gets follows
   * the answer.
   */
  async join(session: Session, roomId: string, afterSeq: number): Promise<RoomJoined> {
    const id = requireConversationId(roomId);
    const userId = session.userId as string;
    const limits = this.deps.limits;
    const already = session.rooms?.has(id) ?? false;
    if (!already && (session.rooms?.size ?? 0) >= limits.maxRoomsPerConnection) {
      throw new ParleyError('LIMIT_EXCEEDED', `at most ${limits.maxRoomsPerConnection} rooms per connection`);
    }
    const wait = this.joinAdmission.admit(this.deps.clock.now());
    if (wait > 0) {
      this.counters.joinsRefused += 1;
      throw new ParleyError('RATE_LIMITED', 'too many joins at once; join again shortly', { retryAfterMs: wait });
    }
    const room = await this.load(id);
    if (room.view?.closed) throw new ParleyError('ROOM_CLOSED', 'the room was closed');
    session.displayName ??= await this.deps.userName(userId);
    const recent = await this.recentFor(room, afterSeq);
    if (session.isClosed) throw new ParleyError('CLOSED', 'the connection closed');
    if (room.view?.closed) throw new ParleyError('ROOM_CLOSED', 'the room was closed');
    // Forgotten while this join waited (idle): serve it again. Reliable
    // messages committed while the route was withdrawn are learnt from the
    // next batch's last_seq, and viewers pull them.
    if (this.rooms.get(id) !== room) {
      this.rooms.set(id, room);
      await this.route(room);
    }
    room.viewers.add(session);
    room.idleSince = 0;
    session.rooms ??= new Set();
    session.rooms.add(id);
    if (!already) room.ingressJoins = merge(room.ingressJoins, 1, userId, session.displayName);
    this.active.add(room);
    const mutedUntil = room.mutes.get(userId) ?? 0;
    return {
      room: this.wireInfo(room),
      recent: recent.map(toWireMessage),
      online: this.online(room),
      topViewers: room.top,
      role: roleToWire(room.roles.get(userId) ?? 'member'),
      mutedUntil: mutedUntil > this.deps.clock.now() ? mutedUntil : 0,
    };
  }

  leave(session: Session, roomId: string): void {
    const id = requireConversationId(roomId);
    if (session.rooms?.delete(id) !== true) return;
    const room = this.rooms.get(id);
    if (room === undefined) return;
    room.viewers.delete(session);
    if (room.viewers.size === 0) room.idleSince = this.deps.clock.now();
  }

  /** The session closed: it leaves every room it was in. */
  removeSession(session: Session): void {
    if (session.rooms === undefined) return;
    for (const id of session.rooms) this.leave(session, id);
  }

  /**
   * An ephemeral event from a viewer. Refused when the connection is not in
   * the room, the user is muted or sends too fast; accepted and dropped when
   * the room is over its budget (best effort: the sender is not told).
   */
  event(session: Session, request: RoomEventRequest): void {
    const id = requireConversationId(request.roomId);
    const userId = session.userId as string;
    const room = session.rooms?.has(id) ? this.rooms.get(id) : undefined;
    if (room === undefined) throw new ParleyError('FORBIDDEN', 'join the room first');
    if (room.view?.closed) throw new ParleyError('ROOM_CLOSED', 'the room was closed');
    const now = this.deps.clock.now();
    const mutedUntil = room.mutes.get(userId) ?? 0;
    // The hint says how long the mute still runs (not a retry for the same event).
    if (mutedUntil > now) throw new ParleyError('FORBIDDEN', `muted in this room until ${new Date(mutedUntil).toISOString()}`, { retryAfterMs: mutedUntil - now });
    const input = request.event;
    if (input === undefined) throw new ParleyError('INVALID_ARGUMENT', 'a room event needs an event');
    const record = this.deps.rooms.checkEvent(input, { id: userId, name: session.displayName ?? userId });
    const wait = this.bucketOf(userId).take(now);
    if (wait > 0) {
      this.counters.eventsRefused += 1;
      throw new ParleyError('RATE_LIMITED', 'sending room events too fast', { retryAfterMs: wait });
    }
    this.addScore(room, userId, record.senderName, record.kind === 'like' ? (record.count ?? 1) : 1);
    if (record.kind === 'like') {
      // Never dropped: merged here and published once per tick.
      room.ingressLikes = merge(room.ingressLikes, record.count ?? 1, userId, record.senderName);
      this.active.add(room);
      return;
    }
    if (room.budget.take(now) > 0) {
      room.skipped += 1;
      this.counters.overBudget += 1;
      this.active.add(room);
      return;
    }
    this.deps.bus.publish({ type: 'roomEvent', roomId: id, event: record });
  }

  // ---- bus ----

  private onBusEvent(event: BusEvent): void {
    switch (event.type) {
      case 'roomMessage':
        this.onReliable(event.message);
        return;
      case 'roomEvent':
        this.onEphemeral(event.roomId, event.event);
        return;
      case 'roomStats':
        this.onStats(event.roomId, event.nodeId, event.online, event.top);
        return;
      case 'roomPerson': {
        const room = this.rooms.get(event.roomId);
        if (room === undefined) return;
        applyPerson(room, event.userId, event.role, event.mutedUntil);
        return;
      }
      default:
        return;
    }
  }

  private onReliable(message: StoredMessage): void {
    const room = this.rooms.get(message.conversationId);
    if (room === undefined) return;
    if (room.view === undefined) {
      room.early.push(message);
      return;
    }
    this.addReliable(room, message);
  }

  private addReliable(room: LocalRoom, message: StoredMessage): void {
    if (message.seq <= room.lastSeq) return;
    room.lastSeq = message.seq;
    room.recent.push(message);
    if (room.recent.length > this.deps.limits.joinRecent) room.recent.shift();
    room.carried.push({ message, batchesLeft: 1 + this.deps.limits.repeatBatches });
    if (message.type === 'system') {
      // The only system event a room has: it was closed.
      room.closing = true;
      if (room.view !== undefined) room.view.closed = true;
    } else if (message.senderId !== '') {
      this.addScore(room, message.senderId, '', 10);
      // A gift's sender may never have joined here: look the name up once.
      const entry = room.scores.get(message.senderId);
      if (entry !== undefined && entry.name === '') {
        this.deps.userName(message.senderId).then(
          (name) => {
            if (entry.name === '') entry.name = name;
          },
          () => undefined,
        );
      }
    }
    this.active.add(room);
  }

  private onEphemeral(roomId: string, event: RoomEventRecord): void {
    const room = this.rooms.get(roomId);
    if (room === undefined || room.viewers.size === 0) return;
    this.active.add(room);
    if (event.kind === 'like') {
      room.likes = merge(room.likes, event.count ?? 1, event.senderId, event.senderName);
      return;
    }
    if (event.kind === 'joined') {
      room.joins = merge(room.joins, event.count ?? 1, event.senderId, event.senderName);
      return;
    }
    // Reservoir sampling: every event of the tick has the same chance to be
    // among the batch's, however many arrive (room for a stretched tick's
    // worth; takeEvents cuts it to the batch's share).
    room.seen += 1;
    const max = this.deps.limits.maxEventsPerBatch * MAX_STRETCH;
    const entry = { event, order: this.order++ };
    if (room.events.length < max) {
      room.events.push(entry);
      return;
    }
    room.skipped += 1;
    this.counters.sampledOut += 1;
    const slot = Math.floor(Math.random() * room.seen);
    if (slot < max) room.events[slot] = entry;
  }

  private onStats(roomId: string, nodeId: string, online: number, top: RoomViewerRecord[]): void {
    const room = this.rooms.get(roomId);
    if (room === undefined) return;
    if (nodeId !== this.deps.nodeId) room.nodes.set(nodeId, { online, top, at: this.deps.clock.now() });
    this.noteStats(room);
  }

  // ---- ticks ----

  private tick(): void {
    // Merged likes and joins of this node's viewers go out first, so that
    // with the in-process bus they are in this very tick's batches.
    for (const room of this.active) this.publishIngress(room);
    for (const room of [...this.active]) {
      try {
        this.flushRoom(room);
      } catch (error) {
        this.deps.log.error({ err: error, roomId: room.id }, 'room batch failed');
        this.active.delete(room);
      }
    }
  }

  private publishIngress(room: LocalRoom): void {
    const bus = this.deps.bus;
    if (room.ingressLikes !== undefined) {
      const likes = room.ingressLikes;
      room.ingressLikes = undefined;
      bus.publish({ type: 'roomEvent', roomId: room.id, event: { kind: 'like', senderId: likes.senderId, senderName: likes.senderName, count: likes.count } });
    }
    if (room.ingressJoins !== undefined) {
      const joins = room.ingressJoins;
      room.ingressJoins = undefined;
      bus.publish({ type: 'roomEvent', roomId: room.id, event: { kind: 'joined', senderId: joins.senderId, senderName: joins.senderName, count: joins.count } });
    }
  }

  private flushRoom(room: LocalRoom): void {
    const urgent = room.carried.length > 0 || room.events.length > 0 || room.likes !== undefined || room.skipped > 0 || room.closing;
    if (!urgent) {
      if (room.joins === undefined && !room.statsDue) {
        this.active.delete(room);
        return;
      }
      // Joins and counts alone wait for a quiet batch: in a join surge a
      // batch per tick to every viewer, to say "+12 joined", would cost as
      // much as the chat of a busy room.
      if (performance.now() - room.lastBatchAt < QUIET_BATCH_MS) return;
    }
    const now = performance.now();
    const elapsed = room.lastBatchAt === 0 ? this.deps.limits.tickMs : now - room.lastBatchAt;
    room.lastBatchAt = now;
    const events = this.takeEvents(room, this.eventCap(elapsed));
    const fresh = room.carried.filter((item) => item.batchesLeft === 1 + this.deps.limits.repeatBatches).length;
    const batch: RoomBatch = {
      roomId: room.id,
      lastSeq: room.lastSeq,
      reliable: room.carried.map((item) => toWireMessage(item.message)),
      events,
      skipped: room.skipped,
      online: 0,
      topViewers: [],
      closed: room.closing,
    };
    if (room.statsDue) {
      batch.online = this.online(room);
      batch.topViewers = room.top;
      room.statsDue = false;
    }
    room.skipped = 0;
    for (const item of room.carried) item.batchesLeft -= 1;
    room.carried = room.carried.filter((item) => item.batchesLeft > 0);
    if (room.viewers.size > 0) this.write(room, batch, fresh);
    if (room.closing) this.dismiss(room);
  }

  /**
   * How many sampled events a batch carries: maxEventsPerBatch per tick's
   * worth of time since the last batch, up to maxBatchStretch ticks' worth.
   * Past 1, a node too busy to keep the tick (thousands of viewers to write
   * to) sends batches less often that carry more, so viewers keep more of
   * the chatter, at the price of longer write cycles for reliable messages.
   */
  private eventCap(elapsedMs: number): number {
    const { maxEventsPerBatch, tickMs, maxBatchStretch } = this.deps.limits;
    const stretch = Math.min(MAX_STRETCH, Math.max(1, maxBatchStretch));
    return Math.round(maxEventsPerBatch * Math.min(stretch, Math.max(1, elapsedMs / tickMs)));
  }

  /** The tick's events (a uniform sample of at most `cap`) in arrival order, merged likes and joins last; resets the tick. */
  private takeEvents(room: LocalRoom, cap: number): RoomEvent[] {
    const kept = room.events;
    while (kept.length > cap) {
      const index = Math.floor(Math.random() * kept.length);
      kept[index] = kept[kept.length - 1] as (typeof kept)[number];
      kept.pop();
      room.skipped += 1;
      this.counters.sampledOut += 1;
    }
    const events = kept.sort((a, b) => a.order - b.order).map(({ event }) => toWireEvent(event));
    if (room.joins !== undefined) events.push(mergedEvent(RoomEventKind.ROOM_EVENT_KIND_JOINED, room.joins));
    if (room.likes !== undefined) events.push(mergedEvent(RoomEventKind.ROOM_EVENT_KIND_LIKE, room.likes));
    room.events = [];
    room.seen = 0;
    room.likes = undefined;
    room.joins = undefined;
    return events;
  }

  /** One encoding for every viewer; a lean one, made once when the first lagging viewer needs it. */
  private write(room: LocalRoom, batch: RoomBatch, freshReliable: number): void {
    const full = encodeFrameEntry({ requestId: 0, body: { $case: 'roomBatch', value: batch } });
    let lean: Uint8Array | undefined;
    const leanOf =
      batch.events.length === 0
        ? undefined
        : () => {
            this.counters.leanWrites += 1;
            lean ??= encodeFrameEntry({ requestId: 0, body: { $case: 'roomBatch', value: { ...batch, events: [], skipped: batch.skipped + batch.events.length } } });
            return lean;
          };
    const flow = { lagBytes: this.deps.limits.lagBytes, windowBytes: this.deps.limits.windowBytes };
    for (const session of room.viewers) session.writeRoomBatch(full, leanOf, flow);
    this.counters.batches += 1;
    this.counters.deliveries += room.viewers.size * (batch.events.length + freshReliable);
  }

  /** After the closing batch: every viewer has left the room. */
  private dismiss(room: LocalRoom): void {
    for (const session of room.viewers) session.rooms?.delete(room.id);
    room.viewers.clear();
    this.forget(room);
    this.active.delete(room);
  }

  /** Declares this node's interest in the room's traffic; resolves once the bus routes it here. */
  private async route(room: LocalRoom): Promise<void> {
    if (room.routed) return;
    room.routed = true;
    await this.deps.bus.interest?.(roomRoute(room.id), true);
  }

  /** Drops the room from this node, and its traffic from the bus's routing to this node. */
  private forget(room: LocalRoom): void {
    if (this.rooms.get(room.id) === room) this.rooms.delete(room.id);
    if (!room.routed) return;
    room.routed = false;
    void this.deps.bus.interest?.(roomRoute(room.id), false);
  }

  // ---- statistics ----

  /** Every few seconds: this node's share of each room's audience goes to every node; idle rooms are forgotten. */
  private shareStats(): void {
    const now = this.deps.clock.now();
    for (const room of [...this.rooms.values()]) {
      if (room.view === undefined) continue;
      if (room.viewers.size === 0) {
        // Loaded by a join that was refused (a closed room) or left by everyone: forgotten after a while.
        if (room.idleSince === 0) room.idleSince = now;
        if ((room.view.closed || now - room.idleSince > IDLE_ROOM_MS) && !this.active.has(room)) this.forget(room);
        continue;
      }
      this.deps.bus.publish({ type: 'roomStats', roomId: room.id, nodeId: this.deps.nodeId, online: room.viewers.size, top: this.localTop(room) });
      this.noteStats(room);
    }
  }

  /** Marks the room's online count and top list for the next batch when they changed. */
  private noteStats(room: LocalRoom): void {
    const online = this.online(room);
    const top = this.top(room);
    const topKey = top.map((viewer) => `${viewer.userId}:${viewer.score}`).join(',');
    if (online === room.sentOnline && topKey === room.sentTop) return;
    room.sentOnline = online;
    room.sentTop = topKey;
    room.top = top.map(toWireViewer);
    room.statsDue = true;
    this.active.add(room);
  }

  /** This node's viewers plus what the other nodes last reported. */
  private online(room: LocalRoom): number {
    let online = room.viewers.size;
    const oldest = this.deps.clock.now() - STATS_VALID_INTERVALS * this.deps.limits.statsIntervalMs;
    for (const [nodeId, stats] of room.nodes) {
      if (stats.at < oldest) room.nodes.delete(nodeId);
      else online += stats.online;
    }
    return online;
  }

  private top(room: LocalRoom): RoomViewerRecord[] {
    const best = new Map<string, RoomViewerRecord>();
    // A user's score is counted where their connection is; the highest report wins.
    for (const viewer of [...this.localTop(room), ...[...room.nodes.values()].flatMap((stats) => stats.top)]) {
      const known = best.get(viewer.userId);
      if (known === undefined || viewer.score > known.score) best.set(viewer.userId, { ...viewer, name: viewer.name || known?.name || viewer.userId });
    }
    return [...best.values()].sort((a, b) => b.score - a.score || a.userId.localeCompare(b.userId)).slice(0, this.deps.limits.topViewers);
  }

  private localTop(room: LocalRoom): RoomViewerRecord[] {
    return [...room.scores]
      .map(([userId, { name, score }]) => ({ userId, name: name || userId, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, this.deps.limits.topViewers);
  }

  private addScore(room: LocalRoom, userId: string, name: string, points: number): void {
    const entry = room.scores.get(userId);
    if (entry !== undefined) {
      entry.score += points;
      if (name !== '') entry.name = name;
      return;
    }
    room.scores.set(userId, { name, score: points });
    if (room.scores.size > 2 * MAX_SCORES) {
      const kept = [...room.scores].sort((a, b) => b[1].score - a[1].score).slice(0, MAX_SCORES);
      room.scores.clear();
      for (const [id, value] of kept) room.scores.set(id, value);
    }
  }

  // ---- loading ----

  /** The room as this node serves it, loaded once (joins that come meanwhile wait for the same load). */
  private async load(id: string): Promise<LocalRoom> {
    let room = this.rooms.get(id);
    if (room === undefined) {
      const created = new LocalRoom(id, this.deps.limits);
      room = created;
      // Routed before the state is read: every reliable message committed
      // after the read reaches this node (as `early` while loading).
      created.ready = this.route(created).then(() => this.deps.rooms.load(id)).then((state) => {
        created.view = state.room;
        created.lastSeq = state.room.lastSeq;
        created.recent = state.recent;
        for (const person of state.people) applyPerson(created, person.userId, person.role, person.mutedUntil);
        const early = created.early;
        created.early = [];
        for (const message of early) this.addReliable(created, message);
      });
      this.rooms.set(id, created);
      created.ready.catch(() => this.forget(created));
    }
    await room.ready;
    return room;
  }

  private async recentFor(room: LocalRoom, afterSeq: number): Promise<StoredMessage[]> {
    if (afterSeq <= 0) return [...room.recent];
    if (afterSeq >= room.lastSeq) return [];
    const first = room.recent[0];
    if (first !== undefined && first.seq <= afterSeq + 1) return room.recent.filter((message) => message.seq > afterSeq);
    return this.deps.rooms.messagesAfter(room.id, afterSeq, room.lastSeq);
  }

  private bucketOf(userId: string): TokenBucket {
    let bucket = this.userBuckets.get(userId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.deps.limits.userEventsPerSecond, this.deps.limits.userEventBurst);
      setMostRecent(this.userBuckets, userId, bucket, MAX_TRACKED_USERS);
    }
    return bucket;
  }

  private wireInfo(room: LocalRoom): RoomInfo {
    const view = room.view as RoomView;
    return { id: view.id, name: view.name, hostId: view.hostId, lastSeq: room.lastSeq, closed: view.closed, createdAt: view.createdAt };
  }
}

function applyPerson(room: LocalRoom, userId: string, role: MemberRole, mutedUntil: number): void {
  if (role === 'member') room.roles.delete(userId);
  else room.roles.set(userId, role);
  if (mutedUntil > 0) room.mutes.set(userId, mutedUntil);
  else room.mutes.delete(userId);
}

function merge(into: Merged | undefined, count: number, senderId: string, senderName: string): Merged {
  if (into === undefined) return { count, senderId, senderName };
  into.count += count;
  into.senderId = senderId;
  into.senderName = senderName;
  return into;
}

const WIRE_EVENT_KINDS = {
  chat: RoomEventKind.ROOM_EVENT_KIND_CHAT,
  like: RoomEventKind.ROOM_EVENT_KIND_LIKE,
  joined: RoomEventKind.ROOM_EVENT_KIND_JOINED,
  custom: RoomEventKind.ROOM_EVENT_KIND_CUSTOM,
} as const;

function toWireEvent(event: RoomEventRecord): RoomEvent {
  return {
    kind: WIRE_EVENT_KINDS[event.kind],
    senderId: event.senderId,
    senderName: event.senderName,
    text: event.text ?? '',
    count: event.count ?? 0,
    customType: event.customType ?? '',
    data: event.data ?? EMPTY,
  };
}

function mergedEvent(kind: RoomEventKind, merged: Merged): RoomEvent {
  return { kind, senderId: merged.senderId, senderName: merged.senderName, text: '', count: merged.count, customType: '', data: EMPTY };
}

function toWireViewer(viewer: RoomViewerRecord): RoomViewer {
  return { userId: viewer.userId, name: viewer.name, score: viewer.score };
}

const EMPTY = new Uint8Array(0);
