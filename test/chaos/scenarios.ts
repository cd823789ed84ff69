/**
 * The chaos scenarios of docs/reliability.md. Each starts a server (in
 * process, or in a child process it can kill -9) — or, with `nodes` > 1, a
 * cluster of child processes sharing PostgreSQL and NATS (test/cluster/),
 * reached through a round-robin relay — puts fault proxies between
 * the devices and the server, runs the population's traffic while its faults
 * fire, lifts the faults, and measures convergence and the checks.
 *
 * Every device goes through a proxy with a background network profile —
 * clean, slow (latency, jitter, a bandwidth cap) or tiny chunks (frames split
 * into 3-byte pieces) — so that every fault type of the proxy is in play in
 * every scenario; the scenario's own faults come on top.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { FaultProxy, type FaultSettings, type FaultStats } from '../support/fault-proxy.js';
import { ADMIN_KEY, type AdminApi, adminApi, startTestServer } from '../support/fixtures.js';
import { Cluster, freePorts } from '../cluster/support.js';
import { seededRandom } from '../support/random.js';
import type { CheckResult } from './checks.js';
import { meetsTarget } from './checks.js';
import { type PopulationChanges, type PopulationEvent, startPopulationChanges } from './population-events.js';
import {
  type Convergence,
  type Device,
  type DeviceSpec,
  type Transport,
  awaitConvergence,
  collect,
  connectDevices,
  createPopulation,
  planPopulation,
  readEverything,
  sleep,
  startTraffic,
} from './harness.js';

export interface ScenarioOptions {
  /** Users in the population (devices: about twice as many). */
  users: number;
  /** How long traffic runs while faults fire. */
  durationMs: number;
  /** Mean time between two sends of one device. */
  sendIntervalMs: number;
  /** Mean time between two mark-reads of one device. */
  readIntervalMs: number;
  /** At the end of the run, how long devices only read, faults still on (a lost read would then go unrepaired by later traffic). */
  readTailMs: number;
  /** How long devices may take to converge once the faults stop. */
  convergeDeadlineMs: number;
  seed: number;
  /**
   * 1: one server. More: that many nodes in child processes sharing
   * PostgreSQL and NATS (needs both; see test/cluster/README.md), each new
   * connection sent to the next node; kill9 then kills one node at a time.
   */
  nodes: number;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: ScenarioOptions = {
  users: 10,
  durationMs: 30_000,
  sendIntervalMs: 250,
  readIntervalMs: 600,
  readTailMs: 2_000,
  convergeDeadlineMs: 60_000,
  seed: 1,
  nodes: 1,
  log: () => {},
};

export interface ScenarioResult {
  name: string;
  title: string;
  seed: number;
  users: number;
  clients: number;
  conversations: number;
  durationMs: number;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Changes made to the population during the run, by kind (new conversations, members removed and added, new devices, restarts). */
  changes: Record<string, number>;
  /** Connections the clients lost and re-established, over all devices. */
  reconnects: number;
  convergence: Convergence;
  checks: CheckResult;
  /** Background errors the clients reported (their 'error' event), first few. */
  clientErrors: string[];
  passed: boolean;
}

/** In-process servers ping every second, so a dead connection is noticed after 2 s (default 25 s / 50 s). */
const HEARTBEAT_MS = 1_000;

// ---- servers ----

interface ChaosServer {
  api: AdminApi;
  /** Where a client would connect without a proxy. */
  url(transport: Transport): string;
  port(transport: Transport): number;
  close(): Promise<void>;
}

/** The server of a scenario: one in this process, or a cluster of `nodes`. */
function serverFor(nodes: number): Promise<ChaosServer> {
  return nodes > 1 ? ClusterServer.start(nodes) : inProcessServer();
}

async function inProcessServer(): Promise<ChaosServer> {
  const fixture = await startTestServer(undefined, { heartbeatIntervalMs: HEARTBEAT_MS });
  return {
    api: fixture.api,
    url: (transport) => (transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string)),
    port: (transport) => (transport === 'ws' ? fixture.server.port : (fixture.server.tcpPort as number)),
    close: () => fixture.close(),
  };
}


/**
 * A server in a child process on fixed ports and a fixed data directory, so
 * that after kill -9 it comes back where the clients expect it, on the same
 * data. The token secret lives in the data directory: old tokens stay valid.
 */
class KillableServer implements ChaosServer {
  kills = 0;
  private child: ChildServer | undefined;
  /** Kills and restarts run one at a time: two at once would start two servers, one of them holding the ports unseen. */
  private busy: Promise<void> = Promise.resolve();
  /** If this process exits (or is interrupted) mid-run, the child must not outlive it. */
  private readonly killOnExit = () => this.child?.process.kill('SIGKILL');
  private constructor(
    private readonly env: Record<string, string>,
    private readonly dataDir: string,
    private readonly ports: Record<Transport, number>,
    readonly api: AdminApi,
  ) {}

  static async start(random: () => number): Promise<KillableServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
    const [ws, tcp] = (await freePorts(2, random)) as [number, number];
    const ports = { ws, tcp };
    const env = { PARLEY_DATA_DIR: dataDir, PARLEY_ADMIN_KEY: ADMIN_KEY, PARLEY_PORT: String(ports.ws), PARLEY_TCP_PORT: String(ports.tcp) };
    const server = new KillableServer(env, dataDir, ports, adminApi(`http://127.0.0.1:${ports.ws}`));
    await server.boot();
    return server;
  }

  url(transport: Transport): string {
    return transport === 'ws' ? `ws://127.0.0.1:${this.ports.ws}/ws` : `tcp://127.0.0.1:${this.ports.tcp}`;
  }

  port(transport: Transport): number {
    return this.ports[transport];
  }

  /** SIGKILL, then a restart on the same ports and data. */
  killAndRestart(): Promise<void> {
    return this.serially(async () => {
      await this.child?.kill9();
      this.child = undefined;
      this.kills += 1;
      await this.boot();
    });
  }

  close(): Promise<void> {
    return this.serially(async () => {
      await this.child?.kill9();
      this.child = undefined;
      process.off('exit', this.killOnExit);
      rmSync(this.dataDir, { recursive: true, force: true });
    });
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.busy.then(task);
    this.busy = run.catch(() => {});
    return run;
  }

  /** Starts the child; a port the old process held a moment ago may still be busy, so retry briefly. */
  private async boot(): Promise<void> {
    process.off('exit', this.killOnExit);
    process.once('exit', this.killOnExit);
    for (let attempt = 1; ; attempt++) {
      try {
        this.child = await startChildServer(this.env, { captureStderr: true });
        return;
      } catch (error) {
        if (attempt >= 50 || !String((error as Error).message).includes('EADDRINUSE')) throw error;
        await sleep(100);
      }
    }
  }
}

/**
 * A cluster (test/cluster/support.ts) behind one round-robin relay per
 * transport: a client's every connection may land on another node. Nodes
 * ping every second, as the in-process server does here.
 */
class ClusterServer implements ChaosServer {
  kills = 0;
  private busy: Promise<void> = Promise.resolve();
  private constructor(
    private readonly cluster: Cluster,
    private readonly ports: Record<Transport, number>,
    private readonly cleanups: Array<() => unknown>,
  ) {}

  static async start(nodes: number): Promise<ClusterServer> {
    const cleanups: Array<() => unknown> = [];
    const cluster = await Cluster.start({ after: (fn) => cleanups.push(fn) }, { nodes, heartbeatMs: HEARTBEAT_MS });
    const ports = { ws: (await cluster.balancer('ws')).port, tcp: (await cluster.balancer('tcp')).port };
    return new ClusterServer(cluster, ports, cleanups);
  }

  get api(): AdminApi {
    return this.cluster.api;
  }

  url(transport: Transport): string {
    return transport === 'ws' ? `ws://127.0.0.1:${this.ports.ws}/ws` : `tcp://127.0.0.1:${this.ports.tcp}`;
  }

  port(transport: Transport): number {
    return this.ports[transport];
  }

  /** kill -9 of one node, then a restart on its ports; the others serve its clients meanwhile. */
  killAndRestart(random: () => number): Promise<void> {
    const run = this.busy.then(async () => {
      const index = Math.floor(random() * this.cluster.nodes.length);
      await this.cluster.kill9(index);
      this.kills += 1;
      await this.cluster.restart(index);
    });
    this.busy = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.busy;
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
  }
}

// ---- proxies ----

/** Background network profiles, assigned to devices in turn. */
const PROFILES: Record<string, Partial<FaultSettings>> = {
  clean: {},
  slow: { latencyMs: 15, jitterMs: 30, bytesPerSecond: 256 * 1024 },
  tiny: { latencyMs: 1, jitterMs: 3, chunkBytes: 3 },
};
const PROFILE_ORDER = ['clean', 'slow', 'tiny'] as const;

/** One proxy per transport and profile; devices are spread over them. */
class ProxyFleet {
  private constructor(private readonly proxies: Map<string, FaultProxy>) {}

  static async start(server: ChaosServer, random: () => number, profiles: readonly string[] = PROFILE_ORDER): Promise<ProxyFleet> {
    const proxies = new Map<string, FaultProxy>();
    for (const transport of ['ws', 'tcp'] as const) {
      for (const profile of profiles) {
        const proxy = await FaultProxy.start('127.0.0.1', server.port(transport), { random });
        proxy.set(PROFILES[profile] ?? {});
        proxies.set(`${transport}:${profile}`, proxy);
      }
    }
    return new ProxyFleet(proxies);
  }

  /** Devices 0,1 get the first profile (one per transport), 2,3 the next, and so on. */
  route(server: ChaosServer, spec: DeviceSpec, profiles: readonly string[] = PROFILE_ORDER): string {
    const profile = profiles[Math.floor(spec.ordinal / 2) % profiles.length] as string;
    return (this.proxies.get(`${spec.transport}:${profile}`) as FaultProxy).urlFor(server.url(spec.transport));
  }

  all(): FaultProxy[] {
    return [...this.proxies.values()];
  }

  pick(random: () => number): FaultProxy {
    const all = this.all();
    return all[Math.floor(random() * all.length)] as FaultProxy;
  }

  set(settings: Partial<FaultSettings>): void {
    for (const proxy of this.all()) proxy.set(settings);
  }

  stats(): FaultStats {
    const total: FaultStats = { connections: 0, refused: 0, resets: 0, stalls: 0, ackCuts: 0, requestCuts: 0 };
    for (const proxy of this.all()) {
      for (const key of Object.keys(total) as Array<keyof FaultStats>) total[key] += proxy.stats[key];
    }
    return total;
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((proxy) => proxy.close()));
  }
}

/** Runs `task` again and again, `minMs`..`maxMs` apart, until stopped; stop() waits for a task in progress. */
function repeat(random: () => number, minMs: number, maxMs: number, task: () => void | Promise<void>): () => Promise<void> {
  let running = true;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, minMs + random() * (maxMs - minMs));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (running) await task();
    }
  })();
  return async () => {
    running = false;
    wake?.();
    await loop;
  };
}

// ---- scenarios ----

/** What a scenario adds to the common run: its server, where devices connect, its faults. */
interface Faults {
  server: ChaosServer;
  route(spec: DeviceSpec): string;
  /** Starts the faults once the devices are connected; the returned function lifts them all. */
  start(devices: readonly Device[]): () => Promise<void>;
  /** A last fault, fired while every device's final reads are in flight. */
  finale?(): Promise<void>;
  counts(): Record<string, number>;
  close(): Promise<void>;
}

interface Scenario {
  name: string;
  title: string;
  setup(random: () => number, nodes: number): Promise<Faults>;
  /** Changes to the population while traffic flows (population-events.ts); none by default. */
  changes?: readonly PopulationEvent[];
}

function proxyCounts(fleet: ProxyFleet, ...extra: FaultProxy[]): Record<string, number> {
  const stats = fleet.stats();
  for (const proxy of extra) for (const key of Object.keys(stats) as Array<keyof FaultStats>) stats[key] += proxy.stats[key];
  return { resets: stats.resets, requestCuts: stats.requestCuts, deadNats: stats.stalls, ackCuts: stats.ackCuts, refused: stats.refused };
}

/**
 * Scenario 1's faults: random resets, dead NATs, whole paths stalled, lost
 * requests, and every connection reset at the end. The scenarios that change
 * the population run under the same faults.
 */
async function resetsAndStalls(random: () => number, nodes: number): Promise<Faults> {
  const server = await serverFor(nodes);
  const fleet = await ProxyFleet.start(server, random);
  let holds = 0;
  return {
    server,
    route: (spec) => fleet.route(server, spec),
    start() {
      // Some resets land exactly on a request on its way to the server (a send, a read, a pull...).
      fleet.set({ lostRequestRate: 0.01 });
      const stops = [
        // Resets: one connection somewhere every ~150 ms.
        repeat(random, 50, 250, () => void fleet.pick(random).resetRandom()),
        // Dead NATs: one connection goes silent for good every ~0.8 s; both ends find out by heartbeat.
        repeat(random, 400, 1200, () => void fleet.pick(random).stallRandom()),
        // Stalls: a whole path holds its traffic for 0.3–3 s, then lets it through.
        repeat(random, 1500, 4000, async () => {
          const proxy = fleet.pick(random);
          holds += 1;
          proxy.set({ stalled: true });
          await sleep(300 + random() * 2700);
          proxy.set({ stalled: false });
        }),
      ];
      return async () => {
        await Promise.all(stops.map((stop) => stop()));
        fleet.set({ lostRequestRate: 0 });
      };
    },
    async finale() {
      for (const proxy of fleet.all()) proxy.resetAll();
    },
    counts: () => ({ ...proxyCounts(fleet), stalls: holds }),
    async close() {
      await fleet.close();
      await server.close();
    },
  };
}

/** kill9 on a cluster: one node killed and restarted every few seconds; the others take its clients. */
async function killNodes(random: () => number, nodes: number): Promise<Faults> {
  const server = await ClusterServer.start(nodes);
  const fleet = await ProxyFleet.start(server, random);
  return {
    server,
    route: (spec) => fleet.route(server, spec),
    start() {
      return repeat(random, 1500, 3500, () => server.killAndRestart(random));
    },
    finale: () => server.killAndRestart(random),
    counts: () => ({ kills: server.kills, ...proxyCounts(fleet) }),
    async close() {
      await fleet.close();
      await server.close();
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'resets-stalls',
    title: 'random resets and stalls for the whole run',
    setup: resetsAndStalls,
  },
  {
    name: 'kill9',
    title: 'kill -9 of the server every few seconds, restarted on the same data',
    async setup(random, nodes) {
      if (nodes > 1) return killNodes(random, nodes);
      const server = await KillableServer.start(random);
      const fleet = await ProxyFleet.start(server, random);
      return {
        server,
        route: (spec) => fleet.route(server, spec),
        start() {
          return repeat(random, 1500, 3500, () => server.killAndRestart());
        },
        finale: () => server.killAndRestart(),
        counts: () => ({ kills: server.kills, ...proxyCounts(fleet) }),
        async close() {
          await fleet.close();
          await server.close();
        },
      };
    },
  },
  {
    name: 'lost-acks',
    title: 'lost acks: connections cut right after the server sent an ack',
    async setup(random, nodes) {
      const server = await serverFor(nodes);
      const fleet = await ProxyFleet.start(server, random);
      return {
        server,
        route: (spec) => fleet.route(server, spec),
        start() {
          fleet.set({ lostAckRate: 0.05 });
          return async () => fleet.set({ lostAckRate: 0 });
        },
        counts: () => proxyCounts(fleet),
        async close() {
          await fleet.close();
          await server.close();
        },
      };
    },
  },
  {
    name: 'offline-device',
    title: 'devices offline for the whole run, reconnecting at the end',
    async setup(random, nodes) {
      const server = await serverFor(nodes);
      const fleet = await ProxyFleet.start(server, random);
      // Their own path to the server, so that cutting it touches no one else.
      const offline = { ws: await FaultProxy.start('127.0.0.1', server.port('ws'), { random }), tcp: await FaultProxy.start('127.0.0.1', server.port('tcp'), { random }) };
      let offlineKeys: string[] = [];
      return {
        server,
        route(spec) {
          return isOfflineDevice(spec) ? offline[spec.transport].urlFor(server.url(spec.transport)) : fleet.route(server, spec);
        },
        start(devices) {
          offlineKeys = devices.filter((device) => isOfflineDevice(device.spec)).map((device) => device.key);
          for (const proxy of Object.values(offline)) {
            // The connection dies silently (dead NAT), and the network stays down until the end.
            proxy.stallAll();
            proxy.set({ refuseConnections: true });
          }
          return async () => {
            for (const proxy of Object.values(offline)) proxy.set({ refuseConnections: false });
          };
        },
        counts: () => ({ offlineDevices: offlineKeys.length, ...proxyCounts(fleet, offline.ws, offline.tcp) }),
        async close() {
          await Promise.all([fleet.close(), offline.ws.close(), offline.tcp.close()]);
          await server.close();
        },
      };
    },
  },
  {
    name: 'new-conversations',
    title: 'direct chats and groups created during the faults, while traffic flows',
    setup: resetsAndStalls,
    changes: ['conversations'],
  },
  {
    name: 'membership-churn',
    title: 'group members removed and added back during the faults',
    setup: resetsAndStalls,
    changes: ['members'],
  },
  {
    name: 'new-devices',
    title: 'devices connecting for the first time while the others post (and create conversations), during the faults',
    setup: resetsAndStalls,
    // New conversations too: a client that started mid-run must also follow conversations born after it started.
    changes: ['devices', 'conversations'],
  },
  {
    name: 'app-restart',
    title: 'clients closed and started again with no saved state while the others post (and create conversations), during the faults',
    setup: resetsAndStalls,
    changes: ['restarts', 'conversations'],
  },
];

/**
 * Offline for the whole run: a second device of the first user (whose other
 * devices keep sending and reading) and the only device of the third user.
 */
function isOfflineDevice(spec: DeviceSpec): boolean {
  return spec.key === 'u00/1' || spec.key === 'u02/0';
}

/**
 * The seed of a run: `--seed` when given, else PARLEY_CHAOS_SEED, else the
 * fallback (a fixed one for `npm test`, a time-based one for `npm run chaos`).
 * Every random choice of the harness comes from a generator seeded with it
 * (the SDK's own reconnect jitter and the timing of the machine do not).
 */
export function chaosSeed(flag: string | undefined, fallback: () => number): number {
  const given = flag ?? process.env.PARLEY_CHAOS_SEED;
  if (given === undefined || given === '') return fallback();
  const seed = Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`the chaos seed must be a non-negative integer, got "${given}"`);
  return seed;
}

export function scenarioNames(): string[] {
  return SCENARIOS.map((scenario) => scenario.name);
}

/** Runs one scenario end to end and checks it. */
export async function runScenario(name: string, overrides: Partial<ScenarioOptions> = {}): Promise<ScenarioResult> {
  const options = { ...DEFAULT_OPTIONS, ...overrides };
  const scenario = SCENARIOS.find((candidate) => candidate.name === name);
  if (scenario === undefined) throw new Error(`unknown scenario ${name}; known: ${scenarioNames().join(', ')}`);
  const random = seededRandom(options.seed);
  const faults = await scenario.setup(random, options.nodes);
  let devices: Device[] = [];
  try {
    const plan = planPopulation(options.users);
    await createPopulation(plan, faults.server.api, faults.server.url('ws'));
    devices = await connectDevices(plan, (spec) => ({ url: faults.route(spec), token: () => faults.server.api.token(spec.userId) }));
    options.log(`${name}: ${plan.users.length} users, ${devices.length} clients, ${plan.conversations.length} conversations; faults for ${options.durationMs / 1000} s`);

    const lift = faults.start(devices);
    const traffic = startTraffic(devices, {
      sendIntervalMs: options.sendIntervalMs,
      readIntervalMs: options.readIntervalMs,
      maxPendingPerDevice: 40,
      random,
    });
    const changes: PopulationChanges | undefined =
      scenario.changes === undefined
        ? undefined
        : startPopulationChanges(
            {
              plan,
              devices,
              api: faults.server.api,
              traffic,
              random,
              deviceOptions: (spec) => ({ url: faults.route(spec), token: () => faults.server.api.token(spec.userId) }),
              log: (line) => options.log(`${name}: ${line}`),
            },
            scenario.changes,
          );
    await sleep(Math.max(0, options.durationMs - options.readTailMs));
    await changes?.stop();
    traffic.stopSending();
    await sleep(Math.min(options.durationMs, options.readTailMs));
    traffic.stop();
    const finalReads = readEverything(devices);
    await faults.finale?.();
    await finalReads;
    await lift();
    options.log(`${name}: faults lifted, waiting for convergence`);

    const convergence = await awaitConvergence(devices, faults.server.api, plan.users, options.convergeDeadlineMs, (line) => options.log(`${name}: ${line}`));
    const checks = await collect(devices, faults.server.api, plan.users, changes?.memberships);
    const result: ScenarioResult = {
      name: options.nodes > 1 ? `${name} (${options.nodes} nodes)` : name,
      title: scenario.title,
      seed: options.seed,
      users: plan.users.length,
      clients: devices.length,
      conversations: plan.conversations.length,
      durationMs: options.durationMs,
      faults: faults.counts(),
      changes: changes?.counts() ?? {},
      reconnects: devices.reduce((sum, device) => sum + device.reconnects, 0),
      convergence,
      checks,
      clientErrors: devices.flatMap((device) => device.backgroundErrors.map((error) => `${device.key}: ${error}`)).slice(0, 20),
      passed: convergence.converged && meetsTarget(checks),
    };
    return result;
  } finally {
    await Promise.all(devices.map((device) => device.client.close()));
    await faults.close();
  }
}
