/** Conversions between store records and wire (protobuf) types. */
import { ConversationKind, MessageType, Role, type ConversationSummary, type Message, type SyncPosition } from '@parley/protocol';
import type { ConversationView, MemberRole, StoredMessage } from '../services/model.js';
import { readSystemEvent, toWireSystemEvent } from '../services/system-events.js';

export function toWireMessage(message: StoredMessage): Message {
  if (message.hidden) return hiddenWireMessage(message);
  const wire: Message = {
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    clientMsgId: message.clientMsgId,
    type: message.type === 'system' ? MessageType.MESSAGE_TYPE_SYSTEM : MessageType.MESSAGE_TYPE_USER,
    createdAt: message.createdAt,
    visibleTo: message.visibleTo ?? '',
    hidden: false,
    recalledAt: message.recalledAt ?? 0,
    editedAt: message.editedAt ?? 0,
    reactions: message.reactions ?? [],
  };
  if (message.mentions !== undefined || message.mentionAll === true) wire.mentions = { userIds: message.mentions ?? [], all: message.mentionAll === true };
  if (message.replyTo !== undefined) wire.replyTo = message.replyTo;
  if (message.threadRoot !== undefined) wire.threadRoot = message.threadRoot;
  if (message.thread !== undefined) {
    const { replies, lastSeq, lastAt, following, unread } = message.thread;
    wire.thread = { replies, lastSeq, lastAt, following: following === true, unread: unread ?? 0 };
  }
  if (message.type === 'system') {
    // Stored as JSON, sent typed: clients never parse free-form event data.
    const event = readSystemEvent(message.data);
    if (event !== undefined) wire.system = toWireSystemEvent(event);
    return wire;
  }
  if (message.text !== undefined) wire.text = message.text;
  if (message.data !== undefined) wire.data = message.data;
  if (message.content !== undefined) wire.content = message.content;
  return wire;
}

/** The placeholder other members get for a message addressed to someone else. */
export function hiddenWireMessage(message: Pick<StoredMessage, 'conversationId' | 'seq'>): Message {
  return {
    id: '',
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: '',
    clientMsgId: '',
    type: MessageType.MESSAGE_TYPE_UNSPECIFIED,
    createdAt: 0,
    recalledAt: 0,
    editedAt: 0,
    reactions: [],
    visibleTo: '',
    hidden: true,
  };
}

export function roleToWire(role: MemberRole): Role {
  return role === 'owner' ? Role.ROLE_OWNER : role === 'admin' ? Role.ROLE_ADMIN : Role.ROLE_MEMBER;
}

export function roleFromWire(role: Role): MemberRole | undefined {
  if (role === Role.ROLE_OWNER) return 'owner';
  if (role === Role.ROLE_ADMIN) return 'admin';
  if (role === Role.ROLE_MEMBER) return 'member';
  return undefined;
}

const WIRE_KINDS = {
  direct: ConversationKind.CONVERSATION_KIND_DIRECT,
  group: ConversationKind.CONVERSATION_KIND_GROUP,
  room: ConversationKind.CONVERSATION_KIND_ROOM,
} as const;

export function toWireSummary(view: ConversationView): ConversationSummary {
  const summary: ConversationSummary = {
    id: view.id,
    kind: WIRE_KINDS[view.kind],
    name: view.name,
    subject: view.subject,
    peerId: view.peerId,
    lastSeq: view.lastSeq,
    readSeq: view.readSeq,
    unread: view.unread,
    role: roleToWire(view.role),
    firstSeq: view.firstSeq,
    leftSeq: view.leftSeq,
    active: view.active,
    updatedAt: view.updatedAt,
    memberCount: view.memberCount,
    attributes: view.attributes,
    mutedUntil: view.mutedUntil,
    pinnedAt: view.pinnedAt,
    draft: view.draft,
    mentions: view.mentions,
    threadUnread: view.threadUnread,
  };
  if (view.lastMessage !== undefined) summary.lastMessage = toWireMessage(view.lastMessage);
  return summary;
}

/** A sync's positions by conversation id (a repeated id: the last one counts). */
export function positionsFromWire(positions: readonly SyncPosition[]): Map<string, number> {
  const byConversation = new Map<string, number>();
  for (const position of positions) byConversation.set(position.conversationId, position.seq);
  return byConversation;
}
