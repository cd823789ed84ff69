/**
 * First-sight reproduction: does every device of a user emit every message of
 * a conversation it sees for the first time while connected? The promise is
 * "every message of every conversation, once, in order, on every device";
 * the SDK keeps it for conversations it already tracks, and this program
 * measures it for conversations born while the devices are online.
 *
 * Each run uses fresh users and a real server (bench/server-process.ts, port
 * 0). Three variants, each run --runs times:
 *
 * - direct: alice has 3 devices (WebSocket and TCP mixed) and bob 1; one of
 *   alice's devices opens a new direct chat with bob and sends 5 messages
 *   back to back.
 * - direct-resets: the same through fault proxies that reset a random
 *   connection every 100–400 ms, with 10 messages sent 50–150 ms apart so
 *   that resets land while the conversation is young.
 * - group: carol creates a group with alice (3 devices) and dave; right away
 *   carol, dave and one of alice's devices each send 5 messages back to back.
 *
 * Once every send is acknowledged (and the faults are lifted), each device
 * gets a bounded time to show the conversation from the user's first seq to
 * its last; then, per device, the messages not emitted, emitted twice, and
 * emitted out of seq order are counted. Prints a table, writes JSON to
 * bench/results/first-sight/first-sight-<label>.json; exits 1 when any message is
 * missing, duplicated or reordered.
 *
 *   node --import tsx bench/first-sight.ts [--runs 30] [--label before] [--variant direct,group] [--seed N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Message, ParleyClient } from '@parley/client';
import { FaultProxy } from '../test/support/fault-proxy.js';
import { seededRandom } from '../test/support/random.js';
import { ServerChild } from './support/server-child.js';
import { markdownTable } from './support/stats.js';

const USAGE = `Usage: node --import tsx bench/first-sight.ts [options]

  --runs N         runs per variant (default 30)
  --variant LIST   comma-separated, from: direct, direct-resets, group (default all)
  --label L        results go to bench/results/first-sight/first-sight-<L>.json (default: a timestamp)
  --seed N         seed of the random choices (transports, fault timing); default time-based, printed
  --help`;

const VARIANTS = ['direct', 'direct-resets', 'group'] as const;
type Variant = (typeof VARIANTS)[number];

/** How long devices may take, once every send is acknowledged, to show every message. */
const SETTLE_MS: Record<Variant, number> = { direct: 3_000, 'direct-resets': 8_000, group: 3_000 };
/** After every device showed every message, how long to keep listening for duplicates. */
const DUPLICATE_GRACE_MS = 300;
/** A run whose sends are not all acknowledged by then is recorded as such and abandoned. */
const ACK_TIMEOUT_MS = 20_000;
/** Never more than this in all: a wedged run must not hang the program. */
const BUDGET_MS = 20 * 60_000;
/** Large enough that "every message from the user's first seq" is what the SDK owes. */
const INITIAL_BACKLOG = 1_000_000;

type Transport = 'ws' | 'tcp';

interface ServerUrls {
  httpUrl: string;
  adminKey: string;
  url(transport: Transport): string;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function admin<T>(server: ServerUrls, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(server.httpUrl + path, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** One client and every 'message' event it emitted. */
class Device {
  readonly events: Message[] = [];
  readonly client: ParleyClient;

  constructor(
    readonly key: string,
    readonly userId: string,
    readonly transport: Transport,
    url: string,
    token: string,
  ) {
    this.client = new ParleyClient({ url, token, initialBacklog: INITIAL_BACKLOG, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, clientName: 'parley-first-sight' });
    this.client.on('message', (message) => this.events.push(message));
  }

  seqsOf(conversationId: string): Set<number> {
    return new Set(this.events.filter((message) => message.conversationId === conversationId).map((message) => message.seq));
  }
}

/** What one device showed of the new conversation. */
export interface DeviceOutcome {
  device: string;
  transport: Transport;
  /** Seqs the user may read: firstSeq..lastSeq as the server sees them. */
  expected: number;
  missingSeqs: number[];
  duplicates: number;
  outOfOrder: number;
}

export interface RunOutcome {
  variant: Variant;
  run: number;
  conversationId: string;
  sent: number;
  acked: number;
  /** Every device showed every message within the settle time. */
  settled: boolean;
  devices: DeviceOutcome[];
}

/** Compares what each device emitted for a conversation with what its user may read. */
async function outcomeOf(server: ServerUrls, conversationId: string, devices: readonly Device[]): Promise<DeviceOutcome[]> {
  const windows = new Map<string, { firstSeq: number; lastSeq: number }>();
  for (const userId of new Set(devices.map((device) => device.userId))) {
    const view = await admin<{ conversations: Array<{ id: string; firstSeq: number; lastSeq: number; leftSeq: number }> }>(server, 'GET', `/v1/users/${userId}/conversations`);
    const conversation = view.conversations.find((candidate) => candidate.id === conversationId);
    if (conversation !== undefined) windows.set(userId, { firstSeq: conversation.firstSeq, lastSeq: conversation.leftSeq > 0 ? Math.min(conversation.lastSeq, conversation.leftSeq) : conversation.lastSeq });
  }
  return devices.map((device) => {
    const window = windows.get(device.userId) ?? { firstSeq: 1, lastSeq: 0 };
    const seen = new Set<number>();
    let duplicates = 0;
    let outOfOrder = 0;
    let highest = 0;
    for (const message of device.events) {
      if (message.conversationId !== conversationId) continue;
      if (seen.has(message.seq)) duplicates += 1;
      else if (message.seq < highest) outOfOrder += 1;
      seen.add(message.seq);
      highest = Math.max(highest, message.seq);
    }
    const missingSeqs: number[] = [];
    for (let seq = Math.max(1, window.firstSeq); seq <= window.lastSeq; seq++) if (!seen.has(seq)) missingSeqs.push(seq);
    return { device: device.key, transport: device.transport, expected: Math.max(0, window.lastSeq - window.firstSeq + 1), missingSeqs, duplicates, outOfOrder };
  });
}

interface RunContext {
  server: ServerUrls;
  run: number;
  random: () => number;
  /** Where a device connects: the server, or a fault proxy in front of it. */
  route(transport: Transport): string;
  log(line: string): void;
}

/** Three transports for alice's devices: both kinds always, the third at random. */
function aliceTransports(random: () => number): Transport[] {
  const third: Transport = random() < 0.5 ? 'ws' : 'tcp';
  const mix: Transport[] = ['ws', 'tcp', third];
  // The sending device is the first: vary which transport it has.
  return random() < 0.5 ? mix : [mix[1] as Transport, mix[0] as Transport, third];
}

async function connectDevices(context: RunContext, specs: Array<{ key: string; userId: string; transport: Transport }>): Promise<Device[]> {
  const devices: Device[] = [];
  for (const spec of specs) {
    const { token } = await admin<{ token: string }>(context.server, 'POST', `/v1/users/${spec.userId}/tokens`, {});
    devices.push(new Device(spec.key, spec.userId, spec.transport, context.route(spec.transport), token));
  }
  await Promise.all(devices.map((device) => device.client.connect()));
  return devices;
}

/** Waits until every send settled; returns how many were acknowledged. */
async function settleSends(sends: ReadonlyArray<Promise<Message>>): Promise<number> {
  const outcomes = await Promise.race([
    Promise.allSettled(sends),
    sleep(ACK_TIMEOUT_MS).then(() => undefined),
  ]);
  return outcomes === undefined ? 0 : outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
}

/** Waits (bounded) until every device shows every seq of the conversation its user may read. */
async function awaitDevices(variant: Variant, conversationId: string, devices: readonly Device[], lastSeq: number): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MS[variant];
  while (Date.now() < deadline) {
    if (devices.every((device) => device.seqsOf(conversationId).size >= lastSeq)) {
      await sleep(DUPLICATE_GRACE_MS);
      return true;
    }
    await sleep(25);
  }
  return false;
}

async function runDirect(context: RunContext, variant: Variant, messages: number, faults?: () => () => void): Promise<RunOutcome> {
  const alice = `fs${context.run}-${variant}-alice`;
  const bob = `fs${context.run}-${variant}-bob`;
  for (const id of [alice, bob]) await admin(context.server, 'POST', '/v1/users', { id });
  const transports = aliceTransports(context.random);
  const specs = [
    ...transports.map((transport, index) => ({ key: `alice/${index}`, userId: alice, transport })),
    { key: 'bob/0', userId: bob, transport: (context.random() < 0.5 ? 'ws' : 'tcp') as Transport },
  ];
  const devices = await connectDevices(context, specs);
  const lift = faults?.();
  try {
    const sender = devices[0] as Device;
    let conversationId = '';
    for (let attempt = 0; conversationId === ''; attempt++) {
      try {
        conversationId = await sender.client.direct(bob);
      } catch (error) {
        // Through the resetting proxy a request may die with its connection; opening a direct chat is idempotent.
        if (attempt >= 50) throw error;
        await sleep(100);
      }
    }
    const sends: Array<Promise<Message>> = [];
    for (let index = 0; index < messages; index++) {
      sends.push(sender.client.send(conversationId, { text: `first-sight ${index}` }));
      // Under faults the sends are spread over about a second, so that resets land while the conversation is young.
      if (faults !== undefined) await sleep(50 + context.random() * 100);
    }
    const acked = await settleSends(sends);
    lift?.();
    const lastSeq = (await outcomeOf(context.server, conversationId, devices)).reduce((most, outcome) => Math.max(most, outcome.expected), 0);
    const settled = await awaitDevices(variant, conversationId, devices, lastSeq);
    return { variant, run: context.run, conversationId, sent: messages, acked, settled, devices: await outcomeOf(context.server, conversationId, devices) };
  } finally {
    lift?.();
    await Promise.all(devices.map((device) => device.client.close()));
  }
}

async function runGroup(context: RunContext): Promise<RunOutcome> {
  const variant: Variant = 'group';
  const [alice, carol, dave] = ['alice', 'carol', 'dave'].map((name) => `fs${context.run}-group-${name}`) as [string, string, string];
  for (const id of [alice, carol, dave]) await admin(context.server, 'POST', '/v1/users', { id });
  const transports = aliceTransports(context.random);
  const devices = await connectDevices(context, [
    ...transports.map((transport, index) => ({ key: `alice/${index}`, userId: alice, transport })),
    { key: 'carol/0', userId: carol, transport: 'ws' },
    { key: 'dave/0', userId: dave, transport: 'tcp' },
  ]);
  try {
    const [aliceSender, , , carolDevice, daveDevice] = devices as [Device, Device, Device, Device, Device];
    const conversationId = `fs${context.run}-group`;
    await carolDevice.client.createGroup({ id: conversationId, name: 'first sight', memberIds: [alice, dave] });
    // Everyone posts at once, as soon as the group exists: alice's other devices see the group for the first time amid the traffic.
    const sends: Array<Promise<Message>> = [];
    for (let index = 0; index < 5; index++) {
      for (const device of [carolDevice, daveDevice, aliceSender]) sends.push(device.client.send(conversationId, { text: `first-sight ${device.key} ${index}` }));
    }
    const acked = await settleSends(sends);
    const lastSeq = 1 + sends.length;
    const settled = await awaitDevices(variant, conversationId, devices, lastSeq);
    return { variant, run: context.run, conversationId, sent: sends.length, acked, settled, devices: await outcomeOf(context.server, conversationId, devices) };
  } finally {
    await Promise.all(devices.map((device) => device.client.close()));
  }
}

export interface VariantSummary {
  variant: Variant;
  runs: number;
  devices: number;
  sent: number;
  acked: number;
  /** Sum over devices of the seqs their user may read. */
  expected: number;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** Runs in which at least one device missed, repeated or reordered a message. */
  runsWithLoss: number;
  devicesWithLoss: number;
  /** Most seqs one device missed in one run. */
  worstDevice: number;
}

function summarize(variant: Variant, outcomes: readonly RunOutcome[]): VariantSummary {
  const devices = outcomes.flatMap((outcome) => outcome.devices);
  const bad = (device: DeviceOutcome) => device.missingSeqs.length + device.duplicates + device.outOfOrder > 0;
  return {
    variant,
    runs: outcomes.length,
    devices: devices.length,
    sent: outcomes.reduce((sum, outcome) => sum + outcome.sent, 0),
    acked: outcomes.reduce((sum, outcome) => sum + outcome.acked, 0),
    expected: devices.reduce((sum, device) => sum + device.expected, 0),
    missing: devices.reduce((sum, device) => sum + device.missingSeqs.length, 0),
    duplicates: devices.reduce((sum, device) => sum + device.duplicates, 0),
    outOfOrder: devices.reduce((sum, device) => sum + device.outOfOrder, 0),
    runsWithLoss: outcomes.filter((outcome) => outcome.devices.some(bad)).length,
    devicesWithLoss: devices.filter(bad).length,
    worstDevice: devices.reduce((most, device) => Math.max(most, device.missingSeqs.length), 0),
  };
}

function table(summaries: readonly VariantSummary[]): string {
  const header = ['variant', 'runs', 'devices', 'sent', 'acked', 'expected', 'missing', 'duplicates', 'out of order', 'runs with a loss', 'devices with a loss', 'most missed by one device'];
  const rows = summaries.map((summary) => [
    summary.variant,
    String(summary.runs),
    String(summary.devices),
    String(summary.sent),
    String(summary.acked),
    String(summary.expected),
    String(summary.missing),
    String(summary.duplicates),
    String(summary.outOfOrder),
    `${summary.runsWithLoss}/${summary.runs}`,
    `${summary.devicesWithLoss}/${summary.devices}`,
    String(summary.worstDevice),
  ]);
  return markdownTable(header, rows);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      runs: { type: 'string', default: '30' },
      variant: { type: 'string' },
      label: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runs = Math.floor(Number(values.runs));
  if (!Number.isFinite(runs) || runs < 1 || runs > 500) throw new Error('--runs must be from 1 to 500');
  const variants = (values.variant === undefined ? [...VARIANTS] : values.variant.split(',').map((name) => name.trim())) as Variant[];
  for (const variant of variants) if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}; known: ${VARIANTS.join(', ')}`);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Math.floor(Number(values.seed));
  if (!Number.isFinite(seed)) throw new Error('--seed must be a number');
  const label = values.label ?? new Date().toISOString().replace(/[:.]/g, '-');
  process.stdout.write(`first-sight: ${runs} run(s) of ${variants.join(', ')}, seed ${seed}\n`);

  const random = seededRandom(seed);
  const child = await ServerChild.start({ durability: 'full' });
  const watchdog = setTimeout(() => {
    process.stderr.write(`first-sight: gave up after ${BUDGET_MS / 1000} s\n`);
    child.kill();
    process.exit(2);
  }, BUDGET_MS);
  const started = Date.now();
  const outcomes: RunOutcome[] = [];
  try {
    const server: ServerUrls = {
      httpUrl: child.urls.httpUrl,
      adminKey: child.urls.adminKey,
      url: (transport) => (transport === 'ws' ? child.urls.wsUrl : child.urls.tcpUrl),
    };
    const ports = { ws: Number(new URL(child.urls.wsUrl).port), tcp: Number(new URL(child.urls.tcpUrl).port) };
    const proxies = { ws: await FaultProxy.start('127.0.0.1', ports.ws, { random }), tcp: await FaultProxy.start('127.0.0.1', ports.tcp, { random }) };
    try {
      for (const variant of variants) {
        for (let run = 0; run < runs; run++) {
          const throughProxy = variant === 'direct-resets';
          const context: RunContext = {
            server,
            run,
            random,
            route: (transport) => (throughProxy ? proxies[transport].urlFor(server.url(transport)) : server.url(transport)),
            log: (line) => process.stderr.write(`  ${line}\n`),
          };
          let outcome: RunOutcome;
          if (variant === 'group') outcome = await runGroup(context);
          else if (variant === 'direct') outcome = await runDirect(context, variant, 5);
          else {
            outcome = await runDirect(context, variant, 10, () => {
              // A random connection reset every 100–400 ms, from the first request on.
              let running = true;
              void (async () => {
                while (running) {
                  await sleep(100 + random() * 300);
                  if (running) (random() < 0.5 ? proxies.ws : proxies.tcp).resetRandom();
                }
              })();
              return () => {
                running = false;
              };
            });
          }
          outcomes.push(outcome);
          const missing = outcome.devices.filter((device) => device.missingSeqs.length > 0).map((device) => `${device.device} misses ${device.missingSeqs.join(',')}`);
          process.stderr.write(`  ${variant} #${run}: ${outcome.acked}/${outcome.sent} acked${missing.length > 0 ? `; ${missing.join('; ')}` : ''}\n`);
        }
      }
    } finally {
      await Promise.all([proxies.ws.close(), proxies.tcp.close()]);
    }
  } finally {
    clearTimeout(watchdog);
    await child.stop();
  }

  const summaries = variants.map((variant) => summarize(variant, outcomes.filter((outcome) => outcome.variant === variant)));
  process.stdout.write(`\n${table(summaries)}\n\n`);
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const jsonPath = resolve(repoRoot, 'bench', 'results', 'first-sight', `first-sight-${label}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const machine = { node: process.version, platform: `${platform()} ${release()}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' };
  writeFileSync(jsonPath, `${JSON.stringify({ benchmark: 'first-sight', label, startedAt: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 1000), seed, runs, machine, summaries, outcomes }, null, 2)}\n`);
  process.stdout.write(`results written to ${jsonPath}\n`);
  const clean = summaries.every((summary) => summary.missing + summary.duplicates + summary.outOfOrder === 0 && summary.acked === summary.sent);
  return clean ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`first-sight failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
