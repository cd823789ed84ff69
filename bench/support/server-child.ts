/**
 * ServerChild: the parent's handle on bench/server-process.ts (or on the
 * bare-ws baseline, bench/versus/baseline-server.ts). Forks it, waits
 * for its URLs, keeps the peak RSS from its periodic usage reports, and stops
 * it (or kills it when it does not stop in time).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReadyReport, ServerCommand, ServerReport, UsageReport } from './child-reporter.js';

const SERVER_SCRIPT = fileURLToPath(new URL('../server-process.ts', import.meta.url));
const BASELINE_SCRIPT = fileURLToPath(new URL('../versus/baseline-server.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ServerChildOptions {
  durability: 'full' | 'normal';
  /** Write a V8 CPU profile of the server process into this directory. Default: no profile. */
  cpuProfileDir?: string;
  /** Use (and keep) this data directory, so a second server can start on the first one's data. Default: a temporary one. */
  dataDir?: string;
  /** Server options merged over the bench defaults (JSON-serialisable: limits, rooms). */
  serverOptions?: Record<string, unknown>;
  /** More environment for the server process (a cluster node's PARLEY_* settings, see cluster.ts). Default: none. */
  env?: Record<string, string>;
}

export class ServerChild {
  /** Highest RSS reported since the last resetPeak(). */
  peakRssBytes = 0;
  private readonly usageWaiters: Array<(usage: UsageReport) => void> = [];
  private readonly profileWaiters: Array<() => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly urls: ReadyReport,
  ) {
    child.on('message', (report: ServerReport) => {
      if (report.type === 'profiled') this.profileWaiters.shift()?.();
      if (report.type !== 'usage') return;
      this.peakRssBytes = Math.max(this.peakRssBytes, report.rssBytes);
      if (report.answer === true) this.usageWaiters.shift()?.(report);
    });
  }

  /** The server process's id (to lower its priority, for one). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static start(options: ServerChildOptions): Promise<ServerChild> {
    const env = {
      ...options.env,
      BENCH_DURABILITY: options.durability,
      BENCH_DATA_DIR: options.dataDir ?? '',
      BENCH_SERVER_OPTIONS: JSON.stringify(options.serverOptions ?? {}),
    };
    return ServerChild.fork(SERVER_SCRIPT, env, options.cpuProfileDir);
  }

  /** The bare-ws baseline server, 'relay' or 'batched' (see baseline-server.ts). */
  static startBaseline(mode: 'relay' | 'batched', cpuProfileDir?: string): Promise<ServerChild> {
    return ServerChild.fork(BASELINE_SCRIPT, { BASELINE_MODE: mode }, cpuProfileDir);
  }

  private static fork(script: string, env: Record<string, string>, cpuProfileDir: string | undefined): Promise<ServerChild> {
    const execArgv = ['--import', 'tsx', '--expose-gc'];
    if (cpuProfileDir !== undefined) execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
    const child = fork(script, [], {
      execArgv,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the bench server did not start in time'));
      }, START_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the bench server exited during startup (code ${code})`));
      });
      child.on('message', function onReady(report: ServerReport) {
        if (report.type !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onReady);
        child.removeAllListeners('exit');
        resolve(new ServerChild(child, report));
      });
    });
  }

  resetPeak(): void {
    this.peakRssBytes = 0;
  }

  /** Current usage, asked for now rather than taken from the last periodic report; `gc` collects garbage first. */
  usage(gc = false): Promise<UsageReport> {
    return new Promise((resolve) => {
      this.usageWaiters.push(resolve);
      this.send({ type: 'usage', gc });
    });
  }

  /** Starts a CPU profile of the server's main thread (see profileStop). */
  profileStart(): void {
    this.send({ type: 'profile-start' });
  }

  /** Stops the profile started by profileStart and waits until it is written to `path`. */
  profileStop(path: string): Promise<void> {
    return new Promise((resolve) => {
      this.profileWaiters.push(resolve);
      this.send({ type: 'profile-stop', path });
    });
  }

  /** Closes the server cleanly; kills it if it takes longer than STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private send(command: ServerCommand): void {
    if (this.child.connected) this.child.send(command);
  }
}
