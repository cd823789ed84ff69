/**
 * Conversations and groups: direct conversations between two users (with an
 * optional business subject), groups with roles, membership and names. Every
 * group change is recorded as a system message in the conversation, so
 * members see it in their timeline and their clients refresh.
 */
import { type Clock, ParleyError, systemClock } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import type { Bus } from '../bus/bus.js';
import type { ConversationRow, MemberRow, Store, StoreTx } from '../store/store.js';
import { lockConversation, requireConversation, requireUsers } from './access.js';
import { routedRecipients } from './recipients.js';
import { directConversationId, newGroupId } from './ids.js';
import type { ConversationKindName, ConversationView, MemberInfo, MembershipChange } from './model.js';
import { type ActorMembership, type MemberRole, checkCanAdd, checkCanRemove, checkCanRename, checkCanSetRole, requireActiveMember } from './rules.js';
import { appendSystemEvent } from './timeline.js';
import { buildView } from './views.js';
import { requireConversationId, requireId, requireIdList, requireName, requireStorableText } from './validate.js';

/** A conversation as the operator's overview names it (ConversationService.labels). */
export interface ConversationLabel {
  id: string;
  kind: ConversationKindName;
  name: string;
  memberCount: number;
  /** A closed room. */
  closed: boolean;
}

/** Full rights for admin API calls. */
const ADMIN: ActorMembership = { role: 'owner', active: true };

export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
    private readonly clock: Clock = systemClock,
  ) {}

  private readonly membersChanged = new Set<(conversationId: string) => void>();

  /**
   * Calls `listener` right after a membership change on this node commits,
   * before its 'members' event has made the trip over the bus: caches of
   * member lists here must not serve the old list to a send that follows.
   */
  onMembersChanged(listener: (conversationId: string) => void): void {
    this.membersChanged.add(listener);
  }

  /** Returns (creating if needed) the direct conversation, as `userId` sees it. */
  async openDirect(userId: string, peerId: string, subject: string): Promise<ConversationView> {
    const peer = requireId(peerId, 'peerId');
    const topic = requireName(subject ?? '', 'subject', this.limits, true);
    let created = false;
    const view = await this.store.write(async (tx) => {
      created = false;
      if (userId === peer) throw new ParleyError('INVALID_ARGUMENT', 'a direct conversation needs two different users');
      await requireUsers(tx, [userId, peer]);
      const id = directConversationId(userId, peer, topic);
      let conversation = await tx.lockConversation(id);
      if (conversation === undefined) {
        const now = this.clock.now();
        const row: ConversationRow = { id, kind: 'direct', name: '', subject: topic, peerIds: [userId, peer].sort() as [string, string], lastSeq: 0, memberCount: 2, createdAt: now, updatedAt: now };
        if (await tx.insertConversation(row)) {
          created = true;
          for (const member of [userId, peer]) {
            await tx.putMember({ conversationId: id, userId: member, role: 'member', firstSeq: 1, readSeq: 0, joinedAt: now });
          }
        }
        // Another node may have created it in the meantime: use whichever row won.
        conversation = await lockConversation(tx, id);
      }
      return this.viewIn(tx, userId, conversation);
    });
    // The opener's other devices and the peer's list the new chat at once,
    // not only when its first message arrives.
    if (created) this.bus.publish({ type: 'membership', conversationId: view.id, userIds: [userId, peer] });
    return view;
  }

  async createGroup(ownerId: string, input: { id?: string; name: string; memberIds: string[] }): Promise<ConversationView> {
    const id = input.id === undefined || input.id === '' ? newGroupId() : requireId(input.id, 'id');
    const name = requireName(input.name, 'name', this.limits);
    const owner = requireId(ownerId, 'ownerId');
    const requested = requireIdList(input.memberIds, 'memberIds', this.limits.maxGroupMembers);
    const { view, change, recipients } = await this.store.write(async (tx) => {
      await requireUsers(tx, [owner]);
      const memberIds = [...new Set([owner, ...requested])];
      if (memberIds.length > this.limits.maxGroupMembers) {
        throw new ParleyError('LIMIT_EXCEEDED', `a group holds at most ${this.limits.maxGroupMembers} members`);
      }
      await requireUsers(tx, memberIds);
      const now = this.clock.now();
      const conversation: ConversationRow = { id, kind: 'group', name, subject: '', lastSeq: 0, memberCount: memberIds.length, createdAt: now, updatedAt: now };
      if (!(await tx.insertConversation(conversation))) throw new ParleyError('CONFLICT', `conversation ${id} already exists`);
      for (const userId of memberIds) {
        await tx.putMember({ conversationId: id, userId, role: userId === owner ? 'owner' : 'member', firstSeq: 1, readSeq: 0, joinedAt: now });
      }
      const message = await appendSystemEvent(tx, conversation, owner, { event: 'group_created', actorId: owner, name, userIds: memberIds }, now);
      const change: MembershipChange = { conversationId: id, messages: [message], added: memberIds, removed: [] };
      return { view: await this.viewIn(tx, owner, conversation), change, recipients: await routedRecipients(tx, conversation) };
    });
    this.publish(change, recipients);
    return view;
  }

  /**
   * Adds and removes members. New members read from the seq of the event
   * that added them; removed members keep read access up to the event that
   * removed them (their access window).
   */
  async updateMembers(actorId: string, conversationId: string, add: string[], remove: string[], asAdmin = false): Promise<MembershipChange> {
    const id = requireConversationId(conversationId);
    const toAddRequested = requireIdList(add, 'add', this.limits.maxGroupMembers);
    const toRemove = requireIdList(remove, 'remove', this.limits.maxGroupMembers);
    const { change, recipients } = await this.store.write(async (tx) => {
      const conversation = await lockConversation(tx, id);
      if (conversation.kind !== 'group') throw new ParleyError('INVALID_ARGUMENT', 'members can only change in groups');
      const actor = asAdmin ? await this.adminActing(tx, actorId) : await this.actorIn(tx, id, actorId);
      const change: MembershipChange = { conversationId: id, messages: [], added: [], removed: [] };
      const now = this.clock.now();

      if (toAddRequested.length > 0) checkCanAdd(actor);
      const toAdd: string[] = [];
      const former = new Map<string, MemberRow>();
      for (const userId of new Set(toAddRequested)) {
        await requireUsers(tx, [userId]);
        const existing = await tx.getMember(id, userId);
        if (existing === undefined || existing.leftSeq !== undefined) toAdd.push(userId);
        if (existing?.leftSeq !== undefined) former.set(userId, existing);
      }
      if (toAdd.length > 0) {
        const count = await tx.countActiveMembers(id);
        if (count + toAdd.length > this.limits.maxGroupMembers) {
          throw new ParleyError('LIMIT_EXCEEDED', `a group holds at most ${this.limits.maxGroupMembers} members`);
        }
        const message = await appendSystemEvent(tx, conversation, actorId, { event: 'members_added', actorId, userIds: toAdd }, now);
        for (const userId of toAdd) {
          const before = former.get(userId);
          if (before === undefined) {
            await tx.putMember({ conversationId: id, userId, role: 'member', firstSeq: message.seq, readSeq: message.seq - 1, joinedAt: now });
            continue;
          }
          // Added back: what happened while away stays unreadable (an
          // absence), and the earlier membership stays readable, so a device
          // that had not fetched all of it yet still can.
          const away = { from: (before.leftSeq as number) + 1, through: message.seq - 1 };
          const absences = away.from <= away.through ? [...(before.absences ?? []), away] : [...(before.absences ?? [])];
          await tx.putMember({ conversationId: id, userId, role: 'member', firstSeq: before.firstSeq, absences, readSeq: Math.max(before.readSeq, message.seq - 1), joinedAt: now });
        }
        change.added = toAdd;
        change.messages.push(message);
      }
      for (const userId of new Set(toRemove)) {
        await requireUsers(tx, [userId]);
        checkCanRemove(actorId, actor, userId, toActor(await tx.getMember(id, userId)));
        const event = userId === actorId ? 'member_left' : 'member_removed';
        const message = await appendSystemEvent(tx, conversation, actorId, { event, actorId, userIds: [userId] }, now);
        await tx.updateMember(id, userId, { leftSeq: message.seq });
        change.removed.push(userId);
        change.messages.push(message);
      }
      let memberCount = conversation.memberCount;
      if (change.added.length + change.removed.length > 0) {
        memberCount = await tx.countActiveMembers(id);
        await tx.updateConversation(id, { memberCount });
      }
      return { change, recipients: await routedRecipients(tx, conversation, memberCount) };
    }, { order: id });
    this.publish(change, recipients);
    return change;
  }

  /**
   * Sets (a string) or removes (null) the host's attributes of a direct
   * conversation or a group, and returns them all. The operator's call (the
   * admin API): they describe the conversation in the host's product, the
   * same for every member. Members' devices learn of it like of any change
   * to their conversation list: a `conversation_changed` to those connected
   * (groups up to MAX_NOTIFIED_MEMBERS), a sync for the others.
   */
  async setAttributes(conversationId: string, patch: Readonly<Record<string, string | null>>): Promise<Record<string, string>> {
    const id = requireConversationId(conversationId);
    checkAttributePatch(patch);
    const { attributes, members } = await this.store.write(async (tx) => {
      const conversation = await lockConversation(tx, id);
      if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'live rooms have no attributes');
      const attributes = { ...(conversation.attributes ?? {}) };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete attributes[key];
        else attributes[key] = value;
      }
      checkAttributes(attributes);
      await tx.updateConversation(id, { attributes });
      const members = conversation.memberCount <= MAX_NOTIFIED_MEMBERS ? (await tx.activeMembers(id)).map((member) => member.userId) : [];
      return { attributes, members };
    }, { order: id });
    if (members.length > 0) this.bus.publish({ type: 'membership', conversationId: id, userIds: members });
    return attributes;
  }

  async rename(actorId: string, conversationId: string, name: string, asAdmin = false): Promise<void> {
    const id = requireConversationId(conversationId);
    const newName = requireName(name, 'name', this.limits);
    const { change, recipients } = await this.store.write(async (tx) => {
      const conversation = await lockConversation(tx, id);
      if (conversation.kind !== 'group') throw new ParleyError('INVALID_ARGUMENT', 'only groups have names');
      if (asAdmin) await this.adminActing(tx, actorId);
      else checkCanRename(await this.actorIn(tx, id, actorId));
      await tx.updateConversation(id, { name: newName });
      const message = await appendSystemEvent(tx, conversation, actorId, { event: 'renamed', actorId, name: newName }, this.clock.now());
      const change: MembershipChange = { conversationId: id, messages: [message], added: [], removed: [] };
      return { change, recipients: await routedRecipients(tx, conversation) };
    }, { order: id });
    this.publish(change, recipients);
  }

  /** Only the owner assigns roles; making another member owner hands ownership over (the old owner becomes admin). */
  async setRole(actorId: string, conversationId: string, userId: string, role: MemberRole | undefined): Promise<void> {
    if (role === undefined) throw new ParleyError('INVALID_ARGUMENT', 'role must be member, admin or owner');
    const id = requireConversationId(conversationId);
    const targetId = requireId(userId, 'userId');
    const { change, recipients } = await this.store.write(async (tx) => {
      const conversation = await lockConversation(tx, id);
      if (conversation.kind !== 'group') throw new ParleyError('INVALID_ARGUMENT', 'roles exist only in groups');
      const actor = await this.actorIn(tx, id, actorId);
      await requireUsers(tx, [targetId]);
      checkCanSetRole(actor, toActor(await tx.getMember(id, targetId)), targetId);
      if (role === 'owner' && targetId !== actorId) {
        // One owner per group.
        await tx.updateMember(id, actorId, { role: 'admin' });
      }
      if (targetId === actorId && role !== 'owner') {
        throw new ParleyError('INVALID_ARGUMENT', 'the owner hands over ownership by making another member owner');
      }
      await tx.updateMember(id, targetId, { role });
      const message = await appendSystemEvent(tx, conversation, actorId, { event: 'role_changed', actorId, userIds: [targetId], role }, this.clock.now());
      const change: MembershipChange = { conversationId: id, messages: [message], added: [], removed: [] };
      return { change, recipients: await routedRecipients(tx, conversation) };
    }, { order: id });
    this.publish(change, recipients);
    // Handing over ownership also makes the old owner an admin.
    const changedRoles = role === 'owner' && userId !== actorId ? [userId, actorId] : [userId];
    this.bus.publish({ type: 'membership', conversationId: change.conversationId, userIds: changedRoles });
  }

  /** Active members with their names; the requester must be an active member (undefined = admin). */
  async members(requesterId: string | undefined, conversationId: string): Promise<MemberInfo[]> {
    const id = requireConversationId(conversationId);
    await requireConversation(this.store, id);
    if (requesterId !== undefined) {
      await requireUsers(this.store, [requesterId]);
      requireActiveMember(toActor(await this.store.getMember(id, requesterId)));
    }
    const members = await this.store.activeMembers(id);
    const names = new Map((await this.store.getUsers(members.map((member) => member.userId))).map((user) => [user.id, user.name]));
    return members.map((member) => ({ userId: member.userId, name: names.get(member.userId) ?? member.userId, role: member.role, joinedAt: member.joinedAt }));
  }

  /** Who gets a conversation's pushes. */
  async activeMemberIds(conversationId: string): Promise<string[]> {
    return (await this.store.activeMembers(conversationId)).map((member) => member.userId);
  }

  /**
   * What the operator's overview shows of these conversations: kind, a name
   * (a direct conversation's is its two users' names), members, and whether
   * a room was closed. Unknown ids are left out; meant for a few ids at a time.
   */
  async labels(conversationIds: readonly string[]): Promise<ConversationLabel[]> {
    const rows = (await Promise.all([...new Set(conversationIds)].map((id) => this.store.getConversation(id)))).filter((row) => row !== undefined);
    const peerIds = [...new Set(rows.flatMap((row) => row.peerIds ?? []))];
    const names = new Map((peerIds.length === 0 ? [] : await this.store.getUsers(peerIds)).map((user) => [user.id, user.name]));
    return rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      name: row.kind === 'direct' && row.peerIds !== undefined ? row.peerIds.map((id) => names.get(id) ?? id).join(' & ') : row.name,
      memberCount: row.memberCount,
      closed: row.closedAt !== undefined,
    }));
  }

  /**
   * The operator (admin API) acting, optionally on behalf of a named user:
   * the name only attributes the event, so it must exist but need not be a
   * member; '' leaves the event without an actor.
   */
  private async adminActing(tx: StoreTx, actorId: string): Promise<ActorMembership> {
    if (actorId !== '') await requireUsers(tx, [requireId(actorId, 'actorId')]);
    return ADMIN;
  }

  private async actorIn(tx: StoreTx, conversationId: string, actorId: string): Promise<ActorMembership | undefined> {
    await requireUsers(tx, [actorId]);
    return toActor(await tx.getMember(conversationId, actorId));
  }

  private async viewIn(tx: StoreTx, userId: string, conversation: ConversationRow): Promise<ConversationView> {
    const member = await tx.getMember(conversation.id, userId);
    if (member === undefined) throw new ParleyError('INTERNAL', 'member row missing after insert');
    return buildView(tx, member, conversation);
  }

  /** `recipients`: the active members after the change, for a small group (recipients.ts). */
  private publish(change: MembershipChange, recipients: string[] | undefined): void {
    if (change.added.length + change.removed.length > 0) {
      for (const listener of this.membersChanged) listener(change.conversationId);
      this.bus.publish({ type: 'members', conversationId: change.conversationId });
    }
    for (const message of change.messages) {
      this.bus.publish({ type: 'message', message, alsoNotify: change.removed, recipients });
    }
    const changed = [...change.added, ...change.removed];
    if (changed.length > 0) this.bus.publish({ type: 'membership', conversationId: change.conversationId, userIds: changed });
  }
}

function toActor(member: { role: MemberRole; leftSeq?: number } | undefined): ActorMembership | undefined {
  return member === undefined ? undefined : { role: member.role, active: member.leftSeq === undefined };
}

/** Bounds on a conversation's attributes (also in docs/protocol.md). */
export const ATTRIBUTE_LIMITS = { keys: 32, valueChars: 1024, totalChars: 8192 } as const;
const ATTRIBUTE_KEY = /^[a-z0-9_.-]{1,64}$/u;
/** Groups up to this size have their connected members told of an attribute change at once; larger ones learn by sync. */
const MAX_NOTIFIED_MEMBERS = 1000;

function checkAttributePatch(patch: Readonly<Record<string, string | null>>): void {
  const entries = Object.entries(patch);
  if (entries.length === 0) throw new ParleyError('INVALID_ARGUMENT', 'attributes must name at least one key');
  if (entries.length > ATTRIBUTE_LIMITS.keys) throw new ParleyError('TOO_LARGE', `at most ${ATTRIBUTE_LIMITS.keys} attributes`);
  for (const [key, value] of entries) {
    if (!ATTRIBUTE_KEY.test(key)) throw new ParleyError('INVALID_ARGUMENT', `attribute key "${key.slice(0, 70)}" must be 1-64 characters of a-z 0-9 _ . -`);
    if (value !== null && typeof value !== 'string') throw new ParleyError('INVALID_ARGUMENT', `attribute "${key}" must be a string, or null to remove it`);
    if (value !== null && value.length > ATTRIBUTE_LIMITS.valueChars) throw new ParleyError('TOO_LARGE', `attribute "${key}" is longer than ${ATTRIBUTE_LIMITS.valueChars} characters`);
    if (value !== null) requireStorableText(value, `attribute "${key}"`);
  }
}

function checkAttributes(attributes: Readonly<Record<string, string>>): void {
  const keys = Object.keys(attributes);
  if (keys.length > ATTRIBUTE_LIMITS.keys) throw new ParleyError('TOO_LARGE', `a conversation holds at most ${ATTRIBUTE_LIMITS.keys} attributes`);
  const total = keys.reduce((sum, key) => sum + key.length + (attributes[key] as string).length, 0);
  if (total > ATTRIBUTE_LIMITS.totalChars) throw new ParleyError('TOO_LARGE', `a conversation's attributes hold at most ${ATTRIBUTE_LIMITS.totalChars} characters in all`);
}
