/**
 * The Bus contract: what delivery relies on, run against any adapter. A
 * factory gives one or more nodes joined to the same bus (LocalBus: one
 * process; NATS: several connections); every subscriber on every node must
 * get every event, in publish order per conversation, with its payload
 * intact; a room's traffic reaches every node that declared interest in the
 * room, what concerns a user every node that declared the user, and an
 * adapter that routes sends either to no other node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Bus, type BusEvent, roomRoute, userRoute } from '../../src/bus/bus.js';
import type { StoredMessage } from '../../src/services/model.js';

export interface BusCluster {
  /** Buses of different nodes sharing one broker (or one process for LocalBus). */
  nodes: Bus[];
  close(): Promise<void>;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function message(conversationId: string, seq: number, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id: `${conversationId}-${seq}`, conversationId, seq, senderId: 'a', clientMsgId: `c${seq}`, type: 'user', text: `#${seq}`, createdAt: 1_700_000_000_000 + seq, ...extra };
}

/** `skip`: why the adapter's service is missing (the suite is then reported as skipped, with the reason). */
export function busContract(name: string, createCluster: () => Promise<BusCluster>, skip?: string): void {
  describe(`Bus contract: ${name}`, { skip }, () => {
    async function setup(t: { after(fn: () => unknown): void }): Promise<BusCluster> {
      const cluster = await createCluster();
      t.after(() => cluster.close());
      return cluster;
    }

    test('every subscriber on every node gets every message, in publish order per conversation', async (t) => {
      const { nodes } = await setup(t);
      const received = nodes.map(() => [] as BusEvent[]);
      nodes.forEach((node, index) => {
        node.subscribe((event) => {
          received[index]!.push(event);
        });
      });
      const publisher = nodes[nodes.length - 1]!;
      for (let seq = 1; seq <= 100; seq++) {
        publisher.publish({ type: 'message', message: message('one', seq) });
        publisher.publish({ type: 'message', message: message('two', seq) });
      }
      await eventually(() => received.every((events) => events.length >= 200), 'all events on all nodes');
      for (const events of received) {
        for (const conversationId of ['one', 'two']) {
          const seqs = events.flatMap((event) => (event.type === 'message' && event.message.conversationId === conversationId ? [event.message.seq] : []));
          assert.deepEqual(seqs, Array.from({ length: 100 }, (_, n) => n + 1));
        }
      }
    });

    test('payloads arrive intact: binary data, addressing, origin and every event type', async (t) => {
      const { nodes } = await setup(t);
      const received: BusEvent[] = [];
      nodes[0]!.subscribe((event) => received.push(event));
      await nodes[0]!.interest?.(roomRoute('live'), true);
      await nodes[0]!.interest?.(userRoute('b'), true);
      await nodes[0]!.interest?.(userRoute('c'), true);
      const publisher = nodes[nodes.length - 1]!;
      const sent: BusEvent[] = [
        {
          type: 'message',
          message: message('g', 7, { type: 'system', text: undefined, data: new Uint8Array([0, 1, 2, 255]), visibleTo: 'b' }),
          originSessionId: 'session-1',
          alsoNotify: ['removed-user'],
        },
        { type: 'members', conversationId: 'g' },
        {
          type: 'summary',
          userId: 'b',
          totalUnread: 3,
          originSessionId: 'session-2',
          summary: {
            id: 'g', kind: 'group', name: 'G', subject: '', peerId: '', lastSeq: 7, readSeq: 4, unread: 3, role: 'member',
            firstSeq: 1, leftSeq: 0, active: true, updatedAt: 1_700_000_000_007, memberCount: 3, attributes: { item_id: 'sku-1' },
            mutedUntil: 1_700_000_900_000, pinnedAt: 0, draft: 'draft ✍️', mentions: 1, threadUnread: 2,
          },
        },
        { type: 'revoked', userId: 'c' },
        { type: 'roomMessage', message: message('live', 3, { senderId: 'host', text: undefined, data: new Uint8Array([9, 8]) }) },
        {
          type: 'roomEvent',
          roomId: 'live',
          event: { kind: 'custom', senderId: 'fan', senderName: 'Fan', customType: 'game.move', data: new Uint8Array([0, 255, 7]) },
        },
        { type: 'roomEvent', roomId: 'live', event: { kind: 'like', senderId: 'fan', senderName: 'Fan', count: 35 } },
        { type: 'roomStats', roomId: 'live', nodeId: 'n1', online: 1200, top: [{ userId: 'fan', name: 'Fan', score: 42 }] },
        { type: 'roomPerson', roomId: 'live', userId: 'fan', role: 'member', mutedUntil: 1_700_000_060_000 },
      ];
      for (const event of sent) publisher.publish(event);
      await eventually(() => received.length >= sent.length, 'every event');
      const first = received[0];
      assert.equal(first?.type, 'message');
      if (first?.type === 'message') {
        assert.deepEqual(Array.from(first.message.data ?? []), [0, 1, 2, 255]);
        assert.equal(first.message.visibleTo, 'b');
        assert.equal(first.message.text, undefined);
        assert.equal(first.originSessionId, 'session-1');
        assert.deepEqual(first.alsoNotify, ['removed-user']);
      }
      assert.deepEqual(received.slice(1), sent.slice(1));
    });

    test('room traffic reaches every node once per publish, in publish order per room', async (t) => {
      const { nodes } = await setup(t);
      const received = nodes.map(() => [] as number[]);
      nodes.forEach((node, index) => {
        node.subscribe((event) => {
          if (event.type === 'roomEvent' && event.roomId === 'hot') received[index]!.push(event.event.count ?? 0);
        });
      });
      await Promise.all(nodes.map((node) => node.interest?.(roomRoute('hot'), true)));
      const publisher = nodes[0]!;
      for (let count = 1; count <= 200; count++) publisher.publish({ type: 'roomEvent', roomId: 'hot', event: { kind: 'like', senderId: 'fan', senderName: '', count } });
      await eventually(() => received.every((counts) => counts.length >= 200), 'all room events on all nodes');
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const counts of received) assert.deepEqual(counts, Array.from({ length: 200 }, (_, n) => n + 1));
    });

    test('room traffic goes only where a room was declared; interest is counted; a withdrawn room stops arriving', async (t) => {
      const { nodes } = await setup(t);
      const routes = nodes.every((node) => node.interest !== undefined);
      const [watcher, other] = [nodes[0]!, nodes[nodes.length - 1]!];
      const seen = (bus: Bus) => {
        const counts: number[] = [];
        bus.subscribe((event) => {
          if (event.type === 'roomEvent') counts.push(event.event.count ?? 0);
        });
        return counts;
      };
      const atWatcher = seen(watcher);
      const atOther = watcher === other ? atWatcher : seen(other);
      const like = (count: number) => other.publish({ type: 'roomEvent', roomId: 'watched', event: { kind: 'like', senderId: 'fan', senderName: '', count } });
      await watcher.interest?.(roomRoute('watched'), true);
      await watcher.interest?.(roomRoute('watched'), true);
      like(1);
      await eventually(() => atWatcher.includes(1), 'the event at the node that declared the room');
      await watcher.interest?.(roomRoute('watched'), false);
      like(2);
      await eventually(() => atWatcher.includes(2), 'still routed while one declaration is left');
      await watcher.interest?.(roomRoute('watched'), false);
      like(3);
      // A marker behind it from the same publisher: once it is in, event 3 would have been too.
      let marked = false;
      watcher.subscribe((event) => {
        if (event.type === 'members' && event.conversationId === 'marker') marked = true;
      });
      other.publish({ type: 'members', conversationId: 'marker' });
      await eventually(() => marked, 'the marker');
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (routes && watcher !== other) {
        assert.deepEqual(atWatcher, [1, 2], 'nothing after the last withdrawal');
        assert.deepEqual(atOther, [], 'a node that never declared the room gets none of its traffic');
      }
    });

    test('what concerns a user reaches each node that declared the user, once per user, and no other node', async (t) => {
      const { nodes } = await setup(t);
      const routes = nodes.every((node) => node.interest !== undefined);
      const [first, second] = [nodes[0]!, nodes[nodes.length - 1]!];
      const seen = (bus: Bus) => {
        const events: BusEvent[] = [];
        bus.subscribe((event) => {
          if (event.type !== 'members') events.push(event);
        });
        return events;
      };
      const atFirst = seen(first);
      const atSecond = first === second ? atFirst : seen(second);
      await first.interest?.(userRoute('x'), true);
      await first.interest?.(userRoute('y'), true);
      await second.interest?.(userRoute('y'), true);
      for (let seq = 1; seq <= 20; seq++) {
        second.publish({ type: 'message', message: message('dm', seq), recipients: ['x', 'y', 'nobody'], alsoNotify: seq === 20 ? ['gone'] : undefined });
      }
      second.publish({ type: 'membership', conversationId: 'dm', userIds: ['x', 'nobody'] });
      second.publish({ type: 'revoked', userId: 'nobody' });
      let marked = 0;
      for (const node of [first, second]) {
        node.subscribe((event) => {
          if (event.type === 'members' && event.conversationId === 'marker') marked += 1;
        });
      }
      second.publish({ type: 'members', conversationId: 'marker' });
      await eventually(() => marked === 2, 'the marker behind them, on both nodes');
      await new Promise((resolve) => setTimeout(resolve, 50));
      /** The seqs of "dm" that reached a node for `userId`, in arrival order. */
      const seqsFor = (events: BusEvent[], userId: string) =>
        events.flatMap((event) => (event.type === 'message' && event.recipients?.includes(userId) ? [event.message.seq] : []));
      const all = Array.from({ length: 20 }, (_, n) => n + 1);
      assert.deepEqual(seqsFor(atFirst, 'x'), all, 'x: every message once, in order');
      assert.deepEqual(seqsFor(atFirst, 'y'), all, 'y: every message once, in order');
      if (first !== second) assert.deepEqual(seqsFor(atSecond, 'y'), all);
      const membershipFor = (events: BusEvent[], userId: string) => events.filter((event) => event.type === 'membership' && event.userIds.includes(userId)).length;
      assert.equal(membershipFor(atFirst, 'x'), 1);
      if (routes && first !== second) {
        assert.deepEqual(seqsFor(atSecond, 'x'), [], 'x was declared on the first node only');
        for (const events of [atFirst, atSecond]) {
          assert.ok(!events.some((event) => JSON.stringify(event).includes('nobody')), 'nothing for a user no node declared');
          assert.ok(!events.some((event) => event.type === 'message' && event.alsoNotify?.includes('gone')), 'nor for an undeclared removed user');
        }
      }
    });

    test('an unsubscribed handler gets nothing more; the others still do', async (t) => {
      const { nodes } = await setup(t);
      const kept: BusEvent[] = [];
      const dropped: BusEvent[] = [];
      nodes[0]!.subscribe((event) => kept.push(event));
      const unsubscribe = nodes[0]!.subscribe((event) => dropped.push(event));
      const publisher = nodes[nodes.length - 1]!;
      publisher.publish({ type: 'members', conversationId: 'before' });
      await eventually(() => kept.length === 1 && dropped.length === 1, 'first event');
      unsubscribe();
      publisher.publish({ type: 'members', conversationId: 'after' });
      publisher.publish({ type: 'members', conversationId: 'marker' });
      await eventually(() => kept.length === 3, 'later events');
      assert.equal(dropped.length, 1);
    });
  });
}
