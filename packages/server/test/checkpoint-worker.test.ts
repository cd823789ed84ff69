/**
 * The SQLite store's checkpoint worker (store/sqlite/checkpoint-worker.ts):
 * a worker that cannot open the database reports it, and the process goes
 * on (an error event nobody listens to would be thrown in the main thread).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointWorker } from '../src/store/sqlite/checkpoint-worker.js';

test('a database the worker cannot open is reported, not thrown', async () => {
  const gone = mkdtempSync(join(tmpdir(), 'parley-checkpoint-'));
  rmSync(gone, { recursive: true });
  let reported: (error: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => {
    reported = resolve;
  });
  const worker = new CheckpointWorker(join(gone, 'parley.db'), reported, 50);
  // The worker does not hold the process open; the test waits for its report.
  const keepAlive = setTimeout(() => undefined, 10_000);
  try {
    assert.match((await failed).message, /directory does not exist/);
  } finally {
    clearTimeout(keepAlive);
    await worker.close();
  }
});
