/**
 * The operator's cluster overview (GET /v1/admin/overview): two real nodes in
 * one process sharing a store and an in-process bus, SDK clients on both.
 * Either node lists both nodes with their own connections, users and
 * messages, the conversation with the most sends first (summed across the
 * nodes, named), and the rooms by viewers counted on every node; a node that
 * stopped is dropped once it has been silent for 10 s; without the admin key
 * the overview is refused like every /v1 route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { ManualClock } from '@parley/protocol';
import { type Bus, type BusEvent, type BusHandler, LocalBus, type ServerOptions, SqliteStore } from '@parley/server';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

/** The in-process bus shared by two nodes: the first node to close must not cut the other off. */
class SharedBus implements Bus {
  private readonly inner = new LocalBus();
  publish(event: BusEvent): void {
    this.inner.publish(event);
  }
  subscribe(handler: BusHandler): () => void {
    return this.inner.subscribe(handler);
  }
  async close(): Promise<void> {}
}

async function twoNodes(t: TestContext, options: ServerOptions = {}): Promise<[TestServer, TestServer]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-overview-'));
  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const shared: ServerOptions = { store, bus: new SharedBus(), tcpPort: false, rooms: { tickMs: 50, statsIntervalMs: 200 }, ...options };
  const a = await startTestServer(t, { ...shared, dataDir: join(dataDir, 'a'), nodeId: 'node-a' });
  const b = await startTestServer(t, { ...shared, dataDir: join(dataDir, 'b'), nodeId: 'node-b' });
  return [a, b];
}

async function online(t: TestContext, node: TestServer, userId: string): Promise<ParleyClient> {
  const parley = new ParleyClient({ url: node.server.wsUrl, token: () => node.api.token(userId), reconnect: false });
  t.after(() => parley.close());
  await parley.connect();
  return parley;
}

interface NodeJson {
  nodeId: string;
  connections: { ws: number; tcp: number; total: number };
  usersOnline: number;
  messagesIn: number;
  messagesOut: number;
  rooms: number;
  roomViewers: number;
  topRooms: Array<{ id: string; viewers: number }>;
  busiestConversations: Array<{ id: string; sendsLastMinute: number }>;
  rssBytes: number;
  eventLoopDelayMs: { mean: number; p99: number; max: number };
}

interface Overview {
  generatedAt: number;
  nodes: NodeJson[];
  totals: { nodes: number; connections: number; usersOnline: number; messagesIn: number; messagesOut: number; roomViewers: number };
  busiestConversations: Array<{ id: string; kind: string; name: string; memberCount: number; sendsLastMinute: number }>;
  busiestRooms: Array<{ id: string; name: string; closed: boolean; viewers: number }>;
}

async function overview(node: TestServer): Promise<Overview> {
  const { status, body } = await node.api.call('GET', '/v1/admin/overview');
  assert.equal(status, 200, JSON.stringify(body));
  return body as Overview;
}

/** Polls the overview until `accept` holds (snapshots go out every 2 s); returns it. */
async function overviewWhen(node: TestServer, accept: (view: Overview) => boolean, what: string): Promise<Overview> {
  let last: Overview | undefined;
  try {
    await eventually(
      async () => {
        last = await overview(node);
        return accept(last);
      },
      8000,
      what,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last overview: ${JSON.stringify(last)}`);
  }
  return last as Overview;
}

function nodeOf(view: Overview, nodeId: string): NodeJson | undefined {
  return view.nodes.find((node) => node.nodeId === nodeId);
}

describe('the admin overview', () => {
  test('either node lists both nodes, their traffic, the busiest conversation first and the rooms by viewers', async (t) => {
    const [a, b] = await twoNodes(t);
    for (const [id, name] of [
      ['ann', 'Ann'],
      ['bob', 'Bob'],
      ['cid', 'Cid'],
      ['dee', 'Dee'],
    ]) {
      await a.api.createUser(id as string, name);
    }
    // Made through the API before anyone connects: no pushes to count yet.
    await a.api.createGroup({ id: 'busy', name: 'Busy team', ownerId: 'ann', memberIds: ['cid'] });
    assert.equal((await a.api.call('POST', '/v1/rooms', { id: 'live', name: 'Launch live', hostId: 'bob' })).status, 201);

    const ann = await online(t, a, 'ann');
    const bob = await online(t, a, 'bob');
    const cid = await online(t, b, 'cid');
    const dee = await online(t, b, 'dee');
    const direct = await dee.direct('ann');

    for (let index = 1; index <= 5; index++) await ann.send('busy', { text: `from a ${index}` });
    for (let index = 1; index <= 3; index++) await cid.send('busy', { text: `from b ${index}` });
    for (let index = 1; index <= 2; index++) await dee.send(direct, { text: `dm ${index}` });
    await bob.joinRoom('live');
    await cid.joinRoom('live');
    await dee.joinRoom('live');

    // Pushes: ann's five reach cid (node b), cid's three and dee's two reach ann (node a).
    const expected = {
      'node-a': { connections: 2, users: 2, in: 5, out: 5, viewers: 1 },
      'node-b': { connections: 2, users: 2, in: 5, out: 5, viewers: 2 },
    };
    const matches = (view: Overview) =>
      Object.entries(expected).every(([nodeId, figures]) => {
        const node = nodeOf(view, nodeId);
        return (
          node !== undefined &&
          node.connections.total === figures.connections &&
          node.usersOnline === figures.users &&
          node.messagesIn === figures.in &&
          node.messagesOut === figures.out &&
          node.roomViewers === figures.viewers
        );
      });
    for (const node of [a, b]) {
      const view = await overviewWhen(node, matches, 'both nodes with their figures');
      assert.deepEqual(
        view.nodes.map((entry) => entry.nodeId),
        ['node-a', 'node-b'],
      );
      const nodeA = nodeOf(view, 'node-a') as NodeJson;
      assert.deepEqual(nodeA.connections, { ws: 2, tcp: 0, total: 2 });
      assert.deepEqual(nodeA.busiestConversations, [{ id: 'busy', sendsLastMinute: 5 }]);
      assert.deepEqual(nodeA.topRooms, [{ id: 'live', viewers: 1 }]);
      assert.ok(nodeA.rssBytes > 0);
      assert.ok(nodeA.eventLoopDelayMs.p99 >= 0);
      assert.deepEqual(view.totals, { nodes: 2, connections: 4, usersOnline: 4, messagesIn: 10, messagesOut: 10, roomViewers: 3 });
      assert.deepEqual(view.busiestConversations, [
        { id: 'busy', kind: 'group', name: 'Busy team', memberCount: 2, sendsLastMinute: 8 },
        { id: direct, kind: 'direct', name: 'Ann & Dee', memberCount: 2, sendsLastMinute: 2 },
      ]);
      assert.deepEqual(view.busiestRooms, [{ id: 'live', name: 'Launch live', closed: false, viewers: 3 }]);
      assert.ok(Math.abs(view.generatedAt - Date.now()) < 60_000);
    }
  });

  test('a node that went silent is dropped after 10 s', async (t) => {
    const clock = new ManualClock(Date.now());
    const [a, b] = await twoNodes(t, { clock });
    await overviewWhen(a, (view) => view.nodes.length === 2, 'both nodes');
    await b.close();
    // Its last snapshot stands until it has been silent for 10 s.
    clock.advance(9000);
    assert.deepEqual(
      (await overview(a)).nodes.map((node) => node.nodeId),
      ['node-a', 'node-b'],
    );
    clock.advance(2000);
    assert.deepEqual(
      (await overview(a)).nodes.map((node) => node.nodeId),
      ['node-a'],
    );
  });

  test('without the admin key the overview is refused with the stable code', async (t) => {
    const [a] = await twoNodes(t);
    const reference = await a.api.call('GET', '/v1/users', undefined, null);
    for (const key of [null, 'wrong-key', '']) {
      const { status, body } = await a.api.call('GET', '/v1/admin/overview', undefined, key);
      assert.equal(status, 401);
      assert.equal(body.error.name, 'UNAUTHENTICATED');
      assert.equal(body.error.code, reference.body.error.code, 'the same code as every /v1 route');
    }
    const { status, body } = await a.api.call('GET', '/v1/admin/overview?verbose=1');
    assert.equal(status, 400, 'no query parameters');
    assert.equal(body.error.name, 'INVALID_ARGUMENT');
  });
});
