/**
 * RollingTop: counts per key over a rolling window (the sends of each
 * conversation in the last minute), bounded in memory and cheap to update.
 * The window is cut into slots (six of 10 s for a minute); a count is one map
 * increment in the current slot, and old slots are dropped whole. Reading the
 * top keys sums the live slots, which costs the keys they hold, so it is
 * meant for a reader every few seconds, not for every count.
 *
 * Approximate on purpose: the window moves a slot at a time (a minute is
 * 50 to 60 s), and a key first seen in a slot that already holds
 * `maxKeysPerSlot` others is not counted in that slot. The busiest keys of a
 * slot are counted long before it fills, so the top of the list stays right.
 */

export interface RollingTopOptions {
  /** The window, in ms. Default 60 000. */
  windowMs?: number;
  /** Slots the window is cut into. Default 6. */
  slots?: number;
  /** Keys a slot holds at most. Default 10 000. */
  maxKeysPerSlot?: number;
}

export interface KeyCount {
  key: string;
  count: number;
}

interface Slot {
  /** The slot's number: floor(time / slot length). */
  index: number;
  counts: Map<string, number>;
}

export class RollingTop {
  private readonly slotMs: number;
  private readonly slotCount: number;
  private readonly maxKeysPerSlot: number;
  /** Oldest first. */
  private slots: Slot[] = [];

  constructor(options: RollingTopOptions = {}) {
    this.slotCount = Math.max(1, options.slots ?? 6);
    this.slotMs = Math.max(1, Math.floor((options.windowMs ?? 60_000) / this.slotCount));
    this.maxKeysPerSlot = Math.max(1, options.maxKeysPerSlot ?? 10_000);
  }

  /** Counts one occurrence of `key` at time `now` (ms). */
  add(key: string, now: number): void {
    const counts = this.currentSlot(now).counts;
    const count = counts.get(key);
    if (count !== undefined) counts.set(key, count + 1);
    else if (counts.size < this.maxKeysPerSlot) counts.set(key, 1);
  }

  /** The `limit` keys counted most within the window ending at `now`, most first (ties by key). */
  top(limit: number, now: number): KeyCount[] {
    this.dropOld(now);
    const totals = new Map<string, number>();
    for (const slot of this.slots) {
      for (const [key, count] of slot.counts) totals.set(key, (totals.get(key) ?? 0) + count);
    }
    return [...totals]
      .map(([key, count]) => ({ key, count }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, limit);
  }

  private currentSlot(now: number): Slot {
    const index = Math.floor(now / this.slotMs);
    const last = this.slots[this.slots.length - 1];
    if (last !== undefined && last.index === index) return last;
    this.dropOld(now);
    const slot = { index, counts: new Map<string, number>() };
    this.slots.push(slot);
    return slot;
  }

  private dropOld(now: number): void {
    const oldest = Math.floor(now / this.slotMs) - this.slotCount + 1;
    if (this.slots.length > 0 && (this.slots[0] as Slot).index < oldest) this.slots = this.slots.filter((slot) => slot.index >= oldest);
  }
}
