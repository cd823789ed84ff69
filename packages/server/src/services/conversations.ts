/**
 * Conversations and groups: direct conversations between two users (with an
 * optional business subject), groups with roles, membership and names. Every
 * change is recorded as a system message in the conversation, so members see
 * it in their timeline and their clients refresh.
 */
import { ParleyError } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import type { Bus } from '../bus/bus.js';
import type { ConversationView, MemberInfo, MembershipChange, Store } from '../store/store.js';
import type { MemberRole } from '../store/rules.js';
import { newGroupId } from '../store/ids.js';
import { requireConversationId, requireId, requireIdList, requireName } from './validate.js';

export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
  ) {}

  openDirect(userId: string, peerId: string, subject: string): Promise<ConversationView> {
    return this.store.openDirect(userId, requireId(peerId, 'peerId'), requireName(subject ?? '', 'subject', this.limits, true));
  }

  async createGroup(ownerId: string, input: { id?: string; name: string; memberIds: string[] }): Promise<ConversationView> {
    const id = input.id === undefined || input.id === '' ? newGroupId() : requireId(input.id, 'id');
    const memberIds = requireIdList(input.memberIds, 'memberIds', this.limits.maxGroupMembers);
    const { view, change } = await this.store.createGroup({
      id,
      name: requireName(input.name, 'name', this.limits),
      ownerId: requireId(ownerId, 'ownerId'),
      memberIds,
      maxMembers: this.limits.maxGroupMembers,
    });
    this.publish(change);
    return view;
  }

  async updateMembers(actorId: string, conversationId: string, add: string[], remove: string[], asAdmin = false): Promise<MembershipChange> {
    const change = await this.store.updateMembers({
      conversationId: requireConversationId(conversationId),
      actorId,
      add: requireIdList(add, 'add', this.limits.maxGroupMembers),
      remove: requireIdList(remove, 'remove', this.limits.maxGroupMembers),
      maxMembers: this.limits.maxGroupMembers,
      asAdmin,
    });
    this.publish(change);
    return change;
  }

  async rename(actorId: string, conversationId: string, name: string, asAdmin = false): Promise<void> {
    const change = await this.store.rename({
      conversationId: requireConversationId(conversationId),
      actorId,
      name: requireName(name, 'name', this.limits),
      asAdmin,
    });
    this.publish(change);
  }

  async setRole(actorId: string, conversationId: string, userId: string, role: MemberRole | undefined): Promise<void> {
    if (role === undefined) throw new ParleyError('INVALID_ARGUMENT', 'role must be member, admin or owner');
    const change = await this.store.setRole({ conversationId: requireConversationId(conversationId), actorId, userId: requireId(userId, 'userId'), role });
    this.publish(change);
    // Handing over ownership also makes the old owner an admin.
    const changedRoles = role === 'owner' && userId !== actorId ? [userId, actorId] : [userId];
    this.bus.publish({ type: 'membership', conversationId: change.conversationId, userIds: changedRoles });
  }

  members(requesterId: string | undefined, conversationId: string): Promise<MemberInfo[]> {
    return this.store.listMembers(requireConversationId(conversationId), requesterId);
  }

  private publish(change: MembershipChange): void {
    if (change.added.length + change.removed.length > 0) this.bus.publish({ type: 'members', conversationId: change.conversationId });
    for (const message of change.messages) {
      this.bus.publish({ type: 'message', message, alsoNotify: change.removed });
    }
    const changed = [...change.added, ...change.removed];
    if (changed.length > 0) this.bus.publish({ type: 'membership', conversationId: change.conversationId, userIds: changed });
  }
}
