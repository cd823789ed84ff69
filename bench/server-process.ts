/**
 * The benchmark's server: one Parley server in a child process of its own, so
 * that its memory and CPU are measured apart from the load generator. Started
 * through ServerChild (support/server-child.ts); talks to it over the IPC
 * channel only (support/child-reporter.ts has the messages).
 *
 * Environment: BENCH_DURABILITY (full | normal, default full); BENCH_DATA_DIR: use
 * this data directory and keep it (default: a temporary one, removed at stop);
 * BENCH_SERVER_OPTIONS: JSON merged into the server options (limits, rooms).
 * The server reads its own PARLEY_* variables as well: a cluster node gets
 * PARLEY_STORE, PARLEY_BUS, PARLEY_NODE_ID, PARLEY_TOKEN_SECRET and
 * PARLEY_ADMIN_KEY from support/cluster.ts (the admin key is then the shared one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerOptions, startServer } from '@parley/server';
import { ChildReporter } from './support/child-reporter.js';

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('server-process.ts is started by ServerChild (needs an IPC channel)');
  const keepData = process.env.BENCH_DATA_DIR !== undefined && process.env.BENCH_DATA_DIR !== '';
  const dataDir = keepData ? (process.env.BENCH_DATA_DIR as string) : mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const server = await startServer({
    port: 0,
    tcpPort: 0,
    host: '127.0.0.1',
    dataDir,
    // Nodes of one cluster share the admin key, so that setup can go through any of them.
    adminKey: process.env.PARLEY_ADMIN_KEY || `bench-${process.pid}`,
    logLevel: 'warn',
    durability: process.env.BENCH_DURABILITY === 'normal' ? 'normal' : 'full',
    // A scenario's own bounds (the room bench raises per-user event rates for its few senders).
    ...(process.env.BENCH_SERVER_OPTIONS ? (JSON.parse(process.env.BENCH_SERVER_OPTIONS) as ServerOptions) : {}),
  });
  // Servers from before requestCounts() existed report none.
  const reporter = new ChildReporter(() => (server as { requestCounts?: () => Record<string, number> }).requestCounts?.() ?? {});
  reporter.ready({ httpUrl: server.httpUrl, wsUrl: server.wsUrl, tcpUrl: server.tcpUrl ?? '', adminKey: server.adminKey }, async () => {
    await server.close();
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  });
}

main().catch((error: unknown) => {
  console.error('bench server failed:', error);
  process.exit(1);
});
