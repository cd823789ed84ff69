/**
 * Live rooms, the domain side: creating and closing rooms, who may send their
 * reliable messages (host and admins), mutes, what an ephemeral event may
 * hold, and what a joining viewer is told. A room is a conversation of kind
 * 'room' with no member rows: its audience is connections, held per node by
 * the gateway's RoomHub, which batches the traffic. Only the host, the admins
 * and muted viewers are stored (RoomPersonRow).
 */
import { randomBytes } from 'node:crypto';
import { type Clock, CUSTOM_TYPE_PATTERN, ParleyError, RoomEventKind, systemClock } from '@parley/protocol';
import type { RoomLimits, ServerLimits } from '../config.js';
import type { Bus } from '../bus/bus.js';
import type { ConversationRow, RoomPersonRow, Store, StoreReader, StoreTx, StoredMessage } from '../store/store.js';
import { type WordFilter, screen } from '../moderation/word-filter.js';
import { lockConversation, requireUsers } from './access.js';
import type { MemberRole } from './rules.js';
import { appendSystemEvent } from './timeline.js';
import { requireConversationId, requireId, requireName } from './validate.js';

/** Longest mute: 30 days. */
const MAX_MUTE_SECONDS = 30 * 24 * 3600;
/** Most likes one request may carry. */
const MAX_LIKES_PER_EVENT = 100;

/** A room as viewers see it. */
export interface RoomView {
  id: string;
  name: string;
  hostId: string;
  lastSeq: number;
  closed: boolean;
  createdAt: number;
}

/** What a node needs to serve a room's viewers (RoomHub loads it once per room). */
export interface RoomState {
  room: RoomView;
  /** Host, admins and muted viewers. */
  people: RoomPersonRow[];
  /** The newest reliable messages, ascending (at most RoomLimits.joinRecent). */
  recent: StoredMessage[];
}

export type RoomEventKindName = 'chat' | 'like' | 'joined' | 'custom';

/** An ephemeral room event as the bus carries it. */
export interface RoomEventRecord {
  kind: RoomEventKindName;
  senderId: string;
  senderName: string;
  text?: string;
  count?: number;
  customType?: string;
  data?: Uint8Array;
}

export interface RoomViewerRecord {
  userId: string;
  name: string;
  score: number;
}

/** Who acts: a signed-in user, or the operator through the admin API (optionally on a user's behalf). */
export type RoomActor = { userId: string; operator?: false } | { userId?: string; operator: true };

export class RoomService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
    private readonly roomLimits: RoomLimits,
    private readonly clock: Clock = systemClock,
    /** Blocked words for viewers' chat (the before-send hook is not asked about chatter: too many, too fleeting). */
    private readonly words?: WordFilter,
  ) {}

  /** Creates a room hosted by `hostId`. */
  async create(hostId: string, input: { id?: string; name: string }): Promise<RoomView> {
    const host = requireId(hostId, 'hostId');
    const id = input.id === undefined || input.id === '' ? newRoomId() : requireId(input.id, 'id');
    const name = requireName(input.name, 'name', this.limits);
    const room = await this.store.write(async (tx) => {
      await requireUsers(tx, [host]);
      const now = this.clock.now();
      const row: ConversationRow = { id, kind: 'room', name, subject: '', lastSeq: 0, memberCount: 0, createdAt: now, updatedAt: now };
      if (!(await tx.insertConversation(row))) throw new ParleyError('CONFLICT', `conversation ${id} already exists`);
      await tx.putRoomPerson({ conversationId: id, userId: host, role: 'owner', mutedUntil: 0 });
      return toRoomView(row, host);
    });
    this.bus.publish({ type: 'roomOpened', room: { id: room.id, name: room.name, hostId: room.hostId, createdAt: room.createdAt } });
    return room;
  }

  /** A room and its people (host, admins, muted viewers). */
  async describe(roomId: string): Promise<Omit<RoomState, 'recent'>> {
    const id = requireConversationId(roomId);
    const conversation = await requireRoom(this.store, id);
    const people = await this.store.roomPeople(id);
    return { room: toRoomView(conversation, hostOf(people)), people };
  }

  /** A room, its people and its newest reliable messages, for a node that starts serving it. */
  async load(roomId: string): Promise<RoomState> {
    const { room, people } = await this.describe(roomId);
    const recent = await this.messagesAfter(room.id, Math.max(0, room.lastSeq - this.roomLimits.joinRecent), room.lastSeq);
    return { room, people, recent };
  }

  /** Reliable messages afterSeq+1 .. toSeq, ascending, at most joinRecent of them (the oldest first: a re-join pulls on from there). */
  async messagesAfter(roomId: string, afterSeq: number, toSeq: number): Promise<StoredMessage[]> {
    if (toSeq <= afterSeq) return [];
    const rows = await this.store.listMessages({ conversationId: roomId, fromSeq: afterSeq + 1, toSeq, limit: this.roomLimits.joinRecent });
    // Addressed messages have no place in a room (see requireRoomSender); skip any all the same.
    return rows.filter((message) => message.visibleTo === undefined);
  }

  /**
   * Makes a user an admin of the room, or a plain viewer again. The host
   * (or the operator) decides; the host's own role does not change here.
   */
  async setAdmin(actor: RoomActor, roomId: string, userId: string, admin: boolean): Promise<void> {
    const id = requireConversationId(roomId);
    const target = requireId(userId, 'userId');
    const row = await this.store.write(async (tx) => {
      await requireRoomForUpdate(tx, id);
      if (actor.operator !== true && (await roleIn(tx, id, actor.userId)) !== 'owner') throw new ParleyError('FORBIDDEN', 'only the host may appoint admins');
      await requireUsers(tx, [target]);
      const current = await tx.roomPerson(id, target);
      if (current?.role === 'owner') throw new ParleyError('INVALID_ARGUMENT', 'the host is not an admin');
      const next: RoomPersonRow = { conversationId: id, userId: target, role: admin ? 'admin' : 'member', mutedUntil: current?.mutedUntil ?? 0 };
      await tx.putRoomPerson(next);
      return next;
    });
    this.publishPerson(row);
  }

  /** Mutes a viewer for `seconds` (0 lifts the mute). Host and admins may; nobody mutes the host or an admin. */
  async mute(actor: RoomActor, roomId: string, userId: string, seconds: number): Promise<void> {
    const id = requireConversationId(roomId);
    const target = requireId(userId, 'userId');
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_MUTE_SECONDS) {
      throw new ParleyError('INVALID_ARGUMENT', `seconds must be 0-${MAX_MUTE_SECONDS}`);
    }
    const row = await this.store.write(async (tx) => {
      await requireRoomForUpdate(tx, id);
      if (actor.operator !== true) requireStaff(await roleIn(tx, id, actor.userId), 'mute viewers');
      await requireUsers(tx, [target]);
      const current = await tx.roomPerson(id, target);
      if (current !== undefined && current.role !== 'member') throw new ParleyError('FORBIDDEN', 'the host and admins cannot be muted');
      const next: RoomPersonRow = { conversationId: id, userId: target, role: 'member', mutedUntil: seconds === 0 ? 0 : this.clock.now() + seconds * 1000 };
      await tx.putRoomPerson(next);
      return next;
    });
    this.publishPerson(row);
  }

  /** Ends the room: a room_closed system message (its last reliable message); nobody joins or sends afterwards. */
  async close(actor: RoomActor, roomId: string): Promise<void> {
    const id = requireConversationId(roomId);
    const message = await this.store.write(async (tx) => {
      const conversation = await requireRoomForUpdate(tx, id);
      if (actor.operator !== true) requireStaff(await roleIn(tx, id, actor.userId), 'close the room');
      if (actor.userId !== undefined && actor.userId !== '') await requireUsers(tx, [actor.userId]);
      const now = this.clock.now();
      await tx.updateConversation(id, { closedAt: now });
      return appendSystemEvent(tx, conversation, actor.userId ?? '', { event: 'room_closed', actorId: actor.userId ?? '' }, now);
    }, { order: id });
    this.bus.publish({ type: 'roomMessage', message });
  }

  /** The caller's role in a room: 'owner' (host), 'admin', else 'member' (a viewer). */
  async roleOf(roomId: string, userId: string): Promise<MemberRole> {
    return roleIn(this.store, roomId, userId);
  }

  /** Checks an ephemeral event from a viewer and returns it as the bus carries it (sender filled in). */
  checkEvent(input: { kind: RoomEventKind; text: string; count: number; customType: string; data: Uint8Array }, sender: { id: string; name: string }): RoomEventRecord {
    switch (input.kind) {
      case RoomEventKind.ROOM_EVENT_KIND_CHAT: {
        const text = input.text.trim();
        if (text.length === 0) throw new ParleyError('INVALID_ARGUMENT', 'a chat event needs text');
        if (text.length > this.roomLimits.maxTextChars) throw new ParleyError('TOO_LARGE', `chat text is longer than ${this.roomLimits.maxTextChars} characters`);
        return { kind: 'chat', senderId: sender.id, senderName: sender.name, text: this.words === undefined ? text : screen(this.words, text) };
      }
      case RoomEventKind.ROOM_EVENT_KIND_LIKE: {
        const count = input.count === 0 ? 1 : input.count;
        if (count > MAX_LIKES_PER_EVENT) throw new ParleyError('INVALID_ARGUMENT', `at most ${MAX_LIKES_PER_EVENT} likes per event`);
        return { kind: 'like', senderId: sender.id, senderName: sender.name, count };
      }
      case RoomEventKind.ROOM_EVENT_KIND_CUSTOM: {
        if (!CUSTOM_TYPE_PATTERN.test(input.customType)) throw new ParleyError('INVALID_ARGUMENT', 'custom_type must be 1-64 characters of a-z 0-9 . _ - starting with a letter');
        if (input.data.length > this.roomLimits.maxDataBytes) throw new ParleyError('TOO_LARGE', `custom data is larger than ${this.roomLimits.maxDataBytes} bytes`);
        return { kind: 'custom', senderId: sender.id, senderName: sender.name, customType: input.customType, data: input.data };
      }
      default:
        throw new ParleyError('INVALID_ARGUMENT', 'room events are chat, like or custom');
    }
  }

  private publishPerson(row: RoomPersonRow): void {
    this.bus.publish({ type: 'roomPerson', roomId: row.conversationId, userId: row.userId, role: row.role, mutedUntil: row.mutedUntil });
  }
}

/**
 * Inside a send's unit, for a conversation of kind room: the room must be
 * open, the message addressed to everyone, and the sender its host or an
 * admin, unless the operator sends on a user's behalf (a gift paid through
 * the product's backend).
 */
export async function requireRoomSender(tx: StoreTx, conversation: ConversationRow, senderId: string, operator: boolean, visibleTo: string | undefined): Promise<void> {
  if (conversation.closedAt !== undefined) throw new ParleyError('ROOM_CLOSED', 'the room was closed');
  if (visibleTo !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'room messages go to the whole audience (no visibleTo)');
  if (operator) {
    await requireUsers(tx, [senderId]);
    return;
  }
  requireStaff(await roleIn(tx, conversation.id, senderId), 'send reliable room messages');
}

async function requireRoom(reader: StoreReader, roomId: string): Promise<ConversationRow> {
  const conversation = await reader.getConversation(roomId);
  if (conversation === undefined || conversation.kind !== 'room') throw new ParleyError('NOT_FOUND', `unknown room ${roomId}`);
  return conversation;
}

async function requireRoomForUpdate(tx: StoreTx, roomId: string): Promise<ConversationRow> {
  const conversation = await lockConversation(tx, roomId);
  if (conversation.kind !== 'room') throw new ParleyError('NOT_FOUND', `unknown room ${roomId}`);
  if (conversation.closedAt !== undefined) throw new ParleyError('ROOM_CLOSED', 'the room was closed');
  return conversation;
}

async function roleIn(reader: StoreReader, roomId: string, userId: string): Promise<MemberRole> {
  return (await reader.roomPerson(roomId, userId))?.role ?? 'member';
}

function requireStaff(role: MemberRole, what: string): void {
  if (role === 'member') throw new ParleyError('FORBIDDEN', `only the host and admins may ${what}`);
}

function hostOf(people: readonly RoomPersonRow[]): string {
  return people.find((person) => person.role === 'owner')?.userId ?? '';
}

export function toRoomView(conversation: ConversationRow, hostId: string): RoomView {
  return {
    id: conversation.id,
    name: conversation.name,
    hostId,
    lastSeq: conversation.lastSeq,
    closed: conversation.closedAt !== undefined,
    createdAt: conversation.createdAt,
  };
}

function newRoomId(): string {
  return `r-${randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}
