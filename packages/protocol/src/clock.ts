/**
 * Time for both sides of the protocol: the current time and one-shot timers.
 * Everything in the server and the SDK that reads the time or waits (auth and
 * heartbeat deadlines, token lifetimes, rate limits, timestamps, reconnect
 * backoff, request deadlines) goes through a Clock, injected with the `clock`
 * option of `startServer` and of `ParleyClient`, so that tests (and hosts with
 * a scheduler of their own) control time instead of sleeping on the wall
 * clock. A recurring check is a timeout that re-arms itself. Pure TypeScript:
 * the browser SDK uses this module too.
 */

/** An opaque timer, as returned by Clock.setTimeout. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `run` once, `delayMs` from now. */
  setTimeout(run: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a handle that already fired, or undefined, is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The wall clock and the runtime's timers (the default). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, delayMs) => globalThis.setTimeout(run, delayMs),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

interface ManualTimer {
  at: number;
  order: number;
  run: () => void;
}

/**
 * A clock that moves only when told to: advance() runs every timer that falls
 * due, in time order. For tests of the server, the SDK and code built on them.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly timers = new Set<ManualTimer>();
  private order = 0;

  constructor(startAt = 1_700_000_000_000) {
    this.current = startAt;
  }

  now(): number {
    return this.current;
  }

  setTimeout(run: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { at: this.current + Math.max(0, delayMs), order: this.order++, run };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as ManualTimer);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each timer that falls due at its own time. */
  advance(ms: number): void {
    const target = this.current + Math.max(0, ms);
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.order < next.order))) next = timer;
      }
      if (next === undefined) break;
      this.timers.delete(next);
      this.current = Math.max(this.current, next.at);
      next.run();
    }
    this.current = target;
  }
}
