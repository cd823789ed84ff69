/**
 * Conversions between the generated wire types of @parley/protocol and the
 * public types of this package. This is the only module that knows how the
 * wire spells absence ('' and 0) and how enums are numbered.
 */
import {
  ConversationKind,
  MessageType,
  Role as WireRole,
  type ConversationSummary as WireSummary,
  type Member as WireMember,
  type Message as WireMessage,
  type SystemEvent as WireSystemEvent,
  parseSystemEventJson,
} from '@parley/protocol';
import type { ConversationMember, ConversationSummary, Message, Role, SystemEvent } from './types.js';


export function toMessage(wire: WireMessage): Message {
  const message: Message = {
    id: wire.id,
    conversationId: wire.conversationId,
    seq: wire.seq,
    senderId: wire.senderId,
    clientMsgId: wire.clientMsgId,
    type: wire.type === MessageType.MESSAGE_TYPE_SYSTEM ? 'system' : 'user',
    createdAt: wire.createdAt,
  };
  if (wire.text !== undefined) message.text = wire.text;
  // Decoded bytes are a view into the whole received packet (a Buffer on
  // Node); a plain copy lets that packet be collected while the application
  // keeps the message. Buffer#slice would not copy.
  if (wire.data !== undefined) message.data = new Uint8Array(wire.data);
  if (wire.visibleTo !== '') message.visibleTo = wire.visibleTo;
  if (message.type === 'system') {
    const system = wire.system !== undefined ? toSystemEvent(wire.system) : wire.data !== undefined ? parseLegacySystemEvent(wire.data) : undefined;
    if (system !== undefined) message.system = system;
  }
  return message;
}

/** The typed event of a system message; undefined for an event kind this SDK does not know. */
export function toSystemEvent(wire: WireSystemEvent): SystemEvent | undefined {
  const actorId = wire.actorId;
  const event = wire.event;
  switch (event?.$case) {
    case 'groupCreated':
      return { type: 'group_created', actorId, name: event.value.name, memberIds: [...event.value.memberIds] };
    case 'membersAdded':
      return { type: 'members_added', actorId, userIds: [...event.value.userIds] };
    case 'memberRemoved':
      return { type: 'member_removed', actorId, userId: event.value.userId };
    case 'memberLeft':
      return { type: 'member_left', actorId, userId: event.value.userId };
    case 'renamed':
      return { type: 'renamed', actorId, name: event.value.name };
    case 'roleChanged':
      return { type: 'role_changed', actorId, userId: event.value.userId, role: toRole(event.value.role) };
    default:
      return undefined;
  }
}

/**
 * Servers before typed system events sent the event as JSON in `data`
 * (`{"event", "actorId", "userIds"?, "name"?, "role"?}`); read it into the same
 * union. Undefined when it is not a well-formed event.
 */
export function parseLegacySystemEvent(data: Uint8Array): SystemEvent | undefined {
  return parseSystemEventJson(data);
}

export function toRole(role: WireRole): Role {
  switch (role) {
    case WireRole.ROLE_OWNER:
      return 'owner';
    case WireRole.ROLE_ADMIN:
      return 'admin';
    default:
      return 'member';
  }
}

export function toWireRole(role: Role): WireRole {
  switch (role) {
    case 'owner':
      return WireRole.ROLE_OWNER;
    case 'admin':
      return WireRole.ROLE_ADMIN;
    case 'member':
      return WireRole.ROLE_MEMBER;
  }
}

export function toSummary(wire: WireSummary): ConversationSummary {
  const summary: ConversationSummary = {
    id: wire.id,
    kind: wire.kind === ConversationKind.CONVERSATION_KIND_DIRECT ? 'direct' : 'group',
    name: wire.name,
    lastSeq: wire.lastSeq,
    readSeq: wire.readSeq,
    unread: wire.unread,
    role: toRole(wire.role),
    firstSeq: wire.firstSeq,
    active: wire.active,
    updatedAt: wire.updatedAt,
    memberCount: wire.memberCount,
  };
  if (wire.subject !== '') summary.subject = wire.subject;
  if (wire.peerId !== '') summary.peerId = wire.peerId;
  if (wire.lastMessage !== undefined && !wire.lastMessage.hidden) summary.lastMessage = toMessage(wire.lastMessage);
  if (wire.leftSeq !== 0) summary.leftSeq = wire.leftSeq;
  return summary;
}

export function toMember(wire: WireMember): ConversationMember {
  return { userId: wire.userId, name: wire.name || wire.userId, role: toRole(wire.role), joinedAt: wire.joinedAt };
}
