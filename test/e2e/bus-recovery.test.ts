/**
 * The bus going away under live connections: two nodes on PostgreSQL and a
 * NATS server of this test's own, which is killed and started again. A
 * message committed while NATS was down never crossed the bus; once it is
 * back, the receiving node pushes conversation_changed to its connected
 * devices, which pull what they missed: nobody has to send again or
 * reconnect. /readyz says the node is not ready while NATS is away.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
import { NatsProcess, clusterSkipReason, postgresSkipReason } from '../cluster/support.js';
import { type TestServer, eventually } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';

// PostgreSQL, and a nats-server binary to start a NATS of the test's own.
const skip = (await postgresSkipReason()) ?? (await clusterSkipReason({ natsServerBinary: true }));

function twoNodes(t: TestContext, nats: NatsProcess): Promise<[TestServer, TestServer]> {
  return startTwoNodes(t, ['ann', 'bob'], { busUrl: nats.url });
}

describe('the bus going away and coming back', { skip }, () => {
  test('a message committed while NATS was down reaches a device that stayed connected, once NATS is back', async (t) => {
    const nats = await NatsProcess.start();
    t.after(() => nats.kill());
    const [a, b] = await twoNodes(t, nats);
    const ann = new ParleyClient({ url: a.server.wsUrl, token: () => a.api.token('ann'), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
    const bob = new ParleyClient({ url: b.server.wsUrl, token: () => b.api.token('bob'), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
    t.after(() => Promise.all([ann.close(), bob.close()]));
    await Promise.all([ann.connect(), bob.connect()]);
    const received: Message[] = [];
    bob.on('message', (message) => received.push(message));
    const bobStates: string[] = [];
    bob.on('state', ({ state }) => bobStates.push(state));
    const dm = await ann.direct('bob');
    await ann.send(dm, { text: 'before' });
    await eventually(() => received.some((message) => message.text === 'before'), 5000, 'the first message across nodes');

    await nats.kill();
    await eventually(async () => (await fetch(`${b.server.httpUrl}/readyz`)).status === 503, 5000, 'node b not ready without NATS');
    const during = await ann.send(dm, { text: 'while the bus was down' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!received.some((message) => message.text === 'while the bus was down'), 'no bus, no push');

    await nats.restart();
    await eventually(async () => (await fetch(`${b.server.httpUrl}/readyz`)).status === 200, 10_000, 'node b ready again');
    await eventually(() => received.some((message) => message.seq === during.seq), 10_000, 'the missed message, without anything else being sent');
    assert.deepEqual(
      received.filter((message) => message.type === 'user').map((message) => message.text),
      ['before', 'while the bus was down'],
    );
    assert.deepEqual(bobStates, [], 'bob never had to reconnect');
    // And the bus works again both ways.
    await bob.send(dm, { text: 'after' });
    await eventually(() => ann.conversation(dm)?.lastMessage?.text === 'after', 5000, 'ann gets the answer');
  });
});
