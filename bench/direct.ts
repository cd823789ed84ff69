/**
 * Direct-message benchmark: N pairs of users, 2N SDK clients, one direct
 * conversation per pair, both members sending to each other through the full
 * path (send → durable commit → push → the receiver's 'message' event). The
 * server runs in a child process (bench/server-process.ts) so that its RSS
 * and CPU are measured apart from this load generator.
 *
 *   node --import tsx bench/direct.ts [--pairs 200] [--rate 2000] [--duration 10]
 *        [--transport ws|tcp] [--json bench/results/NAME.json] [options, see --help]
 *
 * --rate R > 0: open loop at R messages/s in total, round-robin over all
 * senders, for latency. --rate 0: every sender keeps --window sends in flight,
 * for maximum throughput. Every message is checked to be delivered exactly
 * once, to the right user, in its sender's order.
 *
 * --nodes N ≥ 2: N server nodes on PostgreSQL and NATS (support/cluster.ts);
 * client i talks to node i mod N, so the two users of a pair sit on different
 * nodes and every message crosses the bus. --store postgres with one node
 * tells the cost of PostgreSQL from that of the bus.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Message, ParleyClient } from '@parley/client';
import WebSocket from 'ws';
import { FrameField, scanPacket } from './versus/wire-scan.js';
import { ProgressLine } from './support/progress.js';
import { adminPost, inBatches } from './support/setup.js';
import type { UsageReport } from './support/child-reporter.js';
import { BenchCluster, CLUSTER_ARGS, CLUSTER_USAGE, type ClusterOptions, clusterOptions, loadAverage, type NodeUsage, total, totalRequests } from './support/cluster.js';
import { busyCores, readCpuTimes, type CpuTimes } from './support/system-load.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from './support/stats.js';

const USAGE = `Usage: node --import tsx bench/direct.ts [options]

  --pairs N          user pairs, each with one direct conversation (default 200; 2N clients)
  --rate R           messages/s offered in total, open loop; 0 = max throughput (default 2000)
  --duration S       measured seconds of sending (default 10)
  --warmup S         unmeasured seconds of the same load first (default 2)
  --transport T      ws or tcp (default ws)
  --window W         sends in flight per client when --rate 0 (default 32)
  --size B           message text length in characters (default 64)
  --durability D     full or normal (default full)
${CLUSTER_USAGE}
  --json PATH        where to write the JSON results (default bench/results/direct-<transport>-<timestamp>.json;
                     direct-<transport>-<N>n-<store>-<bus>-<timestamp>.json for other servers than the default)
  --server-cpu-prof  write a V8 CPU profile of the server to bench/results/profiles/
  --help`;

const SETUP_CONCURRENCY = 16;
const CONNECT_CONCURRENCY = 32;
const DRAIN_TIMEOUT_MS = 15_000;
/** After everything acked was delivered, how long to keep listening for duplicates. */
const DUPLICATE_GRACE_MS = 500;
const PROGRESS_INTERVAL_MS = 250;
const SETUP_BUDGET_MS = 120_000;

interface BenchOptions {
  pairs: number;
  rate: number;
  durationS: number;
  warmupS: number;
  transport: 'ws' | 'tcp';
  window: number;
  size: number;
  durability: 'full' | 'normal';
  jsonPath: string | undefined;
  serverCpuProfile: boolean;
  cluster: ClusterOptions;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string', default: '200' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      transport: { type: 'string', default: 'ws' },
      window: { type: 'string', default: '32' },
      size: { type: 'string', default: '64' },
      durability: { type: 'string', default: 'full' },
      json: { type: 'string' },
      'server-cpu-prof': { type: 'boolean', default: false },
      ...CLUSTER_ARGS,
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (name: string, value: string, min: number, max: number): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got "${value}"`);
    return parsed;
  };
  if (values.transport !== 'ws' && values.transport !== 'tcp') throw new Error(`--transport must be ws or tcp, got "${values.transport}"`);
  if (values.durability !== 'full' && values.durability !== 'normal') throw new Error(`--durability must be full or normal`);
  return {
    pairs: Math.floor(number('pairs', values.pairs, 1, 5000)),
    rate: number('rate', values.rate, 0, 1_000_000),
    durationS: number('duration', values.duration, 1, 600),
    warmupS: number('warmup', values.warmup, 0, 60),
    transport: values.transport,
    window: Math.floor(number('window', values.window, 1, 64)),
    size: Math.floor(number('size', values.size, 16, 8000)),
    durability: values.durability,
    jsonPath: values.json,
    serverCpuProfile: values['server-cpu-prof'],
    cluster: clusterOptions(values),
  };
}

/**
 * Per-message bookkeeping, indexed by a global message number that is also
 * the start of the message text. Plain arrays: a run sends a few hundred
 * thousand messages at most.
 */
class DeliveryTracker {
  readonly sentAt: number[] = [];
  readonly senderOf: number[] = [];
  /** Position of the message among its sender's messages, for the order check. */
  readonly senderPosition: number[] = [];
  readonly acked: boolean[] = [];
  readonly deliveries: number[] = [];
  /** Messages numbered from here on were sent in the measured window. */
  firstMeasured = Number.POSITIVE_INFINITY;
  readonly latenciesMs: number[] = [];
  /** send() call to its durable ack, measured messages only. */
  readonly ackLatenciesMs: number[] = [];

  sent = 0;
  settled = 0;
  ackedCount = 0;
  deliveredUnique = 0;
  ackedNotDelivered = 0;
  duplicates = 0;
  misrouted = 0;
  outOfOrder = 0;
  unexpected = 0;
  measuredSent = 0;
  measuredAcked = 0;
  measuredDelivered = 0;
  lastMeasuredDeliveryAt = 0;
  readonly sendErrors = new Map<string, number>();
  private readonly sentBySender: number[];
  private readonly lastDeliveredPosition: number[];

  constructor(senders: number) {
    this.sentBySender = new Array<number>(senders).fill(0);
    this.lastDeliveredPosition = new Array<number>(senders).fill(-1);
  }

  /** Registers a message about to be sent; returns its number. */
  register(sender: number, now: number): number {
    const id = this.sent++;
    this.sentAt[id] = now;
    this.senderOf[id] = sender;
    this.senderPosition[id] = this.sentBySender[sender]!++;
    this.acked[id] = false;
    this.deliveries[id] = 0;
    if (id >= this.firstMeasured) this.measuredSent++;
    return id;
  }

  onAck(id: number, now: number): void {
    this.settled++;
    this.acked[id] = true;
    this.ackedCount++;
    if (id >= this.firstMeasured) {
      this.measuredAcked++;
      this.ackLatenciesMs.push(now - this.sentAt[id]!);
    }
    if (this.deliveries[id] === 0) this.ackedNotDelivered++;
  }

  onSendError(error: unknown): void {
    this.settled++;
    const name = error instanceof Error ? error.name : 'Error';
    this.sendErrors.set(name, (this.sendErrors.get(name) ?? 0) + 1);
  }

  onDelivery(id: number, receiver: number, now: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.sent) {
      this.unexpected++;
      return;
    }
    const count = ++this.deliveries[id]!;
    if (count > 1) {
      this.duplicates++;
      return;
    }
    this.deliveredUnique++;
    if (this.acked[id]) this.ackedNotDelivered--;
    const sender = this.senderOf[id]!;
    // Clients 2i and 2i+1 form pair i: the receiver must be the sender's peer.
    if (receiver !== (sender ^ 1)) this.misrouted++;
    const position = this.senderPosition[id]!;
    if (position < this.lastDeliveredPosition[sender]!) this.outOfOrder++;
    else this.lastDeliveredPosition[sender] = position;
    if (id >= this.firstMeasured) {
      this.measuredDelivered++;
      this.latenciesMs.push(now - this.sentAt[id]!);
      this.lastMeasuredDeliveryAt = now;
    }
  }

  /** Acked messages never delivered (after the drain). */
  missing(): number {
    let missing = 0;
    for (let id = 0; id < this.sent; id++) if (this.acked[id] && this.deliveries[id] === 0) missing++;
    return missing;
  }
}

/** Client-side count of pull requests the SDK clients sent (WebSocket only). */
let clientPulls = 0;

/** A `ws` socket that counts the pull frames the SDK sends through it. */
class PullCountingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }

  override send(data: Uint8Array): void {
    scanPacket(data, (_requestId, field) => {
      if (field === FrameField.pull) clientPulls += 1;
    });
    super.send(data);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

interface RunResult {
  scenario: 'fixed-rate' | 'max-throughput';
  options: BenchOptions;
  tracker: DeliveryTracker;
  measuredSeconds: number;
  serverCpuUs: number;
  /** The part of serverCpuUs spent in the kernel (socket writes, fsync). */
  serverSystemCpuUs: number;
  /** Requests the server handled over the measured window, by kind. */
  serverRequests: Record<string, number>;
  /** Pull requests the SDK clients sent over the measured window (counted over WebSocket only). */
  clientPulls: number | undefined;
  serverRssMaxBytes: number;
  /** Each node's CPU, RSS and requests over the measured window (one entry for a single server). */
  perNode: NodeUsage[];
  generatorCpuUs: number;
  /** Busy cores of the whole machine over the measured window. */
  machineBusyCores: number;
  drained: boolean;
  /** The machine's load averages when the measured window began and ended. */
  loadAverage: { start: number[]; end: number[] };
}

/** Clients 2i and 2i+1 (users bench<i>a and bench<i>b) form pair i. */
function userIdOf(index: number): string {
  return `bench${index >> 1}${index % 2 === 0 ? 'a' : 'b'}`;
}

async function run(options: BenchOptions, cluster: BenchCluster, clients: ParleyClient[], progress: ProgressLine): Promise<RunResult> {
  const senders = clients.length;
  const tracker = new DeliveryTracker(senders);
  const filler = 'x'.repeat(options.size);
  const userIds = clients.map((_, index) => userIdOf(index));

  // ---- conversations: one direct conversation per pair, opened by its first member ----
  const pairIndexes = Array.from({ length: options.pairs }, (_, pair) => pair);
  const conversationOfPair = await inBatches(pairIndexes, CONNECT_CONCURRENCY, (pair) => clients[2 * pair]!.direct(userIds[2 * pair + 1]!));

  clients.forEach((client, receiver) => {
    client.on('message', (message: Message) => {
      if (message.type !== 'user' || message.senderId === userIds[receiver] || message.text === undefined) return;
      tracker.onDelivery(Number.parseInt(message.text, 10), receiver, performance.now());
    });
  });

  const sendOne = (sender: number): Promise<void> => {
    const now = performance.now();
    const id = tracker.register(sender, now);
    const text = `${id}|${filler}`.slice(0, Math.max(options.size, String(id).length + 1));
    return clients[sender]!.send(conversationOfPair[sender >> 1]!, { text }).then(
      () => tracker.onAck(id, performance.now()),
      (error: unknown) => tracker.onSendError(error),
    );
  };

  // ---- load ----
  const totalMs = (options.warmupS + options.durationS) * 1000;
  const startedAt = performance.now();
  let sending = true;
  let measureStartedAt = 0;
  let serverUsageAtStart: Promise<UsageReport[]> | undefined;
  let loadAtStart: number[] = [];
  let generatorCpuAtStart: NodeJS.CpuUsage | undefined;
  let machineCpuAtStart: CpuTimes | undefined;
  let clientPullsAtStart = 0;
  const startMeasuring = () => {
    if (measureStartedAt !== 0) return;
    measureStartedAt = performance.now();
    tracker.firstMeasured = tracker.sent;
    cluster.resetPeaks();
    serverUsageAtStart = cluster.usage();
    loadAtStart = loadAverage();
    clientPullsAtStart = clientPulls;
    generatorCpuAtStart = process.cpuUsage();
    machineCpuAtStart = readCpuTimes();
  };
  if (options.warmupS === 0) startMeasuring();

  let senderCursor = 0;
  let scheduled = 0;
  const inFlight = new Array<number>(senders).fill(0);
  const pump = (sender: number): void => {
    while (sending && inFlight[sender]! < options.window) {
      inFlight[sender]!++;
      void sendOne(sender).finally(() => {
        inFlight[sender]!--;
        pump(sender);
      });
    }
  };

  let progressTimer: ReturnType<typeof setInterval> | undefined;
  await new Promise<void>((resolveLoad) => {
    const stop = () => {
      sending = false;
      clearInterval(progressTimer);
      resolveLoad();
    };
    if (options.rate > 0) {
      // Open loop: the schedule, not the acks, decides when to send, so a
      // slow server shows up as latency instead of as a lower offered rate.
      const tick = () => {
        const elapsedMs = performance.now() - startedAt;
        if (elapsedMs >= options.warmupS * 1000) startMeasuring();
        const due = Math.floor((Math.min(elapsedMs, totalMs) / 1000) * options.rate);
        while (scheduled < due) {
          void sendOne(senderCursor);
          senderCursor = (senderCursor + 1) % senders;
          scheduled++;
        }
        if (elapsedMs >= totalMs) stop();
        else setTimeout(tick, 1);
      };
      tick();
    } else {
      for (let sender = 0; sender < senders; sender++) pump(sender);
      if (options.warmupS > 0) setTimeout(startMeasuring, options.warmupS * 1000);
      setTimeout(stop, totalMs);
    }

    let lastDelivered = 0;
    let lastAt = performance.now();
    let currentRate = 0;
    progressTimer = setInterval(() => {
      const now = performance.now();
      const delivered = tracker.deliveredUnique;
      currentRate = 0.5 * currentRate + (0.5 * (delivered - lastDelivered) * 1000) / (now - lastAt);
      lastDelivered = delivered;
      lastAt = now;
      const elapsedS = (now - startedAt) / 1000;
      const phase = elapsedS < options.warmupS ? 'warmup' : 'measure';
      progress.update(
        elapsedS / (totalMs / 1000),
        `${phase} ${formatFixed(elapsedS)}/${formatFixed(totalMs / 1000)}s  sent ${formatCount(tracker.sent)}  acked ${formatCount(tracker.ackedCount)}  delivered ${formatCount(delivered)}  ${formatCount(currentRate)} msg/s`,
      );
    }, PROGRESS_INTERVAL_MS);
  });

  // ---- drain: every send settled and every acked message delivered ----
  const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
  while ((tracker.settled < tracker.sent || tracker.ackedNotDelivered > 0) && performance.now() < drainDeadline) {
    progress.update(1, `draining: ${formatCount(tracker.sent - tracker.settled)} unacked, ${formatCount(tracker.ackedNotDelivered)} acked but undelivered`);
    await sleep(20);
  }
  const drained = tracker.settled === tracker.sent && tracker.ackedNotDelivered === 0;
  const measureEndedAt = tracker.lastMeasuredDeliveryAt > measureStartedAt ? tracker.lastMeasuredDeliveryAt : performance.now();
  const serverUsageAtEnd = await cluster.usage();
  const loadAtEnd = loadAverage();
  const measuredClientPulls = clientPulls - clientPullsAtStart;
  const serverUsageStart = (await serverUsageAtStart) ?? serverUsageAtEnd;
  const generatorCpu = process.cpuUsage(generatorCpuAtStart);
  const machineBusy = busyCores(machineCpuAtStart, readCpuTimes(), cpus().length);
  const perNode = cluster.between(serverUsageStart, serverUsageAtEnd);
  await sleep(DUPLICATE_GRACE_MS);
  progress.finish();

  return {
    scenario: options.rate > 0 ? 'fixed-rate' : 'max-throughput',
    options,
    tracker,
    measuredSeconds: (measureEndedAt - measureStartedAt) / 1000,
    serverCpuUs: total(perNode, 'cpuUs'),
    serverSystemCpuUs: total(perNode, 'systemCpuUs'),
    serverRequests: totalRequests(perNode),
    clientPulls: options.transport === 'ws' ? measuredClientPulls : undefined,
    // Per node the peak over the window; summed, what the cluster holds at most.
    serverRssMaxBytes: total(perNode, 'rssMaxBytes'),
    perNode,
    generatorCpuUs: generatorCpu.user + generatorCpu.system,
    machineBusyCores: machineBusy,
    drained,
    loadAverage: { start: loadAtStart, end: loadAtEnd },
  };
}

function summarize(result: RunResult) {
  const { tracker, options } = result;
  const latencies = Float64Array.from(tracker.latenciesMs).sort();
  const ackLatencies = Float64Array.from(tracker.ackLatenciesMs).sort();
  const mean = latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length);
  const wallUs = result.measuredSeconds * 1e6;
  return {
    benchmark: 'direct',
    scenario: result.scenario,
    transport: options.transport,
    pairs: options.pairs,
    clients: options.pairs * 2,
    offeredRate: options.rate,
    window: options.rate > 0 ? undefined : options.window,
    durationS: options.durationS,
    warmupS: options.warmupS,
    messageChars: options.size,
    durability: options.durability,
    // Servers: 1 node on SQLite unless --nodes / --store / --bus said otherwise.
    ...options.cluster,
    measured: {
      seconds: round(result.measuredSeconds, 3),
      sent: tracker.measuredSent,
      acked: tracker.measuredAcked,
      delivered: tracker.measuredDelivered,
      throughputPerS: round(tracker.measuredDelivered / result.measuredSeconds, 0),
      latencyMs: {
        p50: round(percentile(latencies, 50), 2),
        p90: round(percentile(latencies, 90), 2),
        p99: round(percentile(latencies, 99), 2),
        p999: round(percentile(latencies, 99.9), 2),
        max: round(percentile(latencies, 100), 2),
        mean: round(mean, 2),
      },
      ackLatencyMs: {
        p50: round(percentile(ackLatencies, 50), 2),
        p99: round(percentile(ackLatencies, 99), 2),
        max: round(percentile(ackLatencies, 100), 2),
      },
      server: {
        rssMaxMb: round(result.serverRssMaxBytes / 1024 / 1024, 1),
        cpuUsPerDelivered: round(result.serverCpuUs / Math.max(1, tracker.measuredDelivered), 1),
        systemCpuUsPerDelivered: round(result.serverSystemCpuUs / Math.max(1, tracker.measuredDelivered), 1),
        cpuCores: round(result.serverCpuUs / wallUs, 2),
        // What clients asked besides sends: gap pulls and syncs should be rare without faults.
        // Left out for a server that does not count requests (older versions).
        requests: countsRequests(result.serverRequests) ? result.serverRequests : undefined,
        pullsPer1000Delivered: countsRequests(result.serverRequests)
          ? round(((result.serverRequests.pull ?? 0) * 1000) / Math.max(1, tracker.measuredDelivered), 2)
          : undefined,
        // The figures above are sums over the nodes; these are each node's.
        perNode: result.perNode.map((usage) => ({
          node: usage.node,
          cpuCores: round(usage.cpuUs / wallUs, 2),
          cpuUsPerDelivered: round(usage.cpuUs / Math.max(1, tracker.measuredDelivered), 1),
          systemCpuUsPerDelivered: round(usage.systemCpuUs / Math.max(1, tracker.measuredDelivered), 1),
          rssMaxMb: round(usage.rssMaxBytes / 1024 / 1024, 1),
          sends: usage.requests.send,
        })),
      },
      generator: { cpuCores: round(result.generatorCpuUs / wallUs, 2) },
      // Counted by the clients, so also against servers that do not count requests.
      clientPullsPer1000Delivered: result.clientPulls === undefined ? undefined : round((result.clientPulls * 1000) / Math.max(1, tracker.measuredDelivered), 2),
      // Whatever else ran on the machine meanwhile (other programs, the kernel).
      otherProcessesCpuCores: round(Math.max(0, result.machineBusyCores - (result.serverCpuUs + result.generatorCpuUs) / wallUs), 2),
    },
    check: {
      sent: tracker.sent,
      acked: tracker.ackedCount,
      deliveredOnce: tracker.deliveredUnique,
      missing: tracker.missing(),
      duplicates: tracker.duplicates,
      misrouted: tracker.misrouted,
      outOfOrder: tracker.outOfOrder,
      unexpected: tracker.unexpected,
      sendErrors: Object.fromEntries(tracker.sendErrors),
      drained: result.drained,
    },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: round(totalmem() / 1024 ** 3, 1),
      platform: `${platform()} ${release()}`,
      node: process.version,
      loadAverage: result.loadAverage,
    },
    timestamp: new Date().toISOString(),
  };
}

type Summary = ReturnType<typeof summarize>;

function printReport(summary: Summary): void {
  const m = summary.measured;
  const header = [
    'scenario',
    'transport',
    'pairs',
    'offered msg/s',
    'duration s',
    'sent',
    'acked',
    'delivered',
    'throughput msg/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'server RSS MB',
    'server CPU µs/msg',
  ];
  const row = [
    summary.scenario,
    summary.transport,
    String(summary.pairs),
    summary.offeredRate > 0 ? formatCount(summary.offeredRate) : `max (window ${summary.window})`,
    String(summary.durationS),
    formatCount(m.sent),
    formatCount(m.acked),
    formatCount(m.delivered),
    formatCount(m.throughputPerS),
    formatFixed(m.latencyMs.p50, 1),
    formatFixed(m.latencyMs.p99, 1),
    formatFixed(m.latencyMs.max, 1),
    formatFixed(m.server.rssMaxMb, 0),
    formatFixed(m.server.cpuUsPerDelivered, 0),
  ];
  const c = summary.check;
  const errors = Object.entries(c.sendErrors).map(([name, count]) => `${name} ${count}`);
  const clean = c.missing === 0 && c.duplicates === 0 && c.misrouted === 0 && c.outOfOrder === 0 && c.unexpected === 0 && errors.length === 0;
  process.stdout.write(`
${markdownTable(header, [row])}

latency p90 ${formatFixed(m.latencyMs.p90)} ms, p99.9 ${formatFixed(m.latencyMs.p999)} ms, mean ${formatFixed(m.latencyMs.mean)} ms; sender's durable ack p50 ${formatFixed(m.ackLatencyMs.p50)} / p99 ${formatFixed(m.ackLatencyMs.p99)} ms; durability ${summary.durability}; ${summary.messageChars}-char messages; measured ${formatFixed(m.seconds, 2)} s after ${summary.warmupS} s warmup
CPU: server ${formatFixed(m.server.cpuCores, 2)} cores (kernel ${formatFixed(m.server.systemCpuUsPerDelivered, 0)} of its ${formatFixed(m.server.cpuUsPerDelivered, 0)} µs/msg), load generator ${formatFixed(m.generator.cpuCores, 2)} cores, other processes ${formatFixed(m.otherProcessesCpuCores, 2)} cores (${summary.machine.cpus} CPUs: ${summary.machine.cpuModel})
${m.clientPullsPer1000Delivered === undefined ? '' : `pulls sent by the clients: ${formatFixed(m.clientPullsPer1000Delivered, 2)} per 1,000 messages; `}server requests besides sends: ${formatRequests(m.server.requests)}${m.server.pullsPer1000Delivered === undefined ? '' : `; ${formatFixed(m.server.pullsPer1000Delivered, 2)} pulls per 1,000 messages`}
${perNodeLine(summary)}delivery check (whole run): ${formatCount(c.acked)} acked of ${formatCount(c.sent)} sent; ${formatCount(c.deliveredOnce)} delivered; missing ${c.missing}, duplicates ${c.duplicates}, misrouted ${c.misrouted}, out of order ${c.outOfOrder}, unexpected ${c.unexpected}, send errors ${errors.length === 0 ? 0 : errors.join(', ')} → ${clean ? 'OK: every acked message delivered exactly once' : 'FAILED'}
`);
}

/** Servers and, for more than one node, each node's share; empty for one node on SQLite. */
function perNodeLine(summary: Summary): string {
  const servers = `servers: ${summary.nodes} node${summary.nodes === 1 ? '' : 's'}, store ${summary.store}, bus ${summary.bus}`;
  if (summary.nodes === 1 && summary.store === 'sqlite') return '';
  const nodes = summary.measured.server.perNode.map(
    (node) => `${node.node} ${formatFixed(node.cpuCores, 2)} cores, ${formatFixed(node.cpuUsPerDelivered, 0)} µs/msg, RSS ${formatFixed(node.rssMaxMb, 0)} MB`,
  );
  return `${servers}${summary.nodes === 1 ? '' : `: ${nodes.join('; ')}`}\n`;
}

/** A server that counts requests reports at least its sends. */
function countsRequests(requests: Record<string, number>): boolean {
  return Object.keys(requests).length > 0;
}

function formatRequests(requests: Record<string, number> | undefined): string {
  if (requests === undefined) return 'not counted by this server';
  const others = Object.entries(requests).filter(([kind, count]) => kind !== 'send' && count > 0);
  return others.length === 0 ? 'none' : others.map(([kind, count]) => `${kind} ${formatCount(count)}`).join(', ');
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const progress = new ProgressLine();
  const benchDir = dirname(fileURLToPath(import.meta.url));

  // Everything is bounded: a wedged run is killed rather than left hanging.
  const budgetMs = SETUP_BUDGET_MS + (options.warmupS + options.durationS) * 1000 + DRAIN_TIMEOUT_MS + 30_000;
  let cluster: BenchCluster | undefined;
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nbench: gave up after ${budgetMs / 1000} s\n`);
    void (cluster?.abandon() ?? Promise.resolve()).finally(() => process.exit(1));
  }, budgetMs);
  const interrupted = () => {
    process.stderr.write('\nbench: interrupted, stopping the server...\n');
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const { nodes, store, bus } = options.cluster;
  progress.note(`starting ${nodes === 1 ? 'server' : `${nodes} nodes`} (durability ${options.durability}, store ${store}, bus ${bus})...`);
  const profileDir = options.serverCpuProfile ? resolve(benchDir, 'results', 'profiles') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const servers = await BenchCluster.start(options.cluster, { durability: options.durability, ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }) });
  cluster = servers;
  const created: ParleyClient[] = [];
  try {
    // Setup goes through the first node; the others share its store and accept its tokens.
    const { httpUrl, adminKey } = servers.nodeFor(0).urls;
    const urlOf = (index: number) => (options.transport === 'ws' ? servers.nodeFor(index).urls.wsUrl : servers.nodeFor(index).urls.tcpUrl);
    const clientCount = options.pairs * 2;
    const userIds = Array.from({ length: clientCount }, (_, index) => userIdOf(index));

    progress.note(`creating ${clientCount} users and tokens...`);
    await inBatches(userIds, SETUP_CONCURRENCY, (id) => adminPost(httpUrl, adminKey, '/v1/users', { id }));
    const tokens = await inBatches(userIds, SETUP_CONCURRENCY, async (id) => (await adminPost<{ token: string }>(httpUrl, adminKey, `/v1/users/${id}/tokens`, {})).token);

    progress.note(`connecting ${clientCount} clients over ${options.transport} (${nodes === 1 ? urlOf(0) : `round-robin over ${nodes} nodes`})...`);
    const clients = await inBatches(tokens, CONNECT_CONCURRENCY, async (token, index) => {
      // Over WebSocket the SDK's outgoing packets are scanned for pulls, so
      // that gap pulls are counted on the client side with any server version.
      const client = new ParleyClient({
        url: urlOf(index),
        token,
        reconnect: false,
        initialBacklog: 0,
        clientName: 'parley-bench',
        WebSocket: options.transport === 'ws' ? PullCountingWebSocket : undefined,
      });
      created.push(client);
      await client.connect();
      return client;
    });

    progress.note(
      options.rate > 0
        ? `sending ${formatCount(options.rate)} msg/s open loop for ${options.warmupS} s warmup + ${options.durationS} s...`
        : `sending as fast as acks allow (window ${options.window} per client) for ${options.warmupS} s warmup + ${options.durationS} s...`,
    );
    const result = await run(options, servers, clients, progress);
    const summary = summarize(result);
    printReport(summary);

    const timestamp = summary.timestamp.replace(/[:.]/g, '-');
    const setup = nodes === 1 && store === 'sqlite' && bus === 'local' ? '' : `${nodes}n-${store}-${bus}-`;
    const jsonPath = options.jsonPath === undefined ? resolve(benchDir, 'results', `direct-${options.transport}-${setup}${timestamp}.json`) : resolve(options.jsonPath);
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`results written to ${jsonPath}\n`);
    const c = summary.check;
    return c.missing + c.duplicates + c.misrouted + c.outOfOrder + c.unexpected === 0 ? 0 : 1;
  } finally {
    await Promise.all(created.map((client) => client.close()));
    await servers.stop();
    clearTimeout(watchdog);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
