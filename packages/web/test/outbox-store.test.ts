/**
 * The outbox store's contract, run against both adapters: IndexedDB (through
 * fake-indexeddb, an in-memory implementation of the browser API) and the
 * in-memory fallback. The browser test (test/browser/outbox.test.ts) runs the
 * IndexedDB adapter in Chromium.
 */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { IDBFactory } from 'fake-indexeddb';
import { MemoryOutboxStore, type NewOutboxRecord, type OutboxStore, openOutboxStore } from '../src/chat/outbox-store.js';

function record(userId: string, clientMsgId: string, text = clientMsgId): NewOutboxRecord {
  return { userId, conversationId: 'c1', clientMsgId, text, createdAt: 1_700_000_000_000 };
}

const texts = (records: Array<{ text: string }>) => records.map((entry) => entry.text);

beforeEach(() => {
  // A fresh, empty browser profile for every test.
  globalThis.indexedDB = new IDBFactory();
});

const adapters: Array<[string, () => Promise<OutboxStore>]> = [
  ['IndexedDB', openOutboxStore],
  ['memory', () => Promise.resolve(new MemoryOutboxStore())],
];

for (const [name, open] of adapters) {
  describe(`outbox store contract: ${name}`, () => {
    test('lists a user’s messages in the order they were written, and only that user’s', async () => {
      const store = await open();
      const first = await store.add(record('alice', 'k1', 'one'));
      await store.add(record('bob', 'k2', 'not yours'));
      const second = await store.add({ ...record('alice', 'k3', 'two'), conversation: { kind: 'direct', name: 'Bob', peerId: 'bob', memberCount: 2 } });
      assert.ok(second.order > first.order);
      const listed = await store.list('alice');
      assert.deepEqual(texts(listed), ['one', 'two']);
      assert.deepEqual(listed[1]?.conversation, { kind: 'direct', name: 'Bob', peerId: 'bob', memberCount: 2 });
      assert.deepEqual(texts(await store.list('carol')), []);
      store.close();
    });

    test('the same clientMsgId written twice is one message that keeps its place', async () => {
      const store = await open();
      const first = await store.add(record('alice', 'k1', 'one'));
      await store.add(record('alice', 'k2', 'two'));
      const again = await store.add(record('alice', 'k1', 'one'));
      assert.equal(again.order, first.order);
      assert.deepEqual(texts(await store.list('alice')), ['one', 'two']);
      store.close();
    });

    test('a removed message is gone; removing one that is not there is fine', async () => {
      const store = await open();
      await store.add(record('alice', 'k1', 'one'));
      await store.add(record('alice', 'k2', 'two'));
      await store.add(record('bob', 'k1', 'bob’s one'));
      await store.remove('alice', 'k1');
      await store.remove('alice', 'unknown');
      assert.deepEqual(texts(await store.list('alice')), ['two']);
      assert.deepEqual(texts(await store.list('bob')), ['bob’s one']);
      store.close();
    });
  });
}

describe('IndexedDB outbox store across reloads and tabs', () => {
  test('messages survive closing and reopening (a reload)', async () => {
    const before = await openOutboxStore();
    await before.add(record('alice', 'k1', 'one'));
    await before.add(record('alice', 'k2', 'two'));
    before.close();
    const after = await openOutboxStore();
    assert.deepEqual(texts(await after.list('alice')), ['one', 'two']);
    after.close();
  });

  test('two open stores (two tabs) share the messages and one order', async () => {
    const [tabA, tabB] = await Promise.all([openOutboxStore(), openOutboxStore()]);
    await Promise.all([tabA.add(record('alice', 'a1', 'a one')), tabB.add(record('alice', 'b1', 'b one'))]);
    await tabA.add(record('alice', 'a2', 'a two'));
    const seenByB = await tabB.list('alice');
    assert.equal(seenByB.length, 3);
    assert.deepEqual(texts(seenByB).at(-1), 'a two');
    await tabB.remove('alice', 'a1');
    assert.deepEqual(texts(await tabA.list('alice')).sort(), ['a two', 'b one']);
    tabA.close();
    tabB.close();
  });

  test('without IndexedDB the app still sends, keeping messages in memory', async () => {
    const saved = globalThis.indexedDB;
    // A browser without IndexedDB.
    Reflect.deleteProperty(globalThis, 'indexedDB');
    try {
      const store = await openOutboxStore();
      assert.ok(store instanceof MemoryOutboxStore);
    } finally {
      globalThis.indexedDB = saved;
    }
  });
});
