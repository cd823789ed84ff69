/**
 * The sync engine's promises: each message applied once, in seq order; gaps
 * detected, pulled once and filled; placeholders advance without showing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncEngine, initialSyncedSeq, type SyncStep } from '../src/sync-engine.js';

interface TestMessage {
  seq: number;
  hidden: boolean;
}

const message = (seq: number): TestMessage => ({ seq, hidden: false });
const placeholder = (seq: number): TestMessage => ({ seq, hidden: true });
const seqs = (step: SyncStep<TestMessage>): number[] => step.messages.map((m) => m.seq);
const range = (from: number, to: number): TestMessage[] => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));

function trackedEngine(synced = 0, lastSeq = synced): SyncEngine<TestMessage> {
  const engine = new SyncEngine<TestMessage>();
  engine.track('c', synced, lastSeq);
  return engine;
}

describe('SyncEngine: in-order delivery', () => {
  it('applies the next message at once and advances synced', () => {
    const engine = trackedEngine();
    const step = engine.receive('c', message(1));
    assert.deepEqual(seqs(step), [1]);
    assert.equal(step.advanced, true);
    assert.equal(step.lastAppliedSeq, 1);
    assert.equal(engine.syncedSeq('c'), 1);
    assert.deepEqual(seqs(engine.receive('c', message(2))), [2]);
    assert.equal(engine.wantsPull('c'), false);
  });

  it('drops duplicates at or below synced', () => {
    const engine = trackedEngine(5, 5);
    const step = engine.receive('c', message(5));
    assert.deepEqual(seqs(step), []);
    assert.equal(step.advanced, false);
    assert.deepEqual(seqs(engine.receive('c', message(3))), []);
    assert.deepEqual(seqs(engine.receive('c', message(6))), [6]);
    assert.deepEqual(seqs(engine.receive('c', message(6))), []);
    assert.equal(engine.syncedSeq('c'), 6);
  });

  it('keeps conversations independent', () => {
    const engine = new SyncEngine<TestMessage>();
    engine.track('a', 0, 0);
    engine.track('b', 10, 10);
    assert.deepEqual(seqs(engine.receive('a', message(1))), [1]);
    assert.deepEqual(seqs(engine.receive('b', message(11))), [11]);
    assert.deepEqual(seqs(engine.receive('b', message(1))), []);
  });
});

describe('SyncEngine: gaps', () => {
  it('buffers a message past a gap and asks for exactly the gap', () => {
    const engine = trackedEngine(3, 3);
    const step = engine.receive('c', message(7));
    assert.deepEqual(seqs(step), []);
    assert.equal(step.advanced, false);
    assert.equal(engine.wantsPull('c'), true);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 4, toSeq: 6 });
  });

  it('never has two pulls in flight for one conversation', () => {
    const engine = trackedEngine(3, 3);
    engine.receive('c', message(7));
    assert.deepEqual(engine.startPull('c'), { fromSeq: 4, toSeq: 6 });
    engine.receive('c', message(9));
    assert.equal(engine.wantsPull('c'), false);
    assert.equal(engine.startPull('c'), undefined);
    assert.deepEqual(engine.conversationsWantingPull(), []);
  });

  it('fills the gap from the pull, then drains the buffered successors in order', () => {
    const engine = trackedEngine(3, 3);
    engine.receive('c', message(7));
    engine.receive('c', message(8));
    engine.startPull('c');
    const step = engine.applyPull('c', { messages: range(4, 6), coveredFrom: 4, coveredTo: 6, lastSeq: 8 });
    assert.deepEqual(seqs(step), [4, 5, 6, 7, 8]);
    assert.equal(step.lastAppliedSeq, 8);
    assert.equal(engine.syncedSeq('c'), 8);
    assert.equal(engine.wantsPull('c'), false);
  });

  it('pushes that arrive out of order come out in order', () => {
    const engine = trackedEngine();
    const emitted: number[] = [];
    for (const seq of [3, 1, 2, 5, 4]) emitted.push(...seqs(engine.receive('c', message(seq))));
    assert.deepEqual(emitted, [1, 2, 3, 4, 5]);
  });

  it('continues pulling while covered_to is below last_seq (pull limit)', () => {
    const engine = trackedEngine(0, 0);
    engine.catchUp('c', 1200);
    const emitted: number[] = [];
    const pulls: Array<{ fromSeq: number; toSeq: number }> = [];
    for (let pull = engine.startPull('c'); pull !== undefined; pull = engine.startPull('c')) {
      pulls.push(pull);
      const to = Math.min(pull.fromSeq + 499, pull.toSeq);
      emitted.push(...seqs(engine.applyPull('c', { messages: range(pull.fromSeq, to), coveredFrom: pull.fromSeq, coveredTo: to, lastSeq: 1200 })));
    }
    assert.deepEqual(pulls, [
      { fromSeq: 1, toSeq: 1200 },
      { fromSeq: 501, toSeq: 1200 },
      { fromSeq: 1001, toSeq: 1200 },
    ]);
    assert.equal(emitted.length, 1200);
    assert.deepEqual(emitted.slice(0, 3), [1, 2, 3]);
    assert.equal(emitted[1199], 1200);
    assert.equal(engine.syncedSeq('c'), 1200);
  });

  it('raises its target from a pull result that reveals newer messages', () => {
    const engine = trackedEngine(0, 2);
    engine.startPull('c');
    engine.applyPull('c', { messages: range(1, 2), coveredFrom: 1, coveredTo: 2, lastSeq: 4 });
    assert.deepEqual(engine.startPull('c'), { fromSeq: 3, toSeq: 4 });
  });

  it('a pushed message arriving while its gap is being pulled is applied once', () => {
    const engine = trackedEngine(0, 0);
    engine.receive('c', message(3));
    engine.startPull('c'); // 1..2
    assert.deepEqual(seqs(engine.receive('c', message(3))), []); // duplicate push of a buffered message
    const step = engine.applyPull('c', { messages: [message(1), message(2), message(3)], coveredFrom: 1, coveredTo: 3 });
    assert.deepEqual(seqs(step), [1, 2, 3]);
  });

  it('trusts the covered range: seqs missing inside it are unreadable and skipped', () => {
    const engine = trackedEngine(0, 0);
    engine.catchUp('c', 10);
    engine.startPull('c');
    const step = engine.applyPull('c', { messages: [message(6), message(8)], coveredFrom: 1, coveredTo: 10 });
    assert.deepEqual(seqs(step), [6, 8]);
    assert.equal(engine.syncedSeq('c'), 10);
    assert.equal(step.advanced, true);
  });

  it('stops asking after a pull that made no progress, until new information arrives', () => {
    const engine = trackedEngine(10, 10);
    engine.catchUp('c', 15);
    engine.startPull('c');
    engine.applyPull('c', { messages: [], coveredFrom: 0, coveredTo: 0, lastSeq: 15 });
    assert.equal(engine.wantsPull('c'), false);
    engine.catchUp('c', 15);
    assert.equal(engine.wantsPull('c'), true);
  });

  it('after a failed pull waits for resume()', () => {
    const engine = trackedEngine(0, 0);
    engine.receive('c', message(5));
    engine.startPull('c');
    engine.pullFailed('c');
    assert.equal(engine.wantsPull('c'), false);
    engine.resume('c');
    assert.deepEqual(engine.startPull('c'), { fromSeq: 1, toSeq: 4 });
  });

  it('abortPulls() (connection lost) lets the same range be pulled again', () => {
    const engine = trackedEngine(0, 0);
    engine.receive('c', message(5));
    engine.startPull('c');
    engine.abortPulls();
    assert.deepEqual(engine.conversationsWantingPull(), ['c']);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 1, toSeq: 4 });
  });

  it('bounds the buffer: past the limit it drops buffered messages and relies on pull', () => {
    const engine = new SyncEngine<TestMessage>({ maxBufferedPerConversation: 3 });
    engine.track('c', 0, 0);
    for (const seq of [2, 3, 4, 5, 6]) engine.receive('c', message(seq));
    const pull = engine.startPull('c');
    assert.ok(pull !== undefined);
    assert.equal(pull.fromSeq, 1);
    const to = pull.toSeq;
    const step = engine.applyPull('c', { messages: range(1, to), coveredFrom: 1, coveredTo: to, lastSeq: 6 });
    const emitted = seqs(step);
    for (let next = engine.startPull('c'); next !== undefined; next = engine.startPull('c')) {
      emitted.push(...seqs(engine.applyPull('c', { messages: range(next.fromSeq, next.toSeq), coveredFrom: next.fromSeq, coveredTo: next.toSeq })));
    }
    assert.deepEqual(emitted, [1, 2, 3, 4, 5, 6]);
  });
});

describe('SyncEngine: hidden placeholders', () => {
  it('advance synced without being emitted', () => {
    const engine = trackedEngine();
    engine.receive('c', message(1));
    const step = engine.receive('c', placeholder(2));
    assert.deepEqual(seqs(step), []);
    assert.equal(step.advanced, true);
    assert.equal(step.lastAppliedSeq, 2);
    assert.equal(engine.syncedSeq('c'), 2);
    assert.deepEqual(seqs(engine.receive('c', message(3))), [3]);
  });

  it('fill gaps from pulls without being emitted', () => {
    const engine = trackedEngine();
    engine.receive('c', message(4));
    engine.startPull('c');
    const step = engine.applyPull('c', { messages: [message(1), placeholder(2), message(3)], coveredFrom: 1, coveredTo: 3 });
    assert.deepEqual(seqs(step), [1, 3, 4]);
    assert.equal(step.lastAppliedSeq, 4);
  });

  it('a trailing placeholder still reports the highest applied seq', () => {
    const engine = trackedEngine(0, 3);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 1, toSeq: 3 });
    const step = engine.applyPull('c', { messages: [message(1), message(2), placeholder(3)], coveredFrom: 1, coveredTo: 3 });
    assert.deepEqual(seqs(step), [1, 2]);
    assert.equal(step.lastAppliedSeq, 3);
  });
});

describe('SyncEngine: first sight of a conversation', () => {
  it('holds pushes for an untracked conversation and asks for its summary', () => {
    const engine = new SyncEngine<TestMessage>();
    const result = engine.receive('new', message(1));
    assert.equal(result.untracked, true);
    assert.deepEqual(seqs(result), []);
    assert.equal(engine.isTracked('new'), false);
    const step = engine.track('new', 0, 1);
    assert.deepEqual(seqs(step), [1]);
    assert.equal(engine.syncedSeq('new'), 1);
  });

  it('held messages past the starting point wait for the gap to be pulled', () => {
    const engine = new SyncEngine<TestMessage>();
    engine.receive('g', message(53));
    const step = engine.track('g', 50, 53);
    assert.deepEqual(seqs(step), []);
    assert.deepEqual(engine.startPull('g'), { fromSeq: 51, toSeq: 52 });
    assert.deepEqual(seqs(engine.applyPull('g', { messages: range(51, 52), coveredFrom: 51, coveredTo: 52 })), [51, 52, 53]);
  });

  it('held messages at or below the starting point were never shown by this client, so they are emitted', () => {
    // This device's own first send to a new conversation: the server marks it read for the sender.
    const engine = new SyncEngine<TestMessage>();
    engine.receive('dm', message(1));
    const step = engine.track('dm', 1, 1);
    assert.deepEqual(seqs(step), [1]);
    assert.deepEqual(seqs(engine.receive('dm', message(1))), []);
  });

  it('held messages below the starting point lower it: what reached the client is emitted, without a hole', () => {
    // Pushes 1 and 3 arrived before the summary, which (read up to 2 by this
    // user's other device) would start at 2; 2 is pulled, not skipped.
    const engine = new SyncEngine<TestMessage>();
    engine.receive('c', message(1));
    engine.receive('c', message(3));
    assert.deepEqual(seqs(engine.track('c', 2, 3)), [1]);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 2, toSeq: 2 });
    assert.deepEqual(seqs(engine.applyPull('c', { messages: [message(2)], coveredFrom: 2, coveredTo: 2 })), [2, 3]);
    assert.deepEqual(seqs(engine.receive('c', message(2))), []);
  });

  it('an empty pull answer still accounts for its range: a member added back pulls across the time it was out', () => {
    // Removed at 10, added back at 20: the push of 20 leaves 11..19, which the
    // server answers empty (below the new first seq): covered_from 20 > covered_to 19.
    const engine = trackedEngine(10, 10);
    assert.deepEqual(seqs(engine.receive('c', message(20))), []);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 11, toSeq: 19 });
    assert.deepEqual(seqs(engine.applyPull('c', { messages: [], coveredFrom: 20, coveredTo: 19 })), [20]);
    assert.equal(engine.syncedSeq('c'), 20);
    assert.deepEqual(seqs(engine.receive('c', message(21))), [21]);
  });

  it('tracking twice only raises the target', () => {
    const engine = trackedEngine(5, 5);
    assert.deepEqual(seqs(engine.track('c', 0, 8)), []);
    assert.equal(engine.syncedSeq('c'), 5);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 6, toSeq: 8 });
  });

  it('initialSyncedSeq: nothing before joining, nothing read, at most the backlog', () => {
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 0, lastSeq: 10 }, 100), 0);
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 7, lastSeq: 10 }, 100), 7);
    assert.equal(initialSyncedSeq({ firstSeq: 40, readSeq: 0, lastSeq: 45 }, 100), 39);
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 0, lastSeq: 1000 }, 100), 900);
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 0, lastSeq: 1000 }, 0), 1000);
    assert.equal(initialSyncedSeq({ firstSeq: 0, readSeq: 0, lastSeq: 0 }, 100), 0);
  });

  it('initialSyncedSeq, live: a conversation met after login starts at the join, whatever was read', () => {
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 7, lastSeq: 10 }, 100, 'live'), 0);
    assert.equal(initialSyncedSeq({ firstSeq: 40, readSeq: 45, lastSeq: 45 }, 100, 'live'), 39);
    assert.equal(initialSyncedSeq({ firstSeq: 1, readSeq: 1000, lastSeq: 1000 }, 100, 'live'), 900);
  });
});

describe('SyncEngine: runs carried by a sync answer', () => {
  it('applies a run that reaches synced, dropping what is already held, and needs no pull', () => {
    const engine = trackedEngine(5, 5);
    const step = engine.applyRun('c', { messages: [...range(4, 6), placeholder(7), message(8)], coveredFrom: 4, coveredTo: 8 });
    assert.deepEqual(seqs(step), [6, 8]);
    assert.equal(step.lastAppliedSeq, 8);
    assert.equal(step.advanced, true);
    assert.equal(engine.syncedSeq('c'), 8);
    assert.equal(engine.wantsPull('c'), false);
  });

  it('holds a run above a gap, pulls the gap once, then applies everything in order', () => {
    const engine = trackedEngine(2, 2);
    const held = engine.applyRun('c', { messages: range(10, 12), coveredFrom: 10, coveredTo: 12 });
    assert.deepEqual(seqs(held), []);
    assert.equal(held.advanced, false);
    assert.deepEqual(engine.startPull('c'), { fromSeq: 3, toSeq: 9 });
    const filled = engine.applyPull('c', { messages: range(3, 9), coveredFrom: 3, coveredTo: 9, lastSeq: 12 });
    assert.deepEqual(seqs(filled), range(3, 12).map((m) => m.seq));
    assert.equal(engine.wantsPull('c'), false);
  });

  it('a push arriving after the run is a duplicate; a run older than synced changes nothing', () => {
    const engine = trackedEngine(0, 0);
    engine.applyRun('c', { messages: range(1, 3), coveredFrom: 1, coveredTo: 3 });
    assert.deepEqual(seqs(engine.receive('c', message(3))), []);
    assert.deepEqual(seqs(engine.applyRun('c', { messages: range(2, 3), coveredFrom: 2, coveredTo: 3 })), []);
    assert.equal(engine.syncedSeq('c'), 3);
  });
});
