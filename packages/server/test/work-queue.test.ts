/** The paced job queue of the push adapters: bounded running and waiting, in order, drained on a stop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from '../src/util/work-queue.js';

test('runs at most `concurrency` jobs at once, in order; refuses past maxQueued waiting; drain and whenIdle', async () => {
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  const queue = new WorkQueue<number>(
    (job) =>
      new Promise<void>((resolve) => {
        started.push(job);
        finish.set(job, resolve);
      }),
    2,
    2,
  );
  let idleAtStart = false;
  void queue.whenIdle().then(() => {
    idleAtStart = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(idleAtStart, true, 'idle before any job');
  for (const job of [1, 2, 3, 4]) assert.equal(queue.add(job), true);
  assert.equal(queue.add(5), false, 'two run and two wait: a fifth is refused');
  assert.deepEqual(started, [1, 2]);
  finish.get(1)?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [1, 2, 3], 'the next starts when one ends');
  assert.deepEqual(queue.drain(), [4], 'what waits is taken out');
  let idle = false;
  const whenIdle = queue.whenIdle().then(() => {
    idle = true;
  });
  finish.get(2)?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(idle, false, 'job 3 still runs');
  finish.get(3)?.();
  await whenIdle;
  assert.deepEqual(started, [1, 2, 3], 'the drained job never ran');
});
