/**
 * Presence as a user's contacts see it: online, away, or offline and when
 * last seen. The domain's part: who may watch whom, what a watcher is shown,
 * and keeping "last seen" across restarts. Which connections exist and how
 * the news travels is the gateway's (gateway/presence-hub.ts over
 * gateway/cluster-presence.ts); nothing here holds a session.
 *
 * - Only users who share a conversation with the watcher (an active
 *   membership of the same direct chat or group) may be watched: one store
 *   query per subscription, bounded by MAX_WATCHED ids. Others are shown as
 *   unknown, exactly like a user who hides their presence, so the answer
 *   does not tell a stranger whether an id exists.
 * - A user who hides their presence is shown to everyone as unknown; a
 *   watcher who hides theirs is shown nobody's last seen (reciprocal, like
 *   read receipts), but still sees others online or away, which is live and
 *   tells them no more than a reply would.
 * - Last seen is written once per time a user goes offline (after the
 *   gateway's grace, so a phone that drops and reconnects writes nothing),
 *   gathered for LAST_SEEN_FLUSH_MS and written in one unit: a column of
 *   the users table, never a row per event. At a million users going
 *   offline twenty times a day that is about 230 row updates a second,
 *   written as one transaction a second.
 */
import { type Clock, ParleyError, isValidId, systemClock } from '@parley/protocol';
import type { Store } from '../store/store.js';

/** User ids one connection may watch at once. */
export const MAX_WATCHED = 200;
/** How often gathered last-seen times are written. */
export const LAST_SEEN_FLUSH_MS = 1000;
/** Users with a last-seen time waiting to be written; past it the newest are dropped (the next offline writes again). */
const MAX_PENDING_LAST_SEEN = 100_000;

/** A user's presence over the cluster (ClusterPresence.stateOf). */
export type PresenceStateName = 'online' | 'away' | 'offline';

/** What a watcher is shown of a user: `unknown` when not theirs to see; `lastSeen` 0 when not known or not shown. */
export interface ShownPresence {
  state: PresenceStateName | 'unknown';
  lastSeen: number;
}

/** A user the watcher may watch, with what the store holds of them. */
export interface WatchTarget {
  /** The user hides their presence. */
  hidden: boolean;
  /** When their last connection closed, as last written; undefined: never seen. */
  lastSeenAt: number | undefined;
}

export interface WatchAdmission {
  /** The watcher hides their own presence: they are shown nobody's last seen. */
  blind: boolean;
  /** The asked users the watcher may watch (the others are shown as unknown). */
  targets: Map<string, WatchTarget>;
}

/** The aggregation rule: online while any connection is active, away when every one is away, offline without any. */
export function presenceOf(connections: number, away: number): PresenceStateName {
  if (connections <= 0) return 'offline';
  return away >= connections ? 'away' : 'online';
}

/** What `watcher` is shown of a user in `state`, last seen at `lastSeen`. */
export function shownPresence(state: PresenceStateName, lastSeen: number | undefined, target: { hidden: boolean }, watcher: { blind: boolean }): ShownPresence {
  if (target.hidden) return { state: 'unknown', lastSeen: 0 };
  if (state !== 'offline' || watcher.blind) return { state, lastSeen: 0 };
  return { state, lastSeen: lastSeen ?? 0 };
}

export interface PresenceCounts {
  /** Last-seen times written since start. */
  written: number;
  /** Last-seen times dropped (too many waiting, or a write failed). */
  dropped: number;
}

export class PresenceService {
  private pending = new Map<string, number>();
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  readonly counts: PresenceCounts = { written: 0, dropped: 0 };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The ids a watcher asks for, deduplicated in the order asked. More than
   * MAX_WATCHED is refused (TOO_LARGE); ids that are not ids are kept, and
   * shown as unknown.
   */
  askedIds(userIds: readonly string[]): string[] {
    const asked = [...new Set(userIds)];
    if (asked.length > MAX_WATCHED) throw new ParleyError('TOO_LARGE', `at most ${MAX_WATCHED} users may be watched at once`);
    return asked;
  }

  /** Which of `userIds` the watcher may watch, with their settings and stored last seen. */
  async admit(watcherId: string, userIds: readonly string[]): Promise<WatchAdmission> {
    const candidates = userIds.filter((id) => isValidId(id));
    const shared = candidates.length === 0 ? [] : await this.store.sharedMembersOf(watcherId, candidates);
    const users = await this.store.getUsers([watcherId, ...shared]);
    const targets = new Map<string, WatchTarget>();
    let blind = false;
    const sharedIds = new Set(shared);
    for (const user of users) {
      if (user.id === watcherId) blind = user.hidePresence === true;
      if (sharedIds.has(user.id)) targets.set(user.id, { hidden: user.hidePresence === true, lastSeenAt: user.lastSeenAt });
    }
    return { blind, targets };
  }

  /** The user's last connection closed at `at` and they stayed away: kept, in the next batch. */
  lastSeen(userId: string, at: number): void {
    if (this.closed) return;
    if (!this.pending.has(userId) && this.pending.size >= MAX_PENDING_LAST_SEEN) {
      this.counts.dropped += 1;
      return;
    }
    this.pending.set(userId, Math.max(at, this.pending.get(userId) ?? 0));
    this.timer ??= this.clock.setTimeout(() => void this.flush(), LAST_SEEN_FLUSH_MS);
  }

  /** Writes what is waiting; resolves once written (also when nothing waits). */
  flush(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.size > 0) {
      this.pending = new Map();
      this.flushing = this.flushing.then(() => this.write(batch));
    }
    return this.flushing;
  }

  /** Writes what is waiting; later times are dropped. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private async write(batch: Map<string, number>): Promise<void> {
    try {
      const written = await this.store.write(async (tx) => {
        let count = 0;
        for (const [userId, lastSeenAt] of batch) {
          try {
            await tx.updateUser(userId, { lastSeenAt });
            count += 1;
          } catch (error) {
            // A user the store does not know (a token for an id never registered): nothing to keep.
            if (!(error instanceof ParleyError && error.codeName === 'NOT_FOUND')) throw error;
          }
        }
        return count;
      });
      this.counts.written += written;
    } catch {
      this.counts.dropped += batch.size;
    }
  }
}
