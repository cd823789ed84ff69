/**
 * Delivery and read receipts, end to end: a sender sees each message go
 * from sent to delivered (a device of the recipient holds it) to read, in
 * direct chats and groups ("read by 1 of 3"), counted only over the members
 * who were there; ticks never go back; a user may stop sharing reads; and
 * nobody can learn or move positions in a conversation that is not theirs.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type Message, ParleyClient, type ParleyError } from '@parley/client';
import { encodeFrameEntry } from '@parley/protocol';
import { type TestServer, eventually, signedIn, startTestServer } from '../support/fixtures.js';

async function device(t: TestContext, fixture: TestServer, userId: string, connect = true): Promise<ParleyClient> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  if (connect) await parley.connect();
  return parley;
}

const statusOf = (client: ParleyClient, message: Message) => client.receiptsOf(message)?.status;

test('a direct message goes from sent to delivered when a device first holds it, then to read; never back', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const dm = await ann.direct('bob');
  const first = await ann.send(dm, { text: 'are you there?' });
  await ann.receipts(dm);
  assert.equal(statusOf(ann, first), 'sent', 'bob has no device online');

  const seen: string[] = [];
  ann.on('receipts', () => {
    const status = statusOf(ann, first);
    if (status !== undefined && seen[seen.length - 1] !== status) seen.push(status);
  });
  // Bob's phone connects for the first time: it meets the conversation in its first sync.
  const bob = await device(t, fixture, 'bob');
  await eventually(() => statusOf(ann, first) === 'delivered', 5000, 'delivered once a device of bob holds it');
  assert.deepEqual(ann.receiptsOf(first), { status: 'delivered', total: 1, deliveredTo: ['bob'], readBy: [] });

  await bob.markRead(dm);
  await eventually(() => statusOf(ann, first) === 'read', 5000, 'read after bob read it');
  assert.deepEqual(seen, ['delivered', 'read'], 'each step once, in order');

  // A second message is delivered at once (bob is online), read when bob answers: sending reads.
  const second = await ann.send(dm, { text: 'lunch?' });
  await eventually(() => statusOf(ann, second) === 'delivered', 5000, 'the second is delivered');
  const fromBob = await bob.send(dm, { text: 'yes' });
  await eventually(() => statusOf(ann, second) === 'read', 5000, 'answering reads what came before');

  // Ann's other device, connecting later, gets the same ticks by asking.
  const annPhone = await device(t, fixture, 'ann');
  await annPhone.receipts(dm);
  assert.equal(statusOf(annPhone, first), 'read');
  assert.equal(statusOf(annPhone, second), 'read');
  // Bob's own messages: his receipts say what ann did, not what he did.
  await bob.receipts(dm);
  await eventually(() => statusOf(bob, fromBob) === 'delivered', 5000, "ann's devices hold bob's answer");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(statusOf(bob, fromBob), 'delivered', 'but she has not read it');
});

test('in a group: read by some of the members who were there when it was sent; joiners do not count', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'dan', 'eve']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const cat = await device(t, fixture, 'cat');
  const group = (await ann.createGroup({ name: 'Trip', memberIds: ['bob', 'cat', 'dan'] })).id;
  const question = await ann.send(group, { text: 'train or plane?' });
  await ann.receipts(group);
  await eventually(() => ann.receiptsOf(question)?.deliveredTo.length === 2, 5000, 'delivered to the two online members');
  assert.equal(statusOf(ann, question), 'sent', 'not delivered to every member: dan is offline');

  await bob.markRead(group);
  await eventually(() => ann.receiptsOf(question)?.readBy.length === 1, 5000, 'bob read it');
  const receipts = ann.receiptsOf(question);
  assert.deepEqual({ read: receipts?.readBy, total: receipts?.total }, { read: ['bob'], total: 3 }, 'read by 1 of 3');

  // Eve joins after the question: it is not hers to read.
  await ann.addMembers(group, ['eve']);
  const eve = await device(t, fixture, 'eve');
  await eve.markRead(group);
  const later = await ann.send(group, { text: 'plane it is' });
  await ann.receipts(group);
  assert.equal(ann.receiptsOf(question)?.total, 3, 'eve does not count for the question');
  await eventually(() => ann.receiptsOf(later)?.total === 4 && ann.receiptsOf(later)?.deliveredTo.length === 3, 5000, 'the later message is for four');

  // Dan's first connection delivers both; cat and dan read; everyone has read the question.
  const dan = await device(t, fixture, 'dan');
  await eventually(() => statusOf(ann, question) === 'delivered', 5000, 'delivered to all three');
  await cat.markRead(group);
  await dan.markRead(group);
  await eventually(() => statusOf(ann, question) === 'read', 5000, 'read by all three');
  assert.deepEqual(ann.receiptsOf(question)?.readBy.sort(), ['bob', 'cat', 'dan']);

  // Members who did not send in the range are not told: bob sent nothing, so he hears nothing of cat's read.
  let bobHeard = 0;
  bob.on('receipts', () => bobHeard++);
  await bob.receipts(group);
  bobHeard = 0;
  let catGot = false;
  cat.on('message', (message) => {
    if (message.text === 'booked') catGot = true;
  });
  await ann.send(group, { text: 'booked' });
  await eventually(() => catGot, 5000, 'cat has the new message');
  await cat.markRead(group);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(bobHeard, 0, 'bob sent nothing in that range');
});

test('a user who turns read receipts off shows reads as deliveries, sees no reads, and all their devices know', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const bobTablet = await device(t, fixture, 'bob');
  assert.deepEqual(bob.userSettings, { readReceiptsOff: false, hidePresence: false, hideMutedFromBadge: false });
  const dm = await ann.direct('bob');

  const heard: boolean[] = [];
  bobTablet.on('settings', (settings) => heard.push(settings.readReceiptsOff));
  assert.deepEqual(await bob.setReadReceipts(false), { readReceiptsOff: true, hidePresence: false, hideMutedFromBadge: false });
  await eventually(() => heard.length === 1, 5000, "bob's tablet hears of it");
  assert.deepEqual(bobTablet.userSettings, { readReceiptsOff: true, hidePresence: false, hideMutedFromBadge: false });
  const bobLater = await device(t, fixture, 'bob');
  assert.deepEqual(bobLater.userSettings, { readReceiptsOff: true, hidePresence: false, hideMutedFromBadge: false }, 'a new connection is told in its welcome');

  const hello = await ann.send(dm, { text: 'hello' });
  await ann.receipts(dm);
  await eventually(() => statusOf(ann, hello) === 'delivered', 5000, 'delivered');
  await bob.markRead(dm);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(statusOf(ann, hello), 'delivered', 'bob reading is not shown');

  // Bob does not see ann's reads either.
  const answer = await bob.send(dm, { text: 'hi' });
  await bob.receipts(dm);
  await ann.markRead(dm);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(statusOf(bob, answer), 'delivered');

  // On again: reads show both ways.
  await bob.setReadReceipts(true);
  await ann.receipts(dm);
  await bob.receipts(dm);
  assert.equal(statusOf(ann, hello), 'read');
  assert.equal(statusOf(bob, answer), 'read');
});

test('receipts are for members: outsiders learn nothing and move nothing; positions are capped at what exists', async (t) => {
  const fixture = await startTestServer(t, { limits: { maxReceiptMembers: 3 } });
  for (const id of ['ann', 'bob', 'mal', 'x1', 'x2']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const mal = await device(t, fixture, 'mal');
  const dm = await ann.direct('bob');
  const message = await ann.send(dm, { text: 'private' });
  await ann.receipts(dm);

  await assert.rejects(mal.receipts(dm), (error: ParleyError) => error.codeName === 'FORBIDDEN' || error.codeName === 'NOT_FOUND');
  const delivered = (conversationId: string, seq: number) => encodeFrameEntry({ requestId: 0, body: { $case: 'delivered', value: { conversationId, seq } } });
  const malRaw = await signedIn(fixture.server.wsUrl, await fixture.api.token('mal'));
  t.after(() => malRaw.close());
  malRaw.sendRaw(delivered(dm, 1));
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(statusOf(ann, message), 'sent', "an outsider's acknowledgement moves nothing");

  // Bob's device claims far more than exists: it counts up to the newest message only.
  const bobRaw = await signedIn(fixture.server.wsUrl, await fixture.api.token('bob'));
  t.after(() => bobRaw.close());
  bobRaw.sendRaw(delivered(dm, 1_000_000));
  await eventually(() => statusOf(ann, message) === 'delivered', 5000, 'delivered');
  const next = await ann.send(dm, { text: 'and this?' });
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(statusOf(ann, next), 'sent', 'a claim ahead of the conversation does not cover later messages');
  assert.equal(bobRaw.frames.filter((frame) => frame.body?.$case === 'error').length, 0, 'acknowledgements get no answer');

  // A group above the bound has no receipts.
  const crowd = (await ann.createGroup({ name: 'Crowd', memberIds: ['bob', 'x1', 'x2'] })).id;
  await assert.rejects(ann.receipts(crowd), (error: ParleyError) => error.codeName === 'LIMIT_EXCEEDED');
  assert.equal(ann.serverLimits?.maxReceiptMembers, 3);
});
