/**
 * Group fan-out against bare-ws relays, in one run.
 *
 * One group of M members, every member a raw-protocol peer on its own
 * connection. Parley stores each message once and pushes it to every other
 * member; the baselines forward the sender's bytes to every other member
 * (and back to the sender as its ack). Flow control is the same for all: a
 * sender keeps at most W messages that have not yet reached every member.
 *
 *   one-at-a-time   one sender, W = 1: the cost of one delivery with no
 *                   batching to hide behind; compared with the naive relay
 *                   (one ws.send per member per message)
 *   flat-out        S senders, W each: the delivery ceiling; compared with a
 *                   relay that joins a tick's messages into one frame and
 *                   writes the same bytes to every member
 *   + delivered     Parley one-at-a-time again, every member reporting its
 *                   delivered position as the SDK does (--delivered-ms)
 *
 * Reported: deliveries/s, server CPU µs per delivery, latency from send to
 * each member's read (sampled on every 16th member). Every delivery is
 * checked: each member gets each message once, in its sender's order.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ProgressLine } from '../support/progress.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { DeliveryCheck, TARGET_LABEL, Target, type TargetKind, UsageWindow, machineSummary, sleep, sorted } from './common.js';
import type { RawPeer } from './raw-peer.js';
import { writeResult } from './results.js';

export const FANOUT_USAGE = `Usage: npm run bench -- fanout [options]

  --members LIST     group sizes, comma-separated (default 1000)
  --senders S        senders when flat out (default 8)
  --window W         messages per sender not yet delivered to everyone, flat out (default 4)
  --duration S       measured seconds per mode (default 5)
  --warmup S         unmeasured seconds before each mode (default 1)
  --size B           message text length (default 64)
  --delivered-ms MS  how often members report delivered positions in the "+ delivered" mode (default 1000, as the SDK)
  --durability D     Parley's durability, full or normal (default full)
  --json PATH        where to write the results (default bench/results/versus/fanout-<time>.json)`;

type Mode = 'one-at-a-time' | 'one-at-a-time + delivered' | 'flat-out';
const LATENCY_SAMPLE_EVERY = 16;
const DRAIN_TIMEOUT_MS = 30_000;

interface Options {
  members: number[];
  senders: number;
  window: number;
  durationS: number;
  warmupS: number;
  size: number;
  deliveredMs: number;
  durability: 'full' | 'normal';
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string', default: '1000' },
      senders: { type: 'string', default: '8' },
      window: { type: 'string', default: '4' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      size: { type: 'string', default: '64' },
      'delivered-ms': { type: 'string', default: '1000' },
      durability: { type: 'string', default: 'full' },
      json: { type: 'string' },
    },
  });
  return {
    members: String(values.members).split(',').map(Number),
    senders: Number(values.senders),
    window: Number(values.window),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    size: Number(values.size),
    deliveredMs: Number(values['delivered-ms']),
    durability: values.durability === 'normal' ? 'normal' : 'full',
    json: values.json,
  };
}

export interface FanoutRow {
  target: TargetKind;
  members: number;
  mode: Mode;
  messagesPerS: number;
  deliveriesPerS: number;
  latencyMs: { p50: number; p99: number };
  serverCpuUsPerDelivery: number;
  serverCores: number;
  generatorCores: number;
  requests: Record<string, number>;
}

const MODES: Record<TargetKind, Mode[]> = {
  parley: ['one-at-a-time', 'one-at-a-time + delivered', 'flat-out'],
  'ws-relay': ['one-at-a-time'],
  'ws-batched': ['flat-out'],
};

interface SenderState {
  sentAt: number[];
  /** Members still to receive each message, by counter. */
  remaining: number[];
  complete: number;
  acked: number;
  /** Sends the server refused (rate limit, overload) and the peer sent again. */
  refusals: number;
  active: boolean;
  window: number;
}

async function runTarget(kind: TargetKind, members: number, options: Options, progress: ProgressLine): Promise<{ rows: FanoutRow[]; check: Record<string, number | boolean> }> {
  progress.note(`${TARGET_LABEL[kind]}: starting, ${formatCount(members)} members`);
  const target = await Target.start(kind, options.durability);
  try {
    const ids = Array.from({ length: members }, (_, index) => `f${index}`);
    progress.note(`${TARGET_LABEL[kind]}: creating users and tokens`);
    const tokens = await target.users(ids);
    const groupId = target.isParley ? await target.group('fanout', ids[0] as string, ids.slice(1)) : 'fanout';
    const senderCount = Math.min(options.senders, members);
    const check = new DeliveryCheck(senderCount);
    const senders: SenderState[] = Array.from({ length: senderCount }, () => ({ sentAt: [], remaining: [], complete: 0, acked: 0, refusals: 0, active: false, window: 0 }));
    const lastSeq = new Float64Array(members);
    const reportedSeq = new Float64Array(members);
    let latencies: number[] = [];
    let measuring = false;
    let peers: RawPeer[] = [];
    const text = 'x'.repeat(options.size);

    const sendNext = (index: number): void => {
      const sender = senders[index] as SenderState;
      sender.sentAt.push(performance.now());
      sender.remaining.push(members - 1);
      (peers[index] as RawPeer).send(groupId, sender.sentAt.length - 1, text);
    };
    const refill = (index: number): void => {
      const sender = senders[index] as SenderState;
      while (sender.active && sender.sentAt.length - sender.complete < sender.window) sendNext(index);
    };
    progress.note(`${TARGET_LABEL[kind]}: connecting ${formatCount(members)} peers`);
    peers = await target.connectAll(members, tokens, () => 'fanout', (index) => ({
      onAck: () => {
        const sender = senders[index];
        if (sender !== undefined) sender.acked += 1;
      },
      onDelivery: (from, counter, seq) => {
        check.record(index, from, counter);
        if (seq > (lastSeq[index] as number)) lastSeq[index] = seq;
        const sender = senders[from];
        if (sender === undefined) return;
        if (measuring && index % LATENCY_SAMPLE_EVERY === 0) latencies.push(performance.now() - (sender.sentAt[counter] as number));
        const left = (sender.remaining[counter] as number) - 1;
        sender.remaining[counter] = left;
        if (left === 0) {
          sender.complete += 1;
          refill(from);
        }
      },
      onSendError: () => {
        const sender = senders[index];
        if (sender !== undefined) sender.refusals += 1;
      },
    }));

    const rows: FanoutRow[] = [];
    for (const mode of MODES[kind]) {
      const label = `${TARGET_LABEL[kind]}, ${formatCount(members)} members, ${mode}`;
      const active = mode === 'flat-out' ? senderCount : 1;
      const reporter =
        mode === 'one-at-a-time + delivered'
          ? setInterval(() => {
              for (let index = 0; index < members; index++) {
                if ((lastSeq[index] as number) > (reportedSeq[index] as number)) {
                  reportedSeq[index] = lastSeq[index] as number;
                  (peers[index] as RawPeer).delivered(groupId, lastSeq[index] as number);
                }
              }
            }, options.deliveredMs)
          : undefined;
      const completeAtStart = () => senders.reduce((sum, sender) => sum + sender.complete, 0);
      for (let index = 0; index < active; index++) {
        const sender = senders[index] as SenderState;
        sender.active = true;
        sender.window = mode === 'flat-out' ? options.window : 1;
        refill(index);
      }
      const startedAt = performance.now();
      const totalMs = (options.warmupS + options.durationS) * 1000;
      while (performance.now() - startedAt < options.warmupS * 1000) {
        progress.update((performance.now() - startedAt) / totalMs, `${label}: warming up`);
        await sleep(50);
      }
      const window = await UsageWindow.begin(target);
      const deliveredAtStart = check.delivered;
      const messagesAtStart = completeAtStart();
      const generatorAtStart = process.cpuUsage();
      const measureStartedAt = performance.now();
      latencies = [];
      measuring = true;
      while (performance.now() - startedAt < totalMs) {
        progress.update((performance.now() - startedAt) / totalMs, `${label}: ${formatCount(check.delivered - deliveredAtStart)} deliveries`);
        await sleep(50);
      }
      measuring = false;
      const deliveries = check.delivered - deliveredAtStart;
      const messages = completeAtStart() - messagesAtStart;
      const usage = await window.end();
      const seconds = (performance.now() - measureStartedAt) / 1000;
      const generator = process.cpuUsage(generatorAtStart);
      for (const sender of senders) sender.active = false;
      if (reporter !== undefined) clearInterval(reporter);
      const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
      while (performance.now() < drainUntil && senders.some((sender) => sender.complete < sender.sentAt.length)) await sleep(10);
      const ordered = sorted(latencies);
      rows.push({
        target: kind,
        members,
        mode,
        messagesPerS: round(messages / seconds, 0),
        deliveriesPerS: round(deliveries / seconds, 0),
        latencyMs: { p50: round(percentile(ordered, 50), 2), p99: round(percentile(ordered, 99), 2) },
        serverCpuUsPerDelivery: round(usage.cpuUs / Math.max(1, deliveries), 2),
        serverCores: round(usage.cpuUs / (seconds * 1e6), 2),
        generatorCores: round((generator.user + generator.system) / (seconds * 1e6), 2),
        requests: usage.requests,
      });
    }
    progress.finish();
    const sent = senders.reduce((sum, sender) => sum + sender.sentAt.length, 0);
    const complete = senders.reduce((sum, sender) => sum + sender.complete, 0);
    const acked = senders.reduce((sum, sender) => sum + sender.acked, 0);
    const refusals = senders.reduce((sum, sender) => sum + sender.refusals, 0);
    const ok = acked === sent && complete === sent && check.duplicatesOrReordered === 0 && check.gaps === 0;
    for (const peer of peers) peer.close();
    return {
      rows,
      check: { sent, acked, deliveredToEveryone: complete, deliveries: check.delivered, duplicatesOrReordered: check.duplicatesOrReordered, gaps: check.gaps, refusedAndResent: refusals, ok },
    };
  } finally {
    await target.stop();
  }
}

export async function runFanout(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  const rows: FanoutRow[] = [];
  const checks: Record<string, Record<string, number | boolean>> = {};
  for (const members of options.members) {
    for (const kind of ['parley', 'ws-relay', 'ws-batched'] as const) {
      const result = await runTarget(kind, members, options, progress);
      rows.push(...result.rows);
      checks[`${kind} ${members}`] = result.check;
    }
  }
  const summary = {
    benchmark: 'versus-fanout',
    options: { ...options, json: undefined },
    rows,
    comparisons: options.members.map((members) => compare(rows, members)),
    checks,
    machine: machineSummary(),
    timestamp: new Date().toISOString(),
  };
  process.stdout.write(`\n${fanoutTable(summary)}\n\ndelivery check:\n${formatChecks(checks)}\n`);
  const path = writeResult('fanout', summary, options.json);
  process.stdout.write(`results written to ${path}\n`);
  return Object.values(checks).every((check) => check.ok === true) ? 0 : 1;
}

function find(rows: readonly FanoutRow[], target: TargetKind, members: number, mode: Mode): FanoutRow | undefined {
  return rows.find((row) => row.target === target && row.members === members && row.mode === mode);
}

function compare(rows: readonly FanoutRow[], members: number) {
  const one = find(rows, 'parley', members, 'one-at-a-time');
  const reporting = find(rows, 'parley', members, 'one-at-a-time + delivered');
  const flat = find(rows, 'parley', members, 'flat-out');
  const relay = find(rows, 'ws-relay', members, 'one-at-a-time');
  const batched = find(rows, 'ws-batched', members, 'flat-out');
  return {
    members,
    oneAtATimeCpuRatio: one && relay ? round(one.serverCpuUsPerDelivery / relay.serverCpuUsPerDelivery, 2) : undefined,
    flatOutThroughputRatio: flat && batched ? round(flat.deliveriesPerS / batched.deliveriesPerS, 2) : undefined,
    flatOutCpuRatio: flat && batched ? round(flat.serverCpuUsPerDelivery / batched.serverCpuUsPerDelivery, 2) : undefined,
    deliveredReportsCost: one && reporting ? round(reporting.serverCpuUsPerDelivery / one.serverCpuUsPerDelivery - 1, 3) : undefined,
  };
}

type FanoutSummary = { rows: FanoutRow[]; comparisons: ReturnType<typeof compare>[] };

export function fanoutTable(summary: FanoutSummary): string {
  const header = ['target', 'members', 'mode', 'messages/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'server CPU µs/delivery', 'server cores', 'generator cores'];
  const rows = summary.rows.map((row) => [
    TARGET_LABEL[row.target],
    formatCount(row.members),
    row.mode,
    formatCount(row.messagesPerS),
    formatCount(row.deliveriesPerS),
    formatFixed(row.latencyMs.p50, 2),
    formatFixed(row.latencyMs.p99, 2),
    formatFixed(row.serverCpuUsPerDelivery, 2),
    formatFixed(row.serverCores, 2),
    formatFixed(row.generatorCores, 2),
  ]);
  const ratioHeader = ['members', 'one at a time: CPU per delivery ÷ naive relay', 'flat out: deliveries/s ÷ batched relay', 'flat out: CPU per delivery ÷ batched relay', 'delivered reports: added CPU per delivery'];
  const percent = (value: number | undefined) => (value === undefined ? '-' : `${formatFixed(value * 100, 1)}%`);
  const times = (value: number | undefined) => (value === undefined ? '-' : `${formatFixed(value, 2)}×`);
  const ratioRows = summary.comparisons.map((comparison) => [
    formatCount(comparison.members),
    times(comparison.oneAtATimeCpuRatio),
    times(comparison.flatOutThroughputRatio),
    times(comparison.flatOutCpuRatio),
    percent(comparison.deliveredReportsCost),
  ]);
  return `${markdownTable(header, rows)}\n\n${markdownTable(ratioHeader, ratioRows)}`;
}

function formatChecks(checks: Record<string, Record<string, number | boolean>>): string {
  return Object.entries(checks)
    .map(
      ([name, check]) =>
        `${name}: ${formatCount(Number(check.acked))} acked of ${formatCount(Number(check.sent))} sent, ${formatCount(Number(check.deliveredToEveryone))} reached every member (${formatCount(Number(check.deliveries))} deliveries), duplicates or reordered ${check.duplicatesOrReordered}, gaps ${check.gaps}, sends refused and sent again ${check.refusedAndResent} → ${check.ok ? 'OK' : 'FAILED'}`,
    )
    .join('\n');
}
