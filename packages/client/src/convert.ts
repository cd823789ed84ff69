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
} from '@parley/protocol';
import type { ConversationMember, ConversationSummary, Message, Role, SystemEvent } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  if (message.type === 'system' && wire.data !== undefined) {
    const system = parseSystemEvent(wire.data);
    if (system !== undefined) message.system = system;
  }
  return message;
}

/** Parses a system message's JSON; undefined when it is not a well-formed event. */
export function parseSystemEvent(data: Uint8Array): SystemEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(data));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (typeof fields.event !== 'string' || typeof fields.actorId !== 'string') return undefined;
  const event: SystemEvent = { event: fields.event, actorId: fields.actorId };
  if (Array.isArray(fields.userIds) && fields.userIds.every((id) => typeof id === 'string')) {
    event.userIds = fields.userIds as string[];
  }
  if (typeof fields.name === 'string') event.name = fields.name;
  if (typeof fields.role === 'string') event.role = fields.role;
  return event;
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
