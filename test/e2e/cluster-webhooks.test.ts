/**
 * Webhooks in a cluster: two nodes on one PostgreSQL and NATS, both
 * configured with the same endpoint. One node dispatches at a time (the one
 * holding the store's feed cursor), so each event arrives once while both
 * run; when that node stops, the other takes over from the saved place and
 * nothing is lost. Skipped, with the reason, where NATS or PostgreSQL does
 * not answer; under CI they must.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { natsSkipReason, postgresSkipReason } from '../../packages/server/test/support/cluster-services.js';
import { eventually } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';

const skip = (await natsSkipReason()) ?? (await postgresSkipReason());

async function endpoint(t: TestContext) {
  const ids: string[] = [];
  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    for (const event of (JSON.parse(raw) as { events: Array<{ id: string }> }).events) ids.push(event.id);
    response.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, ids };
}

test('two nodes, one webhook: each event once while both run; the other node takes over when the dispatching one stops', { skip, timeout: 60_000 }, async (t) => {
  const receiver = await endpoint(t);
  const [a, b] = await startTwoNodes(t, ['ann', 'bob'], { webhooks: { url: receiver.url }, hookSecret: 'cluster-hook' });
  const ann = new ParleyClient({ url: b.server.wsUrl, token: () => b.api.token('ann'), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => ann.close());
  await ann.connect();
  const dm = await ann.direct('bob');
  for (let index = 1; index <= 20; index++) await ann.send(dm, { text: `first ${index}` });
  await eventually(() => receiver.ids.length >= 20, 15_000, 'the first twenty');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(new Set(receiver.ids).size, receiver.ids.length, 'no event twice while both nodes run');

  const statuses = await Promise.all([a, b].map(async (node) => ((await node.api.call('GET', '/v1/webhooks')).body as { dispatching: boolean }).dispatching));
  assert.equal(statuses.filter(Boolean).length, 1, `exactly one node dispatches: ${statuses.join(', ')}`);
  const [dispatcher, other] = statuses[0] ? [a, b] : [b, a];
  await dispatcher.close();

  const survivor = new ParleyClient({ url: other.server.wsUrl, token: () => other.api.token('ann'), reconnect: false });
  t.after(() => survivor.close());
  await survivor.connect();
  for (let index = 1; index <= 10; index++) await survivor.send(dm, { text: `then ${index}` });
  await eventually(() => new Set(receiver.ids).size === 30, 20_000, 'the other node delivers the rest');
});

test('presence events in a cluster: a user on either node is announced once by the dispatching node, and offline when their last connection anywhere closes', { skip, timeout: 60_000 }, async (t) => {
  const types: Array<[string, string]> = [];
  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    for (const event of (JSON.parse(raw) as { events: Array<{ type: string; userId?: string }> }).events) if (event.type.startsWith('user.')) types.push([event.type, event.userId ?? '']);
    response.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  const [a, b] = await startTwoNodes(t, ['ann', 'bob'], { webhooks: { url, events: ['user.online', 'user.offline'], offlineGraceMs: 300 }, hookSecret: 'cluster-hook' });
  // Past the nodes' warm-up, in which what they learn of each other is not news.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const onA = new ParleyClient({ url: a.server.wsUrl, token: () => a.api.token('bob'), reconnect: false });
  const onB = new ParleyClient({ url: b.server.wsUrl, token: () => b.api.token('bob'), reconnect: false });
  t.after(() => Promise.all([onA.close(), onB.close()]));
  await onB.connect();
  await eventually(() => types.length === 1, 10_000, 'user.online');
  await onA.connect();
  await onB.close();
  await new Promise((resolve) => setTimeout(resolve, 800));
  assert.deepEqual(types, [['user.online', 'bob']], 'bob never left the cluster');
  await onA.close();
  await eventually(() => types.length === 2, 10_000, 'user.offline');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(types, [['user.online', 'bob'], ['user.offline', 'bob']]);
});
