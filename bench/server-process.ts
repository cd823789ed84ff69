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
 * Environment: BENCH_DURABILITY (full | normal, default full); BENCH_DATA_DIR: use
 * this data directory and keep it (default: a temporary one, removed at stop).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
  /** V8 heap in use. */
  heapUsedBytes: number;
  /** Requests the server handled since start, by kind (send, pull, sync, ...). */
  requests: Record<string, number>;
  /** True on the answer to a usage command (periodic reports leave it out). */
  answer?: boolean;
  /** Event-loop delay since the previous answer: how long ready work waited for the main thread. */
  loopDelayMs?: { p50: number; p99: number; max: number };
}

export type ServerReport = ReadyReport | UsageReport | { type: 'stopped' } | { type: 'profiled' };
/** `gc`: collect garbage first (the child runs with --expose-gc), for memory figures. */
export type ServerCommand =
  | { type: 'usage'; gc?: boolean }
  | { type: 'stop' }
  /** A V8 CPU profile of the main thread over a window: start, then stop writing it to `path` (answered by 'profiled'). */
  | { type: 'profile-start' }
  | { type: 'profile-stop'; path: string };

const USAGE_INTERVAL_MS = 200;

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

function takeLoopDelay(): { p50: number; p99: number; max: number } {
  const delay = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  loopDelay.reset();
  return delay;
}

let profiler: Session | undefined;

function startProfile(): void {
  profiler = new Session();
  profiler.connect();
  profiler.post('Profiler.enable');
  profiler.post('Profiler.start');
}

function stopProfile(path: string): void {
  const session = profiler;
  profiler = undefined;
  if (session === undefined) {
    report({ type: 'profiled' });
    return;
  }
  session.post('Profiler.stop', (error, result) => {
    if (error === null) writeFileSync(path, JSON.stringify(result.profile));
    session.disconnect();
    report({ type: 'profiled' });
  });
}

function report(message: ServerReport): void {
  if (process.connected) process.send?.(message);
}

let requestCounts: () => Record<string, number> = () => ({});

function usage(): UsageReport {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { type: 'usage', rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, requests: requestCounts() };
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('server-process.ts is started by bench/direct.ts (needs an IPC channel)');
  const keepData = process.env.BENCH_DATA_DIR !== undefined && process.env.BENCH_DATA_DIR !== '';
  const dataDir = keepData ? (process.env.BENCH_DATA_DIR as string) : mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const server = await startServer({
    port: 0,
    tcpPort: 0,
    host: '127.0.0.1',
    dataDir,
    adminKey: `bench-${process.pid}`,
    logLevel: 'warn',
    durability: process.env.BENCH_DURABILITY === 'normal' ? 'normal' : 'full',
  });
  // Servers from before requestCounts() existed report none.
  requestCounts = () => (server as { requestCounts?: () => Record<string, number> }).requestCounts?.() ?? {};
  report({ type: 'ready', httpUrl: server.httpUrl, wsUrl: server.wsUrl, tcpUrl: server.tcpUrl ?? '', adminKey: server.adminKey });
  const sampler = setInterval(() => report(usage()), USAGE_INTERVAL_MS);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
    report(usage());
    await server.close();
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    report({ type: 'stopped' });
    // Exit normally (not by signal) so that --cpu-prof writes its profile.
    if (process.connected) process.disconnect();
    process.exit(0);
  };
  process.on('message', (command: ServerCommand) => {
    if (command.type === 'usage') {
      if (command.gc === true) (globalThis as { gc?: () => void }).gc?.();
      report({ ...usage(), answer: true, loopDelayMs: takeLoopDelay() });
    }
    else if (command.type === 'stop') void stop();
    else if (command.type === 'profile-start') startProfile();
    else if (command.type === 'profile-stop') stopProfile(command.path);
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
