/**
 * Durable 1:1 messaging against a bare-ws relay, in one run.
 *
 * N pairs of raw-protocol peers (raw-peer.ts); both members of every pair send
 * to each other. On Parley every message is stored (durability `full` by
 * default), acknowledged to its sender and pushed to its receiver; the
 * baseline relay writes it back to the sender and on to the receiver without
 * looking at it. Both are driven by the same generator with the same flow
 * control, for each offered rate in turn:
 *
 *   rate R > 0   open loop at R messages/s in total, round-robin over the peers
 *   rate 0       every peer keeps --window sends in flight: the ceiling
 *
 * Reported per target and rate: delivered msg/s, one-way latency (send to
 * the receiver's read), server CPU µs per message from the server process,
 * and for Parley the requests other than sends (gap pulls should be ~0).
 * Every run checks that each acknowledged message reached its receiver once,
 * in its sender's order, and exits 1 when not.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ProgressLine } from '../support/progress.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { DeliveryCheck, TARGET_LABEL, Target, type TargetKind, UsageWindow, machineSummary, sleep, sorted } from './common.js';
import type { RawPeer } from './raw-peer.js';
import { writeResult } from './results.js';

export const DIRECT_USAGE = `Usage: npm run bench -- direct [options]

  --pairs N          peer pairs, one direct conversation each (default 200)
  --rates LIST       offered msg/s in total, comma-separated; 0 = ceiling (default 5000,0)
  --duration S       measured seconds per rate (default 5)
  --warmup S         unmeasured seconds before each rate (default 1)
  --window W         sends in flight per peer at rate 0 (default 8)
  --size B           message text length (default 64)
  --durability D     Parley's durability, full or normal (default full)
  --targets LIST     parley,ws-relay (default both)
  --json PATH        where to write the results (default bench/results/versus/direct-<time>.json)`;

const DRAIN_TIMEOUT_MS = 15_000;

interface Options {
  pairs: number;
  rates: number[];
  durationS: number;
  warmupS: number;
  window: number;
  size: number;
  durability: 'full' | 'normal';
  targets: TargetKind[];
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string', default: '200' },
      rates: { type: 'string', default: '5000,0' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      window: { type: 'string', default: '8' },
      size: { type: 'string', default: '64' },
      durability: { type: 'string', default: 'full' },
      targets: { type: 'string', default: 'parley,ws-relay' },
      json: { type: 'string' },
    },
  });
  return {
    pairs: Number(values.pairs),
    rates: String(values.rates).split(',').map(Number),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    window: Number(values.window),
    size: Number(values.size),
    durability: values.durability === 'normal' ? 'normal' : 'full',
    targets: String(values.targets).split(',') as TargetKind[],
    json: values.json,
  };
}

export interface DirectRow {
  target: TargetKind;
  offeredRate: number;
  seconds: number;
  delivered: number;
  throughputPerS: number;
  latencyMs: { p50: number; p99: number; max: number };
  serverCpuUsPerMsg: number;
  serverKernelUsPerMsg: number;
  serverCores: number;
  generatorCores: number;
  requests: Record<string, number>;
  pullsPer1000: number;
  /** How long ready work waited for the server's main thread over the window. */
  serverLoopDelayMs?: { p50: number; p99: number; max: number };
}

/** One peer's sending state. */
interface Sender {
  peer: RawPeer;
  conversationId: string;
  /** Send time (performance.now) per counter. */
  sentAt: number[];
  acked: number;
  /** Sends the server refused (rate limit, overload) and the peer sent again. */
  refusals: number;
}

async function runTarget(kind: TargetKind, options: Options, progress: ProgressLine) {
  progress.note(`${TARGET_LABEL[kind]}: starting, ${options.pairs * 2} peers`);
  const target = await Target.start(kind, options.durability);
  try {
    const count = options.pairs * 2;
    const ids = Array.from({ length: count }, (_, index) => `d${index}`);
    const tokens = await target.users(ids);
    const check = new DeliveryCheck(count);
    const senders: Sender[] = [];
    let measuring = false;
    let closedLoop = false;
    let latencies: number[] = [];
    let ackedTotal = 0;
    const text = 'x'.repeat(options.size);

    const sendNext = (sender: Sender): void => {
      sender.sentAt.push(performance.now());
      sender.peer.send(sender.conversationId, sender.sentAt.length - 1, text);
    };
    const peers = await target.connectAll(count, tokens, (index) => `pair${index >> 1}`, (index) => ({
      onAck: () => {
        const sender = senders[index] as Sender;
        sender.acked += 1;
        ackedTotal += 1;
        if (closedLoop) sendNext(sender);
      },
      onDelivery: (from, counter) => {
        check.record(index, from, counter);
        if (!measuring) return;
        const sentAt = senders[from]?.sentAt[counter];
        if (sentAt !== undefined) latencies.push(performance.now() - sentAt);
      },
      onSendError: () => {
        (senders[index] as Sender).refusals += 1;
      },
    }));
    for (let pair = 0; pair < options.pairs; pair++) {
      let conversationId = `pair${pair}`;
      if (target.isParley) {
        const reply = await (peers[2 * pair] as RawPeer).request({ $case: 'openDirect', value: { peerId: ids[2 * pair + 1] as string, subject: '' } });
        if (reply.body?.$case !== 'conversationResult' || reply.body.value.summary === undefined) throw new Error(`open_direct failed: ${reply.body?.$case}`);
        conversationId = reply.body.value.summary.id;
      }
      for (const index of [2 * pair, 2 * pair + 1]) senders[index] = { peer: peers[index] as RawPeer, conversationId, sentAt: [], acked: 0, refusals: 0 };
    }

    const rows: DirectRow[] = [];
    for (const rate of options.rates) {
      const label = `${TARGET_LABEL[kind]}, ${rate > 0 ? `${formatCount(rate)} msg/s` : `ceiling (${options.window} in flight per peer)`}`;
      // Warm-up, then the measured window, with the same load throughout.
      const totalS = options.warmupS + options.durationS;
      const startedAt = performance.now();
      let window: UsageWindow | undefined;
      let deliveredAtStart = 0;
      let generatorAtStart = process.cpuUsage();
      let measureStartedAt = 0;
      const stopAt = startedAt + totalS * 1000;
      closedLoop = rate === 0;
      if (closedLoop) for (const sender of senders) for (let k = 0; k < options.window; k++) sendNext(sender);
      let sent = 0;
      let next = 0;
      while (performance.now() < stopAt) {
        const now = performance.now();
        if (window === undefined && now - startedAt >= options.warmupS * 1000) {
          window = await UsageWindow.begin(target);
          measuring = true;
          latencies = [];
          deliveredAtStart = check.delivered;
          generatorAtStart = process.cpuUsage();
          measureStartedAt = performance.now();
        }
        if (!closedLoop) {
          const due = Math.floor((rate * (now - startedAt)) / 1000);
          for (; sent < due; sent++) sendNext(senders[next++ % count] as Sender);
        }
        progress.update((now - startedAt) / (totalS * 1000), `${label}: ${formatCount(ackedTotal)} acked, ${formatCount(check.delivered)} delivered`);
        await sleep(1);
      }
      closedLoop = false;
      measuring = false;
      const measuredDelivered = check.delivered - deliveredAtStart;
      const usage = await (window as UsageWindow).end();
      const seconds = (performance.now() - measureStartedAt) / 1000;
      const generator = process.cpuUsage(generatorAtStart);
      // Drain: everything sent acknowledged and delivered before the next rate.
      const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
      while (performance.now() < drainUntil && !drained(senders, check)) await sleep(10);
      const ordered = sorted(latencies);
      rows.push({
        target: kind,
        offeredRate: rate,
        seconds: round(seconds, 2),
        delivered: measuredDelivered,
        throughputPerS: round(measuredDelivered / seconds, 0),
        latencyMs: { p50: round(percentile(ordered, 50), 2), p99: round(percentile(ordered, 99), 2), max: round(percentile(ordered, 100), 2) },
        serverCpuUsPerMsg: round(usage.cpuUs / Math.max(1, measuredDelivered), 1),
        serverKernelUsPerMsg: round(usage.systemCpuUs / Math.max(1, measuredDelivered), 1),
        serverCores: round(usage.cpuUs / (seconds * 1e6), 2),
        generatorCores: round((generator.user + generator.system) / (seconds * 1e6), 2),
        requests: usage.requests,
        pullsPer1000: round(((usage.requests.pull ?? 0) * 1000) / Math.max(1, measuredDelivered), 2),
        serverLoopDelayMs: usage.loopDelayMs,
      });
    }
    progress.finish();
    const sentTotal = senders.reduce((sum, sender) => sum + sender.sentAt.length, 0);
    const missing = senders.reduce((sum, sender, index) => sum + (sender.acked - 1 - check.lastFrom(index ^ 1, index) > 0 ? 1 : 0), 0);
    const verdict = {
      sent: sentTotal,
      acked: ackedTotal,
      delivered: check.delivered,
      duplicatesOrReordered: check.duplicatesOrReordered,
      gaps: check.gaps,
      sendersWithMissing: missing,
      refusedAndResent: senders.reduce((sum, sender) => sum + sender.refusals, 0),
      ok: false,
    };
    verdict.ok = verdict.acked === verdict.sent && verdict.delivered === verdict.acked && verdict.duplicatesOrReordered === 0 && verdict.gaps === 0 && missing === 0;
    for (const peer of peers) peer.close();
    return { rows, check: verdict };
  } finally {
    await target.stop();
  }
}

function drained(senders: readonly Sender[], check: DeliveryCheck): boolean {
  for (let index = 0; index < senders.length; index++) {
    const sender = senders[index] as Sender;
    if (sender.acked < sender.sentAt.length) return false;
    if (check.lastFrom(index ^ 1, index) < sender.sentAt.length - 1) return false;
  }
  return true;
}

export async function runDirect(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  const results = [];
  for (const kind of options.targets) results.push({ target: kind, ...(await runTarget(kind, options, progress)) });
  const rows = results.flatMap((result) => result.rows);
  const comparisons = options.rates.map((rate) => compare(rows, rate));
  const summary = {
    benchmark: 'versus-direct',
    options: { ...options, json: undefined },
    rows,
    comparisons,
    checks: Object.fromEntries(results.map((result) => [result.target, result.check])),
    machine: machineSummary(),
    timestamp: new Date().toISOString(),
  };
  printDirect(summary);
  const path = writeResult('direct', summary, options.json);
  process.stdout.write(`results written to ${path}\n`);
  return results.every((result) => result.check.ok) ? 0 : 1;
}

function compare(rows: readonly DirectRow[], rate: number) {
  const parley = rows.find((row) => row.target === 'parley' && row.offeredRate === rate);
  const baseline = rows.find((row) => row.target !== 'parley' && row.offeredRate === rate);
  if (parley === undefined || baseline === undefined) return { offeredRate: rate };
  return {
    offeredRate: rate,
    cpuRatio: round(parley.serverCpuUsPerMsg / baseline.serverCpuUsPerMsg, 2),
    throughputRatio: round(parley.throughputPerS / baseline.throughputPerS, 2),
    p99Ratio: round(parley.latencyMs.p99 / baseline.latencyMs.p99, 1),
  };
}

type DirectSummary = {
  rows: DirectRow[];
  comparisons: ReturnType<typeof compare>[];
  checks: Record<string, { ok: boolean; sent: number; acked: number; delivered: number; duplicatesOrReordered: number; gaps: number; sendersWithMissing: number; refusedAndResent: number }>;
};

export function directTable(summary: DirectSummary): string {
  const header = ['target', 'offered msg/s', 'delivered msg/s', 'p50 ms', 'p99 ms', 'server CPU µs/msg', 'of it kernel', 'server cores', 'generator cores', 'pulls per 1k'];
  const rows = summary.rows.map((row) => [
    TARGET_LABEL[row.target],
    row.offeredRate > 0 ? formatCount(row.offeredRate) : 'ceiling',
    formatCount(row.throughputPerS),
    formatFixed(row.latencyMs.p50, 2),
    formatFixed(row.latencyMs.p99, 2),
    formatFixed(row.serverCpuUsPerMsg, 1),
    formatFixed(row.serverKernelUsPerMsg, 1),
    formatFixed(row.serverCores, 2),
    formatFixed(row.generatorCores, 2),
    row.target === 'parley' ? formatFixed(row.pullsPer1000, 2) : '-',
  ]);
  const ratioHeader = ['offered msg/s', 'CPU per msg, Parley ÷ baseline', 'throughput, Parley ÷ baseline', 'p99, Parley ÷ baseline'];
  const ratioRows = summary.comparisons
    .filter((comparison) => 'cpuRatio' in comparison)
    .map((comparison) => [
      comparison.offeredRate > 0 ? formatCount(comparison.offeredRate) : 'ceiling',
      `${formatFixed(comparison.cpuRatio ?? Number.NaN, 2)}×`,
      `${formatFixed(comparison.throughputRatio ?? Number.NaN, 2)}×`,
      `${formatFixed(comparison.p99Ratio ?? Number.NaN, 1)}×`,
    ]);
  return `${markdownTable(header, rows)}\n\n${ratioRows.length > 0 ? markdownTable(ratioHeader, ratioRows) : ''}`;
}

function printDirect(summary: DirectSummary): void {
  const checks = Object.entries(summary.checks)
    .map(
      ([target, check]) =>
        `${TARGET_LABEL[target as TargetKind]}: ${formatCount(check.acked)} acked of ${formatCount(check.sent)} sent, ${formatCount(check.delivered)} delivered, duplicates or reordered ${check.duplicatesOrReordered}, gaps ${check.gaps}, senders missing messages ${check.sendersWithMissing}, sends refused and sent again ${check.refusedAndResent} → ${check.ok ? 'OK' : 'FAILED'}`,
    )
    .join('\n');
  process.stdout.write(`\n${directTable(summary)}\n\ndelivery check:\n${checks}\n`);
}
