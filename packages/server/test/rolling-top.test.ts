/** RollingTop: the busiest keys of the last minute, as the admin overview's busiest conversations use it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RollingTop } from '../src/util/rolling-top.js';

test('the busiest keys come first, ties by key, cut to the limit', () => {
  const top = new RollingTop();
  const now = 1_700_000_000_000;
  for (const [key, count] of [
    ['quiet', 1],
    ['busy', 5],
    ['b-tie', 3],
    ['a-tie', 3],
  ] as const) {
    for (let index = 0; index < count; index++) top.add(key, now);
  }
  assert.deepEqual(top.top(3, now), [
    { key: 'busy', count: 5 },
    { key: 'a-tie', count: 3 },
    { key: 'b-tie', count: 3 },
  ]);
});

test('counts older than the window are forgotten, a slot at a time', () => {
  const top = new RollingTop({ windowMs: 60_000, slots: 6 });
  const start = 1_700_000_000_000;
  top.add('early', start);
  top.add('later', start + 30_000);
  top.add('later', start + 30_000);
  assert.deepEqual(top.top(10, start + 45_000), [
    { key: 'later', count: 2 },
    { key: 'early', count: 1 },
  ]);
  assert.deepEqual(top.top(10, start + 70_000), [{ key: 'later', count: 2 }]);
  assert.deepEqual(top.top(10, start + 100_000), []);
});

test('a slot holds a bounded number of keys; keys already in it keep counting', () => {
  const top = new RollingTop({ maxKeysPerSlot: 2 });
  const now = 1_700_000_000_000;
  top.add('first', now);
  top.add('second', now);
  top.add('third', now);
  top.add('first', now);
  assert.deepEqual(top.top(10, now), [
    { key: 'first', count: 2 },
    { key: 'second', count: 1 },
  ]);
});
