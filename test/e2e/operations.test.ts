/**
 * The operations view over HTTP: /readyz for load balancers, /metrics in
 * Prometheus's text format behind the admin key, with figures that follow
 * what clients do (connections by transport, requests by kind, live rooms,
 * messages in and out, how long sends, pushes, the store and the bus take,
 * refusals), and log lines an operator can follow a connection or a request
 * by (docs/operations-metrics.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

const METRICS_DOC = new URL('../../docs/operations-metrics.md', import.meta.url);

/** The series a scrape has (the process's own left out), with their types and label names besides node and le. */
function seriesOf(text: string): Map<string, { type: string; labels: string[] }> {
  const series = new Map<string, { type: string; labels: string[] }>();
  for (const [, name, type] of text.matchAll(/^# TYPE (parley_\w+) (\w+)$/gmu) as Iterable<string[]>) {
    if (/^parley_(process|nodejs)_/u.test(name as string)) continue;
    const labels = new Set<string>();
    for (const line of text.split('\n')) {
      const match = /^(\w+)\{([^}]*)\}/u.exec(line);
      if (match === null || !(match[1] === name || match[1]?.startsWith(`${name}_`))) continue;
      for (const [, label] of (match[2] as string).matchAll(/(\w+)="/gu)) if (label !== 'node' && label !== 'le') labels.add(label as string);
    }
    series.set(name as string, { type: type as string, labels: [...labels].sort() });
  }
  return series;
}

/** The series docs/operations-metrics.md lists in its tables. */
function documentedSeries(): Map<string, { type: string; labels: string[] }> {
  const documented = new Map<string, { type: string; labels: string[] }>();
  for (const [, name, type, labels] of readFileSync(METRICS_DOC, 'utf8').matchAll(/^\| `(parley_\w+)` \| (\w+) \|([^|]*)\|/gmu) as Iterable<string[]>) {
    documented.set(name as string, { type: type as string, labels: [...(labels as string).matchAll(/`(\w+)`/gu)].map((match) => match[1] as string).sort() });
  }
  return documented;
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

test('/metrics times sends, pushes, the store and the bus, and counts messages in and out and refusals', async (t) => {
  const fixture = await startTestServer(t, { nodeId: 'n2', limits: { sendsPerSecondPerUser: 5, sendBurstPerUser: 5 } });
  for (const id of ['alice', 'bob']) await fixture.api.createUser(id);
  const alice = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('alice') });
  const bob = new ParleyClient({ url: fixture.server.tcpUrl as string, token: await fixture.api.token('bob') });
  t.after(() => Promise.all([alice.close(), bob.close()]));
  await Promise.all([alice.connect(), bob.connect()]);
  const conversationId = await alice.direct('bob');
  await eventually(() => bob.conversation(conversationId) !== undefined, 5000, 'the conversation at bob');
  const before = await metrics(fixture.server.httpUrl);
  const pushesBefore = sample(before, 'parley_messages_out_total', 'node="n2"') ?? 0;

  for (let n = 0; n < 5; n++) await alice.send(conversationId, { text: `hello ${n}` });
  await eventually(async () => (sample(await metrics(fixture.server.httpUrl), 'parley_messages_out_total', 'node="n2"') ?? 0) >= pushesBefore + 5, 5000, 'the pushes to bob');

  const text = await metrics(fixture.server.httpUrl);
  assert.equal(sample(text, 'parley_send_ack_seconds_count', 'node="n2"'), 5);
  assert.equal(sample(text, 'parley_send_ack_seconds_bucket', 'le="+Inf"'), 5);
  assert.equal(sample(text, 'parley_messages_in_total', 'transport="ws"'), 5);
  assert.equal(sample(text, 'parley_messages_in_total', 'transport="tcp"'), 0);
  const pushes = sample(text, 'parley_messages_out_total', 'node="n2"') ?? 0;
  assert.ok(pushes >= 5, `${pushes} pushes`);
  // One observation per push written, and none took 10 s.
  assert.equal(sample(text, 'parley_send_deliver_seconds_count', 'node="n2"'), pushes);
  assert.equal(sample(text, 'parley_send_deliver_seconds_bucket', 'le="10"'), pushes);
  assert.ok((sample(text, 'parley_store_write_seconds_count', 'node="n2"') ?? 0) >= 5);
  assert.ok((sample(text, 'parley_store_write_seconds_sum', 'node="n2"') ?? 0) > 0);
  assert.ok((sample(text, 'parley_store_read_seconds_count', 'operation="getUser"') ?? 0) > 0);
  assert.ok((sample(text, 'parley_bus_publish_seconds_count', 'type="message"') ?? 0) >= 5);
  assert.ok((sample(text, 'parley_bus_transit_seconds_count', 'type="message"') ?? 0) >= 5);
  assert.equal(sample(text, 'parley_store_pending_writes', 'node="n2"'), 0);
  assert.equal(sample(text, 'parley_room_pending_events', 'node="n2"'), 0);
  assert.ok((sample(text, 'parley_connection_queued_bytes', 'node="n2"') ?? -1) >= 0);
  assert.equal(sample(text, 'parley_rate_limited_total', 'kind="send"'), 0);

  // Past the burst of 5 sends a second, sends are refused and the SDK sends them again after the hint.
  await Promise.all(Array.from({ length: 4 }, (_, n) => alice.send(conversationId, { text: `burst ${n}` })));
  const after = await metrics(fixture.server.httpUrl);
  assert.ok((sample(after, 'parley_rate_limited_total', 'kind="send"') ?? 0) >= 1, 'a send was refused');
  assert.equal(sample(after, 'parley_messages_in_total', 'transport="ws"'), 9);
  assert.equal(sample(after, 'parley_send_ack_seconds_count', 'node="n2"'), 9);

  // docs/operations-metrics.md lists exactly what a node exposes.
  assert.deepEqual(Object.fromEntries(documentedSeries()), Object.fromEntries(seriesOf(after)));
});

test('log lines carry the node id, each connection its id, and each request its id and kind', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const logDestination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  const fixture = await startTestServer(t, { nodeId: 'n3', logLevel: 'debug', logDestination });
  for (const id of ['ann', 'ben']) await fixture.api.createUser(id);
  const ann = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('ann') });
  t.after(() => ann.close());
  await ann.connect();

  await assert.rejects(ann.members('nowhere'));
  const refused = lines.find((line) => line.msg === 'request refused' && line.kind === 'members');
  assert.ok(refused, 'the refused request was logged');
  assert.equal(refused.node, 'n3');
  assert.equal(typeof refused.requestId, 'number');
  assert.equal(typeof refused.code, 'string');
  const opened = lines.find((line) => line.msg === 'connection opened' && line.conn === refused.conn);
  assert.ok(opened, 'the connection that made the request was logged when it opened');
  assert.equal(opened.transport, 'ws');
  assert.match(String(opened.remote), /127\.0\.0\.1/);

  // No line per message at info.
  const conversationId = await ann.direct('ben');
  const mark = lines.length;
  for (let n = 0; n < 3; n++) await ann.send(conversationId, { text: `quiet ${n}` });
  assert.deepEqual(
    lines.slice(mark).filter((line) => (line.level as number) >= 30),
    [],
  );

  // HTTP requests keep the caller's id, and say it back.
  const traced = await fetch(`${fixture.server.httpUrl}/readyz`, { headers: { 'x-request-id': 'probe-42' } });
  assert.equal(traced.headers.get('x-request-id'), 'probe-42');
  assert.ok(lines.some((line) => line.requestId === 'probe-42' && line.node === 'n3'));
  const untraced = await fetch(`${fixture.server.httpUrl}/readyz`);
  assert.match(untraced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});
