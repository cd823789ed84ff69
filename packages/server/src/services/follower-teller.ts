/**
 * Telling a thread's followers of its replies (threads.ts), without letting
 * a busy thread with many followers eat the server.
 *
 * Each follower is told with a fresh summary of the conversation (and their
 * total), which costs store reads per follower; a thread with 200 followers
 * answered many times a second would otherwise spend most of a core on it
 * and hold up sends. So replies only mark their thread *due*, and rounds tell
 * the followers of every due thread once:
 *
 * - A quiet thread is told at once: a round starts as soon as nothing ran in
 *   the last `delayMs`.
 * - Replies that come while a round runs or waits coalesce: however many
 *   arrive, their thread is told once, in the next round.
 * - Rounds run one at a time, and the pause after one is at least twice as
 *   long as it took, so telling takes at most a third of the time under any
 *   load.
 *
 * Nothing is lost by coalescing: a round reads each summary when it tells,
 * so it carries every reply stored before it; devices that are not told in
 * time (or at all, past the followers cap) get the same counts at their next
 * sync.
 */
import type { Clock, TimerHandle } from '@parley/protocol';

/** The shortest pause between two rounds. */
export const FOLLOWER_ROUND_PAUSE_MS = 250;

export class FollowerTeller {
  /** Threads with replies their followers have not been told of, by `conversationId/rootSeq`. */
  private readonly due = new Map<string, { conversationId: string; rootSeq: number }>();
  private timer: TimerHandle | undefined;
  private running = false;
  /** When the next round may start, by the clock. */
  private nextRoundAt = 0;

  constructor(
    /** Tells one thread's followers; its failures are its own (they learn at their next sync). */
    private readonly tell: (conversationId: string, rootSeq: number) => Promise<void>,
    private readonly clock: Clock,
    private readonly pauseMs = FOLLOWER_ROUND_PAUSE_MS,
  ) {}

  /** A reply was stored under `rootSeq`: its followers are told in the next round. */
  replied(conversationId: string, rootSeq: number): void {
    this.due.set(`${conversationId}/${rootSeq}`, { conversationId, rootSeq });
    this.schedule();
  }

  /** Rounds already due still run, against whatever the store answers; none is planned after. */
  close(): void {
    this.due.clear();
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.running || this.timer !== undefined || this.due.size === 0) return;
    const wait = this.nextRoundAt - this.clock.now();
    if (wait <= 0) {
      void this.round();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.round();
    }, wait);
  }

  private async round(): Promise<void> {
    this.running = true;
    const started = performance.now();
    const threads = [...this.due.values()];
    this.due.clear();
    for (const { conversationId, rootSeq } of threads) {
      await this.tell(conversationId, rootSeq).catch(() => undefined);
    }
    const tookMs = performance.now() - started;
    this.nextRoundAt = this.clock.now() + Math.max(this.pauseMs, 2 * tookMs);
    this.running = false;
    this.schedule();
  }
}
