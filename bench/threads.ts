/**
 * What a thread reply costs next to a plain message, as its followers grow,
 * and what following many threads costs a sync (docs/protocol.md, "Threads";
 * decision 119). One server in its own process per store (SQLite, PostgreSQL),
 * so that its CPU is measured apart from this load generator.
 *
 * - sends: for each --followers F, one group (--members, or --large-members
 *   when F does not fit) with a sender and F connected members who each
 *   replied once under the sender's root (setup, so they follow the thread).
 *   The sender then sends --sends plain messages one at a time (each awaits
 *   its ack), then as many replies under the root. Latency is the sender's
 *   send() to its ack; CPU is the server's over the sends and until every
 *   follower got every push and, for replies, the summaries that come (the
 *   server tells up to 200 followers their summary after replies, one round
 *   per burst: see services/follower-teller.ts). Summaries are counted on
 *   the followers' wire (ConversationChanged frames).
 * - sync: for each --threads T, a reader who follows T threads of one group
 *   (T roots by another member, one reply each by the reader, then one by the
 *   root's sender, so each thread has one unread reply) connects a fresh SDK
 *   client --repeats times; connect() resolves after the first sync.
 *
 * On PostgreSQL the tables are ANALYZEd during setup and before each measured
 * case, as autovacuum would in a deployment: the test database runs without
 * it, and with the planner taking the grown tables for empty the followed-
 * replies count turns into a nested loop over every message and follow row
 * (over a second per summary at 1,000 threads) and the summaries starve the sends.
 * Defaults keep `--store both` under 5 minutes on 2 cores; the reply cost
 * grows with the thread's length, so --sends changes the figures.
 *
 *   npm run build
 *   node --import tsx bench/threads.ts [--store sqlite|postgres|both] [--sends 300] [--followers 1,20,200]
 *        [--members 50] [--large-members 250] [--threads 0,100,1000] [--repeats 20]
 *        [--durability full|normal] [--json bench/results/threads/NAME.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ParleyClient } from '@parley/client';
import pg from 'pg';
import WebSocket from 'ws';
import type { UsageReport } from './support/child-reporter.js';
import { POSTGRES_URL } from './support/cluster.js';
import { ProgressLine } from './support/progress.js';
import { ServerChild } from './support/server-child.js';
import { adminPost, inBatches } from './support/setup.js';
import { markdownTable, percentile, round } from './support/stats.js';
import { busyCores, readCpuTimes } from './support/system-load.js';
import { FrameField, scanPacket } from './versus/wire-scan.js';

const USAGE = `Usage: node --import tsx bench/threads.ts [options]

  --store S          sqlite, postgres or both (default both)
  --sends N          measured sends per case, plain and replies each (default 300)
  --followers LIST   thread followers besides the sender, comma-separated (default 1,20,200)
  --members M        group size for the cases whose followers fit in it (default 50)
  --large-members L  group size for the others (default 250; followers are capped at L - 1)
  --threads LIST     threads the syncing user follows, comma-separated (default 0,100,1000)
  --repeats R        connects timed per --threads value (default 20)
  --durability D     full or normal (default full)
  --json PATH        write the results here as JSON
  --server-cpu-prof  a V8 CPU profile of the server over each measured sends case, in bench/results/profiles/
  --help`;

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    sends: { type: 'string', default: '300' },
    followers: { type: 'string', default: '1,20,200' },
    members: { type: 'string', default: '50' },
    'large-members': { type: 'string', default: '250' },
    threads: { type: 'string', default: '0,100,1000' },
    repeats: { type: 'string', default: '20' },
    durability: { type: 'string', default: 'full' },
    json: { type: 'string' },
    'server-cpu-prof': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const SENDS = bounded(values.sends, 'sends', 10, 5000);
const MEMBERS = bounded(values.members, 'members', 2, 1000);
const LARGE_MEMBERS = bounded(values['large-members'], 'large-members', MEMBERS, 1000);
const FOLLOWERS = list(values.followers, 'followers', 1, 999).map((count) => Math.min(count, LARGE_MEMBERS - 1));
const THREADS = list(values.threads, 'threads', 0, 5000);
const REPEATS = bounded(values.repeats, 'repeats', 1, 200);
const DURABILITY = values.durability;
const PROFILE_DIR = values['server-cpu-prof'] ? fileURLToPath(new URL('./results/profiles/', import.meta.url)) : undefined;
if (PROFILE_DIR !== undefined) mkdirSync(PROFILE_DIR, { recursive: true });
if (DURABILITY !== 'full' && DURABILITY !== 'normal') throw new Error('--durability must be full or normal');
const STORES: ReadonlyArray<'sqlite' | 'postgres'> | undefined =
  values.store === 'both' ? ['sqlite', 'postgres'] : values.store === 'sqlite' || values.store === 'postgres' ? [values.store] : undefined;
if (STORES === undefined) throw new Error('--store must be sqlite, postgres or both');

/** Plain sends and replies before each measured case, unmeasured (JIT, caches). */
const WARMUP_SENDS = 20;
const SETUP_CONCURRENCY = 16;
/** Setup replies between two ANALYZEs on PostgreSQL (see Bench.analyze). */
const ANALYZE_EVERY = 200;
/** One connect or one send; past it the step is stuck. */
const STEP_TIMEOUT_MS = 60_000;
/** Frames of followers that have not changed for this long: the setup's summaries are all in. */
const QUIET_MS = 500;
const QUIET_TIMEOUT_MS = 120_000;
/** After the last send, how long followers may take to get the rest; past it the case reports what arrived. */
const DRAIN_TIMEOUT_MS = 120_000;
/** Every push in and nothing else for this long: the summaries that come have come. */
const SETTLE_MS = 1000;
/** Nothing at all for this long: what is missing is not coming. */
const STALL_MS = 10_000;
/** The whole run, killed past it rather than left hanging. */
const BUDGET_MS = 20 * 60_000;
/** ConversationChanged in Frame.body (packages/protocol/proto/parley.proto). */
const CONVERSATION_CHANGED = 48;
/** Sends and requests are rate limited per user and connection; a bench sender goes faster than a person. */
const SERVER_LIMITS = { sendsPerSecondPerUser: 100_000, sendBurstPerUser: 100_000, requestsPerSecond: 100_000, requestBurst: 100_000 };

function bounded(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return value;
}

function list(text: string | undefined, name: string, min: number, max: number): number[] {
  const items = (text ?? '').split(',').map((item) => bounded(item.trim(), name, min, max));
  if (items.length === 0 || items.length > 10) throw new Error(`--${name} takes 1 to 10 values`);
  return items;
}

/** Rejects naming `what` when `promise` takes longer than `ms`: a stuck step fails the run, saying which. */
function within<T>(ms: number, what: string | (() => string), promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${typeof what === 'string' ? what : what()}: no answer in ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const runStartedAt = performance.now();

/** Seconds since the run began, for the progress notes. */
function elapsed(): string {
  return `[${Math.round((performance.now() - runStartedAt) / 1000)} s]`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Frames one client received, counted on the wire. */
interface FrameCounts {
  pushes: number;
  summaries: number;
}

/** A `ws` socket class that counts the pushes and ConversationChanged frames its client receives. */
function countingSocket(counts: FrameCounts): new (url: string) => WebSocket {
  return class CountingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false });
      this.on('message', (data: unknown) => {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
        if (bytes === undefined) return;
        scanPacket(bytes, (_requestId, field) => {
          if (field === FrameField.push) counts.pushes++;
          else if (field === CONVERSATION_CHANGED) counts.summaries++;
        });
      });
    }
  };
}

interface Connected {
  client: ParleyClient;
  counts: FrameCounts;
  /** The client's last connection state and why, for a step that gets stuck. */
  state: string;
}

interface SendRow {
  store: string;
  kind: 'plain' | 'reply';
  followers: number;
  members: number;
  connected: number;
  sends: number;
  ackP50Ms: number;
  ackP95Ms: number;
  ackP99Ms: number;
  /** Server CPU over the sends and the drain, per send. */
  serverCpuUsPerSend: number;
  serverSystemCpuUsPerSend: number;
  /** The load generator's CPU (this process: the SDK clients) per send. */
  generatorCpuUsPerSend: number;
  /** The rest of the machine's CPU per send: PostgreSQL's backends on postgres, and whatever else ran. */
  otherCpuUsPerSend: number;
  /** Ack p50 over the first and the last tenth of the sends: the cost growing with the thread. */
  ackP50FirstTenthMs: number;
  ackP50LastTenthMs: number;
  /** First send to the last follower's last frame. */
  seconds: number;
  /** Pushes each follower got per send (1 when every message reached every follower). */
  pushesPerSend: number;
  /** ConversationChanged frames each follower got per send. */
  summariesPerSend: number;
  drained: boolean;
  /** Requests the server handled over the case, by kind (sends, delivered reports, ...). */
  requests: Record<string, number>;
}

interface SyncRow {
  store: string;
  threads: number;
  repeats: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuUsPerConnect: number;
  /** threadUnread of the group in the synced summary (T expected). */
  threadUnread: number;
}

class Bench {
  private readonly clients: ParleyClient[] = [];

  constructor(
    readonly store: 'sqlite' | 'postgres',
    private readonly server: ServerChild,
    private readonly progress: ProgressLine,
  ) {}

  private get urls() {
    return this.server.urls;
  }

  async users(ids: readonly string[]): Promise<string[]> {
    const { httpUrl, adminKey } = this.urls;
    await inBatches(ids, SETUP_CONCURRENCY, (id) => adminPost(httpUrl, adminKey, '/v1/users', { id, name: id }));
    return inBatches(ids, SETUP_CONCURRENCY, async (id) => (await adminPost<{ token: string }>(httpUrl, adminKey, `/v1/users/${id}/tokens`, {})).token);
  }

  async group(id: string, ownerId: string, memberIds: readonly string[]): Promise<void> {
    const { httpUrl, adminKey } = this.urls;
    await adminPost(httpUrl, adminKey, '/v1/groups', { id, name: id, ownerId, memberIds: memberIds.filter((member) => member !== ownerId) });
  }

  async post(conversationId: string, senderId: string, text: string): Promise<number> {
    const { httpUrl, adminKey } = this.urls;
    return (await adminPost<{ message: { seq: number } }>(httpUrl, adminKey, `/v1/conversations/${conversationId}/messages`, { senderId, text })).message.seq;
  }

  async connect(token: string): Promise<Connected> {
    const counts: FrameCounts = { pushes: 0, summaries: 0 };
    const client = new ParleyClient({
      url: this.urls.wsUrl,
      token,
      reconnect: false,
      initialBacklog: 0,
      clientName: 'parley-bench',
      WebSocket: countingSocket(counts),
    });
    this.clients.push(client);
    const connected: Connected = { client, counts, state: 'connecting' };
    client.on('state', (change) => {
      connected.state = change.error === undefined ? change.state : `${change.state} (${change.error.message})`;
    });
    await within(STEP_TIMEOUT_MS, 'connect (setup)', client.connect());
    return connected;
  }

  async closeClients(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }

  /**
   * On PostgreSQL, the statistics autovacuum gathers in a deployment (the
   * test database may run without it): the tables grow from empty during
   * setup, and with the planner still taking them for empty the followed-
   * replies count joins every message to every follow row.
   */
  async analyze(): Promise<void> {
    if (this.store === 'postgres') await withPostgres((client) => client.query(`ANALYZE "${SCHEMA}".messages, "${SCHEMA}".thread_follows, "${SCHEMA}".members`));
  }

  usage(): Promise<UsageReport> {
    return within(STEP_TIMEOUT_MS, 'server usage report', this.server.usage());
  }

  /** Waits until no follower got a frame for QUIET_MS (bounded). */
  async quiet(followers: readonly Connected[]): Promise<void> {
    const total = () => followers.reduce((sum, { counts }) => sum + counts.pushes + counts.summaries, 0);
    const deadline = performance.now() + QUIET_TIMEOUT_MS;
    let last = -1;
    while (performance.now() < deadline) {
      const now = total();
      if (now === last) return;
      last = now;
      await sleep(QUIET_MS);
    }
  }

  /**
   * One sends case: the sender sends `count` messages one at a time, then the
   * followers get what is theirs. Returns the latencies and what arrived.
   */
  async sendCase(
    sender: Connected,
    followers: readonly Connected[],
    conversationId: string,
    count: number,
    threadRoot: number | undefined,
    label: string,
    profilePath?: string,
  ): Promise<{ latencies: number[]; seconds: number; pushes: number; summaries: number; drained: boolean; start: UsageReport; end: UsageReport; generatorCpuUs: number; machineCpuUs: number }> {
    const pushesBefore = followers.map(({ counts }) => counts.pushes);
    const summariesBefore = followers.map(({ counts }) => counts.summaries);
    if (profilePath !== undefined) this.server.profileStart();
    const start = await this.usage();
    const startedAt = performance.now();
    const generatorAtStart = process.cpuUsage();
    const machineAtStart = readCpuTimes();
    const latencies: number[] = [];
    for (let index = 0; index < count; index++) {
      const sentAt = performance.now();
      await within(STEP_TIMEOUT_MS, `${label}: send ${index}`, sender.client.send(conversationId, { text: `${label} ${index}`, ...(threadRoot === undefined ? {} : { threadRoot }) }));
      latencies.push(performance.now() - sentAt);
      if (index % 20 === 0) this.progress.update(index / count, `${this.store}: ${label}`);
    }
    const arrived = (field: 'pushes' | 'summaries', before: readonly number[]) =>
      followers.reduce((sum, { counts }, index) => sum + Math.min(count, counts[field] - (before[index] as number)), 0);
    const wanted = count * followers.length;
    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    let lastFrameAt = performance.now();
    let lastSeen = -1;
    let drained = false;
    while (performance.now() < deadline) {
      const pushes = arrived('pushes', pushesBefore);
      const summaries = threadRoot === undefined ? wanted : arrived('summaries', summariesBefore);
      if (pushes + summaries !== lastSeen) {
        lastSeen = pushes + summaries;
        lastFrameAt = performance.now();
      }
      if (pushes === wanted && summaries === wanted) {
        drained = true;
        break;
      }
      // Every push in and no summary for a while: the rest are not coming
      // (past MAX_TOLD_FOLLOWERS the server tells no one), reported as they are.
      if (pushes === wanted && performance.now() - lastFrameAt > SETTLE_MS) {
        drained = true;
        break;
      }
      if (performance.now() - lastFrameAt > STALL_MS) break;
      this.progress.update(1, `${this.store}: ${label}: draining ${pushes}/${wanted} pushes, ${summaries}/${wanted} summaries`);
      await sleep(5);
    }
    const seconds = (lastFrameAt - startedAt) / 1000;
    const end = await this.usage();
    const wallUs = (performance.now() - startedAt) * 1000;
    const generator = process.cpuUsage(generatorAtStart);
    const machineCpuUs = busyCores(machineAtStart, readCpuTimes(), cpus().length) * wallUs;
    if (profilePath !== undefined) await this.server.profileStop(profilePath);
    this.progress.finish();
    const total = (field: 'pushes' | 'summaries', before: readonly number[]) => followers.reduce((sum, { counts }, index) => sum + counts[field] - (before[index] as number), 0);
    return {
      latencies,
      seconds,
      pushes: total('pushes', pushesBefore),
      summaries: total('summaries', summariesBefore),
      drained,
      start,
      end,
      generatorCpuUs: generator.user + generator.system,
      machineCpuUs,
    };
  }

  async followersCase(followerCount: number): Promise<SendRow[]> {
    const members = followerCount + 1 <= MEMBERS ? MEMBERS : LARGE_MEMBERS;
    const prefix = `f${followerCount}`;
    const ids = Array.from({ length: members }, (_, index) => `${prefix}u${index}`);
    this.progress.note(`${elapsed()} ${this.store}: ${followerCount} followers: ${members} users, group, ${followerCount + 1} clients...`);
    const tokens = await this.users(ids);
    const conversationId = `${prefix}group`;
    await this.group(conversationId, ids[0] as string, ids);
    const sender = await this.connect(tokens[0] as string);
    const followers = await inBatches(tokens.slice(1, followerCount + 1), SETUP_CONCURRENCY, (token) => this.connect(token));
    const root = await sender.client.send(conversationId, { text: `${prefix} root` });
    await this.analyze();
    this.progress.note(`${elapsed()} ${this.store}: ${followerCount} followers: each replies once (setup)...`);
    await inBatches(followers, SETUP_CONCURRENCY, ({ client }, index) =>
      within(STEP_TIMEOUT_MS, `follower ${index}: setup reply`, client.send(conversationId, { text: `follow ${index}`, threadRoot: root.seq })),
    );
    await this.quiet(followers);
    await this.analyze();
    const rows: SendRow[] = [];
    for (const kind of ['plain', 'reply'] as const) {
      const threadRoot = kind === 'reply' ? root.seq : undefined;
      await this.sendCase(sender, followers, conversationId, WARMUP_SENDS, threadRoot, `${prefix} ${kind} warmup`);
      await this.quiet(followers);
      await this.analyze();
      const profilePath = PROFILE_DIR === undefined ? undefined : resolve(PROFILE_DIR, `threads-${this.store}-${kind}-f${followerCount}-${Date.now()}.cpuprofile`);
      const result = await this.sendCase(sender, followers, conversationId, SENDS, threadRoot, `${followerCount} followers, ${kind}`, profilePath);
      const tenth = Math.max(1, Math.floor(SENDS / 10));
      const median = (part: number[]) => percentile(part.sort((a, b) => a - b), 50);
      const ackP50FirstTenthMs = round(median(result.latencies.slice(0, tenth)), 2);
      const ackP50LastTenthMs = round(median(result.latencies.slice(-tenth)), 2);
      const sorted = result.latencies.sort((a, b) => a - b);
      const cpuUs = result.end.cpuUserUs + result.end.cpuSystemUs - result.start.cpuUserUs - result.start.cpuSystemUs;
      const systemUs = result.end.cpuSystemUs - result.start.cpuSystemUs;
      const perFollowerSend = SENDS * followers.length;
      rows.push({
        store: this.store,
        kind,
        followers: followers.length,
        members,
        connected: followers.length + 1,
        sends: SENDS,
        ackP50Ms: round(percentile(sorted, 50), 2),
        ackP95Ms: round(percentile(sorted, 95), 2),
        ackP99Ms: round(percentile(sorted, 99), 2),
        serverCpuUsPerSend: round(cpuUs / SENDS, 0),
        serverSystemCpuUsPerSend: round(systemUs / SENDS, 0),
        generatorCpuUsPerSend: round(result.generatorCpuUs / SENDS, 0),
        otherCpuUsPerSend: round(Math.max(0, result.machineCpuUs - cpuUs - result.generatorCpuUs) / SENDS, 0),
        ackP50FirstTenthMs,
        ackP50LastTenthMs,
        seconds: round(result.seconds, 2),
        pushesPerSend: round(result.pushes / perFollowerSend, 3),
        summariesPerSend: round(result.summaries / perFollowerSend, 3),
        drained: result.drained,
        requests: Object.fromEntries(
          Object.entries(result.end.requests)
            .map(([name, value]) => [name, value - (result.start.requests[name] ?? 0)] as const)
            .filter(([, value]) => value > 0),
        ),
      });
      await this.quiet(followers);
    }
    await this.closeClients();
    return rows;
  }

  async syncCase(threads: number): Promise<SyncRow> {
    const prefix = `s${threads}`;
    const [authorToken, readerToken] = await this.users([`${prefix}author`, `${prefix}reader`]);
    const conversationId = `${prefix}group`;
    await this.group(conversationId, `${prefix}author`, [`${prefix}author`, `${prefix}reader`]);
    this.progress.note(`${elapsed()} ${this.store}: sync with ${threads} followed threads: setup...`);
    const roots = await inBatches(Array.from({ length: threads }, (_, index) => index), SETUP_CONCURRENCY, (index) => this.post(conversationId, `${prefix}author`, `root ${index}`));
    const author = await this.connect(authorToken as string);
    const reader = await this.connect(readerToken as string);
    await this.analyze();
    let done = 0;
    for (const who of [reader, author]) {
      for (let from = 0; from < roots.length; from += ANALYZE_EVERY) {
        await inBatches(roots.slice(from, from + ANALYZE_EVERY), 32, async (seq) => {
          await within(STEP_TIMEOUT_MS, () => `${threads} threads: setup reply under ${seq} (client ${who.state})`, who.client.send(conversationId, { text: `reply under ${seq}`, threadRoot: seq }));
          if (++done % 50 === 0) this.progress.update(done / (2 * threads), `${this.store}: ${threads} threads: replies`);
        });
        await this.analyze();
      }
    }
    this.progress.finish();
    await this.quiet([author, reader]);
    await this.closeClients();
    await this.analyze();

    const latencies: number[] = [];
    let threadUnread = 0;
    const start = await this.usage();
    this.progress.note(`${elapsed()} ${this.store}: sync with ${threads} followed threads: ${REPEATS} connects...`);
    for (let attempt = 0; attempt < REPEATS; attempt++) {
      const client = new ParleyClient({ url: this.urls.wsUrl, token: readerToken as string, reconnect: false, initialBacklog: 0, clientName: 'parley-bench' });
      const startedAt = performance.now();
      await within(STEP_TIMEOUT_MS, `${threads} threads: connect ${attempt}`, client.connect());
      latencies.push(performance.now() - startedAt);
      threadUnread = client.conversation(conversationId)?.threadUnread ?? 0;
      await client.close();
    }
    const end = await this.usage();
    latencies.sort((a, b) => a - b);
    return {
      store: this.store,
      threads,
      repeats: REPEATS,
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
      maxMs: round(percentile(latencies, 100), 2),
      serverCpuUsPerConnect: round((end.cpuUserUs + end.cpuSystemUs - start.cpuUserUs - start.cpuSystemUs) / REPEATS, 0),
      threadUnread,
    };
  }
}

async function benchStore(store: 'sqlite' | 'postgres', progress: ProgressLine, servers: Set<ServerChild>): Promise<{ sends: SendRow[]; syncs: SyncRow[] }> {
  const serverOptions = { limits: SERVER_LIMITS, ...(store === 'postgres' ? { storeUrl: POSTGRES_URL, storeSchema: SCHEMA } : {}) };
  progress.note(`${elapsed()} ${store}: starting the server (durability ${DURABILITY})...`);
  const server = await ServerChild.start({ durability: DURABILITY as 'full' | 'normal', serverOptions });
  servers.add(server);
  const bench = new Bench(store, server, progress);
  try {
    const sends: SendRow[] = [];
    for (const followers of FOLLOWERS) sends.push(...(await bench.followersCase(followers)));
    const syncs: SyncRow[] = [];
    for (const threads of THREADS) syncs.push(await bench.syncCase(threads));
    return { sends, syncs };
  } finally {
    await within(STEP_TIMEOUT_MS, 'closing the clients', bench.closeClients()).catch(() => undefined);
    await server.stop();
    servers.delete(server);
    if (store === 'postgres') await dropSchema();
  }
}

/** This run's PostgreSQL schema (dropped at the end, also when the run fails). */
const SCHEMA = `bench_threads_${process.pid}`;

async function withPostgres<T>(task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(): Promise<void> {
  await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`));
}

async function main(): Promise<void> {
  const progress = new ProgressLine();
  const servers = new Set<ServerChild>();
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nthreads bench: gave up after ${BUDGET_MS / 1000} s\n`);
    for (const server of servers) server.kill();
    void within(10_000, 'dropping the schema', dropSchema())
      .catch(() => undefined)
      .finally(() => process.exit(1));
  }, BUDGET_MS);
  const startedAt = Date.now();
  const sends: SendRow[] = [];
  const syncs: SyncRow[] = [];
  for (const store of STORES ?? []) {
    const result = await benchStore(store, progress, servers);
    sends.push(...result.sends);
    syncs.push(...result.syncs);
  }
  clearTimeout(watchdog);

  console.log(
    `\n${SENDS} sends per case, one at a time (each awaits its ack), durability ${DURABILITY}; the sender and the F followers connected (SDK over WebSocket); ` +
      `CPU: the server process's over the sends and until every follower got every push and summary; 'other': the rest of the machine's but this load generator (PostgreSQL's backends on postgres)\n`,
  );
  console.log(
    markdownTable(
      [
        'store',
        'send',
        'followers',
        'members',
        'ack p50 ms',
        'p95 ms',
        'p99 ms',
        'p50 first→last 10%',
        'server CPU µs/send',
        'other CPU µs/send',
        'seconds',
        'pushes/follower/send',
        'summaries/follower/send',
      ],
      sends.map((row) => [
        row.store,
        row.kind,
        String(row.followers),
        String(row.members),
        String(row.ackP50Ms),
        String(row.ackP95Ms),
        String(row.ackP99Ms),
        `${row.ackP50FirstTenthMs} → ${row.ackP50LastTenthMs}`,
        String(row.serverCpuUsPerSend),
        String(row.otherCpuUsPerSend),
        String(row.seconds),
        String(row.pushesPerSend),
        String(row.summariesPerSend),
      ]),
    ),
  );
  console.log(`\nA fresh SDK client's connect() (welcome and first sync) for a user following T threads of one group, each with one unread reply; ${REPEATS} connects each\n`);
  console.log(
    markdownTable(
      ['store', 'threads followed', 'p50 ms', 'p99 ms', 'max ms', 'server CPU µs/connect', 'threadUnread seen'],
      syncs.map((row) => [row.store, String(row.threads), String(row.p50Ms), String(row.p99Ms), String(row.maxMs), String(row.serverCpuUsPerConnect), String(row.threadUnread)]),
    ),
  );
  console.log(`\n${Math.round((Date.now() - startedAt) / 1000)} s in all`);
  if (values.json !== undefined) {
    const path = resolve(values.json);
    mkdirSync(dirname(path), { recursive: true });
    const options = { stores: STORES, sends: SENDS, warmupSends: WARMUP_SENDS, followers: FOLLOWERS, members: MEMBERS, largeMembers: LARGE_MEMBERS, threads: THREADS, repeats: REPEATS, durability: DURABILITY, serverLimits: SERVER_LIMITS };
    const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 1024 ** 3, 1), node: process.version };
    writeFileSync(path, `${JSON.stringify({ benchmark: 'threads', date: new Date().toISOString(), options, machine, sends, syncs }, null, 2)}\n`);
    console.log(`wrote ${path}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`\nthreads bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
