/**
 * A token bucket: `ratePerSecond` sustained, `burst` at once. It starts full
 * and reads no clock: callers pass the time (their Clock's), so refills follow
 * whatever time the server runs on.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number | undefined;

  constructor(
    private ratePerSecond: number,
    private burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes one token at time `now` (ms); returns 0 on success, otherwise the ms to wait. */
  take(now: number): number {
    this.refill(now);
    // Refills summed over several takes can fall a rounding error short of a
    // whole token (0.9999999999999999) when the time for one has passed:
    // count that as a whole token, or a retry made on time would be refused.
    if (this.tokens >= 1 - 1e-9) {
      this.tokens = Math.max(0, this.tokens - 1);
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  /** From `now` on, a new rate and burst; tokens earned so far are kept, up to the new burst. */
  resize(ratePerSecond: number, burst: number, now: number): void {
    this.refill(now);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  private refill(now: number): void {
    if (this.updatedAt !== undefined) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
    }
    this.updatedAt = now;
  }
}

/**
 * One bucket per connection (or any object), made on its first take and
 * gone with it: the per-connection limits of relays that have no reply to
 * refuse with (typing, delivered acknowledgements).
 */
export class BucketPerKey<K extends object> {
  private readonly buckets = new WeakMap<K, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /** Takes one of `key`'s tokens at time `now` (ms); returns 0 on success, otherwise the ms to wait. */
  take(key: K, now: number): number {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }
}
