/**
 * Admission control for surges (util/admission.ts): a burst is admitted, and
 * every caller refused after it gets the next free slot at the admitted
 * rate, so a storm becomes a queue rather than the same storm a second later.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission } from '../src/util/admission.js';

test('a storm at one instant: the burst gets in, the rest get successive slots at the rate', () => {
  const admission = new Admission(100, 20);
  const now = 1_000_000;
  const answers = Array.from({ length: 120 }, () => admission.admit(now));
  assert.deepEqual(answers.slice(0, 20), Array(20).fill(0), 'the burst is admitted');
  assert.deepEqual(
    answers.slice(20),
    Array.from({ length: 100 }, (_, index) => (index + 1) * 10),
    'one slot every 10 ms at 100 per second',
  );
});

test('slots already handed out are kept: a caller refused later queues behind them', () => {
  const admission = new Admission(10, 1);
  assert.equal(admission.admit(0), 0);
  assert.equal(admission.admit(0), 100);
  assert.equal(admission.admit(0), 200);
  // 50 ms later the queue still ends at 200 ms: the next slot is 300, 250 ms away.
  assert.equal(admission.admit(50), 250);
});

test('hints never pass 30 s, however long the queue', () => {
  const admission = new Admission(1, 1);
  let last = 0;
  for (let index = 0; index < 100; index++) last = admission.admit(0);
  assert.equal(last, 30_000);
});
