/**
 * A Parley cluster for tests: three nodes (or more), each a real server in a
 * child process on ports of its own, joined by NATS under a subject prefix of
 * this run's own and sharing one store — PostgreSQL in a schema of this run's
 * own (dropped afterwards), or, with PARLEY_TEST_CLUSTER_STORE=sqlite, one
 * SQLite file in a shared data folder. On PostgreSQL each node has a data
 * folder of its own: nothing reaches another node through the disk. One
 * admin key and one token secret (PARLEY_TOKEN_SECRET) for all, so every node
 * accepts every other node's tokens.
 *
 * Clients reach a node through a relay in front of it (`Relay`): a plain TCP
 * forwarder that dials its own node first and the others after, as a load
 * balancer with health-checked backends would. When a node dies, its clients'
 * reconnects land on the next node without the SDK knowing several URLs.
 *
 * PARLEY_TEST_CLUSTER_KEEP=1 keeps the schema and data folder after a run,
 * for a post-mortem, and prints where they are.
 *
 * Also here: a private nats-server to kill and restart, a relay to cut
 * PostgreSQL off with, and the skip reasons (a service that does not answer
 * skips the suite outside CI and fails it under CI=true).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  NATS_URL,
  POSTGRES_URL,
  answers,
  dropSchema,
  natsSkipReason,
  postgresSkipReason,
  skipOutsideCi,
  uniquePrefix,
  uniqueSchema,
  withPostgres,
} from '../../packages/server/test/support/cluster-services.js';

export { POSTGRES_URL, postgresSkipReason };
import { ADMIN_KEY, type AdminApi, adminApi } from '../support/fixtures.js';

export { NATS_URL };

export type Transport = 'ws' | 'tcp';

/** The PostgreSQL the cluster suites use (PARLEY_TEST_POSTGRES, as the store's contract suite). */

/**
 * Which store the nodes share: 'postgres' (default), or 'sqlite' (one file in
 * the shared data folder, several processes in WAL mode) when
 * PARLEY_TEST_CLUSTER_STORE=sqlite.
 */
export const CLUSTER_STORE: 'postgres' | 'sqlite' = process.env.PARLEY_TEST_CLUSTER_STORE === 'sqlite' ? 'sqlite' : 'postgres';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- skip reasons ----


/** The nats-server binary for tests that run their own: PARLEY_TEST_NATS_SERVER, else on PATH, else /usr/sbin. */
export function natsServerBinary(): string | undefined {
  const given = process.env.PARLEY_TEST_NATS_SERVER;
  if (given !== undefined && given !== '') return existsSync(given) ? given : undefined;
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/bin']) {
    if (dir !== '' && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return undefined;
}

/** undefined when everything a cluster suite needs answers: NATS, and PostgreSQL unless the nodes share SQLite. */
export async function clusterSkipReason(needs: { natsServerBinary?: boolean; postgres?: boolean } = {}): Promise<string | undefined> {
  const nats = await natsSkipReason();
  if (nats !== undefined) return nats;
  if (CLUSTER_STORE === 'postgres' || needs.postgres === true) {
    if (CLUSTER_STORE === 'sqlite') return skipOutsideCi('this test cuts PostgreSQL off, and PARLEY_TEST_CLUSTER_STORE=sqlite');
    const postgres = await postgresSkipReason();
    if (postgres !== undefined) return postgres;
  }
  if (needs.natsServerBinary === true && natsServerBinary() === undefined) {
    return skipOutsideCi('no nats-server binary to start a private NATS with (set PARLEY_TEST_NATS_SERVER, or put nats-server on PATH)');
  }
  return undefined;
}

// ---- PostgreSQL schemas ----

/** Tables in a schema: proves the nodes really keep their data in PostgreSQL. */
export function tablesIn(schema: string): Promise<number> {
  return withPostgres(async (client) => {
    const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM information_schema.tables WHERE table_schema = $1', [schema]);
    return Number(result.rows[0]?.count ?? 0);
  });
}

// ---- ports ----

/**
 * Distinct free loopback ports below the kernel's ephemeral range: a node
 * restarted on its port must not find it taken by some outgoing connection
 * (see the chaos harness's KillableServer, which meets the same problem).
 */
export async function freePorts(count: number, random: () => number = Math.random): Promise<number[]> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // Not Linux: keep the IANA default's lower bound.
  }
  const low = Math.max(1024, Math.min(20_000, ephemeralLow - 4000));
  const ports: number[] = [];
  while (ports.length < count) {
    const port = low + Math.floor(random() * (ephemeralLow - low));
    if (ports.includes(port)) continue;
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ports.push(port);
    }
  }
  return ports;
}

// ---- relay ----

/**
 * A TCP forwarder on a free loopback port. Each new connection goes to the
 * first backend that accepts it, in the order given, so that one relay per
 * node, listing that node first, behaves like a load balancer that sends a
 * client to its usual node while it is up and to another one when it is not.
 * cut() makes the backends unreachable: every connection is reset and new
 * ones are refused until restore().
 */
export class Relay {
  port = 0;
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; backend: number }>();
  private refusing = false;

  /** Where the next connection starts in `backends` when rotating. */
  private nextFirst = 0;

  private constructor(
    private readonly backends: readonly number[],
    private readonly rotate: boolean,
  ) {
    this.server = createServer((client) => this.onClient(client));
  }

  /**
   * `rotate`: each new connection starts one backend further (round robin),
   * and fails over to the ones after it; otherwise every connection tries
   * the backends in the order given.
   */
  static async start(backends: readonly number[], options: { rotate?: boolean } = {}): Promise<Relay> {
    const relay = new Relay(backends, options.rotate === true);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', () => resolve()));
    const address = relay.server.address();
    relay.port = typeof address === 'object' && address !== null ? address.port : 0;
    return relay;
  }

  /** The backend port of each connection open now. */
  openBackends(): number[] {
    return [...this.pairs].map((pair) => pair.backend);
  }

  cut(): void {
    this.refusing = true;
    for (const pair of [...this.pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    client.on('error', () => {});
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    // Bytes the client sends before a backend is chosen wait in the socket.
    client.pause();
    const first = this.rotate ? this.nextFirst++ % this.backends.length : 0;
    this.dial(client, first, 0);
  }

  private dial(client: Socket, first: number, attempt: number): void {
    const backend = attempt < this.backends.length ? this.backends[(first + attempt) % this.backends.length] : undefined;
    if (backend === undefined || client.destroyed || this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: backend });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      if (client.destroyed || this.refusing) {
        upstream.resetAndDestroy();
        client.resetAndDestroy();
        return;
      }
      const pair = { client, upstream, backend };
      this.pairs.add(pair);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (!connected) this.dial(client, first, attempt + 1);
    });
  }
}

// ---- a private NATS ----

/** A nats-server of one test's own, to kill and start again on the same port. */
export class NatsProcess {
  private child: ChildProcess | undefined;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    private readonly binary: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsProcess> {
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error('no nats-server binary');
    const [port] = (await freePorts(1)) as [number];
    const nats = new NatsProcess(binary, port);
    await nats.restart();
    return nats;
  }

  /** SIGKILL: the nodes lose NATS at once, with no goodbye. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    process.off('exit', this.killOnExit);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    await this.kill();
    for (let attempt = 1; ; attempt++) {
      const child = spawn(this.binary, ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' });
      this.child = child;
      process.once('exit', this.killOnExit);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && child.exitCode === null) {
        if (await answers('127.0.0.1', this.port, 200)) return;
        await sleep(50);
      }
      await this.kill();
      // The port may still be held a moment after the last process died.
      if (attempt >= 20) throw new Error(`nats-server did not start on port ${this.port}`);
      await sleep(100);
    }
  }
}

// ---- the cluster ----

const NODE_SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));
const STDERR_TAIL_CHARS = 2000;

/** A node's process (node-process.ts); resolves once it printed its URLs. */
export interface NodeProcess {
  process: ChildProcess;
  /** SIGKILL: no shutdown code runs. */
  kill9(): Promise<void>;
}

async function startNodeProcess(env: Record<string, string>, startTimeoutMs = 30_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start within ${startTimeoutMs} ms: ${stderrTail.trim()}`));
    }, startTimeoutMs);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // 'exit' may come before the last of stderr has been read.
      setTimeout(() => reject(new Error(`node exited with ${code}: ${stderrTail.trim()}`)), 200);
    });
  });
  return {
    process: child,
    kill9: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export interface ClusterNode {
  /** "n1", "n2", ...: PARLEY_NODE_ID. */
  name: string;
  ports: Record<Transport, number>;
  /** Where this node's clients connect: a relay that prefers this node. */
  url(transport: Transport): string;
  /** The relay in front of this node, per transport. */
  relays: Record<Transport, Relay>;
  /** True while its process runs. */
  readonly running: boolean;
  /** The child process, while it runs. */
  readonly child: NodeProcess | undefined;
}

export interface ClusterOptions {
  /** Default 3. */
  nodes?: number;
  /** Default NATS_URL (the machine's). */
  natsUrl?: string;
  /** Where the nodes find PostgreSQL, e.g. through a Relay. Default POSTGRES_URL. */
  postgresUrl?: string;
  /** Extra PARLEY_* settings for every node. */
  env?: Record<string, string>;
  /** The nodes' heartbeat interval, in ms. Default the server's (25 s). */
  heartbeatMs?: number;
}

/** What a test needs to register the cluster's cleanup. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

class Node implements ClusterNode {
  child: NodeProcess | undefined;

  constructor(
    readonly name: string,
    readonly ports: Record<Transport, number>,
    readonly relays: Record<Transport, Relay>,
    private readonly env: Record<string, string>,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.process.exitCode === null && this.child.process.signalCode === null;
  }

  url(transport: Transport): string {
    return transport === 'ws' ? `ws://127.0.0.1:${this.relays.ws.port}/ws` : `tcp://127.0.0.1:${this.relays.tcp.port}`;
  }

  /** Starts the node; a port its last process held a moment ago may still be busy, so retry briefly. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const env: Record<string, string> = { ...this.env, PARLEY_NODE_ID: this.name, PARLEY_PORT: String(this.ports.ws), PARLEY_TCP_PORT: String(this.ports.tcp) };
        if (CLUSTER_STORE === 'postgres') env.PARLEY_DATA_DIR = join(env.PARLEY_DATA_DIR ?? tmpdir(), this.name);
        this.child = await startNodeProcess(env);
        return;
      } catch (error) {
        if (attempt >= 50 || !String((error as Error).message).includes('EADDRINUSE')) throw error;
        await sleep(100);
      }
    }
  }
}

/** The status of a node's GET /readyz, asked of its own port (not through a relay); 0 when it does not answer. */
export async function readiness(node: ClusterNode): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${node.ports.ws}/readyz`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Asks /readyz until it answers `status` or `timeoutMs` passed; returns the last answer. */
export async function waitForReadiness(node: ClusterNode, status: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readiness(node);
    if (answer === status || Date.now() >= deadline) return answer;
    await sleep(50);
  }
}

export class Cluster {
  /** The admin REST API, through a relay that tries every node in turn. */
  readonly api: AdminApi;
  readonly natsPrefix: string;
  private readonly killOnExit = () => {
    for (const node of this.members) node.child?.process.kill('SIGKILL');
  };
  private closing: Promise<void> | undefined;
  private readonly balancers = new Map<Transport, Relay>();

  private constructor(
    private readonly members: Node[],
    private readonly apiRelay: Relay,
    readonly dataDir: string,
    /** The PostgreSQL schema, or undefined when the nodes share SQLite. */
    readonly schema: string | undefined,
    natsPrefix: string,
  ) {
    this.api = adminApi(`http://127.0.0.1:${apiRelay.port}`);
    this.natsPrefix = natsPrefix;
  }

  get nodes(): readonly ClusterNode[] {
    return this.members;
  }

  node(index: number): ClusterNode {
    const node = this.members[index];
    if (node === undefined) throw new Error(`no node ${index}`);
    return node;
  }

  /**
   * Starts the nodes (the first alone, so that one of them creates the
   * store's tables, then the others together) and registers the cleanup:
   * children killed, schema dropped, data folder removed — also when the
   * test fails, and children also when this process exits.
   */
  static async start(t: Cleanup, options: ClusterOptions = {}): Promise<Cluster> {
    const count = options.nodes ?? 3;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
    const schema = CLUSTER_STORE === 'postgres' ? uniqueSchema() : undefined;
    const natsPrefix = uniquePrefix();
    const env: Record<string, string> = {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_ADMIN_KEY: ADMIN_KEY,
      PARLEY_TOKEN_SECRET: randomBytes(24).toString('hex'),
      PARLEY_BUS: options.natsUrl ?? NATS_URL,
      PARLEY_BUS_PREFIX: natsPrefix,
      ...(schema === undefined ? {} : { PARLEY_STORE: options.postgresUrl ?? POSTGRES_URL, PARLEY_STORE_SCHEMA: schema }),
      ...(options.heartbeatMs === undefined ? {} : { PARLEY_TEST_HEARTBEAT_MS: String(options.heartbeatMs) }),
      ...options.env,
    };
    const ports = await freePorts(2 * count);
    const backends = (transport: Transport, first: number) =>
      Array.from({ length: count }, (_, offset) => ports[2 * ((first + offset) % count) + (transport === 'ws' ? 0 : 1)] as number);
    const members: Node[] = [];
    for (let index = 0; index < count; index++) {
      const relays = { ws: await Relay.start(backends('ws', index)), tcp: await Relay.start(backends('tcp', index)) };
      members.push(new Node(`n${index + 1}`, { ws: ports[2 * index] as number, tcp: ports[2 * index + 1] as number }, relays, env));
    }
    const cluster = new Cluster(members, await Relay.start(backends('ws', 0)), dataDir, schema, natsPrefix);
    t.after(() => cluster.close());
    process.once('exit', cluster.killOnExit);
    const [first, ...others] = members as [Node, ...Node[]];
    await first.start();
    await Promise.all(others.map((node) => node.start()));
    if (schema !== undefined && (await tablesIn(schema)) === 0) {
      throw new Error(`the nodes were told PARLEY_STORE=postgres but created no table in schema ${schema}: does the server read PARLEY_STORE?`);
    }
    return cluster;
  }

  /**
   * A relay over every node, round robin: each new connection goes to the
   * next node that accepts it. Made on first use, closed with the cluster.
   */
  async balancer(transport: Transport): Promise<Relay> {
    let relay = this.balancers.get(transport);
    if (relay === undefined) {
      relay = await Relay.start(
        this.members.map((node) => node.ports[transport]),
        { rotate: true },
      );
      this.balancers.set(transport, relay);
    }
    return relay;
  }

  /** kill -9 of one node: no shutdown code runs. */
  async kill9(index: number): Promise<void> {
    const node = this.members[index];
    await node?.child?.kill9();
  }

  /**
   * SIGTERM, as an orchestrator stops a node: resolves with how the process
   * ended and how long it took, once it exited (SIGKILL after `timeoutMs`).
   */
  async terminate(index: number, timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const child = this.members[index]?.child?.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${index} is not running`);
    const started = Date.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, ms: Date.now() - started });
      });
      child.kill('SIGTERM');
    });
  }

  /** Starts a stopped node again on its ports. */
  async restart(index: number): Promise<void> {
    const node = this.members[index];
    if (node === undefined) throw new Error(`no node ${index}`);
    await node.start();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.members.map((node) => node.child?.kill9()));
      process.off('exit', this.killOnExit);
      await Promise.all([
        this.apiRelay.close(),
        ...[...this.balancers.values()].map((relay) => relay.close()),
        ...this.members.flatMap((node) => [node.relays.ws.close(), node.relays.tcp.close()]),
      ]);
      if (process.env.PARLEY_TEST_CLUSTER_KEEP === '1') {
        // For a post-mortem: the schema and data folder stay, and say where they are.
        process.stderr.write(`cluster kept: schema ${this.schema ?? '(sqlite)'}, data ${this.dataDir}\n`);
        return;
      }
      if (this.schema !== undefined) await dropSchema(this.schema);
      rmSync(this.dataDir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
