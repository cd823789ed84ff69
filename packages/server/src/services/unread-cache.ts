/**
 * Unread counts per member, extended instead of recounted. A stored message
 * never changes, so while a member's unread range only grows at its top (new
 * messages, same read position) the count grows by the count of the new part.
 * Without it every sync counted every conversation with unread messages, most
 * of the sync answer's time for a user with hundreds of them (decision 66).
 *
 * Use it only for reads outside write units: a unit may read rows it later
 * rolls back, and a count cached from them would be wrong forever. Reads
 * outside units see committed rows only (the store waits for the open batch),
 * and every seq up to a committed lastSeq is committed.
 */
import type { MessageFilter, StoreReader } from '../store/store.js';

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
    // Everything but the range: a cached count extends only a count of the same filter.
    const key = `${filter.conversationId}\n${filter.excludeSender ?? ''}\n${filter.visibleTo ?? ''}\n${filter.type ?? ''}`;
    const cached = this.entries.get(key);
    let count: number;
    if (cached !== undefined && cached.fromSeq === filter.fromSeq && cached.toSeq <= filter.toSeq) {
      count = cached.toSeq === filter.toSeq ? cached.count : cached.count + (await reader.countMessages({ ...filter, fromSeq: cached.toSeq + 1 }));
    } else {
      count = await reader.countMessages(filter);
    }
    // Re-inserted so that the map's order is least recently used first.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { fromSeq: filter.fromSeq, toSeq: filter.toSeq, count });
    return count;
  }
}
