/**
 * `npm run bench -- room`: one live room on one server process. V viewers
 * join it over loopback WebSockets (light clients in worker threads, see
 * room-viewers.ts), S senders produce ephemeral chat at a high rate, and a
 * host sends 5 reliable messages per second through the SDK. Reported:
 * inbound events/s (offered and accepted), deliveries/s counted inside
 * batches and packets/s, reliable latency p50/p99 from commit to each
 * viewer's first receipt, the share of reliable receipts within 3 s, server
 * CPU µs per delivery, server memory per idle viewer, and then a reconnect
 * storm: every viewer drops and comes back in the same second, and the time
 * until all of them are in the room again.
 *
 * --nodes N ≥ 2: the room on N nodes sharing PostgreSQL and NATS
 * (support/cluster.ts); viewers and senders are spread over the nodes
 * round-robin, the host sends through the first node, and server figures are
 * summed over the nodes and kept per node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ParleyClient } from '@parley/client';
import { ProgressLine } from '../support/progress.js';
import { BenchCluster, CLUSTER_ARGS, CLUSTER_USAGE, type ClusterOptions, clusterOptions, loadAverage, nodeName } from '../support/cluster.js';
import { adminPost } from '../support/setup.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { type Target, UsageWindow, inBatches, machineSummary, sleep, sorted } from './common.js';
import type { RoomCounters, RoomLoadConfig } from './room-viewers.js';
import { writeResult } from './results.js';

export const ROOM_USAGE = `Usage: npm run bench -- room [options]

  --viewers V        viewers joined to the room (default 19,500: with the senders, the host and
                     the server's own files, what a process with a 20,000-file limit can hold)
  --senders S        connections sending ephemeral chat (default 20)
  --rate R           chat events per second per sender (default 250)
  --reliable N       reliable messages per second from the host (default 5)
  --duration S       measured seconds (default 15)
  --tick MS          the server's room tick (default 100)
  --stretch N        the server's maxBatchStretch, 1-4 (default: the server's, 1)
  --workers W        load-generator processes (default 2)
  --storm            after the window, every viewer reconnects at once (default on; --no-storm)
${CLUSTER_USAGE}
  --json PATH        where to write the results (default bench/results/versus/room-<time>.json)`;

interface Options {
  viewers: number;
  senders: number;
  rate: number;
  reliable: number;
  durationS: number;
  tickMs: number;
  stretch: number | undefined;
  workers: number;
  storm: boolean;
  json: string | undefined;
  cluster: ClusterOptions;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      viewers: { type: 'string', default: '19500' },
      senders: { type: 'string', default: '20' },
      rate: { type: 'string', default: '250' },
      reliable: { type: 'string', default: '5' },
      duration: { type: 'string', default: '15' },
      tick: { type: 'string', default: '100' },
      stretch: { type: 'string' },
      workers: { type: 'string', default: '2' },
      storm: { type: 'boolean', default: true },
      'no-storm': { type: 'boolean', default: false },
      json: { type: 'string' },
      ...CLUSTER_ARGS,
    },
  });
  return {
    viewers: Number(values.viewers),
    senders: Number(values.senders),
    rate: Number(values.rate),
    reliable: Number(values.reliable),
    durationS: Number(values.duration),
    tickMs: Number(values.tick),
    stretch: values.stretch === undefined ? undefined : Number(values.stretch),
    workers: Number(values.workers),
    storm: values.storm === true && values['no-storm'] !== true,
    json: values.json,
    cluster: clusterOptions(values),
  };
}

const ROOM_ID = 'bench-live';
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, index) => `127.0.0.${index + 2}`);
const SETUP_CONCURRENCY = 32;
const RELIABLE_DEADLINE_MS = 3000;

/** A load process and a way to ask it things. */
class LoadWorker {
  private readonly child: ChildProcess;
  private readonly waiters = new Map<string, Array<(message: Record<string, unknown>) => void>>();

  constructor(config: RoomLoadConfig) {
    // A process, not a thread: each process may hold only as many sockets as its file limit.
    this.child = fork(fileURLToPath(new URL('./room-viewers.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: Record<string, unknown>) => {
      const type = message.type === 'failed' ? 'connected' : (message.type as string);
      this.waiters.get(type)?.shift()?.(message);
    });
    this.child.send({ type: 'config', config });
  }

  ask<T>(command: Record<string, unknown>, answer: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(answer) ?? [];
      list.push((message) => (message.type === 'failed' ? reject(new Error(String(message.message))) : resolve(message as T)));
      this.waiters.set(answer, list);
      this.child.send(command);
    });
  }

  tell(command: Record<string, unknown>): void {
    this.child.send(command);
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

async function counters(workers: LoadWorker[]): Promise<RoomCounters[]> {
  return Promise.all(workers.map(async (worker) => (await worker.ask<{ counters: RoomCounters }>({ type: 'counters' }, 'counters')).counters));
}

/** Server usage over a window on every node: UsageWindow per node, summed, and kept per node. */
class NodesWindow {
  private constructor(
    private readonly cluster: BenchCluster,
    private readonly windows: UsageWindow[],
  ) {}

  static async begin(cluster: BenchCluster): Promise<NodesWindow> {
    const single = cluster.nodes.length === 1;
    // A Target in name only: UsageWindow reads its child, and its kind names the window's profile file.
    const targets = cluster.nodes.map((child, index) => ({ kind: single ? 'parley' : `parley-${nodeName(index)}`, child, isParley: true }) as unknown as Target);
    const windows = await Promise.all(targets.map((target) => UsageWindow.begin(target)));
    cluster.resetPeaks();
    return new NodesWindow(cluster, windows);
  }

  async end() {
    const ends = await Promise.all(this.windows.map((window) => window.end()));
    const requests: Record<string, number> = {};
    for (const end of ends) for (const [kind, count] of Object.entries(end.requests)) requests[kind] = (requests[kind] ?? 0) + count;
    const perNode = ends.map((end, index) => ({
      node: nodeName(index),
      cpuUs: end.cpuUs,
      rssBytes: end.rssBytes,
      rssMaxBytes: Math.max(end.rssBytes, this.cluster.nodes[index]?.peakRssBytes ?? 0),
      roomEvents: end.requests.roomEvent ?? 0,
      loopDelayMs: end.loopDelayMs,
    }));
    return {
      seconds: Math.max(...ends.map((end) => end.seconds)),
      cpuUs: perNode.reduce((total, node) => total + node.cpuUs, 0),
      rssMaxBytes: perNode.reduce((total, node) => total + node.rssMaxBytes, 0),
      requests,
      // One node's delay is the room's: report the worst node's.
      loopDelayMs: ends.map((end) => end.loopDelayMs).reduce((worst, delay) => (delay !== undefined && (worst === undefined || delay.p99 > worst.p99) ? delay : worst), undefined),
      perNode,
    };
  }
}

/** Viewers on node `node` of `nodes`, spread round-robin by their index. */
function viewersOn(node: number, nodes: number, viewers: number): number {
  return Math.floor(viewers / nodes) + (node < viewers % nodes ? 1 : 0);
}

function sum(list: RoomCounters[], field: 'deliveries' | 'packets' | 'bytes' | 'skipped' | 'gaps' | 'sent' | 'sendRefusals' | 'closedByServer' | 'viewersJoined'): number {
  return list.reduce((total, counters) => total + counters[field], 0);
}

export async function runRoom(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-room-'));
  const serverOptions = {
    // The few bench senders stand in for many viewers: their per-user rate is lifted.
    rooms: { tickMs: options.tickMs, userEventsPerSecond: 100_000, userEventBurst: 100_000, ...(options.stretch === undefined ? {} : { maxBatchStretch: options.stretch }) },
    limits: { maxConnectionsPerUser: 20 },
  };
  const cluster = await BenchCluster.start(options.cluster, { durability: 'full', dataDir, serverOptions, cpuProfileDir: process.env.BENCH_SERVER_CPU_PROF });
  const workers: LoadWorker[] = [];
  let host: ParleyClient | undefined;
  try {
    // Setup and the host go through the first node; the others share its store and accept its tokens.
    const { httpUrl, wsUrl, adminKey } = cluster.nodeFor(0).urls;
    const wsUrls = cluster.nodes.map((node) => node.urls.wsUrl);
    progress.note(`creating ${formatCount(options.viewers + options.senders + 1)} users and tokens`);
    const ids = ['host', ...Array.from({ length: options.viewers }, (_, index) => `v${index}`), ...Array.from({ length: options.senders }, (_, index) => `s${index}`)];
    let made = 0;
    await inBatches(ids, SETUP_CONCURRENCY, async (id) => {
      await adminPost(httpUrl, adminKey, '/v1/users', { id });
      made += 1;
      if (made % 500 === 0) progress.update(made / ids.length / 2, `users ${formatCount(made)}`);
    });
    const tokens = await inBatches(ids, SETUP_CONCURRENCY, async (id, index) => {
      if (index % 500 === 0) progress.update(0.5 + index / ids.length / 2, `tokens ${formatCount(index)}`);
      return (await adminPost<{ token: string }>(httpUrl, adminKey, `/v1/users/${id}/tokens`, { ttlSeconds: 86_400 })).token;
    });
    await adminPost(httpUrl, adminKey, '/v1/rooms', { id: ROOM_ID, name: 'Bench live', hostId: 'host' });
    const viewerTokens = tokens.slice(1, 1 + options.viewers);
    const senderTokens = tokens.slice(1 + options.viewers);

    const memoryBefore = await cluster.usage(true);
    progress.note(`connecting ${formatCount(options.viewers)} viewers from ${SOURCE_ADDRESSES.length} source addresses to ${cluster.nodes.length} node(s)`);
    const share = Math.ceil(options.viewers / options.workers);
    const senderShare = Math.ceil(options.senders / options.workers);
    for (let index = 0; index < options.workers; index++) {
      workers.push(
        new LoadWorker({
          wsUrls,
          firstViewer: index * share,
          firstSender: index * senderShare,
          roomId: ROOM_ID,
          viewerTokens: viewerTokens.slice(index * share, (index + 1) * share),
          senderTokens: senderTokens.slice(index * senderShare, (index + 1) * senderShare),
          senderRate: options.rate,
          sourceAddresses: SOURCE_ADDRESSES,
          connectConcurrency: 64,
        }),
      );
    }
    const connectStarted = performance.now();
    await Promise.all(workers.map((worker) => worker.ask({ type: 'connect' }, 'connected')));
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    await sleep(2000);
    const memoryIdle = await cluster.usage(true);
    const growth = (field: 'rssBytes' | 'heapUsedBytes') => memoryIdle.reduce((total, usage, index) => total + usage[field] - (memoryBefore[index] as (typeof memoryBefore)[number])[field], 0);
    const idleBytesPerViewer = growth('rssBytes') / (options.viewers + options.senders);
    const idleHeapPerViewer = growth('heapUsedBytes') / (options.viewers + options.senders);

    host = new ParleyClient({ url: wsUrl, token: tokens[0] as string, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
    await host.connect();
    await host.joinRoom(ROOM_ID);
    await counters(workers);

    progress.note(`measuring ${options.durationS} s: ${options.senders} senders × ${options.rate}/s chat, ${options.reliable} reliable/s`);
    for (const worker of workers) worker.tell({ type: 'senders', on: true });
    // Reliable cards go out on schedule, not one after another's ack: a busy
    // node acks late, and waiting would lower the rate the bench claims.
    const reliableSends: Array<{ sentAt: number; seq: Promise<number>; ackedAt?: number }> = [];
    let reliableRunning = true;
    const reliableLoop = (async () => {
      let index = 0;
      const everyMs = 1000 / options.reliable;
      const startedAt = performance.now();
      while (reliableRunning) {
        index += 1;
        const sent = (host as ParleyClient).send(ROOM_ID, { content: { type: 'custom', customType: 'shop.product_card', data: { sku: `sku-${index}`, price: 1999 } } });
        const entry: (typeof reliableSends)[number] = {
          sentAt: performance.now(),
          seq: sent.then((message) => {
            entry.ackedAt = performance.now();
            return message.seq;
          }),
        };
        reliableSends.push(entry);
        await sleep(Math.max(0, startedAt + index * everyMs - performance.now()));
      }
    })();
    await sleep(1000);
    await counters(workers);
    const firstInWindow = reliableSends.length;
    const loadAtStart = loadAverage();
    const window = await NodesWindow.begin(cluster);
    const all: RoomCounters[] = [];
    for (let second = 1; second <= options.durationS; second++) {
      await sleep(1000);
      const now = await counters(workers);
      all.push(...now);
      progress.update(second / options.durationS, `${formatCount(sum(now, 'deliveries'))} deliveries/s, ${formatCount(sum(now, 'packets'))} packets/s, ${formatCount(sum(now, 'viewersJoined'))} viewers`);
    }
    const usage = await window.end();
    const loadAtEnd = loadAverage();
    const lastInWindow = reliableSends.length;
    reliableRunning = false;
    await reliableLoop;
    for (const worker of workers) worker.tell({ type: 'senders', on: false });
    // Reliable messages sent near the end get their 3 s, counted from their
    // commit (their created_at, as latency is): on a store that commits late
    // (PostgreSQL on a busy machine) the last acks come well after the window.
    const measuredSends = reliableSends.slice(firstInWindow, lastInWindow);
    const measured = await Promise.all(measuredSends.map((send) => send.seq));
    await sleep(RELIABLE_DEADLINE_MS + 500);
    const tail = await counters(workers);
    progress.finish();
    const ackWaits = sorted(measuredSends.map((send) => (send.ackedAt ?? send.sentAt) - send.sentAt));
    const windowSeqs = new Set(measured);
    let within = 0;
    let receipts = 0;
    const receiptsByNode = cluster.nodes.map(() => 0);
    const latencies: number[] = [];
    for (const counter of [...all, ...tail]) {
      for (const [seq, entry] of Object.entries(counter.reliableBySeq)) {
        if (!windowSeqs.has(Number(seq))) continue;
        within += entry.within;
        receipts += entry.within + entry.late;
        entry.byNode.forEach((count, node) => {
          receiptsByNode[node] = (receiptsByNode[node] ?? 0) + count;
        });
      }
      // One by one: a tail of late receipts can hold more values than a call takes arguments.
      for (const latency of counter.reliableLatencies) latencies.push(latency);
    }
    const expected = measured.length * options.viewers;
    const ordered = sorted(latencies);
    const deliveries = sum(all, 'deliveries');
    const seconds = usage.seconds;

    let storm: { ms: number; refusals: number; maxHintMs: number; medianHintMs: number; serverCpuS: number } | undefined;
    if (options.storm) {
      progress.note(`reconnect storm: ${formatCount(options.viewers)} viewers drop and come back at once`);
      const stormWindow = await NodesWindow.begin(cluster);
      const results = await Promise.all(workers.map((worker) => worker.ask<{ result: { ms: number; refusals: number; maxHintMs: number; medianHintMs: number } }>({ type: 'storm' }, 'stormed')));
      const stormUsage = await stormWindow.end();
      storm = {
        ms: round(Math.max(...results.map((entry) => entry.result.ms)), 0),
        refusals: results.reduce((total, entry) => total + entry.result.refusals, 0),
        maxHintMs: Math.max(...results.map((entry) => entry.result.maxHintMs)),
        medianHintMs: Math.max(...results.map((entry) => entry.result.medianHintMs)),
        serverCpuS: round(stormUsage.cpuUs / 1e6, 2),
      };
    }

    const summary = {
      benchmark: 'room',
      options: { ...options, json: undefined },
      // Servers: 1 node on SQLite unless --nodes / --store / --bus said otherwise.
      ...options.cluster,
      result: {
        viewers: options.viewers,
        connectSeconds: round(connectSeconds, 1),
        offeredEventsPerS: round(sum(all, 'sent') / seconds, 0),
        acceptedEventsPerS: round((usage.requests.roomEvent ?? 0) / seconds, 0),
        deliveriesPerS: round(deliveries / seconds, 0),
        packetsPerS: round(sum(all, 'packets') / seconds, 0),
        megabytesPerS: round(sum(all, 'bytes') / seconds / 1e6, 1),
        reliableSent: measured.length,
        reliableLatencyMs: { p50: round(percentile(ordered, 50), 1), p99: round(percentile(ordered, 99), 1), max: round(ordered.at(-1) ?? 0, 1) },
        reliableWithin3sShare: round(expected === 0 ? 0 : within / expected, 5),
        // The host's send to its ack (the commit): what the store adds before a card can go out.
        reliableAckMs: { p50: round(percentile(ackWaits, 50), 1), p99: round(percentile(ackWaits, 99), 1), max: round(ackWaits.at(-1) ?? 0, 1) },
        reliableReceipts: receipts,
        reliableExpected: expected,
        gaps: sum(all, 'gaps'),
        viewersDropped: sum([...all, ...tail], 'closedByServer'),
        serverCpuCores: round(usage.cpuUs / 1e6 / seconds, 2),
        serverCpuUsPerDelivery: round(usage.cpuUs / Math.max(1, deliveries), 3),
        idleRssBytesPerViewer: round(idleBytesPerViewer, 0),
        idleHeapBytesPerViewer: round(idleHeapPerViewer, 0),
        loopDelayMs: usage.loopDelayMs,
        // Per node the peak over the window; summed, what the nodes held at most.
        serverRssMaxMb: round(usage.rssMaxBytes / 1024 / 1024, 1),
        perNode: usage.perNode.map((node, index) => ({
          node: node.node,
          cpuCores: round(node.cpuUs / 1e6 / seconds, 2),
          cpuUsPerDelivery: round(node.cpuUs / Math.max(1, deliveries), 3),
          rssMaxMb: round(node.rssMaxBytes / 1024 / 1024, 1),
          idleRssBytesPerViewer: round(((memoryIdle[index]?.rssBytes ?? 0) - (memoryBefore[index]?.rssBytes ?? 0)) / ((options.viewers + options.senders) / cluster.nodes.length), 0),
          acceptedEventsPerS: round(node.roomEvents / seconds, 0),
          // Reliable messages of the window received by this node's viewers, of those owed to them.
          reliableReceipts: receiptsByNode[index] ?? 0,
          reliableExpected: measured.length * viewersOn(index, cluster.nodes.length, options.viewers),
          loopDelayMs: node.loopDelayMs,
        })),
        storm,
      },
      machine: { ...machineSummary(), loadAverage: { start: loadAtStart, end: loadAtEnd } },
      timestamp: new Date().toISOString(),
    };
    process.stdout.write(`\n${roomTable(summary)}\n`);
    process.stdout.write(`results written to ${writeResult('room', summary, options.json)}\n`);
    return 0;
  } finally {
    await host?.close();
    for (const worker of workers) await worker.close();
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface RoomSummary {
  options: Options;
  result: {
    viewers: number;
    offeredEventsPerS: number;
    acceptedEventsPerS: number;
    deliveriesPerS: number;
    packetsPerS: number;
    reliableLatencyMs: { p50: number; p99: number; max: number };
    reliableWithin3sShare: number;
    serverCpuCores: number;
    serverCpuUsPerDelivery: number;
    idleRssBytesPerViewer: number;
    gaps: number;
    viewersDropped: number;
    storm?: { ms: number; refusals: number; maxHintMs: number; medianHintMs: number; serverCpuS: number };
  };
}

export function roomTable(summary: RoomSummary): string {
  const r = summary.result;
  const header = ['viewers', 'events/s offered → accepted', 'deliveries/s (in batches)', 'packets/s', 'reliable p50 / p99 ms', 'reliable ≤ 3 s', 'server CPU µs/delivery', 'server cores', 'idle KB/viewer'];
  const rows = [
    [
      formatCount(r.viewers),
      `${formatCount(r.offeredEventsPerS)} → ${formatCount(r.acceptedEventsPerS)}`,
      formatCount(r.deliveriesPerS),
      formatCount(r.packetsPerS),
      `${formatFixed(r.reliableLatencyMs.p50, 0)} / ${formatFixed(r.reliableLatencyMs.p99, 0)}`,
      `${formatFixed(r.reliableWithin3sShare * 100, 2)}%`,
      formatFixed(r.serverCpuUsPerDelivery, 3),
      formatFixed(r.serverCpuCores, 2),
      formatFixed(r.idleRssBytesPerViewer / 1024, 1),
    ],
  ];
  let text = markdownTable(header, rows);
  text += `\n\nGaps seen by viewers: ${r.gaps}; viewers closed by the server: ${r.viewersDropped}.`;
  if (r.storm !== undefined) {
    const s = r.storm;
    text += `\n\nReconnect storm: ${formatCount(r.viewers)} viewers back in the room after ${formatFixed(s.ms / 1000, 1)} s; ${formatCount(s.refusals)} hellos refused with a retry hint (median ${formatCount(s.medianHintMs)} ms, longest ${formatCount(s.maxHintMs)} ms); server CPU ${formatFixed(s.serverCpuS, 1)} s.`;
  }
  return text;
}
