/**
 * Runs WAL checkpoints on a worker thread with its own connection. A
 * checkpoint inside a write call stalls that call (and, with a synchronous
 * driver, the whole event loop) for 10-15 ms; on a worker it overlaps with the
 * main thread's work instead. PASSIVE checkpoints never block writers.
 * Its timers run on real time, not the server's Clock: when a checkpoint runs
 * changes nothing anyone can observe, only how large the WAL file grows.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'stop') {
    clearInterval(timer);
    try { db.close(); } catch {}
    parentPort.postMessage('stopped');
  }
});
`;

export class CheckpointWorker {
  private readonly worker: Worker;

  /**
   * `onFailed`: the worker could not open the database or died. Checkpoints
   * are housekeeping, so that must not take the server down (a worker's
   * error nobody listens to is thrown in the main thread); the store checkpoints
   * by itself again instead, so that the WAL stays bounded.
   */
  constructor(path: string, onFailed: (error: Error) => void, intervalMs = 2000) {
    const driver = import.meta.resolve('better-sqlite3').replace(/^file:\/\//, '');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, intervalMs, driver: decodeURIComponent(driver) } });
    this.worker.on('error', onFailed);
    this.worker.unref();
  }

  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('stop');
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 2000))]);
    await this.worker.terminate();
  }
}
