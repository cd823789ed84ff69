/**
 * Three nodes in three processes, one store, one NATS: direct, group and
 * live-room traffic whose senders and recipients sit on different nodes
 * (and transports) keeps the full guarantee — every acked message reaches
 * every member device once, in order, without gaps, and the unread counts
 * agree with the server's at the end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { type Transport, Cluster, clusterSkipReason } from './support.js';
import { assertFullGuarantee, runClusterTraffic } from './traffic.js';

const skip = await clusterSkipReason();

test('direct, group and room traffic across three nodes: every message once, in order, unread exact', { skip, timeout: 60_000 }, async (t) => {
  const cluster = await Cluster.start(t);
  const api = cluster.api;
  for (const userId of ['host', 'v1', 'v2', 'v3', 'v4']) await api.createUser(userId);
  const { status } = await api.call('POST', '/v1/rooms', { id: 'live', name: 'Live', hostId: 'host' });
  assert.equal(status, 201);

  // The room's host on the first node; viewers on all three, both transports.
  const connect = async (userId: string, node: number, transport: Transport) => {
    const client = new ParleyClient({ url: cluster.node(node).url(transport), token: () => api.token(userId), reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    t.after(() => client.close());
    await client.connect();
    return client;
  };
  const host = await connect('host', 0, 'ws');
  const viewers = await Promise.all(
    (
      [
        ['v1', 1, 'tcp'],
        ['v2', 2, 'ws'],
        ['v3', 0, 'tcp'],
        ['v4', 1, 'ws'],
      ] as const
    ).map(async ([userId, node, transport]) => {
      const client = await connect(userId, node, transport);
      const room = await client.joinRoom('live');
      const seqs: number[] = [];
      const texts: string[] = [];
      room.on('message', (message) => {
        seqs.push(message.seq);
        texts.push(message.text ?? '');
      });
      const chat: string[] = [];
      room.on('events', ({ events }) => chat.push(...events.filter((event) => event.kind === 'chat').map((event) => event.text ?? '')));
      return { userId, room, seqs, texts, chat };
    }),
  );

  // Room cards go out while the conversation traffic runs.
  const cards = 40;
  const hostSends = (async () => {
    for (let index = 1; index <= cards; index++) {
      await host.send('live', { text: `card ${index}` });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const run = await runClusterTraffic(t, cluster, { users: 6, durationMs: 5000 });
  await hostSends;
  assertFullGuarantee(run);
  t.diagnostic(`${run.checks.sent} sends, ${run.checks.delivered} deliveries checked on ${run.devices.length} devices over ${cluster.nodes.length} nodes`);

  for (const viewer of viewers) {
    await waitFor(() => viewer.seqs.length >= cards, 10_000, `${viewer.userId} gets every card`);
    assert.deepEqual(viewer.seqs, Array.from({ length: cards }, (_, index) => index + 1), `${viewer.userId}: every card once, in order`);
    assert.deepEqual(viewer.texts, Array.from({ length: cards }, (_, index) => `card ${index + 1}`));
  }
  // Chatter from a viewer on the third node reaches one on the first.
  await viewers[1]?.room.chat('hello from n3');
  await waitFor(() => viewers[2]?.chat.includes('hello from n3') === true, 10_000, 'chat crosses nodes');
  // The online count is the cluster's, not one node's (exchanged every statsIntervalMs, 2 s by default).
  await waitFor(() => viewers.every((viewer) => viewer.room.online === 4), 10_000, 'every node counts four viewers');
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
