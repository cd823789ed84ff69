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
  type MessageContent as WireContent,
  type MediaRef as WireMediaRef,
  type SignalEvent as WireSignalEvent,
  type SystemEvent as WireSystemEvent,
  parseSystemEventJson,
} from '@parley/protocol';
import type { Content, ConversationMember, ConversationSummary, MediaRef, Message, OutgoingContent, Role, Signal, SystemEvent } from './types.js';


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
  if (wire.content !== undefined) message.content = toContent(wire.content);
  if (wire.recalledAt > 0) message.recalledAt = wire.recalledAt;
  if (wire.editedAt > 0) message.editedAt = wire.editedAt;
  if (wire.mentions !== undefined && wire.mentions.userIds.length > 0) message.mentions = [...wire.mentions.userIds];
  if (wire.mentions?.all === true) message.mentionAll = true;
  if (wire.replyTo !== undefined && wire.replyTo > 0) message.replyTo = wire.replyTo;
  if (wire.threadRoot !== undefined && wire.threadRoot > 0) message.threadRoot = wire.threadRoot;
  if (wire.thread !== undefined && wire.thread.replies > 0) {
    const { replies, lastSeq, lastAt, following, unread } = wire.thread;
    message.thread = { replies, lastSeq, lastAt, following, unread };
  }
  if (wire.reactions.length > 0) message.reactions = wire.reactions.map((reaction) => ({ emoji: reaction.emoji, count: reaction.count, mine: reaction.mine }));
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
    case 'roomClosed':
      return { type: 'room_closed', actorId };
    case 'messageRecalled':
      return { type: 'message_recalled', actorId, seq: event.value.seq };
    case 'messageEdited':
      return { type: 'message_edited', actorId, seq: event.value.seq, text: event.value.text };
    case 'messageHidden':
      return { type: 'message_hidden', actorId, seq: event.value.seq };
    case 'messageReacted':
      return { type: 'message_reacted', actorId, seq: event.value.seq, emoji: event.value.emoji, added: event.value.added };
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
    attributes: { ...wire.attributes },
  };
  if (wire.subject !== '') summary.subject = wire.subject;
  if (wire.peerId !== '') summary.peerId = wire.peerId;
  if (wire.lastMessage !== undefined && !wire.lastMessage.hidden) summary.lastMessage = toMessage(wire.lastMessage);
  if (wire.leftSeq !== 0) summary.leftSeq = wire.leftSeq;
  if (wire.mutedUntil !== 0) summary.mutedUntil = wire.mutedUntil;
  if (wire.pinnedAt !== 0) summary.pinnedAt = wire.pinnedAt;
  if (wire.draft !== '') summary.draft = wire.draft;
  if (wire.mentions > 0) summary.mentions = wire.mentions;
  if (wire.threadUnread > 0) summary.threadUnread = wire.threadUnread;
  return summary;
}

export function toMember(wire: WireMember): ConversationMember {
  return { userId: wire.userId, name: wire.name || wire.userId, role: toRole(wire.role), joinedAt: wire.joinedAt };
}

function toMediaRef(wire: WireMediaRef | undefined): MediaRef {
  return { mediaId: wire?.mediaId ?? '', mimeType: wire?.mimeType ?? '', size: wire?.size ?? 0, fileName: wire?.fileName ?? '' };
}

/** The typed content of a message; `unknown` for a kind this SDK does not know (or a custom kind whose JSON does not parse). */
export function toContent(wire: WireContent): Content {
  const kind = wire.kind;
  switch (kind?.$case) {
    case 'image': {
      const { width, height, animated, caption } = kind.value;
      return { type: 'image', media: toMediaRef(kind.value.media), width, height, thumbhash: new Uint8Array(kind.value.thumbhash), animated, caption };
    }
    case 'file':
      return { type: 'file', media: toMediaRef(kind.value.media), caption: kind.value.caption };
    case 'voice':
      return { type: 'voice', media: toMediaRef(kind.value.media), durationMs: kind.value.durationMs, waveform: new Uint8Array(kind.value.waveform) };
    case 'video': {
      const { width, height, durationMs, posterMediaId, caption } = kind.value;
      return { type: 'video', media: toMediaRef(kind.value.media), width, height, durationMs, posterMediaId, thumbhash: new Uint8Array(kind.value.thumbhash), caption };
    }
    case 'location': {
      const { latitude, longitude, name, address } = kind.value;
      return { type: 'location', latitude, longitude, name, address };
    }
    case 'custom':
      try {
        const data = JSON.parse(kind.value.json) as unknown;
        if (data !== null && typeof data === 'object' && !Array.isArray(data)) return { type: 'custom', customType: kind.value.type, data: data as Record<string, unknown> };
      } catch {
        // Shown by its fallback text, like a kind this SDK does not know.
      }
      return { type: 'unknown' };
    default:
      return { type: 'unknown' };
  }
}

function mediaOnly(mediaId: string, fileName = ''): WireMediaRef {
  return { mediaId, mimeType: '', size: 0, fileName };
}

export function toWireContent(content: OutgoingContent): WireContent {
  switch (content.type) {
    case 'image':
      return { kind: { $case: 'image', value: { media: mediaOnly(content.mediaId), width: 0, height: 0, thumbhash: new Uint8Array(), animated: false, caption: content.caption ?? '' } } };
    case 'file':
      return { kind: { $case: 'file', value: { media: mediaOnly(content.mediaId, content.fileName), caption: content.caption ?? '' } } };
    case 'voice':
      return { kind: { $case: 'voice', value: { media: mediaOnly(content.mediaId), durationMs: Math.round(content.durationMs ?? 0), waveform: content.waveform ?? new Uint8Array() } } };
    case 'video':
      return {
        kind: {
          $case: 'video',
          value: {
            media: mediaOnly(content.mediaId),
            width: Math.round(content.width ?? 0),
            height: Math.round(content.height ?? 0),
            durationMs: Math.round(content.durationMs ?? 0),
            posterMediaId: content.posterMediaId ?? '',
            thumbhash: new Uint8Array(),
            caption: content.caption ?? '',
          },
        },
      };
    case 'location':
      return { kind: { $case: 'location', value: { latitude: content.latitude, longitude: content.longitude, name: content.name ?? '', address: content.address ?? '' } } };
    case 'custom':
      return { kind: { $case: 'custom', value: { type: content.customType, json: JSON.stringify(content.data) } } };
  }
}

/** A pushed or kept signal as the public type (bytes copied out of the packet). */
export function toSignal(wire: WireSignalEvent): Signal {
  const signal: Signal = { conversationId: wire.conversationId, senderId: wire.senderId, type: wire.type, data: new Uint8Array(wire.data), sentAt: wire.sentAt };
  if (wire.toUserId !== '') signal.to = wire.toUserId;
  if (wire.key !== '') signal.key = wire.key;
  return signal;
}
