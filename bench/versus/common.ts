/**
 * What the versus benchmarks share: the two kinds of target (Parley and the
 * bare-ws baseline) behind one interface, user setup over the admin API,
 * server usage over a measured window, and the per-sender delivery check.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { UsageReport } from '../support/child-reporter.js';
import { ServerChild } from '../support/server-child.js';
import { adminPost, inBatches } from '../support/setup.js';

export { inBatches };
import { type PeerHandlers, RawPeer } from './raw-peer.js';

export type TargetKind = 'parley' | 'ws-relay' | 'ws-batched';

export const TARGET_LABEL: Record<TargetKind, string> = {
  parley: 'Parley',
  'ws-relay': 'bare ws relay',
  'ws-batched': 'bare ws, batched per tick',
};

const SETUP_CONCURRENCY = 16;
const CONNECT_CONCURRENCY = 64;

/** A started server of either kind, with what a scenario needs to reach it. */
export class Target {
  private constructor(
    readonly kind: TargetKind,
    readonly child: ServerChild,
  ) {}

  /** `cpuProfileDir` defaults to BENCH_SERVER_CPU_PROF (set by `--server-cpu-prof`, see bench/main.ts). */
  static async start(kind: TargetKind, durability: 'full' | 'normal', cpuProfileDir = process.env.BENCH_SERVER_CPU_PROF, dataDir?: string): Promise<Target> {
    const child =
      kind === 'parley'
        ? await ServerChild.start({ durability, cpuProfileDir, dataDir })
        : await ServerChild.startBaseline(kind === 'ws-relay' ? 'relay' : 'batched', cpuProfileDir);
    return new Target(kind, child);
  }

  get isParley(): boolean {
    return this.kind === 'parley';
  }

  /** Parley: creates the users and returns a token each. The baseline authenticates nobody. */
  async users(ids: readonly string[]): Promise<string[]> {
    if (!this.isParley) return ids.map(() => '');
    const { httpUrl, adminKey } = this.child.urls;
    await inBatches(ids, SETUP_CONCURRENCY, (id) => adminPost(httpUrl, adminKey, '/v1/users', { id }));
    return inBatches(ids, SETUP_CONCURRENCY, async (id) => (await adminPost<{ token: string }>(httpUrl, adminKey, `/v1/users/${id}/tokens`, {})).token);
  }

  /** Creates a group over the admin API (Parley only); returns its id. */
  async group(id: string, ownerId: string, memberIds: readonly string[]): Promise<string> {
    const { httpUrl, adminKey } = this.child.urls;
    const created = await adminPost<{ id: string }>(httpUrl, adminKey, '/v1/groups', { id, name: id, ownerId, memberIds });
    return created.id;
  }

  /** Opens peer `index` and, on Parley, says hello with its token; `group` routes the baseline. */
  async connect(index: number, token: string, group: string, handlers: PeerHandlers): Promise<RawPeer> {
    const url = this.isParley ? this.child.urls.wsUrl : `${this.child.urls.wsUrl}?group=${encodeURIComponent(group)}`;
    const peer = await RawPeer.open(url, index, handlers);
    if (this.isParley) await peer.hello(token);
    return peer;
  }

  /** Connects many peers, a few dozen at a time. */
  connectAll(count: number, tokens: readonly string[], groupOf: (index: number) => string, handlers: (index: number) => PeerHandlers): Promise<RawPeer[]> {
    const indexes = Array.from({ length: count }, (_, index) => index);
    return inBatches(indexes, CONNECT_CONCURRENCY, (index) => this.connect(index, tokens[index] ?? '', groupOf(index), handlers(index)));
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/**
 * Waits until the server is idle (under 2% of a core over 250 ms; at most
 * `timeoutMs`), so that work left over from setup (a WAL checkpoint, garbage
 * collection) is not counted against what is measured next.
 */
export async function untilIdle(target: Target, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let previous = await target.child.usage();
  while (performance.now() < deadline) {
    await sleep(250);
    const now = await target.child.usage();
    const busyUs = now.cpuUserUs + now.cpuSystemUs - previous.cpuUserUs - previous.cpuSystemUs;
    if (busyUs < 0.02 * 250_000) return;
    previous = now;
  }
}

/** Server CPU and requests over a window: take one at the start, call end() at the end. */
export class UsageWindow {
  private constructor(
    private readonly target: Target,
    private readonly start: UsageReport,
    private readonly startedAt: number,
  ) {}

  static async begin(target: Target): Promise<UsageWindow> {
    // --window-cpu-prof (bench/main.ts): a CPU profile of every measured window.
    if (process.env.BENCH_WINDOW_PROF !== undefined) target.child.profileStart();
    return new UsageWindow(target, await target.child.usage(), performance.now());
  }

  async end(): Promise<{
    seconds: number;
    cpuUs: number;
    systemCpuUs: number;
    rssBytes: number;
    rssGrowthBytes: number;
    heapGrowthBytes: number;
    requests: Record<string, number>;
    loopDelayMs: { p50: number; p99: number; max: number } | undefined;
  }> {
    const end = await this.target.child.usage();
    const profileDir = process.env.BENCH_WINDOW_PROF;
    if (profileDir !== undefined) {
      mkdirSync(profileDir, { recursive: true });
      await this.target.child.profileStop(join(profileDir, `window-${this.target.kind}-${Date.now()}.cpuprofile`));
    }
    const requests = Object.fromEntries(Object.entries(end.requests).map(([kind, count]) => [kind, count - (this.start.requests[kind] ?? 0)]));
    return {
      seconds: (performance.now() - this.startedAt) / 1000,
      cpuUs: end.cpuUserUs + end.cpuSystemUs - this.start.cpuUserUs - this.start.cpuSystemUs,
      systemCpuUs: end.cpuSystemUs - this.start.cpuSystemUs,
      rssBytes: end.rssBytes,
      rssGrowthBytes: end.rssBytes - this.start.rssBytes,
      heapGrowthBytes: end.heapUsedBytes - this.start.heapUsedBytes,
      requests,
      loopDelayMs: end.loopDelayMs,
    };
  }
}

/**
 * Per receiver and sender, the last counter seen: each sender's counters
 * rise by one per message, so anything else is a duplicate, a reorder or a
 * gap. `expect` says which receivers should get which sender's messages.
 */
export class DeliveryCheck {
  private readonly last: Map<number, Int32Array> = new Map();
  duplicatesOrReordered = 0;
  gaps = 0;
  delivered = 0;

  constructor(private readonly senders: number) {}

  /** Returns true when this delivery is the next expected one. */
  record(receiver: number, sender: number, counter: number): boolean {
    let row = this.last.get(receiver);
    if (row === undefined) {
      row = new Int32Array(this.senders).fill(-1);
      this.last.set(receiver, row);
    }
    const previous = row[sender] as number;
    this.delivered += 1;
    if (counter <= previous) {
      this.duplicatesOrReordered += 1;
      return false;
    }
    if (counter !== previous + 1) this.gaps += 1;
    row[sender] = counter;
    return counter === previous + 1;
  }

  /** The last counter `receiver` got from `sender` (-1: none). */
  lastFrom(receiver: number, sender: number): number {
    return this.last.get(receiver)?.[sender] ?? -1;
  }
}

export function machineSummary() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sorted copy for percentiles. */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}
