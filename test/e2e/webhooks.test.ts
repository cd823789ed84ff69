/**
 * After-event webhooks, end to end, against a real endpoint on a local port:
 * every stored message's event arrives signed, in order per conversation,
 * named for what it records; an endpoint that is down delays events and
 * never loses them, across a server restart too, while sends go on
 * unhindered; a receiver can replay from any event's cursor.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import type { ServerOptions } from '@parley/server';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

const SECRET = 'webhook-test-secret';

interface ReceivedEvent {
  id: string;
  type: string;
  cursor: string;
  conversationId: string;
  at: number;
  message: { seq: number; text?: string; senderId: string; system?: { type: string } };
}

/** A receiver on a free local port; `accept` decides whether a batch is taken (2xx) or refused (503). */
async function receiver(t: TestContext) {
  const state = { accept: true, batches: 0, unsigned: 0, events: [] as ReceivedEvent[] };
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const [stamp, digest] = String(request.headers['x-parley-signature']).split(',');
    const timestamp = stamp?.slice(2) ?? '';
    if (digest !== `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`) state.unsigned += 1;
    if (!state.accept) {
      response.writeHead(503).end();
      return;
    }
    state.batches += 1;
    state.events.push(...(JSON.parse(raw) as { events: ReceivedEvent[] }).events);
    response.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, state };
}

/** Events of one conversation, first delivery of each id, in arrival order. */
function ofConversation(events: ReceivedEvent[], conversationId: string): ReceivedEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => event.conversationId === conversationId && !seen.has(event.id) && seen.add(event.id));
}

function client(t: TestContext, fixture: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  return parley;
}

function options(url: string, extra: ServerOptions = {}): ServerOptions {
  return { hookSecret: SECRET, webhooks: { url }, ...extra };
}

test('every stored message becomes a signed event, in order per conversation, named for what it records', async (t) => {
  const endpoint = await receiver(t);
  const fixture = await startTestServer(t, options(endpoint.url));
  for (const user of ['ann', 'bob', 'cat']) await fixture.api.createUser(user);
  const ann = client(t, fixture, 'ann');
  await ann.connect();
  const dm = await ann.direct('bob');
  const group = (await ann.createGroup({ name: 'trio', memberIds: ['bob'] })).id;
  for (let index = 1; index <= 30; index++) {
    void ann.send(dm, { text: `dm ${index}` });
    void ann.send(group, { text: `group ${index}` });
  }
  await ann.addMembers(group, ['cat']);
  await ann.send(group, { text: 'welcome cat' });
  await eventually(() => ofConversation(endpoint.state.events, group).length === 33, 10_000, 'every group event');
  await eventually(() => ofConversation(endpoint.state.events, dm).length === 30, 10_000, 'every direct event');
  assert.equal(endpoint.state.unsigned, 0, 'every batch carries a valid signature');
  const groupEvents = ofConversation(endpoint.state.events, group);
  assert.deepEqual(
    groupEvents.map((event) => event.message.seq),
    Array.from({ length: 33 }, (_, index) => index + 1),
    'in seq order',
  );
  assert.equal(groupEvents[0]?.type, 'conversation.created');
  assert.equal(groupEvents[31]?.type, 'member.joined');
  assert.equal(groupEvents[32]?.message.text, 'welcome cat');
  assert.ok(groupEvents.slice(1, 31).every((event) => event.type === 'message.stored' && event.message.senderId === 'ann'));
  assert.deepEqual(
    ofConversation(endpoint.state.events, dm).map((event) => event.message.text),
    Array.from({ length: 30 }, (_, index) => `dm ${index + 1}`),
  );
  assert.ok(endpoint.state.batches < 63, `batched: ${endpoint.state.batches} POSTs for 63 events`);

  // The admin API shows the dispatcher; the replay endpoint gives the same events from any cursor.
  const status = await fixture.api.call('GET', '/v1/webhooks');
  assert.equal((status.body as { dispatching: boolean }).dispatching, true);
  const tenth = groupEvents[9] as ReceivedEvent;
  const replay = await fixture.api.call('GET', `/v1/webhooks/events?after=${tenth.cursor}&limit=1000`);
  assert.equal(replay.status, 200);
  const replayed = ofConversation((replay.body as { events: ReceivedEvent[] }).events, group);
  assert.deepEqual(
    replayed.map((event) => event.id),
    groupEvents.slice(10).map((event) => event.id),
  );
  const bad = await fixture.api.call('GET', '/v1/webhooks/events?after=nonsense');
  assert.equal(bad.status, 400);
});

test('an endpoint that is down: sends go on, events wait, and arrive in order once it is back, across a restart too, none lost', async (t) => {
  const endpoint = await receiver(t);
  endpoint.state.accept = false;
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-webhooks-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await startTestServer(undefined, options(endpoint.url, { dataDir }));
  for (const user of ['ann', 'bob']) await first.api.createUser(user);
  const token = await first.api.token('ann');
  let ann = new ParleyClient({ url: first.server.wsUrl, token: () => token, reconnect: false });
  await ann.connect();
  const dm = await ann.direct('bob');
  const started = Date.now();
  for (let index = 1; index <= 10; index++) await ann.send(dm, { text: `while down ${index}` });
  assert.ok(Date.now() - started < 5000, 'sends are not held up by the endpoint');
  ann.close();
  await first.close();

  // Restarted on the same data: the cursor was kept, the endpoint comes back.
  const second = await startTestServer(t, options(endpoint.url, { dataDir }));
  ann = new ParleyClient({ url: second.server.wsUrl, token: () => second.api.token('ann'), reconnect: false });
  t.after(() => ann.close());
  await ann.connect();
  await ann.send(dm, { text: 'after the restart' });
  endpoint.state.accept = true;
  await eventually(() => ofConversation(endpoint.state.events, dm).length === 11, 15_000, 'every event, once the endpoint is back');
  assert.deepEqual(
    ofConversation(endpoint.state.events, dm).map((event) => event.message.text),
    [...Array.from({ length: 10 }, (_, index) => `while down ${index + 1}`), 'after the restart'],
  );
  const status = (await second.api.call('GET', '/v1/webhooks')).body as { failures: number; lastError?: string };
  assert.ok(status.failures > 0 && status.lastError === 'answered 503', 'the refusals before it came back are counted and shown');
});

test('user.online and user.offline, when asked for: once per first and last connection, a short drop inside the grace sends nothing', async (t) => {
  const endpoint = await receiver(t);
  const fixture = await startTestServer(t, options(endpoint.url, { webhooks: { url: endpoint.url, events: ['user.online', 'user.offline', 'message.stored'], offlineGraceMs: 400 } }));
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const presence = () => (endpoint.state.events as unknown as Array<{ type: string; userId?: string; at: number; id: string }>).filter((event) => event.type.startsWith('user.'));
  const phone = client(t, fixture, 'bob');
  await phone.connect();
  await eventually(() => presence().length === 1, 5000, 'user.online');
  const laptop = client(t, fixture, 'bob');
  await laptop.connect();
  await phone.close();
  // Bob is still online on the laptop; a drop and a quick return is no news either.
  await laptop.close();
  const back = client(t, fixture, 'bob');
  await back.connect();
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.deepEqual(presence().map((event) => [event.type, event.userId]), [['user.online', 'bob']]);
  const before = Date.now();
  await back.close();
  await eventually(() => presence().length === 2, 5000, 'user.offline after the grace');
  const offline = presence()[1];
  assert.equal(offline?.type, 'user.offline');
  assert.equal(offline?.userId, 'bob');
  assert.ok((offline?.at ?? 0) >= before - 50 && (offline?.at ?? 0) <= before + 300, 'dated when the last connection closed, not when the grace ended');
  assert.notEqual(presence()[0]?.id, offline?.id);
  // Message events still flow beside them, and presence is left out when not asked for (the other tests).
  const ann = client(t, fixture, 'ann');
  await ann.connect();
  await ann.send(await ann.direct('bob'), { text: 'hi' });
  await eventually(() => endpoint.state.events.some((event) => event.type === 'message.stored'), 5000, 'the message event');
  await eventually(() => presence().length === 3, 5000, "ann's user.online");
  assert.deepEqual(presence().map((event) => [event.type, event.userId]), [['user.online', 'bob'], ['user.offline', 'bob'], ['user.online', 'ann']]);
  assert.equal(endpoint.state.unsigned, 0);
});

test('room.opened when a live room is created, then room.closed when it ends, by default', async (t) => {
  const endpoint = await receiver(t);
  const fixture = await startTestServer(t, options(endpoint.url));
  await fixture.api.call('POST', '/v1/users', { id: 'host' });
  const created = await fixture.api.call('POST', '/v1/rooms', { id: 'spring-live', name: 'Spring live', hostId: 'host' });
  assert.equal(created.status, 201);
  await eventually(() => endpoint.state.events.some((event) => event.type === 'room.opened'), 5000, 'room.opened');
  const opened = endpoint.state.events.find((event) => event.type === 'room.opened') as unknown as { conversationId: string; at: number; room: unknown };
  assert.equal(opened.conversationId, 'spring-live');
  assert.deepEqual(opened.room, { id: 'spring-live', name: 'Spring live', hostId: 'host' });
  assert.equal(opened.at, created.body.createdAt);
  assert.equal((await fixture.api.call('POST', '/v1/rooms/spring-live/close', {})).status, 204);
  await eventually(() => endpoint.state.events.some((event) => event.type === 'room.closed'), 5000, 'room.closed');
  assert.deepEqual(
    endpoint.state.events.filter((event) => event.conversationId === 'spring-live').map((event) => event.type),
    ['room.opened', 'room.closed'],
  );
});
