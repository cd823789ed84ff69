/**
 * Membership rules: who may add, remove, rename and assign roles. Applied by
 * the services inside the transaction that makes the change.
 */
import { ParleyError } from '@parley/protocol';

export type MemberRole = 'member' | 'admin' | 'owner';

const rank: Record<MemberRole, number> = { member: 1, admin: 2, owner: 3 };

export function roleToInt(role: MemberRole): number {
  return rank[role];
}

export function roleFromInt(value: number): MemberRole {
  return value === 3 ? 'owner' : value === 2 ? 'admin' : 'member';
}

export interface ActorMembership {
  role: MemberRole;
  active: boolean;
}

export function requireActiveMember(actor: ActorMembership | undefined): ActorMembership {
  if (actor === undefined || !actor.active) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
  return actor;
}

/** Adding members needs admin or owner. */
export function checkCanAdd(actor: ActorMembership | undefined): void {
  const member = requireActiveMember(actor);
  if (rank[member.role] < rank.admin) throw new ParleyError('FORBIDDEN', 'only admins and the owner may add members');
}

/**
 * Removing: anyone may remove themselves (leave), except the owner; admins may
 * remove members; the owner may remove anyone but itself.
 */
export function checkCanRemove(actorId: string, actor: ActorMembership | undefined, targetId: string, target: ActorMembership | undefined): void {
  const member = requireActiveMember(actor);
  if (target === undefined || !target.active) throw new ParleyError('NOT_FOUND', `${targetId} is not a member`);
  if (target.role === 'owner') throw new ParleyError('FORBIDDEN', 'the owner cannot be removed; transfer ownership first');
  if (actorId === targetId) return;
  if (rank[member.role] <= rank[target.role]) throw new ParleyError('FORBIDDEN', 'insufficient role to remove this member');
}

export function checkCanRename(actor: ActorMembership | undefined): void {
  const member = requireActiveMember(actor);
  if (rank[member.role] < rank.admin) throw new ParleyError('FORBIDDEN', 'only admins and the owner may rename');
}

/** Only the owner assigns roles; making someone owner transfers ownership. */
export function checkCanSetRole(actor: ActorMembership | undefined, target: ActorMembership | undefined, targetId: string): void {
  const member = requireActiveMember(actor);
  if (member.role !== 'owner') throw new ParleyError('FORBIDDEN', 'only the owner may change roles');
  if (target === undefined || !target.active) throw new ParleyError('NOT_FOUND', `${targetId} is not a member`);
}
