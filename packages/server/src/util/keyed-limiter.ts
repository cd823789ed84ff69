/**
 * Token buckets per key (a user id, a client address) with a bounded number
 * of keys, for HTTP routes that limit each caller: `/dev` attempts, searches.
 * Refills follow the injected clock.
 */
import { type Clock, ParleyError } from '@parley/protocol';
import { TokenBucket } from './token-bucket.js';

/** Entries kept before idle ones are dropped, so that random keys cannot grow memory without bound. */
const MAX_TRACKED_KEYS = 10_000;

export class KeyedLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; lastUsed: number }>();

  /** `perMinute` sustained, all of it at once; past that RATE_LIMITED saying `refusal`. */
  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
    private readonly refusal = 'too many attempts, try again later',
  ) {}

  /** Throws RATE_LIMITED (with retryAfterMs) when `key` used up its allowance. */
  take(key: string): void {
    const now = this.clock.now();
    let entry = this.buckets.get(key);
    if (entry === undefined) {
      if (this.buckets.size >= MAX_TRACKED_KEYS) this.prune(now);
      entry = { bucket: new TokenBucket(this.perMinute / 60, this.perMinute), lastUsed: now };
      this.buckets.set(key, entry);
    }
    entry.lastUsed = now;
    const waitMs = entry.bucket.take(now);
    if (waitMs > 0) throw new ParleyError('RATE_LIMITED', this.refusal, { retryAfterMs: waitMs });
  }

  /** A bucket idle for a minute is full again: forgetting it changes nothing. */
  private prune(now: number): void {
    for (const [key, entry] of this.buckets) if (now - entry.lastUsed > 60_000) this.buckets.delete(key);
  }
}
