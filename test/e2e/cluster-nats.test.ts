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
import { type TestServer, eventually } from '../support/fixtures.js';
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

describe('two nodes over NATS', { skip }, () => {
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
