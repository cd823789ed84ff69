/**
 * Where conversation state is born: devices that meet a conversation
 * mid-stream (a new direct chat opened by another device of the same user, a
 * group created while its members post), over both transports and through
 * resetting connections; requests made while disconnected; and a send kept
 * across an app restart with a caller-chosen clientMsgId. Every device must
 * show every message of such a conversation once, in order, without holes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ParleyError } from '@parley/client';
import { type Device, connectDevice as device, proxyInFront, seqsOf } from '../support/devices.js';
import { eventually, startTestServer } from '../support/fixtures.js';

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

describe('first sight of a conversation', () => {
  test("a new direct chat opened on one device reaches the user's other devices and the peer whole, run after run", async (t) => {
    const fixture = await startTestServer(t);
    await fixture.api.createUser('alice');
    const tcpUrl = fixture.server.tcpUrl as string;
    const alice = [
      await device(fixture, 'alice', fixture.server.wsUrl, t),
      await device(fixture, 'alice', tcpUrl, t),
      await device(fixture, 'alice', fixture.server.wsUrl, t),
    ];
    for (let run = 0; run < 12; run++) {
      const bobId = `bob${run}`;
      await fixture.api.createUser(bobId);
      const bob = await device(fixture, bobId, run % 2 === 0 ? tcpUrl : fixture.server.wsUrl, t);
      const sender = alice[run % 3] as Device;
      const conversationId = await sender.client.direct(bobId);
      // Back to back: the first push reaches the other devices while the rest are being stored.
      await Promise.all(range(1, 5).map((n) => sender.client.send(conversationId, { text: `m${n}` })));
      for (const watcher of [...alice, bob]) {
        await eventually(() => seqsOf(watcher, conversationId).length >= 5, 5000, `run ${run}: every device shows 5 messages`);
      }
      // Settle briefly so that a late duplicate would show.
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (const watcher of [...alice, bob]) assert.deepEqual(seqsOf(watcher, conversationId), range(1, 5), `run ${run}`);
      await bob.client.close();
    }
  });

  test('through connections reset every few hundred ms, new chats arrive whole on every device', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    await fixture.api.createUser('alice');
    const alice = [await device(fixture, 'alice', url, t), await device(fixture, 'alice', url, t), await device(fixture, 'alice', url, t)];
    const resets = setInterval(() => proxy.resetRandom(), 150);
    t.after(() => clearInterval(resets));
    const conversations: string[] = [];
    for (let run = 0; run < 4; run++) {
      const bobId = `bob${run}`;
      await fixture.api.createUser(bobId);
      const sender = alice[run % 3] as Device;
      const conversationId = await sender.client.direct(bobId);
      conversations.push(conversationId);
      await Promise.all(range(1, 7).map((n) => sender.client.send(conversationId, { text: `m${n}` })));
    }
    clearInterval(resets);
    for (const conversationId of conversations) {
      for (const watcher of alice) {
        await eventually(() => seqsOf(watcher, conversationId).length >= 7, 15_000, 'every device shows 7 messages');
        assert.deepEqual(seqsOf(watcher, conversationId), range(1, 7));
      }
    }
  });

  test('members of a group created while its owner posts see it from its first message', async (t) => {
    const fixture = await startTestServer(t);
    for (const id of ['owner', 'bob', 'carol']) await fixture.api.createUser(id);
    const owner = await device(fixture, 'owner', fixture.server.wsUrl, t);
    const watchers = [
      await device(fixture, 'bob', fixture.server.wsUrl, t),
      await device(fixture, 'bob', fixture.server.tcpUrl as string, t),
      await device(fixture, 'carol', fixture.server.wsUrl, t),
    ];
    for (let run = 0; run < 5; run++) {
      const group = await owner.client.createGroup({ name: `g${run}`, memberIds: ['bob', 'carol'] });
      await Promise.all(range(1, 6).map((n) => owner.client.send(group.id, { text: `m${n}` })));
      for (const watcher of watchers) {
        await eventually(() => seqsOf(watcher, group.id).length >= 7, 5000, 'the creation event and 6 messages');
        assert.deepEqual(seqsOf(watcher, group.id), range(1, 7));
      }
    }
  });
});

describe('a new direct chat before its first message', () => {
  test("is listed at once on the opener's other devices and the peer's", async (t) => {
    const fixture = await startTestServer(t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const phone = await device(fixture, 'alice', fixture.server.wsUrl, t);
    const laptop = await device(fixture, 'alice', fixture.server.tcpUrl as string, t);
    const bob = await device(fixture, 'bob', fixture.server.wsUrl, t);
    const conversationId = await phone.client.direct('bob', { subject: 'listing-42' });
    await eventually(() => laptop.client.conversation(conversationId) !== undefined, 5000, "the opener's other device lists it");
    await eventually(() => bob.client.conversation(conversationId) !== undefined, 5000, 'the peer lists it');
    assert.equal(bob.client.conversation(conversationId)?.peerId, 'alice');
    assert.equal(bob.client.conversation(conversationId)?.subject, 'listing-42');
    // And the messages that follow arrive whole.
    await Promise.all(range(1, 3).map((n) => phone.client.send(conversationId, { text: `m${n}` })));
    for (const watcher of [laptop, bob]) {
      await eventually(() => seqsOf(watcher, conversationId).length >= 3, 5000, 'three messages');
      assert.deepEqual(seqsOf(watcher, conversationId), range(1, 3));
    }
  });
});

describe('requests while disconnected', () => {
  test('wait for the connection instead of failing, and resolve once it is back', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const alice = await device(fixture, 'alice', proxy.urlFor(fixture.server.wsUrl), t);
    const existing = await alice.client.direct('bob');
    await alice.client.send(existing, { text: 'before' });

    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    await eventually(() => alice.client.state === 'reconnecting', 5000, 'the client notices');
    const opened = alice.client.direct('bob', { subject: 'item-1' });
    const history = alice.client.history(existing);
    const read = alice.client.markRead(existing);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(alice.client.state, 'reconnecting');

    proxy.set({ refuseConnections: false });
    const conversationId = await opened;
    assert.ok(conversationId.length > 0);
    assert.deepEqual((await history).map((message) => message.text), ['before']);
    await read;
  });

  test('give up with TIMEOUT after connectionWaitMs', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const alice = await device(fixture, 'alice', proxy.urlFor(fixture.server.wsUrl), t, { connectionWaitMs: 300 });
    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    await eventually(() => alice.client.state === 'reconnecting', 5000, 'the client notices');
    const started = Date.now();
    await assert.rejects(alice.client.direct('bob'), (error: unknown) => error instanceof ParleyError && error.codeName === 'TIMEOUT');
    assert.ok(Date.now() - started >= 250);
  });

  test('an idempotent request lost with its connection is sent again on the next one', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const alice = await device(fixture, 'alice', proxy.urlFor(fixture.server.wsUrl), t);
    // The server never reads the request: the connection is reset under it.
    proxy.cutNextRequest();
    const conversationId = await alice.client.direct('bob');
    assert.ok(conversationId.length > 0);
  });
});

describe('a caller-chosen clientMsgId', () => {
  test('a send kept across an app restart is stored once', async (t) => {
    const fixture = await startTestServer(t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const first = await device(fixture, 'alice', fixture.server.wsUrl, t);
    const conversationId = await first.client.direct('bob');
    const original = await first.client.send(conversationId, { text: 'kept in an outbox' }, { clientMsgId: 'outbox-0001' });
    assert.equal(original.clientMsgId, 'outbox-0001');
    await first.client.close();

    // The app restarts and sends what its outbox still holds (the ack was not recorded).
    const restarted = await device(fixture, 'alice', fixture.server.wsUrl, t);
    const again = await restarted.client.send(conversationId, { text: 'kept in an outbox' }, { clientMsgId: 'outbox-0001' });
    assert.equal(again.id, original.id);
    assert.equal(again.seq, original.seq);
    const history = await restarted.client.history(conversationId);
    assert.equal(history.filter((message) => message.clientMsgId === 'outbox-0001').length, 1);

    // The same key queued twice in one client is one send.
    const [a, b] = await Promise.all([
      restarted.client.send(conversationId, { text: 'twice' }, { clientMsgId: 'outbox-0002' }),
      restarted.client.send(conversationId, { text: 'twice' }, { clientMsgId: 'outbox-0002' }),
    ]);
    assert.equal(a.id, b.id);
    await assert.rejects(
      restarted.client.send(conversationId, { text: 'bad' }, { clientMsgId: 'has space' }),
      (error: unknown) => error instanceof ParleyError && error.codeName === 'INVALID_ARGUMENT',
    );
  });
});
