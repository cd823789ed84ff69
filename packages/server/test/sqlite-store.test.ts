/**
 * The embedded store's guarantees: dense seqs, idempotent appends, one stored
 * row per message whatever the group size, access windows, unread counts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '@parley/server';

function openStore(t: { after: (fn: () => unknown) => void }): { store: SqliteStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  const path = join(dir, 'parley.db');
  const store = new SqliteStore({ path });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, path };
}

test('concurrent appends get dense seqs in request order, and repeats return the original', async (t) => {
  const { store } = openStore(t);
  await store.putUser({ id: 'a', name: 'A' });
  await store.putUser({ id: 'b', name: 'B' });
  const view = await store.openDirect('a', 'b', '');
  const results = await Promise.all(
    Array.from({ length: 300 }, (_, n) => store.append({ conversationId: view.id, senderId: n % 2 ? 'a' : 'b', clientMsgId: `m${n}`, text: `${n}` })),
  );
  assert.deepEqual(results.map((r) => r.message.seq), Array.from({ length: 300 }, (_, n) => n + 1));
  const again = await store.append({ conversationId: view.id, senderId: 'b', clientMsgId: 'm0', text: 'changed' });
  assert.equal(again.duplicate, true);
  assert.equal(again.message.seq, 1);
  assert.equal(again.message.text, '0');
});

test('a group message is one row, and no other member row is written', async (t) => {
  const { store, path } = openStore(t);
  const memberIds = Array.from({ length: 2000 }, (_, n) => `u${n}`);
  await Promise.all([store.putUser({ id: 'owner', name: 'O' }), ...memberIds.map((id) => store.putUser({ id, name: id }))]);
  await store.createGroup({ id: 'big', name: 'Big', ownerId: 'owner', memberIds, maxMembers: 10_000 });
  const reader = new Database(path, { readonly: true });
  t.after(() => reader.close());
  const snapshot = () => ({
    messages: (reader.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
    others: reader.prepare("SELECT uid, read_seq, version FROM members WHERE uid <> (SELECT uid FROM users WHERE id = 'owner') ORDER BY uid").all(),
  });
  const before = snapshot();
  for (let n = 0; n < 20; n++) await store.append({ conversationId: 'big', senderId: 'owner', clientMsgId: `g${n}`, text: 'hello all' });
  const after = snapshot();
  assert.equal(after.messages - before.messages, 20);
  assert.deepEqual(after.others, before.others);
  const memberView = await store.conversationView('u7', 'big');
  assert.equal(memberView?.unread, 20);
});

test('removed members keep what they could read and nothing after', async (t) => {
  const { store } = openStore(t);
  for (const id of ['o', 'm']) await store.putUser({ id, name: id });
  await store.createGroup({ id: 'g', name: 'G', ownerId: 'o', memberIds: ['m'], maxMembers: 10 });
  await store.append({ conversationId: 'g', senderId: 'o', clientMsgId: 'before', text: 'before' });
  const change = await store.updateMembers({ conversationId: 'g', actorId: 'o', add: [], remove: ['m'], maxMembers: 10 });
  const leftSeq = change.messages[0]?.seq as number;
  await store.append({ conversationId: 'g', senderId: 'o', clientMsgId: 'after', text: 'after' });
  const range = await store.readRange({ conversationId: 'g', userId: 'm', fromSeq: 1, toSeq: 0, limit: 100, descending: false });
  assert.deepEqual(range.messages.map((m) => m.text ?? m.type), ['system', 'before', 'system']);
  assert.equal(range.coveredTo, leftSeq);
  await assert.rejects(store.append({ conversationId: 'g', senderId: 'm', clientMsgId: 'nope', text: 'x' }), { name: 'FORBIDDEN' });
  const view = await store.conversationView('m', 'g');
  assert.equal(view?.active, false);
  assert.equal(view?.lastMessage?.type, 'system');
});

test('unread counts skip own, system and hidden messages, and the total is their sum', async (t) => {
  const { store } = openStore(t);
  for (const id of ['a', 'b', 'c']) await store.putUser({ id, name: id });
  await store.createGroup({ id: 'g', name: 'G', ownerId: 'a', memberIds: ['b', 'c'], maxMembers: 10 });
  const direct = await store.openDirect('a', 'b', 'item-1');
  await store.append({ conversationId: 'g', senderId: 'a', clientMsgId: '1', text: 'to all' });
  await store.append({ conversationId: 'g', senderId: 'a', clientMsgId: '2', text: 'only c', visibleTo: 'c' });
  await store.append({ conversationId: 'g', senderId: 'b', clientMsgId: '3', text: 'mine' });
  await store.append({ conversationId: direct.id, senderId: 'a', clientMsgId: '4', text: 'dm' });
  await store.append({ conversationId: direct.id, senderId: 'a', clientMsgId: '5', text: 'dm2' });
  const b = await store.changedConversations('b', 0);
  const c = await store.changedConversations('c', 0);
  // b sent "mine" after "to all": sending marks read, so the group is read for b.
  assert.deepEqual(Object.fromEntries(b.conversations.map((v) => [v.id, v.unread])), { g: 0, [direct.id]: 2 });
  assert.equal(b.totalUnread, 2);
  assert.deepEqual(c.conversations.map((v) => v.unread), [3]);
  assert.equal(c.totalUnread, 3);
  // seq 1 is the group_created notice, 2 "to all", 3 "only c", 4 "mine".
  const read = await store.markRead('c', 'g', 2);
  assert.equal(read.view.unread, 2);
  assert.equal(read.totalUnread, 2);
  const back = await store.markRead('c', 'g', 1);
  assert.equal(back.view.readSeq, 2, 'read positions never move back');
});
