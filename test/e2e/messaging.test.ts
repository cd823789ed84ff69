/**
 * The SDK against a real server, over WebSocket and TCP: delivery, ordering,
 * idempotent retries, resume after disconnects, multi-device, conversation
 * list and unread counts, groups and their access rules, history paging.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message } from '@parley/client';
import { type SyncRequest, decodePacket, encodePacket } from '@parley/protocol';
import WebSocket from 'ws';
import { type Device, connectDevice as device, proxyInFront, urlOf } from '../support/devices.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

async function users(fixture: TestServer, ...ids: string[]): Promise<void> {
  for (const id of ids) await fixture.api.createUser(id, id.toUpperCase());
}

function texts(device: Device, conversationId: string): string[] {
  return device.messages.filter((m) => m.conversationId === conversationId && m.type === 'user').map((m) => m.text ?? '');
}

/** Every message of the conversation exactly once, seqs strictly increasing by one. */
function assertDenseOnce(device: Device, conversationId: string, fromSeq = 1): void {
  const seqs = device.messages.filter((m) => m.conversationId === conversationId).map((m) => m.seq);
  for (const [index, seq] of seqs.entries()) assert.equal(seq, fromSeq + index, `seq ${fromSeq + index} expected at position ${index}, got ${seq}`);
}

for (const transport of ['ws', 'tcp'] as const) {
  describe(`SDK over ${transport}`, () => {
    test('a direct message reaches the peer once, in order, and echoes to the sender', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const alice = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      const sent: Message[] = [];
      for (let n = 0; n < 20; n++) sent.push(await alice.client.send(conversationId, { text: `hello ${n}` }));
      assert.deepEqual(sent.map((m) => m.seq), Array.from({ length: 20 }, (_, n) => n + 1));
      await eventually(() => texts(bob, conversationId).length === 20, 5000, 'bob receives 20 messages');
      assert.deepEqual(texts(bob, conversationId), sent.map((m) => m.text));
      assertDenseOnce(bob, conversationId);
      await eventually(() => texts(alice, conversationId).length === 20, 5000, 'alice sees her own messages');
      assertDenseOnce(alice, conversationId);
      const message = bob.messages[0] as Message;
      assert.equal(message.senderId, 'alice');
      assert.equal(typeof message.id, 'string');
      assert.equal(typeof message.createdAt, 'number');
      assert.equal(message.clientMsgId, sent[0]?.clientMsgId);
    });

    test('pipelined sends keep their order and binary data survives', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const alice = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      const data = new Uint8Array([0, 1, 2, 254, 255]);
      const sent = await Promise.all(Array.from({ length: 100 }, (_, n) => alice.client.send(conversationId, { text: `${n}`, data })));
      assert.deepEqual(sent.map((m) => m.text), Array.from({ length: 100 }, (_, n) => `${n}`));
      assert.deepEqual(sent.map((m) => m.seq), Array.from({ length: 100 }, (_, n) => n + 1));
      await eventually(() => texts(bob, conversationId).length === 100);
      assert.deepEqual(Array.from(bob.messages[0]?.data ?? []), Array.from(data));
    });

    test('a subject makes a distinct conversation between the same two users', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'buyer', 'seller');
      const buyer = await device(fixture, 'buyer', urlOf(fixture, transport), t);
      const seller = await device(fixture, 'seller', urlOf(fixture, transport), t);
      const plain = await buyer.client.direct('seller');
      const aboutItem = await buyer.client.direct('seller', { subject: 'item-42' });
      const aboutOther = await buyer.client.direct('seller', { subject: 'item-43' });
      assert.equal(new Set([plain, aboutItem, aboutOther]).size, 3);
      assert.equal(await seller.client.direct('buyer', { subject: 'item-42' }), aboutItem, 'both sides derive the same id');
      await buyer.client.send(aboutItem, { text: 'is it still available?' });
      await eventually(() => seller.client.conversation(aboutItem)?.unread === 1);
      assert.equal(seller.client.conversation(aboutItem)?.subject, 'item-42');
      assert.equal(seller.client.conversation(plain)?.unread ?? 0, 0);
    });

    test('every device of a user receives messages, including those sent from another device', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const phone = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const laptop = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await phone.client.direct('bob');
      await phone.client.send(conversationId, { text: 'from phone' });
      await bob.client.send(conversationId, { text: 'from bob' });
      await laptop.client.send(conversationId, { text: 'from laptop' });
      for (const each of [phone, laptop, bob]) {
        await eventually(() => texts(each, conversationId).length === 3);
        assert.deepEqual(texts(each, conversationId), ['from phone', 'from bob', 'from laptop']);
        assertDenseOnce(each, conversationId);
      }
    });

    test('a send whose ack was lost is retried and returns the original message', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const proxy = await proxyInFront(fixture, t, transport);
      const alice = await device(fixture, 'alice', proxy.urlFor(urlOf(fixture, transport)), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      proxy.set({ dropDownstream: true });
      const pending = alice.client.send(conversationId, { text: 'exactly once' });
      await eventually(() => texts(bob, conversationId).length === 1, 5000, 'the server stored and pushed it');
      proxy.resetAll();
      proxy.clear();
      const acked = await pending;
      assert.equal(acked.seq, 1);
      await alice.client.send(conversationId, { text: 'next' });
      await eventually(() => texts(bob, conversationId).length === 2);
      assert.deepEqual(texts(bob, conversationId), ['exactly once', 'next']);
      const history = await bob.client.history(conversationId);
      assert.deepEqual(history.map((m) => m.text), ['exactly once', 'next']);
    });

    test('forced disconnects mid-stream: the receiver resumes and gets every message once, in order', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const proxy = await proxyInFront(fixture, t, transport);
      const alice = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const bob = await device(fixture, 'bob', proxy.urlFor(urlOf(fixture, transport)), t);
      const conversationId = await alice.client.direct('bob');
      const total = 300;
      const sending = (async () => {
        for (let n = 0; n < total; n++) {
          await alice.client.send(conversationId, { text: `m${n}` });
          if (n % 60 === 30) proxy.resetAll();
        }
      })();
      await sending;
      await eventually(() => texts(bob, conversationId).length >= total, 10_000, 'bob catches up');
      assert.deepEqual(texts(bob, conversationId), Array.from({ length: total }, (_, n) => `m${n}`));
      assertDenseOnce(bob, conversationId);
    });

    test('a sender cut off mid-stream retries its queue in order with no duplicates', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const proxy = await proxyInFront(fixture, t, transport);
      const alice = await device(fixture, 'alice', proxy.urlFor(urlOf(fixture, transport)), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      const sends: Array<Promise<Message>> = [];
      for (let n = 0; n < 200; n++) {
        sends.push(alice.client.send(conversationId, { text: `s${n}` }));
        if (n % 50 === 25) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          proxy.resetAll();
        }
      }
      const acked = await Promise.all(sends);
      assert.deepEqual(acked.map((m) => m.text), Array.from({ length: 200 }, (_, n) => `s${n}`));
      assert.deepEqual(acked.map((m) => m.seq), Array.from({ length: 200 }, (_, n) => n + 1), 'send order is seq order');
      await eventually(() => texts(bob, conversationId).length >= 200, 10_000);
      assert.deepEqual(texts(bob, conversationId), Array.from({ length: 200 }, (_, n) => `s${n}`));
    });

    test('sends made while offline are delivered after the connection returns', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const proxy = await proxyInFront(fixture, t, transport);
      const alice = await device(fixture, 'alice', proxy.urlFor(urlOf(fixture, transport)), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      proxy.set({ stalled: true });
      proxy.resetAll();
      const queued = [alice.client.send(conversationId, { text: 'typed offline 1' }), alice.client.send(conversationId, { text: 'typed offline 2' })];
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(texts(bob, conversationId).length, 0);
      proxy.clear();
      const acked = await Promise.all(queued);
      assert.deepEqual(acked.map((m) => m.seq), [1, 2]);
      await eventually(() => texts(bob, conversationId).length === 2);
    });

    test('unread counts: per conversation and total agree, own messages never count, reads sync across devices', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob', 'carol');
      const phone = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const laptop = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const bob = await device(fixture, 'bob', urlOf(fixture, transport), t);
      const carol = await device(fixture, 'carol', urlOf(fixture, transport), t);
      const withBob = await bob.client.direct('alice');
      const group = await carol.client.createGroup({ name: 'Trip', memberIds: ['alice', 'bob'] });
      for (let n = 0; n < 3; n++) await bob.client.send(withBob, { text: `b${n}` });
      for (let n = 0; n < 2; n++) await carol.client.send(group.id, { text: `c${n}` });
      await phone.client.send(withBob, { text: 'own message' });
      await bob.client.send(withBob, { text: 'after reply' });
      const check = (each: Device, direct: number, grouped: number) => {
        const list = each.client.conversations();
        const sum = list.reduce((total, summary) => total + summary.unread, 0);
        return each.client.conversation(withBob)?.unread === direct && each.client.conversation(group.id)?.unread === grouped && each.client.totalUnread === sum && sum === direct + grouped;
      };
      // Replying marked the direct conversation read up to the reply; one message came after it.
      await eventually(() => check(phone, 1, 2) && check(laptop, 1, 2), 5000, 'unread 1 + 2 on both devices');
      const serverView = await fixture.api.call('GET', '/v1/users/alice/conversations');
      assert.equal(serverView.body.totalUnread, 3);
      await laptop.client.markRead(group.id);
      await eventually(() => check(phone, 1, 0) && check(laptop, 1, 0), 5000, 'a read on the laptop clears the phone');
      await phone.client.markRead(withBob);
      await eventually(() => check(phone, 0, 0) && check(laptop, 0, 0), 5000, 'all read');
      assert.equal(bob.client.conversation(withBob)?.unread, 0, "bob wrote after alice's reply, which marks it read");
      const list = phone.client.conversations();
      assert.equal(list[0]?.id, withBob, 'newest activity first');
      assert.equal(list[0]?.lastMessage?.text, 'after reply');
    });

    test('groups: members, renames, roles; a removed member can no longer read new messages or send', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'owner', 'ann', 'ben', 'cid');
      const owner = await device(fixture, 'owner', urlOf(fixture, transport), t);
      const ann = await device(fixture, 'ann', urlOf(fixture, transport), t);
      const ben = await device(fixture, 'ben', urlOf(fixture, transport), t);
      const group = await owner.client.createGroup({ id: 'crew', name: 'Crew', memberIds: ['ann'] });
      assert.equal(group.id, 'crew');
      assert.equal(group.role, 'owner');
      await owner.client.addMembers('crew', ['ben', 'cid']);
      await assert.rejects(ann.client.addMembers('crew', ['owner']), { name: 'FORBIDDEN' });
      await owner.client.setRole('crew', 'ann', 'admin');
      await ann.client.renameGroup('crew', 'The Crew');
      await eventually(() => ben.client.conversation('crew')?.name === 'The Crew', 5000, 'rename reaches members');
      const members = await ben.client.members('crew');
      assert.deepEqual(members.map((m) => `${m.userId}:${m.role}`).sort(), ['ann:admin', 'ben:member', 'cid:member', 'owner:owner']);
      await owner.client.send('crew', { text: 'before removal' });
      await eventually(() => texts(ben, 'crew').length === 1);
      await ann.client.removeMember('crew', 'ben');
      await owner.client.send('crew', { text: 'after removal' });
      await eventually(() => texts(ann, 'crew').length === 2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(texts(ben, 'crew'), ['before removal'], 'no push after removal');
      const history = await ben.client.history('crew');
      assert.ok(!history.some((m) => m.text === 'after removal'), 'no pull after removal');
      await assert.rejects(ben.client.send('crew', { text: 'let me in' }), { name: 'FORBIDDEN' });
      await eventually(() => ben.client.conversation('crew')?.active === false, 5000, 'the list shows ben left');
      await ann.client.leave('crew');
      await assert.rejects(ann.client.send('crew', { text: 'bye' }), { name: 'FORBIDDEN' });
      const system = owner.messages.filter((m) => m.conversationId === 'crew' && m.type === 'system').map((m) => m.system?.type);
      assert.deepEqual(system, ['group_created', 'members_added', 'role_changed', 'renamed', 'member_removed', 'member_left']);
    });

    test('history pages backwards by seq', async (t) => {
      const fixture = await startTestServer(t);
      await users(fixture, 'alice', 'bob');
      const alice = await device(fixture, 'alice', urlOf(fixture, transport), t);
      const conversationId = await alice.client.direct('bob');
      await Promise.all(Array.from({ length: 120 }, (_, n) => alice.client.send(conversationId, { text: `h${n}` })));
      const newest = await alice.client.history(conversationId, { limit: 50 });
      assert.deepEqual(newest.map((m) => m.seq), Array.from({ length: 50 }, (_, n) => 71 + n));
      const older = await alice.client.history(conversationId, { beforeSeq: 71, limit: 50 });
      assert.deepEqual(older.map((m) => m.seq), Array.from({ length: 50 }, (_, n) => 21 + n));
      const oldest = await alice.client.history(conversationId, { beforeSeq: 21, limit: 50 });
      assert.deepEqual(oldest.map((m) => m.seq), Array.from({ length: 20 }, (_, n) => 1 + n));
    });
  });
}

test('a message addressed to one member is shown to that member only, and never stalls the others', async (t) => {
  const fixture = await startTestServer(t);
  await users(fixture, 'bot', 'ann', 'ben');
  await fixture.api.createGroup({ id: 'lobby', name: 'Lobby', ownerId: 'bot', memberIds: ['ann', 'ben'] });
  const ann = await device(fixture, 'ann', fixture.server.wsUrl, t);
  const ben = await device(fixture, 'ben', fixture.server.wsUrl, t);
  await fixture.api.call('POST', '/v1/conversations/lobby/messages', { senderId: 'bot', text: 'welcome, Ann', visibleTo: 'ann' });
  await fixture.api.call('POST', '/v1/conversations/lobby/messages', { senderId: 'bot', text: 'hello everyone' });
  await eventually(() => texts(ann, 'lobby').length === 2 && texts(ben, 'lobby').length === 1);
  assert.deepEqual(texts(ann, 'lobby'), ['welcome, Ann', 'hello everyone']);
  assert.deepEqual(texts(ben, 'lobby'), ['hello everyone']);
  assert.equal(ben.client.conversation('lobby')?.unread, 1);
  assert.equal(ann.client.conversation('lobby')?.unread, 2);
  const benHistory = await ben.client.history('lobby');
  assert.ok(!benHistory.some((m) => m.text === 'welcome, Ann'));
});

test('a client that starts after messages arrived gets its unread messages and the list', async (t) => {
  const fixture = await startTestServer(t);
  await users(fixture, 'alice', 'bob');
  const alice = await device(fixture, 'alice', fixture.server.wsUrl, t);
  const conversationId = await alice.client.direct('bob');
  for (let n = 0; n < 5; n++) await alice.client.send(conversationId, { text: `offline ${n}` });
  const bob = await device(fixture, 'bob', fixture.server.tcpUrl as string, t);
  assert.equal(bob.client.conversation(conversationId)?.unread, 5);
  assert.equal(bob.client.totalUnread, 5);
  await eventually(() => texts(bob, conversationId).length === 5, 5000, 'offline messages are delivered on login');
  assertDenseOnce(bob, conversationId);
});

test('a large group busy with several senders: every device gets every message once, in seq order, also its sender\'s other device', async (t) => {
  // 80 members: large enough that the server joins a turn's messages into
  // one packet per member and holds a busy group's pushes for a few ms.
  const fixture = await startTestServer(t);
  const memberIds = Array.from({ length: 79 }, (_, n) => `m${n}`);
  await users(fixture, 'owner', ...memberIds);
  await fixture.api.createGroup({ id: 'big', name: 'Big', ownerId: 'owner', memberIds });
  const senders = await Promise.all(['m0', 'm1', 'm2'].map((id) => device(fixture, id, fixture.server.wsUrl, t)));
  const m0Laptop = await device(fixture, 'm0', fixture.server.tcpUrl as string, t);
  const readers = await Promise.all(['m3', 'm4', 'owner'].map((id) => device(fixture, id, fixture.server.wsUrl, t)));
  const perSender = 30;
  const sends = senders.flatMap((sender, s) => Array.from({ length: perSender }, (_, n) => sender.client.send('big', { text: `s${s}-${n}` })));
  // Interleaved: messages addressed to one member, and a rename (a system message).
  await fixture.api.call('POST', '/v1/conversations/big/messages', { senderId: 'owner', text: 'for m3 only', visibleTo: 'm3' });
  await fixture.api.call('PATCH', '/v1/groups/big', { name: 'Bigger' });
  await Promise.all(sends);
  const everyone = [...senders, m0Laptop, ...readers];
  const lastSeq = Math.max(...(await Promise.all(sends)).map((m) => m.seq));
  await eventually(() => everyone.every((each) => (each.client.conversation('big')?.lastSeq ?? 0) >= lastSeq && seqsDelivered(each) >= lastSeq), 10_000, 'every device caught up');
  for (const each of everyone) {
    const userTexts = texts(each, 'big');
    for (let s = 0; s < 3; s++) {
      const mine = userTexts.filter((text) => text.startsWith(`s${s}-`));
      assert.deepEqual(mine, Array.from({ length: perSender }, (_, n) => `s${s}-${n}`), `${each.client.userId ?? ''} gets sender ${s}'s messages once, in order`);
    }
    assert.equal(userTexts.includes('for m3 only'), each === readers[0], 'the addressed message reaches m3 only');
    const seqs = each.messages.filter((m) => m.conversationId === 'big').map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  }
});

function seqsDelivered(each: Device): number {
  return Math.max(0, ...each.messages.filter((m) => m.conversationId === 'big').map((m) => m.seq));
}

test('concurrent senders cause no gap pulls: an ack never overtakes pushes of earlier messages, nor trails later ones', async (t) => {
  // Pulls without faults are pure waste (the server reads what it had just
  // pushed); they used to come from acks handled after pushes in the same
  // packet, and from acks queued ahead of earlier messages still batched.
  const fixture = await startTestServer(t);
  await users(fixture, 'alice', 'bob', 'carol');
  const alice = await device(fixture, 'alice', fixture.server.wsUrl, t);
  const bob = await device(fixture, 'bob', fixture.server.tcpUrl as string, t);
  const carol = await device(fixture, 'carol', fixture.server.wsUrl, t);
  const direct = await alice.client.direct('bob');
  const group = (await carol.client.createGroup({ name: 'Three', memberIds: ['alice', 'bob'] })).id;
  await alice.client.send(direct, { text: 'hi' });
  await carol.client.send(group, { text: 'hi all' });
  // Each device meets the group with its creation event (seq 1) to fetch: a
  // pull by design, done before the count starts.
  const hasGroupStart = (each: Device) => each.messages.some((m) => m.conversationId === group && m.seq === 1) && texts(each, group).length === 1;
  await eventually(() => texts(bob, direct).length === 1 && [alice, bob, carol].every(hasGroupStart));
  // The creation event also has each client sync (debounced): let that finish.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const pullsBefore = fixture.server.requestCounts().pull ?? 0;
  const rounds = 100;
  await Promise.all([
    ...Array.from({ length: rounds }, (_, n) => alice.client.send(direct, { text: `a${n}` })),
    ...Array.from({ length: rounds }, (_, n) => bob.client.send(direct, { text: `b${n}` })),
    ...[alice, bob, carol].flatMap((each, s) => Array.from({ length: rounds }, (_, n) => each.client.send(group, { text: `g${s}-${n}` }))),
  ]);
  await eventually(
    () => [alice, bob].every((each) => texts(each, direct).length === 1 + 2 * rounds) && [alice, bob, carol].every((each) => texts(each, group).length === 1 + 3 * rounds),
    10_000,
    'everyone has every message',
  );
  for (const each of [alice, bob]) assertDenseOnce(each, direct);
  assert.equal((fixture.server.requestCounts().pull ?? 0) - pullsBefore, 0, 'no pulls were needed');
});

test('an overloaded server stops reading from senders (and past twice its bound refuses, retryably): nothing is lost, order holds', async (t) => {
  // Two sends waiting for their commit server-wide: a burst is held back in
  // TCP, and what was already read past four is refused and sent again.
  const fixture = await startTestServer(t, { limits: { maxPendingSends: 2 } });
  await users(fixture, 'alice', 'bob', 'carol');
  const alice = await device(fixture, 'alice', fixture.server.wsUrl, t);
  const bob = await device(fixture, 'bob', fixture.server.tcpUrl as string, t);
  const carol = await device(fixture, 'carol', fixture.server.wsUrl, t);
  const direct = await alice.client.direct('bob');
  const group = (await carol.client.createGroup({ name: 'Busy', memberIds: ['alice', 'bob'] })).id;
  const count = 60;
  const sent = await Promise.all([
    ...Array.from({ length: count }, (_, n) => alice.client.send(direct, { text: `a${n}` })),
    ...Array.from({ length: count }, (_, n) => bob.client.send(direct, { text: `b${n}` })),
    ...Array.from({ length: count }, (_, n) => carol.client.send(group, { text: `c${n}` })),
  ]);
  assert.equal(sent.length, 3 * count, 'every send was acknowledged in the end');
  await eventually(() => texts(alice, direct).length === 2 * count && texts(bob, direct).length === 2 * count && texts(bob, group).length === count, 15_000);
  for (const [each, conversationId, prefix] of [
    [bob, direct, 'a'],
    [alice, direct, 'b'],
    [alice, group, 'c'],
    [bob, group, 'c'],
  ] as const) {
    assert.deepEqual(
      texts(each, conversationId).filter((text) => text.startsWith(prefix)),
      Array.from({ length: count }, (_, n) => `${prefix}${n}`),
      'each sender\'s messages once, in order',
    );
    assertDenseOnce(each, conversationId);
  }
});

test('a reconnect gets what changed with the sync answer: pulls only past the recent limit, also for conversations born or left while away', async (t) => {
  const fixture = await startTestServer(t);
  await users(fixture, 'alice', 'bob', 'carol');
  // Every sync bob's client sends, as the server reads it.
  const syncs: SyncRequest[] = [];
  let cutAfterSync = false;
  class RecordingWebSocket extends WebSocket {
    override send(data: Uint8Array): void {
      const frames = decodePacket(data);
      for (const frame of frames) if (frame.body?.$case === 'sync') syncs.push(frame.body.value);
      super.send(data);
      if (cutAfterSync && frames.some((frame) => frame.body?.$case === 'sync')) {
        cutAfterSync = false;
        this.terminate(); // the answer never arrives, as on a link too slow to carry it
      }
    }
  }
  const alice = await device(fixture, 'alice', fixture.server.wsUrl, t);
  const bob = await device(fixture, 'bob', fixture.server.wsUrl, t, { reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 }, WebSocket: RecordingWebSocket });
  const direct = await alice.client.direct('bob');
  await alice.client.send(direct, { text: 'before' });
  await alice.client.createGroup({ id: 'busy', name: 'Busy', memberIds: ['bob', 'carol'] });
  await alice.client.createGroup({ id: 'leaving', name: 'Leaving', memberIds: ['bob'] });
  await eventually(() => texts(bob, direct).length === 1 && ['busy', 'leaving'].every((id) => bob.messages.some((m) => m.conversationId === id)));
  await new Promise((resolve) => setTimeout(resolve, 300)); // the syncs the creation events cause

  bob.client.networkLost();
  for (let n = 0; n < 5; n++) await alice.client.send(direct, { text: `d${n}` });
  const carol = await device(fixture, 'carol', fixture.server.wsUrl, t);
  for (let n = 0; n < 30; n++) await carol.client.send('busy', { text: `b${n}` }); // past the 20 a sync carries
  await alice.client.createGroup({ id: 'born', name: 'Born', memberIds: ['bob'] });
  for (let n = 0; n < 3; n++) await alice.client.send('born', { text: `n${n}` });
  await alice.client.send('leaving', { text: 'last one for bob' });
  await alice.client.removeMember('leaving', 'bob');
  await alice.client.send('leaving', { text: 'after bob left' });

  const pullsBefore = fixture.server.requestCounts().pull ?? 0;
  const syncsBefore = syncs.length;
  bob.client.reconnectNow();
  await eventually(
    () => texts(bob, direct).length === 6 && texts(bob, 'busy').length === 30 && texts(bob, 'born').length === 3 && texts(bob, 'leaving').includes('last one for bob'),
    5000,
    'bob catches up',
  );
  assert.deepEqual(texts(bob, direct), ['before', 'd0', 'd1', 'd2', 'd3', 'd4']);
  assert.deepEqual(texts(bob, 'busy'), Array.from({ length: 30 }, (_, n) => `b${n}`));
  assert.deepEqual(texts(bob, 'born'), ['n0', 'n1', 'n2']);
  assert.deepEqual(texts(bob, 'leaving'), ['last one for bob'], 'nothing after the removal');
  for (const id of [direct, 'busy', 'born', 'leaving']) assertDenseOnce(bob, id);
  assert.equal((fixture.server.requestCounts().pull ?? 0) - pullsBefore, 1, 'one pull: the 10 messages of busy beyond the 20 the sync carried');
  const reconnectSync = syncs[syncsBefore];
  assert.equal(reconnectSync?.recentLimit, 20);
  assert.ok(reconnectSync.sinceVersion > 0);

  // Live pushes move bob's positions past his version: the next sync sends them, so nothing comes twice.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await alice.client.send(direct, { text: 'live' });
  await eventually(() => texts(bob, direct).includes('live'));
  const beforeLive = syncs.length;
  bob.client.networkLost();
  bob.client.reconnectNow();
  await eventually(() => bob.client.state === 'open' && syncs.length > beforeLive);
  const positions = Object.fromEntries((syncs[beforeLive]?.positions ?? []).map((p) => [p.conversationId, p.seq]));
  assert.equal(positions[direct], 7, 'the direct chat is held through seq 7');
  assertDenseOnce(bob, direct);

  // A sync whose answer never came: the next one asks for a quarter as many, a completed one restores 20.
  await new Promise((resolve) => setTimeout(resolve, 300));
  bob.client.networkLost();
  await alice.client.send(direct, { text: 'while cut' });
  cutAfterSync = true;
  const beforeCut = syncs.length;
  bob.client.reconnectNow();
  await eventually(() => syncs.length > beforeCut && bob.client.state === 'reconnecting');
  bob.client.reconnectNow();
  await eventually(() => texts(bob, direct).includes('while cut'));
  assert.deepEqual(syncs.slice(beforeCut, beforeCut + 2).map((sync) => sync.recentLimit), [20, 5]);
  bob.client.networkLost();
  bob.client.reconnectNow();
  await eventually(() => bob.client.state === 'open' && syncs.length > beforeCut + 2);
  assert.equal(syncs[beforeCut + 2]?.recentLimit, 20);
  assertDenseOnce(bob, direct);
});

test('a push that never came is pulled when conversation_changed reports a later last_seq', async (t) => {
  const fixture = await startTestServer(t);
  await users(fixture, 'alice', 'bob');
  // Bob's first device loses the push of one message on the way in (as if it
  // had been routed with a member list from before bob was added back).
  class LosingWebSocket extends WebSocket {
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'message') return super.emit(event, ...args);
      const frames = decodePacket(new Uint8Array(args[0] as ArrayBuffer));
      const kept = frames.filter((frame) => !(frame.body?.$case === 'push' && frame.body.value.text === 'lost on the way'));
      return kept.length === 0 || super.emit(event, Buffer.from(encodePacket(kept)), ...args.slice(1));
    }
  }
  const alice = await device(fixture, 'alice', fixture.server.wsUrl, t);
  const bob = await device(fixture, 'bob', fixture.server.wsUrl, t, { WebSocket: LosingWebSocket });
  const bobPhone = await device(fixture, 'bob', fixture.server.wsUrl, t);
  const direct = await alice.client.direct('bob');
  await alice.client.send(direct, { text: 'first' });
  await alice.client.send(direct, { text: 'lost on the way' });
  await eventually(() => texts(bobPhone, direct).length === 2 && texts(bob, direct).length === 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(texts(bob, direct), ['first'], 'the push was dropped');
  const pullsBefore = fixture.server.requestCounts().pull ?? 0;
  // Bob reads on his phone: his first device gets conversation_changed with last_seq 2.
  await bobPhone.client.markRead(direct);
  await eventually(() => texts(bob, direct).length === 2, 5000, 'the first device pulls the missing message');
  assert.deepEqual(texts(bob, direct), ['first', 'lost on the way']);
  assertDenseOnce(bob, direct);
  assert.equal((fixture.server.requestCounts().pull ?? 0) - pullsBefore, 1);
});
