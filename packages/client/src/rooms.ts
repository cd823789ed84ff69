/**
 * Live rooms in the SDK (docs/rooms.md). A Room is one joined room: its
 * reliable messages come out exactly once and in seq order (from the join
 * answer, from batches, where each is carried several times, and from pulls
 * when a batch reveals a gap); its ephemeral events come out as they arrive,
 * best effort. RoomSet holds the rooms a client joined and joins them again
 * after every reconnect, from where each left off.
 */
import {
  ParleyError,
  type BodyOf,
  type AnsweredRequestCase,
  type Message as WireMessage,
  type ReplyValue,
  type RoomBatch,
  type RoomEvent as WireRoomEvent,
  RoomEventKind,
  type RoomJoined,
  type RoomInfo as WireRoomInfo,
} from '@parley/protocol';
import type { Clock, TimerHandle } from './clock.js';
import { toMessage, toRole } from './convert.js';
import { Emitter } from './emitter.js';
import type { Message, Role } from './types.js';

/** Reliable messages a Room keeps in `messages` (the newest). */
const KEPT_MESSAGES = 200;
/** Likes tapped within this window go out as one event. */
const LIKE_COALESCE_MS = 200;
/** The server's bound on likes per event. */
const MAX_LIKES_PER_EVENT = 100;
/** A refused join is tried again after the server's hint plus up to this share of it (jitter). */
const RETRY_JITTER = 0.25;

export interface RoomInfo {
  id: string;
  name: string;
  hostId: string;
  closed: boolean;
  createdAt: number;
}

export interface RoomViewer {
  userId: string;
  name: string;
  /** Likes plus chat lines plus ten per reliable message (approximate). */
  score: number;
}

export type RoomEventKindName = 'chat' | 'like' | 'joined' | 'custom';

/** An ephemeral room event: a chat line, likes (merged per tick), joins (merged), or an application's own. */
export interface RoomEvent {
  kind: RoomEventKindName;
  senderId: string;
  senderName: string;
  /** chat */
  text?: string;
  /** like, joined: how many were merged into this event (the sender is the last of them). */
  count?: number;
  /** custom */
  customType?: string;
  data?: Uint8Array;
}

export interface RoomEvents {
  /** A reliable message (gift, card, announcement), exactly once, in seq order. */
  message: Message;
  /** A tick's ephemeral events; `skipped` counts those this connection did not get (sampled, over budget, or it fell behind). */
  events: { events: RoomEvent[]; skipped: number };
  /** The online count or the top viewers changed. */
  stats: { online: number; topViewers: RoomViewer[] };
  /** The room was closed; this client has left it. */
  closed: { roomId: string };
}

/** What a Room asks of the client that owns it. */
export interface RoomHost {
  request<C extends AnsweredRequestCase>(body: BodyOf<C>): Promise<ReplyValue<C>>;
  clock: Clock;
  maxPullLimit(): number;
  reportError(error: ParleyError): void;
}

/** One joined live room. Listen with `on`; send chatter with `chat`, `like` and `custom`. */
export class Room {
  readonly id: string;
  info: RoomInfo;
  role: Role = 'member';
  /** Events from this user are refused until then (ms since epoch); 0 when not muted. */
  mutedUntil = 0;
  online = 0;
  topViewers: RoomViewer[] = [];
  /** The newest reliable messages received since joining (at most 200), ascending. */
  readonly messages: Message[] = [];
  private readonly emitter = new Emitter<RoomEvents>();
  /** The highest seq held contiguously. */
  private synced = 0;
  /** The newest seq the server announced. */
  private known = 0;
  private readonly buffered = new Map<number, WireMessage>();
  private pulling = false;
  private pendingLikes = 0;
  private likeTimer: TimerHandle | undefined;
  private left = false;

  /** @internal */
  constructor(
    joined: RoomJoined,
    private readonly host: RoomHost,
    private readonly onLeave: (room: Room) => Promise<void>,
  ) {
    this.info = toRoomInfo(joined.room);
    this.id = this.info.id;
    this.applyJoined(joined, true);
  }

  on<K extends keyof RoomEvents>(event: K, listener: (payload: RoomEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  off<K extends keyof RoomEvents>(event: K, listener: (payload: RoomEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  /** The highest reliable seq this client holds without a gap. */
  get lastSeq(): number {
    return this.synced;
  }

  get joined(): boolean {
    return !this.left;
  }

  /** Sends a chat line (danmaku). Refused with RATE_LIMITED past the per-user rate, FORBIDDEN while muted. */
  async chat(text: string): Promise<void> {
    await this.sendEvent({ kind: RoomEventKind.ROOM_EVENT_KIND_CHAT, text });
  }

  /** Adds likes; taps within 200 ms go out as one event, so a burst of taps costs one request. */
  like(count = 1): void {
    if (this.left || !(count >= 1)) return;
    this.pendingLikes += Math.floor(count);
    this.scheduleLikes();
  }

  private scheduleLikes(): void {
    if (this.likeTimer !== undefined || this.pendingLikes === 0) return;
    this.likeTimer = this.host.clock.setTimeout(() => {
      this.likeTimer = undefined;
      const likes = Math.min(this.pendingLikes, MAX_LIKES_PER_EVENT);
      this.pendingLikes -= likes;
      this.scheduleLikes();
      this.sendEvent({ kind: RoomEventKind.ROOM_EVENT_KIND_LIKE, count: likes }).catch((error: unknown) => {
        if (error instanceof ParleyError) this.host.reportError(error);
      });
    }, LIKE_COALESCE_MS);
  }

  /** An application-defined ephemeral event (a type like "game.move", at most max_room_data_bytes of data). */
  async custom(customType: string, data: Uint8Array = new Uint8Array(0)): Promise<void> {
    await this.sendEvent({ kind: RoomEventKind.ROOM_EVENT_KIND_CUSTOM, customType, data });
  }

  /** Leaves the room; no more events come. */
  async leave(): Promise<void> {
    if (this.left) return;
    this.stop();
    await this.onLeave(this);
  }

  private async sendEvent(event: Partial<WireRoomEvent> & { kind: RoomEventKind }): Promise<void> {
    if (this.left) throw new ParleyError('INVALID_ARGUMENT', 'not in this room');
    await this.request(event).catch((error: unknown) => {
      // A muted sender is told how long the mute still runs.
      if (error instanceof ParleyError && error.codeName === 'FORBIDDEN' && error.retryAfterMs > 0) this.mutedUntil = this.host.clock.now() + error.retryAfterMs;
      throw error;
    });
  }

  private request(event: Partial<WireRoomEvent> & { kind: RoomEventKind }) {
    return this.host.request({
      $case: 'roomEvent',
      value: {
        roomId: this.id,
        event: { senderId: '', senderName: '', text: '', count: 0, customType: '', data: new Uint8Array(0), ...event },
      },
    });
  }

  // ---- fed by RoomSet ----

  /** @internal The answer to a join or re-join. */
  applyJoined(joined: RoomJoined, first: boolean): void {
    if (joined.room !== undefined) this.info = toRoomInfo(joined.room);
    this.role = toRole(joined.role);
    this.mutedUntil = joined.mutedUntil;
    this.online = joined.online;
    this.topViewers = joined.topViewers.map(toViewer);
    const lastSeq = joined.room?.lastSeq ?? 0;
    if (first) {
      // History starts at the first message the join carried (older ones are pulled on demand, never emitted).
      const firstSeq = joined.recent[0]?.seq ?? lastSeq + 1;
      this.synced = firstSeq - 1;
    }
    this.offer(joined.recent, lastSeq);
    // After a re-join the counts may have moved while this client was away.
    if (!first) this.emitter.emit('stats', { online: this.online, topViewers: this.topViewers });
  }

  /** @internal */
  applyBatch(batch: RoomBatch): void {
    if (this.left) return;
    this.offer(batch.reliable, batch.lastSeq);
    if (batch.online > 0 || batch.topViewers.length > 0) {
      if (batch.online > 0) this.online = batch.online;
      if (batch.topViewers.length > 0) this.topViewers = batch.topViewers.map(toViewer);
      this.emitter.emit('stats', { online: this.online, topViewers: this.topViewers });
    }
    if (batch.events.length > 0 || batch.skipped > 0) this.emitter.emit('events', { events: batch.events.map(toRoomEvent), skipped: batch.skipped });
    if (batch.closed) this.close();
  }

  /** @internal The room was closed (a batch said so, or a re-join was refused): leave it and tell the listeners. */
  close(): void {
    if (this.left) return;
    this.info = { ...this.info, closed: true };
    this.stop();
    this.emitter.emit('closed', { roomId: this.id });
  }

  /** @internal This client's own reliable send, acknowledged. */
  applyOwn(message: WireMessage): void {
    this.offer([message], message.seq);
  }

  /** @internal The room was closed, or left. */
  stop(): void {
    this.left = true;
    this.host.clock.clearTimeout(this.likeTimer);
    this.likeTimer = undefined;
    this.buffered.clear();
  }

  /**
   * Applies reliable messages by seq: the next one is emitted, later ones
   * wait for the gap before them to be pulled, repeats are dropped.
   */
  private offer(messages: readonly WireMessage[], lastSeq: number): void {
    for (const wire of messages) if (wire.seq > this.synced) this.buffered.set(wire.seq, wire);
    this.known = Math.max(this.known, lastSeq);
    for (let next = this.buffered.get(this.synced + 1); next !== undefined; next = this.buffered.get(this.synced + 1)) {
      this.buffered.delete(next.seq);
      this.synced = next.seq;
      if (next.hidden) continue;
      const message = toMessage(next);
      this.messages.push(message);
      if (this.messages.length > KEPT_MESSAGES) this.messages.shift();
      this.emitter.emit('message', message);
    }
    if (this.known > this.synced) void this.pullGap();
  }

  private async pullGap(): Promise<void> {
    if (this.pulling || this.left) return;
    this.pulling = true;
    try {
      while (!this.left && this.known > this.synced) {
        const from = this.synced + 1;
        const result = await this.host.request({
          $case: 'pull',
          value: { conversationId: this.id, fromSeq: from, toSeq: this.known, limit: this.host.maxPullLimit(), descending: false },
        });
        if (result.coveredTo < from) break;
        const filled = result.messages.filter((message) => message.seq >= from);
        // A seq the answer covers without a message (none in a room so far) counts as held.
        const present = new Set(filled.map((message) => message.seq));
        for (let seq = from; seq <= result.coveredTo; seq++) if (!present.has(seq) && !this.buffered.has(seq)) this.buffered.set(seq, placeholder(this.id, seq));
        this.offer(filled, result.lastSeq);
      }
    } catch (error) {
      // A room pull fails when the connection goes; the re-join catches up.
      if (error instanceof ParleyError && error.codeName !== 'CLOSED') this.host.reportError(error);
    } finally {
      this.pulling = false;
    }
  }
}

/**
 * The rooms a client joined. It routes batches to them, joins again (from
 * each room's position) whenever a new connection opens, and honours the
 * server's retry hint when a join is refused in a surge.
 */
export class RoomSet {
  private readonly joined = new Map<string, Room>();
  /** Rooms this client created or joined: acks of sends to them belong to the room, not to the conversation list. */
  private readonly known = new Set<string>();

  constructor(private readonly host: RoomHost) {}

  isRoom(conversationId: string): boolean {
    return this.known.has(conversationId);
  }

  remember(roomId: string): void {
    this.known.add(roomId);
  }

  get(roomId: string): Room | undefined {
    return this.joined.get(roomId);
  }

  list(): Room[] {
    return [...this.joined.values()];
  }

  async join(roomId: string): Promise<Room> {
    const existing = this.joined.get(roomId);
    if (existing !== undefined) return existing;
    const answer = await this.requestJoin(roomId, 0);
    const raced = this.joined.get(roomId);
    if (raced !== undefined) return raced;
    const room = new Room(answer, this.host, (left) => this.leave(left));
    this.joined.set(roomId, room);
    this.known.add(roomId);
    room.on('closed', () => this.joined.delete(roomId));
    return room;
  }

  onBatch(batch: RoomBatch): void {
    this.joined.get(batch.roomId)?.applyBatch(batch);
  }

  onOwnMessage(message: WireMessage): void {
    this.joined.get(message.conversationId)?.applyOwn(message);
  }

  /** A new connection opened: every joined room is joined again from where it left off. */
  rejoinAll(): void {
    for (const room of this.joined.values()) {
      this.requestJoin(room.id, room.lastSeq).then(
        (answer) => {
          if (this.joined.get(room.id) === room) room.applyJoined(answer, false);
        },
        (error: unknown) => {
          if (!(error instanceof ParleyError)) return;
          if (error.codeName === 'ROOM_CLOSED' || error.codeName === 'NOT_FOUND') {
            this.joined.delete(room.id);
            room.close();
          } else if (error.codeName !== 'CLOSED') {
            this.host.reportError(error);
          }
        },
      );
    }
  }

  private async leave(room: Room): Promise<void> {
    if (this.joined.get(room.id) === room) this.joined.delete(room.id);
    await this.host.request({ $case: 'leaveRoom', value: { roomId: room.id } }).catch((error: unknown) => {
      // Gone with the connection: the server dropped the membership with it.
      if (!(error instanceof ParleyError) || error.codeName !== 'CLOSED') throw error;
    });
  }

  /** A join, tried again after the server's retry hint (plus jitter) while it refuses for a surge. */
  private async requestJoin(roomId: string, afterSeq: number): Promise<RoomJoined> {
    for (;;) {
      try {
        return await this.host.request({ $case: 'joinRoom', value: { roomId, afterSeq } });
      } catch (error) {
        if (!(error instanceof ParleyError) || error.codeName !== 'RATE_LIMITED' || error.retryAfterMs <= 0) throw error;
        const wait = error.retryAfterMs * (1 + Math.random() * RETRY_JITTER);
        await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, wait));
      }
    }
  }
}

export function toRoomInfo(wire: WireRoomInfo | undefined): RoomInfo {
  return { id: wire?.id ?? '', name: wire?.name ?? '', hostId: wire?.hostId ?? '', closed: wire?.closed ?? false, createdAt: wire?.createdAt ?? 0 };
}

function toViewer(viewer: { userId: string; name: string; score: number }): RoomViewer {
  return { userId: viewer.userId, name: viewer.name, score: viewer.score };
}

const EVENT_KINDS: Partial<Record<RoomEventKind, RoomEventKindName>> = {
  [RoomEventKind.ROOM_EVENT_KIND_CHAT]: 'chat',
  [RoomEventKind.ROOM_EVENT_KIND_LIKE]: 'like',
  [RoomEventKind.ROOM_EVENT_KIND_JOINED]: 'joined',
  [RoomEventKind.ROOM_EVENT_KIND_CUSTOM]: 'custom',
};

function toRoomEvent(wire: WireRoomEvent): RoomEvent {
  const kind = EVENT_KINDS[wire.kind] ?? 'custom';
  const event: RoomEvent = { kind, senderId: wire.senderId, senderName: wire.senderName };
  if (kind === 'chat') event.text = wire.text;
  if (kind === 'like' || kind === 'joined') event.count = wire.count;
  if (kind === 'custom') {
    event.customType = wire.customType;
    event.data = wire.data;
  }
  return event;
}

function placeholder(conversationId: string, seq: number): WireMessage {
  return { id: '', conversationId, seq, senderId: '', clientMsgId: '', type: 0, createdAt: 0, visibleTo: '', hidden: true, recalledAt: 0, editedAt: 0, reactions: [] };
}
