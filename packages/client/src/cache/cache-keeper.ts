/**
 * The client's side of the local cache: it owns when the state is read,
 * written and removed, and keeps the runs of recent messages in between.
 * Writes are coalesced (at most one per WRITE_COALESCE_MS, one at a time,
 * and a last one on close), and a failing store never stops messaging: the
 * failure is reported and the client goes on without it.
 */
import { ParleyError } from '@parley/protocol';
import type { Clock, TimerHandle } from '../clock.js';
import { type CacheOwner, type CachedState, type LiveState, RecentRuns, cacheKey, decodeState, encodeState, snapshotOf } from './cached-state.js';
import type { LocalCache } from './local-cache.js';

/** A burst of messages (a catch-up after a reconnect) becomes one write. */
const WRITE_COALESCE_MS = 500;

export type CacheOperation = 'read' | 'write' | 'remove';

export interface CacheKeeperOptions {
  store: LocalCache;
  owner: CacheOwner;
  clock: Clock;
  /** What to write, built when the write happens. */
  live(): Omit<LiveState, 'runs'>;
  onFailed(operation: CacheOperation, error: ParleyError): void;
}

export class CacheKeeper {
  readonly runs = new RecentRuns();
  private readonly key: string;
  private timer: TimerHandle | undefined;
  /** The write or removal under way: the next one waits for it, so they land in order. */
  private pending: Promise<void> = Promise.resolve();
  private dirty = false;
  /** No more writes: closed, cleared, or the state belongs to someone else. */
  private stopped = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: CacheKeeperOptions) {
    this.key = cacheKey(options.owner);
  }

  get owner(): CacheOwner {
    return this.options.owner;
  }

  /** The stored state, or undefined when there is none or it was refused (then it is removed). */
  async load(): Promise<CachedState | undefined> {
    let text: string | undefined;
    try {
      text = await this.options.store.read(this.key);
    } catch (cause) {
      this.options.onFailed('read', failure('read', cause));
      return undefined;
    }
    if (text === undefined) return undefined;
    const decoded = decodeState(this.options.owner, text);
    if ('state' in decoded) return decoded.state;
    // Another schema, another owner, or garbage: never shown, and gone before the next write.
    this.remove();
    return undefined;
  }

  /** The state changed: it is written within WRITE_COALESCE_MS. */
  changed(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer !== undefined) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, WRITE_COALESCE_MS);
  }

  /** What is held no longer holds (the server was reset): the stored state is removed, and the next change writes afresh. */
  discard(): void {
    this.runs.clear();
    this.dirty = false;
    this.remove();
  }

  /** Writes what changed, then stops writing. Idempotent; resolves once the last write landed. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.write();
      this.stop();
      this.closing = this.pending;
    }
    return this.closing;
  }

  /** Stops writing and removes the stored state (sign-out). Resolves once it is gone. */
  async clear(): Promise<void> {
    this.stop();
    this.runs.clear();
    this.remove();
    await this.pending;
  }

  /** Stops writing without removing anything (the state turned out to be someone else's). */
  stop(): void {
    this.stopped = true;
    this.dirty = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private write(): void {
    if (this.stopped || !this.dirty) return;
    this.dirty = false;
    // Built now, so that what lands is the newest state when writes queue up.
    const text = encodeState(this.options.owner, snapshotOf({ ...this.options.live(), runs: this.runs }));
    this.enqueue('write', () => this.options.store.write(this.key, text));
  }

  private remove(): void {
    this.enqueue('remove', () => this.options.store.remove(this.key));
  }

  private enqueue(operation: CacheOperation, run: () => Promise<void>): void {
    this.pending = this.pending.then(run).catch((cause: unknown) => this.options.onFailed(operation, failure(operation, cause)));
  }
}

function failure(operation: CacheOperation, cause: unknown): ParleyError {
  return new ParleyError('UNAVAILABLE', `the local cache could not ${operation === 'read' ? 'be read' : operation === 'write' ? 'be written' : 'be removed'}`, { cause });
}
