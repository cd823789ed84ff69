/**
 * System events: the membership and naming events recorded as SYSTEM messages.
 * `SystemEventRecord` is the typed event the server hands out (wire and REST);
 * `StoredSystemEvent` is how the store keeps it, JSON in the message's data,
 * the format every existing database already holds. Stored events are
 * converted when read, so old databases need no migration.
 */
import { Role, type SystemEventRecord, type SystemEvent as WireSystemEvent, parseSystemEventJson } from '@parley/protocol';
import type { MemberRole } from './rules.js';

/** A system event as the store writes it (JSON in the data column). */
export type StoredSystemEvent =
  | { event: 'group_created'; actorId: string; name: string; userIds: string[] }
  | { event: 'members_added'; actorId: string; userIds: string[] }
  | { event: 'member_removed' | 'member_left'; actorId: string; userIds: [string] }
  | { event: 'renamed'; actorId: string; name: string }
  | { event: 'role_changed'; actorId: string; userIds: [string]; role: MemberRole }
  | { event: 'room_closed'; actorId: string }
  | { event: 'message_recalled' | 'message_hidden'; actorId: string; seq: number }
  | { event: 'message_edited'; actorId: string; seq: number; text: string }
  | { event: 'message_reacted'; actorId: string; seq: number; emoji: string; added: boolean };

/** A system event as clients see it (REST JSON; the wire form is its protobuf twin). */
export type { SystemEventRecord };

export function encodeStoredSystemEvent(event: StoredSystemEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

/** Reads a stored event; undefined for data that is not a well-formed one. */
export function readSystemEvent(data: Uint8Array | undefined): SystemEventRecord | undefined {
  return parseSystemEventJson(data);
}

const WIRE_ROLES: Record<MemberRole, Role> = { member: Role.ROLE_MEMBER, admin: Role.ROLE_ADMIN, owner: Role.ROLE_OWNER };

export function toWireSystemEvent(event: SystemEventRecord): WireSystemEvent {
  const actorId = event.actorId;
  switch (event.type) {
    case 'group_created':
      return { actorId, event: { $case: 'groupCreated', value: { name: event.name, memberIds: event.memberIds } } };
    case 'members_added':
      return { actorId, event: { $case: 'membersAdded', value: { userIds: event.userIds } } };
    case 'member_removed':
      return { actorId, event: { $case: 'memberRemoved', value: { userId: event.userId } } };
    case 'member_left':
      return { actorId, event: { $case: 'memberLeft', value: { userId: event.userId } } };
    case 'renamed':
      return { actorId, event: { $case: 'renamed', value: { name: event.name } } };
    case 'role_changed':
      return { actorId, event: { $case: 'roleChanged', value: { userId: event.userId, role: WIRE_ROLES[event.role] } } };
    case 'room_closed':
      return { actorId, event: { $case: 'roomClosed', value: {} } };
    case 'message_recalled':
      return { actorId, event: { $case: 'messageRecalled', value: { seq: event.seq } } };
    case 'message_edited':
      return { actorId, event: { $case: 'messageEdited', value: { seq: event.seq, text: event.text } } };
    case 'message_hidden':
      return { actorId, event: { $case: 'messageHidden', value: { seq: event.seq } } };
    case 'message_reacted':
      return { actorId, event: { $case: 'messageReacted', value: { seq: event.seq, emoji: event.emoji, added: event.added } } };
  }
}
