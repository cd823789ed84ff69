/**
 * System events: the timeline entries that record membership and naming
 * changes. This module alone knows how they are encoded in a message's
 * `data` (JSON today), so changing the encoding touches nothing else.
 */
import type { MemberRole } from './rules.js';

export type SystemEvent =
  | { event: 'group_created'; actorId: string; name: string; userIds: string[] }
  | { event: 'members_added'; actorId: string; userIds: string[] }
  | { event: 'member_left'; actorId: string; userIds: string[] }
  | { event: 'member_removed'; actorId: string; userIds: string[] }
  | { event: 'renamed'; actorId: string; name: string }
  | { event: 'role_changed'; actorId: string; userIds: string[]; role: MemberRole };

/** The bytes stored as a system message's data. */
export function systemEvent(event: SystemEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8');
}
