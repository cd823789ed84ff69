/**
 * Admission control for surges (a reconnect storm, a join surge): a token
 * bucket, and for each refused caller a retry hint that spreads the refused
 * over the coming seconds at the rate the bucket admits. Telling every
 * refused caller "retry in one second" would only move the storm one second
 * later; handing out successive slots turns it into a queue.
 */
import { TokenBucket } from './token-bucket.js';

/** No hint is longer than this: past it, callers come back and are spread again. */
const MAX_HINT_MS = 30_000;

export class Admission {
  private readonly bucket: TokenBucket;
  /** The next free slot handed to a refused caller (clock ms). */
  private nextSlot = 0;

  constructor(
    private readonly ratePerSecond: number,
    burst: number,
  ) {
    this.bucket = new TokenBucket(ratePerSecond, burst);
  }

  /** 0 when admitted at `now`; otherwise how long the caller should wait before trying again (ms). */
  admit(now: number): number {
    if (this.bucket.take(now) === 0) return 0;
    this.nextSlot = Math.min(Math.max(this.nextSlot, now) + 1000 / this.ratePerSecond, now + MAX_HINT_MS);
    return Math.max(1, Math.min(MAX_HINT_MS, Math.ceil(this.nextSlot - now)));
  }
}
