/**
 * The JSON form of system events: how the server stores them in a system
 * message's data (`{"event", "actorId", "userIds"?, "name"?, "role"?}`), and
 * what servers before typed system events sent on the wire. The server reads
 * its stored events with it, and the SDK reads what an older server sends, so
 * both agree on one parser.
 */

export type SystemEventRole = 'member' | 'admin' | 'owner';

/** A system event keyed on `type`, as the REST API and the SDK expose it. */
export type SystemEventRecord =
  | { type: 'group_created'; actorId: string; name: string; memberIds: string[] }
  | { type: 'members_added'; actorId: string; userIds: string[] }
  | { type: 'member_removed'; actorId: string; userId: string }
  | { type: 'member_left'; actorId: string; userId: string }
  | { type: 'renamed'; actorId: string; name: string }
  | { type: 'role_changed'; actorId: string; userId: string; role: SystemEventRole }
  | { type: 'room_closed'; actorId: string }
  // Amendments: an earlier message of the conversation changed.
  | { type: 'message_recalled'; actorId: string; seq: number }
  | { type: 'message_edited'; actorId: string; seq: number; text: string }
  | { type: 'message_hidden'; actorId: string; seq: number }
  | { type: 'message_reacted'; actorId: string; seq: number; emoji: string; added: boolean };

/** The system events that change an earlier message (never unread, never a conversation's last message). */
export const AMENDMENT_EVENTS: ReadonlySet<SystemEventRecord['type']> = new Set(['message_recalled', 'message_edited', 'message_hidden', 'message_reacted']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON system event; undefined for data that is not a well-formed one. */
export function parseSystemEventJson(data: Uint8Array | undefined): SystemEventRecord | undefined {
  if (data === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(data));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  // The admin API acts with no member: its events carry an empty actor.
  const actorId = typeof fields.actorId === 'string' ? fields.actorId : '';
  const userIds = Array.isArray(fields.userIds) ? fields.userIds.filter((id): id is string => typeof id === 'string') : [];
  const name = typeof fields.name === 'string' ? fields.name : '';
  switch (fields.event) {
    case 'group_created':
      return { type: 'group_created', actorId, name, memberIds: userIds };
    case 'members_added':
      return { type: 'members_added', actorId, userIds };
    case 'member_removed':
    case 'member_left':
      return { type: fields.event, actorId, userId: userIds[0] ?? '' };
    case 'renamed':
      return { type: 'renamed', actorId, name };
    case 'role_changed':
      if (fields.role !== 'member' && fields.role !== 'admin' && fields.role !== 'owner') return undefined;
      return { type: 'role_changed', actorId, userId: userIds[0] ?? '', role: fields.role };
    case 'room_closed':
      return { type: 'room_closed', actorId };
    case 'message_recalled':
    case 'message_hidden':
      if (!Number.isSafeInteger(fields.seq) || (fields.seq as number) < 1) return undefined;
      return { type: fields.event, actorId, seq: fields.seq as number };
    case 'message_edited':
      if (!Number.isSafeInteger(fields.seq) || (fields.seq as number) < 1) return undefined;
      return { type: 'message_edited', actorId, seq: fields.seq as number, text: typeof fields.text === 'string' ? fields.text : '' };
    case 'message_reacted':
      if (!Number.isSafeInteger(fields.seq) || (fields.seq as number) < 1 || typeof fields.emoji !== 'string') return undefined;
      return { type: 'message_reacted', actorId, seq: fields.seq as number, emoji: fields.emoji, added: fields.added === true };
    default:
      return undefined;
  }
}
