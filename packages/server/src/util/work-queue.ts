/**
 * Jobs run at most `concurrency` at a time, in the order they were queued,
 * with at most `maxQueued` waiting: how the push adapters pace their
 * requests to outside services. A job reports its own failures; the queue
 * only counts what runs.
 */
export class WorkQueue<T> {
  private readonly waiting: T[] = [];
  private active = 0;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly run: (job: T) => Promise<void>,
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** Queues a job and starts it if there is room; false when `maxQueued` jobs wait already (not queued). */
  add(job: T): boolean {
    if (this.waiting.length >= this.maxQueued) return false;
    this.waiting.push(job);
    this.pump();
    return true;
  }

  /** Takes out the jobs still waiting (on a stop: they will not run). */
  drain(): T[] {
    return this.waiting.splice(0);
  }

  /** Resolves once no job is running. */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private pump(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift() as T;
      this.active += 1;
      void this.run(job).finally(() => {
        this.active -= 1;
        if (this.active === 0) {
          for (const resolve of this.idle) resolve();
          this.idle.clear();
        }
        this.pump();
      });
    }
  }
}
