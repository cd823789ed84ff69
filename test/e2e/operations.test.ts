/**
 * The operations view over HTTP: /readyz for load balancers, /metrics in
 * Prometheus's text format behind the admin key, with figures that follow
 * what clients do (connections by transport, requests by kind, live rooms).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { ADMIN_KEY, eventually, startTestServer } from '../support/fixtures.js';

async function metrics(httpUrl: string): Promise<string> {
  const response = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return response.text();
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('/readyz says the store and the bus answer; /metrics needs the admin key and follows connections, requests and rooms', async (t) => {
  const fixture = await startTestServer(t, { nodeId: 'n1', rooms: { tickMs: 50 } });
  const ready = await fetch(`${fixture.server.httpUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', node: 'n1', store: true, bus: true });

  const anonymous = await fetch(`${fixture.server.httpUrl}/metrics`);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).error.name, 'UNAUTHENTICATED');

  for (const id of ['host', 'ann']) await fixture.api.createUser(id);
  await fixture.api.call('POST', '/v1/rooms', { id: 'live', name: 'Live', hostId: 'host' });
  const ann = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('ann') });
  const host = new ParleyClient({ url: fixture.server.tcpUrl as string, token: await fixture.api.token('host') });
  t.after(() => Promise.all([ann.close(), host.close()]));
  await Promise.all([ann.connect(), host.connect()]);
  const room = await ann.joinRoom('live');
  await host.send('live', { text: 'card' });
  await eventually(() => room.messages.length === 1, 5000, 'the card');

  const text = await metrics(fixture.server.httpUrl);
  assert.equal(sample(text, 'parley_connections', 'transport="ws"'), 1);
  assert.equal(sample(text, 'parley_connections', 'transport="tcp"'), 1);
  assert.ok((sample(text, 'parley_requests_total', 'kind="joinRoom"') ?? 0) >= 1);
  assert.ok((sample(text, 'parley_requests_total', 'kind="send"') ?? 0) >= 1);
  assert.equal(sample(text, 'parley_rooms', 'node="n1"'), 1);
  assert.equal(sample(text, 'parley_room_viewers', 'node="n1"'), 1);
  assert.ok((sample(text, 'parley_room_deliveries_total', 'node="n1"') ?? 0) >= 1);
  assert.match(text, /^parley_process_cpu_user_seconds_total\{node="n1"\} /m);
});
