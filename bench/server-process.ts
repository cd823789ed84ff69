/**
 * The benchmark's server: one Parley server in a child process of its own, so
 * that its memory and CPU are measured apart from the load generator. Started
 * by direct.ts through fork(); talks to it over the IPC channel only.
 *
 * child → parent: { type: 'ready', httpUrl, wsUrl, tcpUrl, adminKey }
 *                 { type: 'usage', rssBytes, cpuUserUs, cpuSystemUs }   every USAGE_INTERVAL_MS and on request
 *                 { type: 'stopped' }
 * parent → child: { type: 'usage' }   report usage now
 *                 { type: 'stop' }    close the server, remove the data, exit
 *
 * Environment: BENCH_DURABILITY (full | normal, default full).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@parley/server';

export interface ReadyReport {
  type: 'ready';
  httpUrl: string;
  wsUrl: string;
  tcpUrl: string;
  adminKey: string;
}

export interface UsageReport {
  type: 'usage';
  rssBytes: number;
  /** Process CPU since start, all threads (the SQLite checkpoint worker included). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Requests the server handled since start, by kind (send, pull, sync, ...). */
  requests: Record<string, number>;
}

export type ServerReport = ReadyReport | UsageReport | { type: 'stopped' };
export type ServerCommand = { type: 'usage' } | { type: 'stop' };

const USAGE_INTERVAL_MS = 200;

function report(message: ServerReport): void {
  if (process.connected) process.send?.(message);
}

let requestCounts: () => Record<string, number> = () => ({});

function usage(): UsageReport {
  const cpu = process.cpuUsage();
  return { type: 'usage', rssBytes: process.memoryUsage().rss, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, requests: requestCounts() };
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('server-process.ts is started by bench/direct.ts (needs an IPC channel)');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const server = await startServer({
    port: 0,
    tcpPort: 0,
    host: '127.0.0.1',
    dataDir,
    adminKey: `bench-${process.pid}`,
    logLevel: 'warn',
    durability: process.env.BENCH_DURABILITY === 'normal' ? 'normal' : 'full',
  });
  requestCounts = () => server.requestCounts();
  report({ type: 'ready', httpUrl: server.httpUrl, wsUrl: server.wsUrl, tcpUrl: server.tcpUrl ?? '', adminKey: server.adminKey });
  const sampler = setInterval(() => report(usage()), USAGE_INTERVAL_MS);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
    report(usage());
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
    report({ type: 'stopped' });
    // Exit normally (not by signal) so that --cpu-prof writes its profile.
    if (process.connected) process.disconnect();
    process.exit(0);
  };
  process.on('message', (command: ServerCommand) => {
    if (command.type === 'usage') report(usage());
    else if (command.type === 'stop') void stop();
  });
  // The parent died or gave up, or Ctrl-C reached the whole process group:
  // never outlive the parent, and never leave the data directory behind.
  process.on('disconnect', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error('bench server failed:', error);
  process.exit(1);
});
