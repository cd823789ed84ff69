/** MemberLists: the node's member-list cache that delivery, MQTT and push read large groups' members from. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemberLists } from '../src/services/member-lists.js';

/** A member source that notes its reads and answers them when told to, with the members as they were when each read began. */
function source(members: Record<string, string[]>) {
  const reads: string[] = [];
  const answers: Array<{ answer: () => void; fail: (error: Error) => void }> = [];
  return {
    reads,
    /** Answers the reads waiting so far, in order. */
    answerAll() {
      for (const waiting of answers.splice(0)) waiting.answer();
    },
    failAll(error: Error) {
      for (const waiting of answers.splice(0)) waiting.fail(error);
    },
    activeMemberIds(conversationId: string): Promise<string[]> {
      reads.push(conversationId);
      const ids = [...(members[conversationId] ?? [])];
      return new Promise((resolve, reject) => {
        answers.push({ answer: () => resolve(ids), fail: reject });
      });
    },
  };
}

test('callers asking while a list is read share that one read', async () => {
  const store = source({ team: ['ann', 'bob'] });
  const lists = new MemberLists(store);
  const first = lists.of('team');
  const second = lists.of('team');
  assert.equal(lists.cached('team'), undefined);
  store.answerAll();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a, b);
  assert.deepEqual(a.ids, ['ann', 'bob']);
  assert.ok(a.has('bob'));
  assert.ok(!a.has('cy'));
  assert.deepEqual(store.reads, ['team']);
  assert.equal(lists.cached('team'), a);
  assert.equal(await lists.of('team'), a);
  assert.deepEqual(store.reads, ['team']);
});

test('a failed read is not kept: the next caller reads again', async () => {
  const store = source({ team: ['ann'] });
  const lists = new MemberLists(store);
  const failed = lists.of('team');
  store.failAll(new Error('store away'));
  await assert.rejects(failed, /store away/);
  assert.equal(lists.cached('team'), undefined);
  const retried = lists.of('team');
  store.answerAll();
  assert.deepEqual((await retried).ids, ['ann']);
  assert.deepEqual(store.reads, ['team', 'team']);
});

test('an invalidated list is read afresh, and so is all of them', async () => {
  const members: Record<string, string[]> = { team: ['ann'], crew: ['bob'] };
  const store = source(members);
  const lists = new MemberLists(store);
  const loading = [lists.of('team'), lists.of('crew')];
  store.answerAll();
  await Promise.all(loading);
  members.team = ['ann', 'cy'];
  lists.invalidate('team');
  assert.equal(lists.cached('team'), undefined);
  assert.deepEqual(lists.cached('crew')?.ids, ['bob']);
  const reread = lists.of('team');
  store.answerAll();
  assert.deepEqual((await reread).ids, ['ann', 'cy']);
  lists.invalidateAll();
  assert.equal(lists.cached('team'), undefined);
  assert.equal(lists.cached('crew'), undefined);
  assert.deepEqual(store.reads, ['team', 'crew', 'team']);
});

test('a list invalidated while it is read is not kept: the read may predate the change', async () => {
  const members: Record<string, string[]> = { team: ['ann'] };
  const store = source(members);
  const lists = new MemberLists(store);
  const early = lists.of('team');
  lists.invalidate('team');
  members.team = ['ann', 'bob'];
  store.answerAll();
  // Whoever waited for the early read gets it; nobody else does.
  assert.deepEqual((await early).ids, ['ann']);
  assert.equal(lists.cached('team'), undefined);
  const later = lists.of('team');
  store.answerAll();
  assert.deepEqual((await later).ids, ['ann', 'bob']);
  assert.deepEqual(store.reads, ['team', 'team']);
});

test('past the bound the least recently used list is dropped', async () => {
  const store = source({ a: ['ann'], b: ['bob'], c: ['cy'] });
  const lists = new MemberLists(store, 2);
  const loading = [lists.of('a'), lists.of('b')];
  store.answerAll();
  await Promise.all(loading);
  // Reading 'a' makes 'b' the least recently used.
  assert.ok(lists.cached('a') !== undefined);
  const third = lists.of('c');
  store.answerAll();
  await third;
  assert.ok(lists.cached('a') !== undefined);
  assert.equal(lists.cached('b'), undefined);
  assert.ok(lists.cached('c') !== undefined);
  assert.deepEqual(store.reads, ['a', 'b', 'c']);
});
