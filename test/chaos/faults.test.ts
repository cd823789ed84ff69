/**
 * Each fault of the chaos proxy on its own, against a real server and real
 * clients, over WebSocket and TCP: what the fault does on the wire, and that
 * the SDK recovers from it the way docs/reliability.md says. The chaos
 * scenarios (chaos.test.ts) combine these faults at random.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { type Device, connectDevice as device, proxyInFront, urlOf } from '../support/devices.js';
import { eventually, startTestServer } from '../support/fixtures.js';

type Transport = 'ws' | 'tcp';

/** Heartbeats every 500 ms: a dead connection is noticed after a second. */
const HEARTBEAT_MS = 500;

async function setup(t: TestContext, transport: Transport) {
  const fixture = await startTestServer(t, { heartbeatIntervalMs: HEARTBEAT_MS });
  await fixture.api.createUser('alice');
  await fixture.api.createUser('bob');
  const proxy = await proxyInFront(fixture, t, transport);
  const alice = await device(fixture, 'alice', proxy.urlFor(urlOf(fixture, transport)), t);
  const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
  const conversationId = await alice.client.direct('bob');
  return { fixture, proxy, alice, bob, conversationId };
}

const texts = (each: Device, conversationId: string) => each.messages.filter((m) => m.conversationId === conversationId && m.type === 'user').map((m) => m.text);

for (const transport of ['ws', 'tcp'] as const) {
  describe(`chaos faults over ${transport}`, () => {
    test('a lost ack: the server stored the message, the retry returns it, nobody sees it twice', async (t) => {
      const { proxy, alice, bob, conversationId } = await setup(t, transport);
      await alice.client.send(conversationId, { text: 'before' });
      proxy.cutNextAck();
      const acked = await alice.client.send(conversationId, { text: 'exactly once' });
      assert.equal(proxy.stats.ackCuts, 1, 'the ack was cut');
      assert.ok(alice.states.some((change) => change.state === 'reconnecting'), 'the connection died with the ack');
      assert.equal(acked.seq, 2);
      await alice.client.send(conversationId, { text: 'after' });
      await eventually(() => texts(bob, conversationId).length === 3 && texts(alice, conversationId).length === 3);
      assert.deepEqual(texts(bob, conversationId), ['before', 'exactly once', 'after']);
      assert.deepEqual(texts(alice, conversationId), ['before', 'exactly once', 'after']);
      assert.deepEqual((await bob.client.history(conversationId)).map((m) => m.text), ['before', 'exactly once', 'after']);
    });

    test('a lost request: the server never read it, the SDK sends it again', async (t) => {
      const { proxy, alice, bob, conversationId } = await setup(t, transport);
      proxy.cutNextRequest();
      const acked = await alice.client.send(conversationId, { text: 'cut on the way' });
      assert.equal(proxy.stats.requestCuts, 1, 'the request was cut');
      assert.ok(alice.states.some((change) => change.state === 'reconnecting'), 'the connection died with the request');
      assert.equal(acked.seq, 1);
      await eventually(() => texts(bob, conversationId).length === 1);
    });

    test('a dead NAT: no FIN, no RST; the client notices by heartbeat and comes back', async (t) => {
      const { fixture, proxy, alice, bob, conversationId } = await setup(t, transport);
      const started = Date.now();
      assert.ok(proxy.stallRandom(), 'a connection to stall');
      const pending = alice.client.send(conversationId, { text: 'into the void' });
      await eventually(() => alice.states.some((change) => change.state === 'reconnecting'), 5000, 'the client gives up on the dead connection');
      const noticedAfter = Date.now() - started;
      assert.ok(noticedAfter >= HEARTBEAT_MS, `noticed after ${noticedAfter} ms, not before the heartbeat deadline`);
      assert.equal((await pending).seq, 1);
      await eventually(() => texts(bob, conversationId).length === 1);
      // The server's side of the dead connection stays open until the server's own heartbeat gives up on it.
      await eventually(() => fixture.server.connectionCount() === 2, 5000, 'the server drops the dead connection by itself');
      // A WebSocket the server closed waits for the peer's close frame (30 s); release it before the server shuts down.
      await proxy.close();
    });

    test('refused connections keep a device offline; its sends wait and go out when the network returns', async (t) => {
      const { proxy, alice, bob, conversationId } = await setup(t, transport);
      proxy.set({ refuseConnections: true });
      proxy.resetAll();
      const queued = [alice.client.send(conversationId, { text: 'offline 1' }), alice.client.send(conversationId, { text: 'offline 2' })];
      await eventually(() => proxy.stats.refused >= 2, 5000, 'reconnects are refused');
      assert.equal(texts(bob, conversationId).length, 0);
      proxy.set({ refuseConnections: false });
      assert.deepEqual((await Promise.all(queued)).map((m) => m.seq), [1, 2]);
      await eventually(() => texts(bob, conversationId).length === 2);
    });

    test('a mark-read lost with its connection still reaches the server, so devices agree on unread', async (t) => {
      const { fixture, proxy, alice, bob, conversationId } = await setup(t, transport);
      const laptop = await device(fixture, 'alice', urlOf(fixture, transport), t);
      for (let n = 0; n < 3; n++) await bob.client.send(conversationId, { text: `m${n}` });
      await eventually(() => alice.client.conversation(conversationId)?.unread === 3 && laptop.client.conversation(conversationId)?.unread === 3);
      proxy.cutNextRequest();
      // mark_read is idempotent: the SDK sends it again on the next connection, and markRead resolves.
      await alice.client.markRead(conversationId);
      assert.equal(proxy.stats.requestCuts, 1);
      assert.equal(alice.client.conversation(conversationId)?.unread, 0, 'read locally at once');
      await eventually(async () => {
        const { body } = await fixture.api.call('GET', '/v1/users/alice/conversations');
        return body.totalUnread === 0 && laptop.client.conversation(conversationId)?.unread === 0;
      }, 5000, 'the read reaches the server and the other device');
      assert.equal(alice.client.conversation(conversationId)?.unread, 0);
    });
  });
}
