/**
 * ManualClock is what server and SDK tests move time with: timers must fire
 * at their own time, in order, and only when the clock reaches them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ManualClock, systemClock } from '@parley/protocol';

test('advance() runs each timer that falls due at its own time, in time order, and no other', () => {
  const clock = new ManualClock(1_000);
  const fired: Array<[string, number]> = [];
  clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
  clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
  clock.setTimeout(() => fired.push(['c', clock.now()]), 300);
  clock.advance(199);
  assert.deepEqual(fired, [['a', 1_100]]);
  clock.advance(101);
  assert.deepEqual(fired, [['a', 1_100], ['b', 1_200], ['c', 1_300]]);
  assert.equal(clock.now(), 1_300);
  assert.equal(clock.pending, 0);
});

test('a timer armed by a timer fires within the same advance when it falls due (a re-armed check)', () => {
  const clock = new ManualClock(0);
  const checks: number[] = [];
  const check = () => {
    checks.push(clock.now());
    clock.setTimeout(check, 5_000);
  };
  clock.setTimeout(check, 5_000);
  clock.advance(17_000);
  assert.deepEqual(checks, [5_000, 10_000, 15_000]);
  assert.equal(clock.pending, 1);
});

test('a cleared timer never fires; timers due at the same time fire in the order they were set', () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  const cleared = clock.setTimeout(() => fired.push('cleared'), 10);
  clock.setTimeout(() => fired.push('first'), 10);
  clock.setTimeout(() => fired.push('second'), 10);
  clock.clearTimeout(cleared);
  clock.clearTimeout(undefined);
  clock.advance(10);
  assert.deepEqual(fired, ['first', 'second']);
});

test('the system clock reads the wall clock and its timers fire', async () => {
  const before = Date.now();
  assert.ok(systemClock.now() >= before);
  await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 1));
  let fired = false;
  systemClock.clearTimeout(systemClock.setTimeout(() => (fired = true), 1));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(fired, false);
});

test('the clock module imports nothing (the browser SDK uses it)', () => {
  const source = readFileSync(new URL('../src/clock.ts', import.meta.url), 'utf8');
  assert.doesNotMatch(source, /^\s*import\s/m);
});
