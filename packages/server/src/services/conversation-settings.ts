/**
 * A member's own settings for a conversation: muted (until a time, or until
 * unmuted), pinned, and the draft left in the composer. They live on the
 * membership, so they reach the user's other devices by the same roads as
 * the read position: a sync returns memberships whose row changed, and
 * connected devices get a ConversationChanged at once. Nobody else sees them.
 */
import { type Clock, MUTED_FOREVER, ParleyError, systemClock } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { ServerLimits } from '../config.js';
import type { MemberRow, Store } from '../store/store.js';
import { requireMembership } from './access.js';
import type { ConversationView } from './model.js';
import { requireConversationId, requireStorableText } from './validate.js';

export interface SettingsChange {
  /** ms since the epoch; 0 (or a time already past) unmutes; MUTED_FOREVER mutes until unmuted. */
  mutedUntil?: number;
  pinned?: boolean;
  /** '' clears it. */
  draft?: string;
}

export interface SettingsDeps {
  /** The conversation as the user sees it after the change (with its unread count). */
  view(userId: string, conversationId: string): Promise<ConversationView | undefined>;
  totalUnread(userId: string): Promise<number>;
}

export class ConversationSettings {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
    private readonly deps: SettingsDeps,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Changes what `change` names, for the user only. A past member may still
   * unmute, unpin or clear a draft (the conversation stays in their list);
   * pinning is for conversations the user is in.
   */
  async update(userId: string, conversationId: string, change: SettingsChange, originSessionId?: string): Promise<ConversationView> {
    const id = requireConversationId(conversationId);
    const patch = this.patchOf(change);
    // One user's pins are counted and set one at a time on this node, so two
    // devices pinning at once cannot both slip under the bound.
    await this.store.write(
      async (tx) => {
        const member = await requireMembership(tx, id, userId);
        if (change.pinned === true && member.pinnedAt === undefined) {
          if (member.leftSeq !== undefined) throw new ParleyError('FORBIDDEN', 'only conversations you are in can be pinned');
          if ((await tx.countPinned(userId)) >= this.limits.maxPinned) throw new ParleyError('LIMIT_EXCEEDED', `at most ${this.limits.maxPinned} conversations can be pinned`);
        } else if (change.pinned === true) delete patch.pinnedAt; // pinned already: keeps its place
        if (Object.keys(patch).length > 0) await tx.updateMember(id, userId, patch);
      },
      { order: `settings\0${userId}` },
    );
    const view = await this.deps.view(userId, id);
    if (view === undefined) throw new ParleyError('INTERNAL', 'membership missing after a settings change');
    this.bus.publish({ type: 'summary', userId, summary: view, totalUnread: await this.deps.totalUnread(userId), originSessionId });
    return view;
  }

  private patchOf(change: SettingsChange): Partial<Pick<MemberRow, 'mutedUntil' | 'pinnedAt' | 'draft'>> {
    const patch: Partial<Pick<MemberRow, 'mutedUntil' | 'pinnedAt' | 'draft'>> = {};
    if (change.mutedUntil !== undefined) {
      const until = change.mutedUntil;
      if (!Number.isSafeInteger(until) || until < 0 || until > MUTED_FOREVER) throw new ParleyError('INVALID_ARGUMENT', `mutedUntil must be a time in ms, 0 to unmute, or ${MUTED_FOREVER} for until unmuted`);
      patch.mutedUntil = until <= this.clock.now() ? 0 : until;
    }
    if (change.pinned !== undefined) {
      if (typeof change.pinned !== 'boolean') throw new ParleyError('INVALID_ARGUMENT', 'pinned must be true or false');
      patch.pinnedAt = change.pinned ? this.clock.now() : 0;
    }
    if (change.draft !== undefined) {
      if (typeof change.draft !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'draft must be a string');
      if (change.draft.length > this.limits.maxDraftChars) throw new ParleyError('TOO_LARGE', `a draft has at most ${this.limits.maxDraftChars} characters`);
      requireStorableText(change.draft, 'draft');
      patch.draft = change.draft;
    }
    if (Object.keys(patch).length === 0) throw new ParleyError('INVALID_ARGUMENT', 'name at least one of mutedUntil, pinned, draft');
    return patch;
  }
}

/** Whether a conversation's notifications are muted now. */
export function isMuted(mutedUntil: number | undefined, now: number): boolean {
  return mutedUntil !== undefined && mutedUntil > now;
}
