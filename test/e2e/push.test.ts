/**
 * Offline push, end to end, through the webhook adapter to a real endpoint
 * on a local port: a user with no device connected is notified of what was
 * stored for them, in one notification per short window ("3 new
 * messages"), with the unread total as badge and the preview the
 * deployment allows; a user with a device connected, or one who connects
 * within the window, is not; a message for one member notifies only that
 * member.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import type { PushNotification, ServerOptions } from '@parley/server';
import { encodeFrameEntry } from '@parley/protocol';
import { type TestServer, eventually, signedIn, startTestServer } from '../support/fixtures.js';

async function pushEndpoint(t: TestContext) {
  const received: PushNotification[] = [];
  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    received.push(...(JSON.parse(raw) as { notifications: PushNotification[] }).notifications);
    response.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`, received };
}

async function setup(t: TestContext, push: ServerOptions['push']) {
  const endpoint = await pushEndpoint(t);
  const fixture = await startTestServer(t, { push: { webhookUrl: endpoint.url, windowMs: 300, ...push } });
  for (const [id, name] of [['ann', 'Ann'], ['bob', 'Bob'], ['cat', 'Cat']]) await fixture.api.call('POST', '/v1/users', { id, name });
  const ann = client(t, fixture, 'ann');
  await ann.connect();
  return { endpoint, fixture, ann };
}

function client(t: TestContext, fixture: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  return parley;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('an offline user gets one notification for a burst, with the count, the preview and the unread badge', async (t) => {
  const { endpoint, ann } = await setup(t, {});
  const dm = await ann.direct('bob');
  for (const text of ['one', 'two', 'three']) await ann.send(dm, { text });
  await eventually(() => endpoint.received.length === 1, 5000, 'the notification');
  await pause(500);
  assert.equal(endpoint.received.length, 1, 'one notification for the burst');
  assert.deepEqual(endpoint.received[0], { userId: 'bob', conversationId: dm, seq: 3, count: 3, title: 'Ann', body: 'Ann: three (+2 more)', badge: 3 });
});

test('a user with a device connected, or who connects within the window, is not notified; the sender never is', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, { windowMs: 1000 });
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  const dm = await ann.direct('bob');
  await ann.send(dm, { text: 'you are online' });
  const cat = await ann.direct('cat');
  await ann.send(cat, { text: 'you will be soon' });
  await client(t, fixture, 'cat').connect();
  await pause(1500);
  assert.deepEqual(endpoint.received, []);
});

test('a connected device that acknowledges nothing within the time is notified all the same; one that acknowledges is not', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, { undeliveredAfterMs: 1000 });
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  // Cat's connection is open but its app is frozen: it never reports what it holds.
  const frozen = await signedIn(fixture.server.wsUrl, await fixture.api.token('cat'));
  t.after(() => frozen.close());
  const toBob = await ann.direct('bob');
  const toCat = await ann.direct('cat');
  await ann.send(toBob, { text: 'bob has it' });
  await ann.send(toCat, { text: 'are you there?' });
  await eventually(() => endpoint.received.length === 1, 5000, "cat's notification");
  assert.deepEqual(
    { userId: endpoint.received[0]?.userId, body: endpoint.received[0]?.body, count: endpoint.received[0]?.count },
    { userId: 'cat', body: 'are you there?', count: 1 },
  );
  await pause(1500);
  assert.equal(endpoint.received.length, 1, 'bob, whose device acknowledged, is not notified');

  // Once cat's device reports it holds the conversation, a message it acknowledges in time pushes nothing.
  const delivered = (seq: number) => encodeFrameEntry({ requestId: 0, body: { $case: 'delivered', value: { conversationId: toCat, seq } } });
  const next = await ann.send(toCat, { text: 'still there?' });
  frozen.sendRaw(delivered(next.seq));
  await pause(2000);
  assert.equal(endpoint.received.length, 1);
});

test('in a group the offline members are notified under the group name; a message for one member notifies only that member', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const group = (await ann.createGroup({ name: 'Climbing', memberIds: ['bob', 'cat'] })).id;
  await ann.send(group, { text: 'Saturday?' });
  await eventually(() => endpoint.received.length === 2, 5000, 'both members notified');
  for (const notification of endpoint.received) {
    assert.equal(notification.title, 'Climbing');
    assert.equal(notification.body, 'Ann: Saturday?');
  }
  assert.deepEqual(endpoint.received.map((notification) => notification.userId).sort(), ['bob', 'cat']);
  endpoint.received.length = 0;
  // Addressed messages are sent by the backend (the admin API).
  await fixture.api.call('POST', `/v1/conversations/${group}/messages`, { senderId: 'ann', text: 'just for you, Bob', visibleTo: 'bob' });
  await eventually(() => endpoint.received.length === 1, 5000, 'the addressed member');
  await pause(500);
  assert.equal(endpoint.received.length, 1);
  assert.equal(endpoint.received[0]?.userId, 'bob');
});

test('previews follow the deployment: sender only, or nothing', async (t) => {
  const sender = await setup(t, { preview: 'sender' });
  await sender.ann.send(await sender.ann.direct('bob'), { text: 'a secret' });
  await eventually(() => sender.endpoint.received.length === 1, 5000, 'the notification');
  assert.equal(sender.endpoint.received[0]?.body, 'New message from Ann');

  const hidden = await setup(t, { preview: 'hidden' });
  await hidden.ann.send(await hidden.ann.direct('bob'), { text: 'a secret' });
  await eventually(() => hidden.endpoint.received.length === 1, 5000, 'the notification');
  assert.equal(hidden.endpoint.received[0]?.title, 'New messages');
  assert.equal(hidden.endpoint.received[0]?.body, 'You have a new message');
});

test('a muted conversation does not push, others still do; a mute that ran out pushes again', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const bob = client(t, fixture, 'bob');
  const quiet = (await ann.createGroup({ name: 'Chatty', memberIds: ['bob'] })).id;
  const dm = await ann.direct('bob');
  await bob.connect();
  await bob.mute(quiet);
  const soon = Date.now() + 1500;
  await bob.mute(dm, soon);
  await bob.close();
  await ann.send(quiet, { text: 'muted chatter' });
  await ann.send(dm, { text: 'muted for a moment' });
  await pause(800);
  assert.deepEqual(endpoint.received, [], 'nothing while both are muted');
  await pause(Math.max(0, soon - Date.now()) + 50);
  await ann.send(quiet, { text: 'still muted' });
  await ann.send(dm, { text: 'the mute ran out' });
  await eventually(() => endpoint.received.length === 1, 5000, 'the direct chat notifies again');
  await pause(500);
  assert.equal(endpoint.received.length, 1);
  // Only the audible message counts; the badge counts every unread message, muted or not.
  assert.deepEqual(endpoint.received[0], { userId: 'bob', conversationId: dm, seq: 2, count: 1, title: 'Ann', body: 'the mute ran out', badge: 4 });
});

test('a user who leaves muted conversations out of the badge gets it without them, here and on the SDK badge of every device', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const bob = client(t, fixture, 'bob');
  const quiet = (await ann.createGroup({ name: 'Chatty', memberIds: ['bob'] })).id;
  const dm = await ann.direct('bob');
  await bob.connect();
  const bobPhone = client(t, fixture, 'bob');
  await bobPhone.connect();
  await bob.mute(quiet);
  await ann.send(quiet, { text: 'muted one' });
  await ann.send(quiet, { text: 'muted two' });
  await eventually(() => bob.totalUnread === 2 && bob.badgeCount === 2, 5000, 'muted conversations count by default');
  const settings = await bob.setHideMutedFromBadge(true);
  assert.equal(settings.hideMutedFromBadge, true);
  assert.deepEqual([bob.totalUnread, bob.badgeCount], [2, 0], 'the total stays whole; the badge leaves the muted conversation out');
  await eventually(() => bobPhone.userSettings?.hideMutedFromBadge === true && bobPhone.badgeCount === 0, 5000, "bob's other device follows the setting");
  await bob.close();
  await bobPhone.close();
  // Closed on the client's side first: bob is offline once the server has seen both go (ann stays).
  await eventually(() => fixture.server.connectionCount() === 1, 5000, "the server to see bob's devices go");
  await ann.send(dm, { text: 'audible' });
  await eventually(() => endpoint.received.length === 1, 5000, 'the direct message notifies');
  assert.equal(endpoint.received[0]?.badge, 1, 'the badge leaves the two muted messages out');
  const again = client(t, fixture, 'bob');
  await again.connect();
  assert.deepEqual([again.userSettings?.hideMutedFromBadge, again.totalUnread, again.badgeCount], [true, 3, 1], 'a fresh device has the setting at once');
});

test('a reply in a thread notifies only its followers', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const group = (await ann.createGroup({ name: 'Team', memberIds: ['bob', 'cat'] })).id;
  const root = await ann.send(group, { text: 'root' });
  await eventually(() => endpoint.received.length === 2, 5000, 'bob and cat are told of the root');
  endpoint.received.length = 0;
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  await bob.send(group, { text: 'a reply', threadRoot: root.seq });
  await bob.close();
  await pause(800);
  assert.deepEqual(endpoint.received, [], 'cat does not follow the thread: nothing for her (ann, who does, is online)');
  const cat = client(t, fixture, 'cat');
  await cat.connect();
  await cat.send(group, { text: 'cat replies', threadRoot: root.seq });
  await cat.close();
  await eventually(() => endpoint.received.length === 1, 5000, 'bob follows: he replied');
  // Read again: the assertion above narrowed the list's type to empty.
  const [told] = endpoint.received as PushNotification[];
  assert.deepEqual([told?.userId, told?.body.includes('cat replies')], ['bob', true]);
});

test('a mention pushes through a mute: only the messages that mention the user, or everyone', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const bob = client(t, fixture, 'bob');
  const quiet = (await ann.createGroup({ name: 'Chatty', memberIds: ['bob', 'cat'] })).id;
  await bob.connect();
  await bob.mute(quiet);
  await bob.close();
  await ann.send(quiet, { text: 'chatter' });
  await ann.send(quiet, { text: '@Bob your turn', mentions: ['bob'] });
  await ann.send(quiet, { text: 'more chatter' });
  await eventually(() => endpoint.received.some((notification) => notification.userId === 'bob'), 5000, "bob's mention");
  await pause(500);
  const forBob = endpoint.received.filter((notification) => notification.userId === 'bob');
  assert.deepEqual(forBob.map((notification) => [notification.count, notification.body]), [[1, 'Ann: @Bob your turn']]);
});

test('a mention early in a burst of chatter still pushes through a mute, in a small group and in a large one', async (t) => {
  const { endpoint, fixture, ann } = await setup(t, { windowMs: 1000 });
  const crowd = Array.from({ length: 20 }, (_, index) => `fan${index}`);
  for (const id of crowd) await fixture.api.call('POST', '/v1/users', { id, name: id });
  const small = (await ann.createGroup({ name: 'Chatty', memberIds: ['bob', 'cat'] })).id;
  const large = (await ann.createGroup({ name: 'Stadium', memberIds: ['bob', ...crowd] })).id;
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  await bob.mute(small);
  await bob.mute(large);
  await bob.close();
  for (const group of [small, large]) {
    await ann.send(group, { text: '@Bob over to you', mentions: ['bob'] });
    // More chatter than a notification keeps message by message.
    for (let index = 1; index <= 8; index += 1) await ann.send(group, { text: `chatter ${index}` });
  }
  await eventually(() => endpoint.received.filter((notification) => notification.userId === 'bob').length >= 1, 5000, "bob's mentions");
  await pause(1200);
  const forBob = endpoint.received.filter((notification) => notification.userId === 'bob');
  assert.equal(forBob.length, 1, 'one notification for the window');
  assert.deepEqual([forBob[0]?.count, forBob[0]?.title, forBob[0]?.body], [2, '2 new messages', 'Ann: @Bob over to you (+1 more)']);
  // Cat did not mute: the chatter reaches her as usual.
  assert.ok(endpoint.received.some((notification) => notification.userId === 'cat' && notification.count === 9));
});

test("in a large group the members are looked over once per burst: each offline member gets one notification for the others' messages", async (t) => {
  const { endpoint, fixture, ann } = await setup(t, {});
  const crowd = Array.from({ length: 20 }, (_, index) => `fan${index}`);
  for (const id of crowd) await fixture.api.call('POST', '/v1/users', { id, name: id });
  const group = (await ann.createGroup({ name: 'Fan club', memberIds: ['bob', ...crowd] })).id;
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  const fan0 = client(t, fixture, 'fan0');
  await fan0.connect();
  await fan0.send(group, { text: 'first!' });
  await fan0.close();
  for (const text of ['one', 'two', 'three']) await ann.send(group, { text });
  await eventually(() => endpoint.received.length === 20, 5000, 'every offline member notified');
  await pause(500);
  assert.equal(endpoint.received.length, 20, 'once each: the 19 offline fans and fan0, not ann, not bob (online)');
  const byUser = new Map(endpoint.received.map((notification) => [notification.userId, notification]));
  assert.ok(!byUser.has('ann') && !byUser.has('bob'));
  assert.deepEqual(byUser.get('fan0'), { userId: 'fan0', conversationId: group, seq: 5, count: 3, title: 'Fan club', body: 'Ann in Fan club: three (+2 more)', badge: 3 }, "fan0's own message does not count");
  assert.equal(byUser.get('fan7')?.count, 4, 'the others get all four');
});
