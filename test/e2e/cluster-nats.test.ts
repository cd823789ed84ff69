/**
 * Two nodes in one process joined as a cluster is: NATS between them (the
 * machine's nats-server, a subject prefix of this run's own) and one
 * PostgreSQL database (a schema of this run's own). Direct messages and
 * live-room traffic cross from one node's clients to the other's with the
 * full guarantee. Skipped, with the reason, where NATS or PostgreSQL does not
 * answer; under CI they must. (test/cluster/ runs nodes as processes.)
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
import { natsSkipReason, postgresSkipReason } from '../../packages/server/test/support/cluster-services.js';
import { ADMIN_KEY, type TestServer, eventually } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';

const skip = (await natsSkipReason()) ?? (await postgresSkipReason());

function twoNodes(t: TestContext, users: string[]): Promise<[TestServer, TestServer]> {
  return startTwoNodes(t, users, { rooms: { tickMs: 50, statsIntervalMs: 200 } });
}

function client(t: TestContext, node: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: node.server.wsUrl, token: () => node.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  return parley;
}

/** How many message events this node has received from the bus (parley_bus_transit_seconds). */
async function messageEventsAt(node: TestServer): Promise<number> {
  const response = await fetch(`${node.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const line = (await response.text()).split('\n').find((row) => row.startsWith('parley_bus_transit_seconds_count{') && row.includes('type="message"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('two nodes over NATS', { skip }, () => {
  test('typing crosses nodes: to the members of a direct chat by their routes, and in a group too large to route', async (t) => {
    const members = Array.from({ length: 20 }, (_, index) => `m${index}`);
    const [a, b] = await twoNodes(t, ['ann', 'bob', ...members]);
    const ann = client(t, a, 'ann');
    const bob = client(t, b, 'bob');
    const far = client(t, b, 'm7');
    await Promise.all([ann.connect(), bob.connect(), far.connect()]);
    const dm = await ann.direct('bob');
    ann.typing(dm);
    await eventually(() => bob.typingIn(dm).join() === 'ann', 5000, 'bob, on the other node, sees ann typing');
    const crowd = (await ann.createGroup({ name: 'Crowd', memberIds: members })).id;
    await eventually(() => far.conversation(crowd) !== undefined, 5000, 'm7 knows the group');
    ann.typing(crowd);
    await eventually(() => far.typingIn(crowd).join() === 'ann', 5000, 'a member of a 21-member group on the other node sees it');
    assert.deepEqual(bob.typingIn(crowd), [], 'not a member: nothing');
  });

  test('presence crosses nodes: a user on node b, watched from node a, goes online, away, offline with a last seen', async (t) => {
    const [a, b] = await startTwoNodes(t, ['ann', 'bob'], { presence: { offlineGraceMs: 300 } });
    const ann = client(t, a, 'ann');
    await ann.connect();
    await ann.direct('bob');
    // Node b learns the others' lists in its first second: presence news from then on.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.deepEqual(await ann.watchPresence(['bob']), [{ userId: 'bob', state: 'offline' }]);
    const bob = client(t, b, 'bob');
    await bob.connect();
    await eventually(() => ann.presenceOf('bob')?.state === 'online', 5000, 'online, from the other node');
    bob.setAway(true);
    await eventually(() => ann.presenceOf('bob')?.state === 'away', 5000, 'away, from the other node');
    bob.setAway(false);
    await eventually(() => ann.presenceOf('bob')?.state === 'online', 5000, 'online again');
    const closedAt = Date.now();
    await bob.close();
    await eventually(() => ann.presenceOf('bob')?.state === 'offline', 5000, 'offline after the grace');
    const lastSeen = ann.presenceOf('bob')?.lastSeen ?? 0;
    assert.ok(Math.abs(lastSeen - closedAt) < 1000, `last seen when bob left (${lastSeen - closedAt} ms off)`);
    // Every node knows it: a device of ann's that starts watching on node b is told the same.
    const annLater = client(t, b, 'ann');
    await annLater.connect();
    const [seen] = await annLater.watchPresence(['bob']);
    assert.equal(seen?.state, 'offline');
    assert.ok(Math.abs((seen?.lastSeen ?? 0) - lastSeen) < 1000);
  });

  test('signals cross nodes, and every node keeps the latest keyed values', async (t) => {
    const [a, b] = await twoNodes(t, ['ann', 'bob']);
    const ann = client(t, a, 'ann');
    const bob = client(t, b, 'bob');
    await Promise.all([ann.connect(), bob.connect()]);
    const dm = await ann.direct('bob');
    const got: string[] = [];
    bob.on('signal', (signal) => got.push(new TextDecoder().decode(signal.data)));
    await eventually(() => bob.conversation(dm) !== undefined, 5000, 'bob knows the conversation');
    // The keyed one goes to every node, where it may wait for the member list; the routed ones behind it wait too.
    ann.signal(dm, 'geo.position', new TextEncoder().encode('here'), { key: 'location' });
    for (const text of ['one', 'two', 'three']) ann.signal(dm, 'demo.tick', new TextEncoder().encode(text));
    await eventually(() => got.length === 4, 5000, 'all four on the other node');
    assert.deepEqual(got, ['here', 'one', 'two', 'three']);
    const values = await bob.signalValues(dm);
    assert.deepEqual(values.map((value) => [value.senderId, value.key]), [['ann', 'location']], 'the value is kept on the node bob asks');
  });

  test('receipts cross nodes: delivered and read on one node reach the sender on the other; settings reach every device', async (t) => {
    const [a, b] = await twoNodes(t, ['ann', 'bob']);
    const ann = client(t, a, 'ann');
    const bob = client(t, b, 'bob');
    const bobOnA = client(t, a, 'bob');
    await Promise.all([ann.connect(), bobOnA.connect()]);
    const dm = await ann.direct('bob');
    const sent = await ann.send(dm, { text: 'across' });
    await ann.receipts(dm);
    await eventually(() => ann.receiptsOf(sent)?.status === 'delivered', 5000, 'delivered to bob on the same node');
    await bob.connect();
    await bob.markRead(dm);
    await eventually(() => ann.receiptsOf(sent)?.status === 'read', 5000, 'read by bob on the other node');
    let told = false;
    bobOnA.on('settings', () => {
      told = true;
    });
    await bob.setReadReceipts(false);
    await eventually(() => told && bobOnA.userSettings?.readReceiptsOff === true, 5000, "bob's device on the other node hears of his setting");
  });

  test('a small conversation\'s messages reach only the nodes holding its members, from a device\'s first connection on', async (t) => {
    const [a, b] = await twoNodes(t, ['ann', 'bob', 'cat']);
    const ann = client(t, a, 'ann');
    const bob = client(t, a, 'bob');
    await Promise.all([ann.connect(), bob.connect()]);
    const dm = await ann.direct('bob');
    const before = await messageEventsAt(b);
    for (let index = 1; index <= 20; index++) await ann.send(dm, { text: `near ${index}` });
    await eventually(() => bob.conversation(dm)?.lastMessage?.text === 'near 20', 5000, 'bob on node a gets them');
    assert.equal(await messageEventsAt(b), before, 'node b holds neither user: none of their messages reach it');

    // Bob's first device on node b: sends right after its welcome still reach it, by push.
    const bobOnB = client(t, b, 'bob');
    const pushed: string[] = [];
    bobOnB.on('message', (message) => pushed.push(message.text ?? ''));
    await bobOnB.connect();
    for (let index = 1; index <= 5; index++) await ann.send(dm, { text: `far ${index}` });
    await eventually(() => pushed.filter((text) => text.startsWith('far')).length === 5, 5000, 'bob on node b');
    assert.deepEqual(pushed.filter((text) => text.startsWith('far')), ['far 1', 'far 2', 'far 3', 'far 4', 'far 5']);
    assert.ok((await messageEventsAt(b)) > before, 'now node b gets them');

    // A member added through node b, the send through node a right after it: the new member's device on b gets it.
    const catOnB = client(t, b, 'cat');
    const catGot: string[] = [];
    catOnB.on('message', (message) => catGot.push(message.text ?? ''));
    await catOnB.connect();
    const group = (await ann.createGroup({ name: 'trio', memberIds: ['bob'] })).id;
    const adder = client(t, b, 'ann');
    await adder.connect();
    await adder.addMembers(group, ['cat']);
    await ann.send(group, { text: 'welcome cat' });
    await eventually(() => catGot.includes('welcome cat'), 5000, 'the new member on node b gets the first message after the add');
  });


  test('a direct conversation across nodes: every message once, in order, both ways', async (t) => {
    const [a, b] = await twoNodes(t, ['ann', 'bob']);
    const ann = client(t, a, 'ann');
    const bob = client(t, b, 'bob');
    await Promise.all([ann.connect(), bob.connect()]);
    const received: Message[] = [];
    bob.on('message', (message) => received.push(message));
    const dm = await ann.direct('bob');
    for (let index = 1; index <= 50; index++) void ann.send(dm, { text: `hi ${index}` });
    await eventually(() => received.filter((message) => message.type === 'user').length === 50, 5000, 'bob gets fifty');
    assert.deepEqual(
      received.filter((message) => message.type === 'user').map((message) => message.text),
      Array.from({ length: 50 }, (_, index) => `hi ${index + 1}`),
    );
    const back = await bob.send(dm, { text: 'hello from node b' });
    await eventually(() => ann.conversation(dm)?.lastMessage?.seq === back.seq, 5000, 'ann sees the answer');
  });

  test('a live room across nodes: reliable messages reach viewers on both, chatter crosses, the count is cluster-wide', async (t) => {
    const [a, b] = await twoNodes(t, ['host', 'v1', 'v2', 'v3', 'v4']);
    const { status } = await a.api.call('POST', '/v1/rooms', { id: 'live', name: 'Live', hostId: 'host' });
    assert.equal(status, 201);
    const viewers = await Promise.all(
      ['v1', 'v2', 'v3', 'v4'].map(async (userId, index) => {
        const parley = client(t, index < 2 ? a : b, userId);
        await parley.connect();
        const room = await parley.joinRoom('live');
        const seqs: number[] = [];
        const chat: string[] = [];
        room.on('message', (message) => seqs.push(message.seq));
        room.on('events', ({ events }) => chat.push(...events.filter((event) => event.kind === 'chat').map((event) => event.text ?? '')));
        return { room, seqs, chat };
      }),
    );
    const host = client(t, a, 'host');
    await host.connect();
    for (let index = 1; index <= 20; index++) await host.send('live', { text: `card ${index}` });
    for (const viewer of viewers) {
      await eventually(() => viewer.seqs.length === 20, 5000, 'every card');
      assert.deepEqual(viewer.seqs, Array.from({ length: 20 }, (_, index) => index + 1));
    }
    await viewers[3]?.room.chat('hello from node b');
    await eventually(() => viewers[0]?.chat.includes('hello from node b') === true, 5000, 'node a hears node b');
    await eventually(() => viewers.every((viewer) => viewer.room.online === 4), 5000, 'both nodes count four');
  });
});
