/**
 * Unread counts per member, extended instead of recounted. Whether a stored
 * message counts changes only by a recall or a deletion for oneself, and each
 * of those changes the filter's revision (views.ts unreadFilter), so while a member's unread range only grows at its top (new
 * messages, same read position) the count grows by the count of the new part.
 * Without it every sync counted every conversation with unread messages, most
 * of the sync answer's time for a user with hundreds of them (decision 66).
 *
 * Use it only for reads outside write units: a unit may read rows it later
 * rolls back, and a count cached from them would be wrong forever. Reads
 * outside units see committed rows only (the store waits for the open batch),
 * and every seq up to a committed lastSeq is committed.
 */
import type { Membership, MessageFilter, StoreReader } from '../store/store.js';
import { setMostRecent } from '../util/recent-map.js';
import { memberUnread, sum, unreadCounts } from './views.js';

interface CachedCount {
  fromSeq: number;
  toSeq: number;
  count: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;

export class UnreadCache {
  private readonly entries = new Map<string, CachedCount>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** countMessages(filter), from the cached count of a lower range when there is one. */
  async count(reader: StoreReader, filter: MessageFilter): Promise<number> {
    const cached = this.entries.get(keyOf(filter));
    let count: number;
    if (cached !== undefined && cached.fromSeq === filter.fromSeq && cached.toSeq <= filter.toSeq) {
      count = cached.toSeq === filter.toSeq ? cached.count : cached.count + (await reader.countMessages({ ...filter, fromSeq: cached.toSeq + 1 }));
    } else {
      count = await reader.countMessages(filter);
    }
    this.remember(filter, count);
    return count;
  }

  /** Records a count made from committed messages read some other way (views.ts counts a sync's recent run). */
  remember(filter: MessageFilter, count: number): void {
    setMostRecent(this.entries, keyOf(filter), { fromSeq: filter.fromSeq, toSeq: filter.toSeq, count }, this.maxEntries);
  }
}

/** Everything but the range: a cached count extends only a count of the same filter. */
function keyOf(filter: MessageFilter): string {
  return `${filter.conversationId}\n${filter.excludeSender ?? ''}\n${filter.visibleTo ?? ''}\n${filter.type ?? ''}\n${filter.mainOnly === true ? 'main' : ''}\n${filter.revision ?? ''}`;
}

interface UserTotal {
  /** The sync version read before the rows this total was computed from. */
  version: number;
  total: number;
  /** The non-zero count of each conversation, by id: what a change replaces. */
  counts: ReadonlyMap<string, number>;
}

const DEFAULT_MAX_USERS = 10_000;

/**
 * Users' total unread, carried forward instead of recounted: a membership
 * whose member and conversation rows did not change since the version of the
 * last total has the same count (stored messages never change), so a new
 * total needs only the memberships changed since. Without it every sync read
 * every conversation the user is behind in, most of a reconnect's time for a
 * user with a thousand unread conversations (decision 72).
 *
 * Same rule as UnreadCache: reads outside write units only. Entries are
 * replaced, never changed in place, and only over the entry the computation
 * started from, so two syncs of one user interleaving at their awaits never
 * leave a count older than the entry's version.
 */
export class UnreadTotals {
  private readonly entries = new Map<string, UserTotal>();

  constructor(
    private readonly counts: UnreadCache,
    private readonly maxUsers = DEFAULT_MAX_USERS,
  ) {}

  /**
   * The user's total unread. `version` is the store's sync version read
   * before anything else of this computation; `changed` may hand in the
   * memberships changed since a version the caller already read.
   */
  async total(reader: StoreReader, userId: string, version: number, changed?: { since: number; memberships: readonly Membership[] }): Promise<number> {
    const start = this.entries.get(userId);
    let next: UserTotal;
    if (start === undefined) {
      next = await this.recount(reader, userId, version);
    } else {
      const memberships = changed !== undefined && changed.since <= start.version ? changed.memberships : await reader.membershipsOf(userId, { changedSince: start.version });
      const counts = new Map(start.counts);
      let total = start.total;
      for (const { member, conversation } of memberships) {
        const count = await memberUnread(reader, member, conversation, this.counts);
        total += count - (counts.get(conversation.id) ?? 0);
        if (count > 0) counts.set(conversation.id, count);
        else counts.delete(conversation.id);
      }
      next = { version: Math.max(start.version, version), total, counts };
    }
    if (this.entries.get(userId) === start) setMostRecent(this.entries, userId, next, this.maxUsers);
    else this.entries.delete(userId); // another computation ran meanwhile: recount next time
    return next.total;
  }

  private async recount(reader: StoreReader, userId: string, version: number): Promise<UserTotal> {
    const counts = await unreadCounts(reader, userId, this.counts);
    return { version, total: sum(counts.values()), counts };
  }
}
