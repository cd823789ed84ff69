/**
 * The pacing of thread followers' summaries (services/follower-teller.ts):
 * a quiet thread is told at once, replies while a round is due or running
 * coalesce into one telling per thread, and every thread with a reply is
 * told in the end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '@parley/protocol';
import { FOLLOWER_ROUND_PAUSE_MS, FollowerTeller } from '../src/services/follower-teller.js';

/** Lets the teller's awaited promises settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function recordingTeller(clock: ManualClock, release?: Promise<void>) {
  const told: string[] = [];
  const teller = new FollowerTeller(async (conversationId, rootSeq) => {
    told.push(`${conversationId}/${rootSeq}`);
    await release;
  }, clock);
  return { teller, told };
}

test('a reply to a quiet thread tells its followers at once', async () => {
  const clock = new ManualClock();
  const { teller, told } = recordingTeller(clock);
  teller.replied('c1', 5);
  await settle();
  assert.deepEqual(told, ['c1/5']);
  assert.equal(clock.pending, 0, 'nothing else planned');
});

test('replies within the pause coalesce: each thread is told once in the next round, none is forgotten', async () => {
  const clock = new ManualClock();
  const { teller, told } = recordingTeller(clock);
  teller.replied('c1', 5);
  await settle();
  for (let reply = 0; reply < 10; reply++) teller.replied('c1', 5);
  teller.replied('c2', 9);
  await settle();
  assert.deepEqual(told, ['c1/5'], 'the next round waits for the pause');
  clock.advance(FOLLOWER_ROUND_PAUSE_MS - 1);
  await settle();
  assert.deepEqual(told, ['c1/5']);
  clock.advance(1);
  await settle();
  assert.deepEqual(told, ['c1/5', 'c1/5', 'c2/9']);
  clock.advance(10 * FOLLOWER_ROUND_PAUSE_MS);
  await settle();
  assert.equal(told.length, 3, 'no round without replies');
});

test('replies while a round runs wait for it, then are told in one more round', async () => {
  const clock = new ManualClock();
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const { teller, told } = recordingTeller(clock, gate);
  teller.replied('c1', 1);
  await settle();
  teller.replied('c1', 1);
  teller.replied('c1', 2);
  clock.advance(FOLLOWER_ROUND_PAUSE_MS * 4);
  await settle();
  assert.deepEqual(told, ['c1/1'], 'one round at a time');
  open();
  await settle();
  clock.advance(FOLLOWER_ROUND_PAUSE_MS);
  await settle();
  await settle();
  assert.deepEqual(told, ['c1/1', 'c1/1', 'c1/2']);
});

test('a failing telling does not stop the others; close plans nothing more', async () => {
  const clock = new ManualClock();
  const told: string[] = [];
  const teller = new FollowerTeller(async (conversationId, rootSeq) => {
    told.push(`${conversationId}/${rootSeq}`);
    if (rootSeq === 1) throw new Error('store gone');
  }, clock);
  teller.replied('c1', 1);
  teller.replied('c1', 2);
  await settle();
  clock.advance(FOLLOWER_ROUND_PAUSE_MS);
  await settle();
  assert.deepEqual(told, ['c1/1', 'c1/2']);
  teller.replied('c1', 3);
  teller.close();
  clock.advance(FOLLOWER_ROUND_PAUSE_MS * 10);
  await settle();
  assert.deepEqual(told, ['c1/1', 'c1/2']);
  assert.equal(clock.pending, 0);
});
