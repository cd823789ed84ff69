/**
 * The child side of ServerChild (support/server-child.ts), shared by the Parley
 * server process (server-process.ts) and the bare-ws baseline
 * (versus/baseline-server.ts), so that both are measured and driven alike.
 *
 * child → parent: { type: 'ready', httpUrl, wsUrl, tcpUrl, adminKey }
 *                 { type: 'usage', ... }   every USAGE_INTERVAL_MS, and answering a usage command
 *                 { type: 'profiled' }     answering profile-stop
 *                 { type: 'stopped' }
 * parent → child: { type: 'usage', gc? }   report usage now (after a garbage collection)
 *                 { type: 'profile-start' } / { type: 'profile-stop', path }
 *                 { type: 'stop' }         clean up and exit
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';

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
  /** V8 heap in use. */
  heapUsedBytes: number;
  /** Process CPU since start, all threads (the SQLite checkpoint worker included). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Requests the server handled since start, by kind (send, pull, sync, ...). */
  requests: Record<string, number>;
  /** True on the answer to a usage command (periodic reports leave it out). */
  answer?: boolean;
  /** Event-loop delay since the previous answer: how long ready work waited for the main thread. */
  loopDelayMs?: { p50: number; p99: number; max: number };
}

const PROFILE_SAMPLING_US = 100;

export type ServerReport = ReadyReport | UsageReport | { type: 'stopped' } | { type: 'profiled' };
/** `gc`: collect garbage first (the child runs with --expose-gc), for memory figures. */
export type ServerCommand =
  | { type: 'usage'; gc?: boolean }
  | { type: 'stop' }
  /** A V8 CPU profile of the main thread over a window: start, then stop writing it to `path` (answered by 'profiled'). */
  | { type: 'profile-start' }
  | { type: 'profile-stop'; path: string };

const USAGE_INTERVAL_MS = 200;

export class ChildReporter {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 1 });
  private profiler: Session | undefined;
  private sampler: ReturnType<typeof setInterval> | undefined;
  private stopping = false;

  /** `requests`: the server's request counts, read on every report. */
  constructor(private readonly requests: () => Record<string, number> = () => ({})) {
    this.loopDelay.enable();
  }

  report(message: ServerReport): void {
    if (process.connected) process.send?.(message);
  }

  /**
   * Reports `ready`, then usage periodically, and answers the parent's
   * commands. `cleanUp` runs once on stop, on the parent's disconnect and on
   * SIGINT/SIGTERM: a child never outlives its parent or leaves data behind.
   */
  ready(urls: Omit<ReadyReport, 'type'>, cleanUp: () => Promise<void> | void): void {
    this.report({ type: 'ready', ...urls });
    this.sampler = setInterval(() => this.report(this.usage()), USAGE_INTERVAL_MS);
    const stop = () => void this.stop(cleanUp);
    process.on('message', (command: ServerCommand) => {
      if (command.type === 'usage') {
        if (command.gc === true) (globalThis as { gc?: () => void }).gc?.();
        this.report({ ...this.usage(), answer: true, loopDelayMs: this.takeLoopDelay() });
      } else if (command.type === 'stop') stop();
      else if (command.type === 'profile-start') this.startProfile();
      else if (command.type === 'profile-stop') this.stopProfile(command.path);
    });
    process.on('disconnect', stop);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }

  private async stop(cleanUp: () => Promise<void> | void): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.sampler);
    this.report(this.usage());
    await cleanUp();
    this.report({ type: 'stopped' });
    // Exit normally (not by signal) so that --cpu-prof writes its profile.
    if (process.connected) process.disconnect();
    process.exit(0);
  }

  private usage(): UsageReport {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return { type: 'usage', rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, requests: this.requests() };
  }

  private takeLoopDelay(): { p50: number; p99: number; max: number } {
    const delay = { p50: this.loopDelay.percentile(50) / 1e6, p99: this.loopDelay.percentile(99) / 1e6, max: this.loopDelay.max / 1e6 };
    this.loopDelay.reset();
    return delay;
  }

  private startProfile(): void {
    this.profiler = new Session();
    this.profiler.connect();
    this.profiler.post('Profiler.enable');
    // Windows are short (a reconnect is tens of ms): sample every 100 µs, not the default 1 ms.
    this.profiler.post('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_US });
    this.profiler.post('Profiler.start');
  }

  private stopProfile(path: string): void {
    const session = this.profiler;
    this.profiler = undefined;
    if (session === undefined) {
      this.report({ type: 'profiled' });
      return;
    }
    session.post('Profiler.stop', (error, result) => {
      if (error === null) writeFileSync(path, JSON.stringify(result.profile));
      session.disconnect();
      this.report({ type: 'profiled' });
    });
  }
}
