/**
 * What the webhooks send: one event per stored message, named for what it
 * records. Events are derived from the message feed (Store.messageFeed), so
 * they are exactly as durable and as ordered as the messages themselves:
 * nothing is written twice, and an event exists if and only if its commit
 * does.
 */
import type { FeedMessage, FeedPosition } from '../store/store.js';
import { readSystemEvent } from '../services/system-events.js';
import { messageJson } from '../http/message-json.js';

/** The types derived from stored messages, in the order docs/webhooks.md lists them. */
export const MESSAGE_EVENT_TYPES = [
  'message.stored',
  'conversation.created',
  'conversation.renamed',
  'member.joined',
  'member.left',
  'member.role_changed',
  'room.closed',
  'message.recalled',
  'message.edited',
  'message.hidden',
  'message.reacted',
] as const;

/** A user's first connection anywhere opened, or their last one closed (live-events.ts): live, not in the feed. */
export const USER_EVENT_TYPES = ['user.online', 'user.offline'] as const;

/** Every event type. room.opened is live too (live-events.ts): creating a room stores no message. */
export const WEBHOOK_EVENT_TYPES = [...MESSAGE_EVENT_TYPES, 'room.opened', ...USER_EVENT_TYPES] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export type UserEventType = (typeof USER_EVENT_TYPES)[number];

/**
 * The configured list as a set; an unknown name is a configuration error.
 * Without a list: every type but presence, which is asked for by name, since
 * in a large deployment it is most of the traffic and few receivers want it.
 */
export function webhookEventTypes(names: readonly string[] | undefined): ReadonlySet<WebhookEventType> {
  if (names === undefined) return new Set([...MESSAGE_EVENT_TYPES, 'room.opened']);
  for (const name of names) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(name)) throw new Error(`unknown webhook event type ${name} (known: ${WEBHOOK_EVENT_TYPES.join(', ')})`);
  }
  return new Set(names as WebhookEventType[]);
}

export type WebhookEvent = MessageWebhookEvent | LiveWebhookEvent;

/** The events that are not read from the feed (live-events.ts). */
export type LiveWebhookEvent = UserWebhookEvent | RoomOpenedWebhookEvent;

/** A live room was created. */
export interface RoomOpenedWebhookEvent {
  /** Random. */
  id: string;
  type: 'room.opened';
  /** The room's id, as room.closed and the room's messages have it. */
  conversationId: string;
  /** When it was created (ms since the epoch). */
  at: number;
  room: { id: string; name: string; hostId: string };
}

/** A user went online or offline (cluster-wide). */
export interface UserWebhookEvent {
  /** Random: each transition is its own event. */
  id: string;
  type: UserEventType;
  userId: string;
  /** When the first connection opened, or the last one closed (ms since the epoch). */
  at: number;
}

export interface MessageWebhookEvent {
  /** The message's id: the same event delivered twice (after a failover) has the same id. */
  id: string;
  type: (typeof MESSAGE_EVENT_TYPES)[number];
  /** Where this event sits in the feed: `after=<cursor>` on the replay endpoint starts right after it. */
  cursor: string;
  conversationId: string;
  /** When the message was stored (ms since the epoch). */
  at: number;
  /** The message as the REST API shows it (system events decoded under `system`). */
  message: ReturnType<typeof messageJson>;
}

export function eventOf(stored: FeedMessage): MessageWebhookEvent {
  return {
    id: stored.id,
    type: typeOf(stored),
    cursor: encodeCursor(positionOf(stored)),
    conversationId: stored.conversationId,
    at: stored.createdAt,
    message: messageJson(stored),
  };
}

function typeOf(stored: FeedMessage): MessageWebhookEvent['type'] {
  if (stored.type !== 'system') return 'message.stored';
  switch (readSystemEvent(stored.data)?.type) {
    case 'group_created':
      return 'conversation.created';
    case 'renamed':
      return 'conversation.renamed';
    case 'members_added':
      return 'member.joined';
    case 'member_left':
    case 'member_removed':
      return 'member.left';
    case 'role_changed':
      return 'member.role_changed';
    case 'room_closed':
      return 'room.closed';
    case 'message_recalled':
      return 'message.recalled';
    case 'message_edited':
      return 'message.edited';
    case 'message_hidden':
      return 'message.hidden';
    case 'message_reacted':
      return 'message.reacted';
    default:
      return 'message.stored';
  }
}

export function positionOf(stored: FeedMessage): FeedPosition {
  return { version: stored.version, conversationId: stored.conversationId, seq: stored.seq };
}

/** The start of the feed: before every message that has a version. */
export const FEED_START: FeedPosition = { version: 0, conversationId: '', seq: 0 };

/** "<version>.<seq>.<conversation id as base64url>": opaque to receivers, safe in a query string. */
export function encodeCursor(position: FeedPosition): string {
  return `${position.version}.${position.seq}.${Buffer.from(position.conversationId).toString('base64url')}`;
}

/** The position a cursor names; undefined for anything that is not one. */
export function decodeCursor(cursor: string): FeedPosition | undefined {
  const match = /^(\d{1,15})\.(\d{1,15})\.([A-Za-z0-9_-]{0,200})$/u.exec(cursor);
  if (match === null) return undefined;
  return { version: Number(match[1]), seq: Number(match[2]), conversationId: Buffer.from(match[3] as string, 'base64url').toString() };
}
