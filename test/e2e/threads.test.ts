/**
 * Threads end to end: a reply goes under its root and out of the timeline,
 * its followers (the root's sender, repliers, those a reply mentions) count
 * it in `threadUnread` on every device (also one that connects for the first
 * time), reads of a thread reach the user's other devices, and bad roots are
 * refused. The last test drives a random mix of sends, replies, reads,
 * thread reads and recalls and checks both counts after every step against
 * a model.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type Message, type ParleyClient, type ParleyError, applyThreadReply } from '@parley/client';
import { connectDevice, freshSummary } from '../support/devices.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';
import { seededRandom } from '../support/random.js';

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient & { received: Message[] }> {
  const { client, messages } = await connectDevice(fixture, userId, fixture.server.wsUrl, t);
  return Object.assign(client, { received: messages });
}

const freshView = (t: TestContext, fixture: TestServer, userId: string, conversationId: string) => freshSummary(fixture, userId, conversationId, t);

const codeOf = (name: string) => (error: ParleyError) => error.codeName === name;

test('a reply goes to its thread: out of the timeline and its unread, counted for the followers on every device', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const group = (await ann.createGroup({ name: 'Plans', memberIds: ['bob', 'cat'] })).id;
  const root = await ann.send(group, { text: 'where shall we eat?' });
  await bob.markRead(group, root.seq);

  const reply = await bob.send(group, { text: 'the noodle place', threadRoot: root.seq });
  assert.equal(reply.threadRoot, root.seq);
  await eventually(() => ann.received.some((message) => message.seq === reply.seq), 5000, "the reply reaches ann's device like any message");
  await eventually(() => ann.conversation(group)?.threadUnread === 1, 5000, 'ann follows the thread of her message: one unread reply');
  assert.equal(ann.conversation(group)?.unread, 0, 'a reply is not unread in the timeline');
  assert.equal(ann.conversation(group)?.lastMessage?.seq, root.seq, 'nor the last message');
  assert.equal(ann.totalUnread, 1, 'the total counts it');

  // Cat never connected: her first device meets the conversation with the thread in it.
  const catView = await freshView(t, fixture, 'cat', group);
  assert.deepEqual([catView?.unread, catView?.threadUnread ?? 0, catView?.lastMessage?.seq], [1, 0, root.seq], 'cat does not follow the thread');

  const page = await ann.thread(group, root.seq);
  assert.deepEqual(
    page.replies.map((message) => [message.seq, message.text]),
    [[reply.seq, 'the noodle place']],
  );
  assert.deepEqual([page.following, page.unread, page.root.thread?.replies, page.root.thread?.lastSeq], [true, 1, 1, reply.seq]);
  const [pulled] = (await bob.history(group, { limit: 10 })).filter((message) => message.seq === root.seq);
  assert.deepEqual(
    { replies: pulled?.thread?.replies, following: pulled?.thread?.following, unread: pulled?.thread?.unread },
    { replies: 1, following: true, unread: 0 },
    'the root in a page of history carries the thread, as bob sees it',
  );

  // A mention makes cat a follower from that reply on.
  const second = await ann.send(group, { text: '@cat coming?', threadRoot: root.seq, mentions: ['cat'] });
  assert.equal(ann.conversation(group)?.unread, 0);
  await eventually(() => (ann.conversation(group)?.threadUnread ?? 0) === 0, 5000, "replying reads the thread up to one's reply");
  const catAfter = await freshView(t, fixture, 'cat', group);
  assert.deepEqual([catAfter?.unread, catAfter?.threadUnread], [1, 1], 'the mention is her one unread reply; the earlier one is not');
  await eventually(() => bob.conversation(group)?.threadUnread === 1, 5000, 'bob replied before: he follows');

  // A second device of bob's sees his thread read.
  const bobPhone = await device(t, fixture, 'bob');
  assert.equal(bobPhone.conversation(group)?.threadUnread, 1);
  await bob.markThreadRead(group, root.seq);
  assert.equal(bob.conversation(group)?.threadUnread ?? 0, 0);
  await eventually(() => (bobPhone.conversation(group)?.threadUnread ?? 0) === 0, 5000, "bob's other device hears of the thread read");
  assert.equal(second.threadRoot, root.seq);

  // The root held by a client follows the replies it receives.
  let held: Message = root;
  for (const message of [reply, second, second]) held = applyThreadReply(held, message, 'ann');
  assert.deepEqual({ replies: held.thread?.replies, lastSeq: held.thread?.lastSeq }, { replies: 2, lastSeq: second.seq }, 'a reply counted once');
});

test('recalling or deleting a reply takes it out of the thread unread; a reply does not read the timeline', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const dm = await ann.direct('bob');
  const root = await ann.send(dm, { text: 'root' });
  const news = await ann.send(dm, { text: 'news after the root' });
  const replies: Message[] = [];
  for (const text of ['r1', 'r2', 'r3']) replies.push(await bob.send(dm, { text, threadRoot: root.seq }));
  assert.equal((await freshView(t, fixture, 'bob', dm))?.unread, 2, "bob's replies did not read ann's messages in the timeline");
  await eventually(() => ann.conversation(dm)?.threadUnread === 3, 5000, 'three unread replies');
  await bob.recall(dm, (replies[0] as Message).seq);
  await eventually(() => ann.conversation(dm)?.threadUnread === 2, 5000, 'a recalled reply is not unread');
  await ann.deleteForMe(dm, (replies[1] as Message).seq);
  await eventually(() => ann.conversation(dm)?.threadUnread === 1, 5000, 'nor one deleted for oneself');
  const page = await ann.thread(dm, root.seq);
  assert.deepEqual(
    page.replies.map((message) => [message.text, message.recalledAt !== undefined]),
    [
      [undefined, true],
      ['r3', false],
    ],
    'the thread shows the recalled reply in place, leaves out the deleted one',
  );
  assert.equal((await freshView(t, fixture, 'ann', dm))?.threadUnread, 1);
  assert.equal(news.seq, root.seq + 1);
});

test('bad roots and outsiders are refused', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'eve']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const eve = await device(t, fixture, 'eve');
  const group = (await ann.createGroup({ name: 'G', memberIds: ['bob'] })).id;
  const root = await ann.send(group, { text: 'root' });
  const reply = await ann.send(group, { text: 'reply', threadRoot: root.seq });
  await assert.rejects(ann.send(group, { text: 'nested', threadRoot: reply.seq }), codeOf('INVALID_ARGUMENT'), 'threads do not nest');
  await assert.rejects(ann.send(group, { text: 'x', threadRoot: 1 }), codeOf('INVALID_ARGUMENT'), 'the group-created event is no root');
  await assert.rejects(ann.send(group, { text: 'x', threadRoot: 999 }), codeOf('INVALID_ARGUMENT'), 'no such message');
  await assert.rejects(eve.thread(group, root.seq), codeOf('FORBIDDEN'));
  await assert.rejects(eve.send(group, { text: 'x', threadRoot: root.seq }), (error: ParleyError) => ['FORBIDDEN', 'NOT_FOUND'].includes(error.codeName));
  await assert.rejects(ann.thread(group, reply.seq), codeOf('NOT_FOUND'), 'a reply has no thread of its own');
  await ann.recall(group, root.seq);
  await assert.rejects(ann.send(group, { text: 'late', threadRoot: root.seq }), codeOf('INVALID_ARGUMENT'), 'a recalled root takes no more replies');
});

test('a member added after a thread grew gets its later replies in order; a thread is theirs to follow once they may read its root', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'dan']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const group = (await ann.createGroup({ name: 'G', memberIds: ['bob'] })).id;
  const before = await ann.send(group, { text: 'root from before dan' });
  for (let index = 0; index < 5; index++) await ann.send(group, { text: `r${index}`, threadRoot: before.seq });
  await ann.addMembers(group, ['dan']);
  // Dan's first device connects while the thread goes on.
  const dan = await device(t, fixture, 'dan');
  const unseen = await ann.send(group, { text: '@dan this thread is older than you', threadRoot: before.seq, mentions: ['dan'] });
  const after = await ann.send(group, { text: 'a root dan can read' });
  const mention = await ann.send(group, { text: '@dan look', threadRoot: after.seq, mentions: ['dan'] });
  await eventually(() => dan.received.some((message) => message.seq === mention.seq), 5000, 'the replies reach the new member like any message');
  await eventually(() => dan.conversation(group)?.threadUnread === 1, 5000, 'dan follows the thread he may read, from the mention on');
  const seqs = dan.received.map((message) => message.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  assert.ok(seqs.includes(unseen.seq), 'the reply under the older root reaches him too');
  await assert.rejects(dan.thread(group, before.seq), codeOf('NOT_FOUND'), 'the older root is not his to read');
  const page = await dan.thread(group, after.seq);
  assert.deepEqual([page.following, page.unread, page.replies.map((message) => message.seq)], [true, 1, [mention.seq]]);
  assert.equal((await freshView(t, fixture, 'dan', group))?.threadUnread, 1, 'his next device agrees');
});

test('unread and thread unread counts stay exact through a random mix of sends, replies, mentions, reads, thread reads and recalls', { timeout: 120_000 }, async (t) => {
  const fixture = await startTestServer(t);
  const users = ['ann', 'bob', 'cat'];
  for (const id of users) await fixture.api.call('POST', '/v1/users', { id });
  const clients = new Map<string, ParleyClient>();
  for (const id of users) clients.set(id, await device(t, fixture, id));
  const client = (id: string) => clients.get(id) as ParleyClient;
  const group = (await client('ann').createGroup({ name: 'Mix', memberIds: ['bob', 'cat'] })).id;

  // The model: every user message, each user's read position, and each follower's read position per thread.
  interface Modelled {
    seq: number;
    senderId: string;
    recalled: boolean;
    root?: number;
  }
  const messages: Modelled[] = [];
  let lastSeq = 1;
  const readSeq = new Map(users.map((id) => [id, 0]));
  const follows = new Map<string, Map<number, number>>(users.map((id) => [id, new Map()]));
  const counts = (userId: string) => ({
    unread: messages.filter((message) => message.root === undefined && message.senderId !== userId && message.seq > (readSeq.get(userId) ?? 0) && !message.recalled).length,
    threadUnread: messages.filter((message) => {
      if (message.root === undefined || message.senderId === userId || message.recalled) return false;
      const read = follows.get(userId)?.get(message.root);
      return read !== undefined && message.seq > read;
    }).length,
  });
  const follow = (userId: string, root: number, read: number) => {
    const mine = follows.get(userId) as Map<number, number>;
    if (!mine.has(root)) mine.set(root, read);
  };

  const random = seededRandom(19);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  for (let step = 0; step < 80; step++) {
    const actor = pick(users);
    const roll = random();
    const roots = messages.filter((message) => message.root === undefined && !message.recalled);
    const mine = messages.filter((message) => message.senderId === actor && !message.recalled);
    if (roll < 0.3 || roots.length === 0) {
      const sent = await client(actor).send(group, { text: `m${step}` });
      messages.push({ seq: sent.seq, senderId: actor, recalled: false });
      readSeq.set(actor, sent.seq);
      lastSeq = sent.seq;
    } else if (roll < 0.6) {
      const root = pick(roots);
      const mentions = users.filter((id) => id !== actor && random() < 0.25);
      const sent = await client(actor).send(group, { text: `r${step}`, threadRoot: root.seq, mentions });
      messages.push({ seq: sent.seq, senderId: actor, recalled: false, root: root.seq });
      lastSeq = sent.seq;
      const own = follows.get(actor) as Map<number, number>;
      own.set(root.seq, sent.seq);
      if (root.senderId !== actor) follow(root.senderId, root.seq, root.seq);
      for (const id of mentions) follow(id, root.seq, sent.seq - 1);
    } else if (roll < 0.72) {
      const target = Math.max(readSeq.get(actor) ?? 0, Math.ceil(random() * lastSeq));
      await client(actor).markRead(group, target);
      readSeq.set(actor, target);
    } else if (roll < 0.88) {
      const followed = [...(follows.get(actor) as Map<number, number>).keys()];
      if (followed.length === 0) continue;
      const root = pick(followed);
      const newest = Math.max(root, ...messages.filter((message) => message.root === root).map((message) => message.seq));
      await client(actor).markThreadRead(group, root);
      (follows.get(actor) as Map<number, number>).set(root, Math.max(newest, follows.get(actor)?.get(root) ?? 0));
    } else if (mine.length > 0) {
      const target = pick(mine);
      await client(actor).recall(group, target.seq);
      target.recalled = true;
      lastSeq += 1;
    }
    for (const id of users) {
      const want = counts(id);
      await eventually(
        () => client(id).conversation(group)?.unread === want.unread && (client(id).conversation(group)?.threadUnread ?? 0) === want.threadUnread,
        5000,
        `${id}'s open device shows ${want.unread} unread, ${want.threadUnread} thread unread after step ${step}`,
      );
      if (step % 10 === 9) {
        const fresh = await freshView(t, fixture, id, group);
        assert.deepEqual([fresh?.unread, fresh?.threadUnread ?? 0], [want.unread, want.threadUnread], `${id}'s fresh device after step ${step}`);
        assert.equal(client(id).totalUnread, want.unread + want.threadUnread, `${id}'s total after step ${step}`);
      }
    }
  }
});
