/** ClusterPresence over one in-process bus shared by several "nodes": counts, full lists, a starting node, a silent node. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalBus } from '../src/bus/local-bus.js';
import { ClusterPresence } from '../src/gateway/cluster-presence.js';
import { SessionRegistry } from '../src/gateway/registry.js';

const settle = (ms = 40) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node whose own connections are `local` (user → count), as its registry would count them. */
function nodeOn(bus: LocalBus, nodeId: string, local: Map<string, number>, timing: { heartbeatMs?: number; silentAfterMs?: number } = {}) {
  const connections = {
    userCounts: () => local.entries(),
    connectionsOf: (userId: string) => local.get(userId) ?? 0,
    get userCount() {
      return local.size;
    },
  };
  return new ClusterPresence({ bus, nodeId, local: connections, coalesceMs: 5, ...timing });
}

test('changes reach the other nodes, coalesced; a node that starts learns the others from their full lists', async (t) => {
  const bus = new LocalBus();
  const localA = new Map<string, number>();
  const a = nodeOn(bus, 'a', localA);
  t.after(() => a.close());
  localA.set('ann', 2);
  a.localChanged('ann', 1);
  a.localChanged('ann', 2);
  localA.set('bob', 1);
  a.localChanged('bob', 1);
  const b = nodeOn(bus, 'b', new Map());
  t.after(() => b.close());
  await settle(300); // b asked at start; a answers within 200 ms
  assert.equal(b.remoteConnections('ann'), 2);
  assert.deepEqual([...b.remoteNodesOf('bob')], ['a']);
  assert.equal(b.usersOnline(), 2);
  assert.deepEqual(b.connectionsOf('ann'), { connections: 2, nodes: ['a'] });
  assert.equal(a.remoteConnections('ann'), 0, 'a node does not count itself as remote');
  localA.delete('bob');
  a.localChanged('bob', 0);
  await settle();
  assert.equal(b.remoteConnections('bob'), 0);
  assert.equal(b.usersOnline(), 1);
  assert.deepEqual(b.connectionsOf('bob'), { connections: 0, nodes: [] });
});

test('a node that stops says so; one that goes silent is forgotten', async (t) => {
  const bus = new LocalBus();
  const a = nodeOn(bus, 'a', new Map([['ann', 1]]), { heartbeatMs: 20, silentAfterMs: 120 });
  const b = nodeOn(bus, 'b', new Map([['bob', 1]]), { heartbeatMs: 20, silentAfterMs: 120 });
  const watcher = nodeOn(bus, 'w', new Map(), { heartbeatMs: 20, silentAfterMs: 120 });
  t.after(() => watcher.close());
  await settle(300);
  assert.equal(watcher.remoteConnections('ann'), 1);
  assert.equal(watcher.remoteConnections('bob'), 1);
  a.close();
  await settle();
  assert.equal(watcher.remoteConnections('ann'), 0, 'a graceful stop clears at once');
  // b dies without a word (kill -9): its heartbeats stop.
  (b as unknown as { heartbeat: NodeJS.Timeout }).heartbeat.close();
  (b as unknown as { unsubscribe: () => void }).unsubscribe();
  await settle(250);
  assert.equal(watcher.remoteConnections('bob'), 0);
  assert.deepEqual(watcher.remoteNodes(), []);
});

test('the registry counts the cluster: the connection limit over all nodes, the send rate shared out', () => {
  const registry = new SessionRegistry({ sendsPerSecondPerUser: 10, sendBurstPerUser: 10, maxConnectionsPerUser: 3 });
  const remote = new Map<string, number>([['ann', 2]]);
  const changes: Array<[string, number]> = [];
  registry.attachCluster({
    remoteConnections: (userId) => remote.get(userId) ?? 0,
    remoteNodesOf: (userId) => new Set((remote.get(userId) ?? 0) > 0 ? ['other'] : []),
    localChanged: (userId, count) => changes.push([userId, count]),
  });
  const session = (id: string) => ({ id, userId: 'ann' }) as never;
  const [first, second] = [session('s1'), session('s2')];
  registry.bindUser(first);
  assert.throws(() => registry.bindUser(second), { name: 'LIMIT_EXCEEDED' });
  assert.deepEqual(changes, [['ann', 1]]);
  // Two nodes hold ann: this one allows half the burst.
  const bucket = registry.sendBucketOf('ann', 0);
  const taken = Array.from({ length: 10 }, () => bucket.take(0)).filter((wait) => wait === 0).length;
  assert.equal(taken, 5);
  remote.delete('ann');
  registry.bindUser(second);
  assert.deepEqual(changes.at(-1), ['ann', 2]);
  registry.remove(first);
  assert.deepEqual(changes.at(-1), ['ann', 1]);
});
