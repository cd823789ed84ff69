/**
 * The servers under test as a set of nodes: one ServerChild per node, each on
 * ports of its own. One node on the embedded store is what every bench ran
 * before (nothing else is set). Otherwise the nodes share PostgreSQL in a
 * schema of this run's own (created and migrated by the first node, dropped
 * at stop) and, with the NATS bus, a subject prefix of this run's own; one
 * token secret and one admin key, so that a token minted on any node is
 * accepted by every other. Also here: the options every cluster-aware bench
 * takes (--nodes, --store, --bus), and usage summed over the nodes.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import type { UsageReport } from './child-reporter.js';
import { ServerChild, type ServerChildOptions } from './server-child.js';

/** The machine's PostgreSQL and NATS (override with BENCH_POSTGRES / BENCH_NATS). */
export const POSTGRES_URL = process.env.BENCH_POSTGRES || 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.BENCH_NATS || 'nats://127.0.0.1:4222';
const DROP_TIMEOUT_MS = 10_000;

export type StoreKind = 'sqlite' | 'postgres';
export type BusKind = 'local' | 'nats';

export interface ClusterOptions {
  /** Server nodes (default 1). */
  nodes: number;
  /** 'sqlite' (one node only, the default for one node) or 'postgres' (the default for two or more). */
  store: StoreKind;
  /** 'local' (in-process, one node only, the default for one node) or 'nats' (the default for two or more). */
  bus: BusKind;
}

export const CLUSTER_USAGE = `  --nodes N          server nodes (default 1); from 2 on they share PostgreSQL and NATS
  --store S          sqlite or postgres (default sqlite for 1 node, postgres for more)
  --bus B            local or nats (default local for 1 node, nats for more)`;

/** parseArgs entries for the cluster options. */
export const CLUSTER_ARGS = {
  nodes: { type: 'string', default: '1' },
  store: { type: 'string' },
  bus: { type: 'string' },
} as const;

/** Checks the parsed cluster options and fills in the defaults that depend on --nodes. */
export function clusterOptions(values: { nodes?: string; store?: string; bus?: string }): ClusterOptions {
  const nodes = Number(values.nodes ?? '1');
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error(`--nodes must be a whole number from 1 to 16, got "${values.nodes}"`);
  const store = values.store ?? (nodes > 1 ? 'postgres' : 'sqlite');
  const bus = values.bus ?? (nodes > 1 ? 'nats' : 'local');
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got "${store}"`);
  if (bus !== 'local' && bus !== 'nats') throw new Error(`--bus must be local or nats, got "${bus}"`);
  // Several processes on one SQLite file or an in-process bus would not be one cluster.
  if (nodes > 1 && store !== 'postgres') throw new Error('--nodes 2 or more needs --store postgres');
  if (nodes > 1 && bus !== 'nats') throw new Error('--nodes 2 or more needs --bus nats');
  return { nodes, store, bus };
}

/** One node's usage over a window: CPU in µs and the highest RSS reported. */
export interface NodeUsage {
  node: string;
  cpuUs: number;
  systemCpuUs: number;
  rssMaxBytes: number;
  requests: Record<string, number>;
}

export class BenchCluster {
  private constructor(
    readonly options: ClusterOptions,
    readonly nodes: ServerChild[],
    /** The PostgreSQL schema of this run (postgres only). */
    readonly schema: string | undefined,
    /** The NATS subject prefix of this run (nats only). */
    readonly busPrefix: string | undefined,
  ) {}

  /**
   * Starts the nodes one after the other (the first creates and migrates the
   * schema). `server.dataDir` is honoured for a single SQLite node only: on
   * PostgreSQL every node keeps a temporary data folder of its own.
   */
  static async start(options: ClusterOptions, server: Omit<ServerChildOptions, 'env'>): Promise<BenchCluster> {
    const stamp = `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(3).toString('hex')}`;
    const schema = options.store === 'postgres' ? `bench_${stamp}` : undefined;
    const busPrefix = options.bus === 'nats' ? `bench_${stamp}` : undefined;
    const shared: Record<string, string> = {};
    if (schema !== undefined) Object.assign(shared, { PARLEY_STORE: POSTGRES_URL, PARLEY_STORE_SCHEMA: schema });
    if (busPrefix !== undefined) Object.assign(shared, { PARLEY_BUS: NATS_URL, PARLEY_BUS_PREFIX: busPrefix });
    if (options.nodes > 1 || schema !== undefined) {
      Object.assign(shared, { PARLEY_TOKEN_SECRET: randomBytes(32).toString('hex'), PARLEY_ADMIN_KEY: `bench-${stamp}` });
    }
    const cluster = new BenchCluster(options, [], schema, busPrefix);
    try {
      for (let index = 0; index < options.nodes; index++) {
        const env = Object.keys(shared).length === 0 ? undefined : { ...shared, PARLEY_NODE_ID: nodeName(index) };
        const dataDir = options.nodes === 1 && options.store === 'sqlite' ? server.dataDir : undefined;
        cluster.nodes.push(await ServerChild.start({ ...server, dataDir, env }));
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** What the result files record about the servers. */
  describe(): { nodes: number; store: StoreKind; bus: BusKind } {
    return { nodes: this.options.nodes, store: this.options.store, bus: this.options.bus };
  }

  /** The node that client `index` talks to: round-robin over the nodes. */
  nodeFor(index: number): ServerChild {
    return this.nodes[index % this.nodes.length] as ServerChild;
  }

  resetPeaks(): void {
    for (const node of this.nodes) node.resetPeak();
  }

  /** Every node's usage now (see ServerChild.usage). */
  usage(gc = false): Promise<UsageReport[]> {
    return Promise.all(this.nodes.map((node) => node.usage(gc)));
  }

  /** Per node, usage between two snapshots (from usage()), with the peak RSS since resetPeaks(). */
  between(start: UsageReport[], end: UsageReport[]): NodeUsage[] {
    return this.nodes.map((node, index) => {
      const from = start[index] as UsageReport;
      const to = end[index] as UsageReport;
      return {
        node: nodeName(index),
        cpuUs: to.cpuUserUs + to.cpuSystemUs - from.cpuUserUs - from.cpuSystemUs,
        systemCpuUs: to.cpuSystemUs - from.cpuSystemUs,
        rssMaxBytes: Math.max(node.peakRssBytes, to.rssBytes),
        requests: Object.fromEntries(Object.entries(to.requests).map(([kind, count]) => [kind, count - (from.requests[kind] ?? 0)])),
      };
    });
  }

  /** Stops every node, then drops this run's schema. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await this.dropSchema();
  }

  /** For a bench that gives up: kills the nodes and still drops the schema (bounded). */
  async abandon(): Promise<void> {
    for (const node of this.nodes) node.kill();
    await Promise.race([this.dropSchema().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, DROP_TIMEOUT_MS))]);
  }

  private async dropSchema(): Promise<void> {
    if (this.schema === undefined) return;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } finally {
      await client.end();
    }
  }
}

/** Node names: node1, node2, ... */
export function nodeName(index: number): string {
  return `node${index + 1}`;
}

/** Sum of a per-node field. */
export function total(usages: readonly NodeUsage[], field: 'cpuUs' | 'systemCpuUs' | 'rssMaxBytes'): number {
  return usages.reduce((sum, usage) => sum + usage[field], 0);
}

/** Requests of all nodes together, by kind. */
export function totalRequests(usages: readonly NodeUsage[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const usage of usages) for (const [kind, count] of Object.entries(usage.requests)) sum[kind] = (sum[kind] ?? 0) + count;
  return sum;
}

/** The machine's load averages (1, 5, 15 min), to tell a quiet run from a contended one. */
export function loadAverage(): number[] {
  return loadavg().map((value) => Math.round(value * 100) / 100);
}
