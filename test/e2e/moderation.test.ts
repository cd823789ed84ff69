/**
 * Moderation of what users send, end to end: the built-in word filter
 * (masking, refusing, room chat too) and the before-send hook, both as a
 * real HTTP endpoint on a local port (signed requests; allow, reject with a
 * reason the sender sees, rewrite; down or slow under fail-open and
 * fail-closed) and as an in-process function. Operator sends are the host's
 * own and are not checked.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
import { ParleyError } from '@parley/protocol';
import type { OutgoingMessage, ServerOptions } from '@parley/server';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

const SECRET = 'hook-test-secret';

async function pair(t: TestContext, options: ServerOptions) {
  const fixture = await startTestServer(t, options);
  for (const user of ['ann', 'bob']) await fixture.api.createUser(user);
  const ann = client(t, fixture, 'ann');
  const bob = client(t, fixture, 'bob');
  await Promise.all([ann.connect(), bob.connect()]);
  const received: Message[] = [];
  bob.on('message', (message) => received.push(message));
  const dm = await ann.direct('bob');
  return { fixture, ann, bob, received, dm };
}

function client(t: TestContext, fixture: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  return parley;
}

async function refusal(promise: Promise<unknown>): Promise<ParleyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ParleyError, String(error));
    return error;
  }
  assert.fail('the send was not refused');
}

/** A before-send endpoint on a free local port; `answer` decides each call. */
async function hookEndpoint(t: TestContext, answer: (body: { type: string; message: OutgoingMessage }, response: ServerResponse) => void) {
  const calls: Array<{ body: { type: string; message: OutgoingMessage }; signed: boolean }> = [];
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const [stamp, digest] = String(request.headers['x-parley-signature']).split(',');
    const timestamp = stamp?.slice(2) ?? '';
    const signed = digest === `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}` && Math.abs(Date.now() - Number(timestamp)) < 60_000;
    const body = JSON.parse(raw) as { type: string; message: OutgoingMessage };
    calls.push({ body, signed });
    answer(body, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/before-send`, calls };
}

function json(response: ServerResponse, value: unknown, status = 200): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

test('blocked words are masked for everyone, in what is stored and pushed, and in room chat', async (t) => {
  const { fixture, ann, received, dm } = await pair(t, { moderation: { blockedWords: ['darn', '坏蛋'] }, rooms: { tickMs: 50 } });
  const acked = await ann.send(dm, { text: 'Darn it, 坏蛋!' });
  assert.equal(acked.text, '**** it, **!', 'the sender sees what was stored');
  await eventually(() => received.length === 1, 5000, 'the push');
  assert.equal(received[0]?.text, '**** it, **!');
  const history = await fixture.api.call('GET', `/v1/conversations/${dm}/messages`);
  assert.equal((history.body as { messages: Array<{ text: string }> }).messages[0]?.text, '**** it, **!');

  await fixture.api.call('POST', '/v1/rooms', { id: 'live', name: 'Live', hostId: 'ann' });
  const viewer = client(t, fixture, 'bob');
  await viewer.connect();
  const room = await viewer.joinRoom('live');
  const chat: string[] = [];
  room.on('events', ({ events }) => chat.push(...events.filter((event) => event.kind === 'chat').map((event) => event.text ?? '')));
  await room.chat('what a darn good show');
  await eventually(() => chat.length === 1, 5000, 'the chat line');
  assert.equal(chat[0], 'what a **** good show');
});

test('with action reject, a blocked word refuses the message: REJECTED, reason blocked_word, nothing stored, not retried', async (t) => {
  const { fixture, ann, dm } = await pair(t, { moderation: { blockedWords: ['darn'], blockedWordAction: 'reject' } });
  const error = await refusal(ann.send(dm, { text: 'oh DARN' }));
  assert.equal(error.codeName, 'REJECTED');
  assert.equal(error.reason, 'blocked_word');
  assert.equal(error.retryable, false);
  const fine = await ann.send(dm, { text: 'oh dear' });
  assert.equal(fine.seq, 1, 'the refused message took no seq');
  // The operator's own sends (the admin API) are the host's and are not checked.
  const { status, body } = await fixture.api.call('POST', `/v1/conversations/${dm}/messages`, { senderId: 'ann', text: 'darn, says the system' });
  assert.equal(status, 201, JSON.stringify(body));
});

test('a before-send endpoint is asked with a signed request and allows, refuses with its reason, or rewrites', async (t) => {
  const hook = await hookEndpoint(t, ({ message }, response) => {
    if (message.text?.includes('spam')) json(response, { action: 'reject', reason: 'spam', message: 'no advertising here' });
    else if (message.text === 'hello') json(response, { action: 'rewrite', text: 'hello (checked)' });
    else json(response, { action: 'allow' });
  });
  const { ann, received, dm } = await pair(t, { hookSecret: SECRET, moderation: { beforeSendUrl: hook.url, blockedWords: ['darn'] } });
  const refused = await refusal(ann.send(dm, { text: 'buy spam now' }));
  assert.equal(refused.codeName, 'REJECTED');
  assert.equal(refused.reason, 'spam');
  assert.equal(refused.message, 'no advertising here');
  assert.equal((await ann.send(dm, { text: 'hello' })).text, 'hello (checked)');
  assert.equal((await ann.send(dm, { text: 'darn fine' })).text, '**** fine', 'the hook sees the filtered text and allows it');
  await eventually(() => received.length === 2, 5000, 'the two stored messages');
  assert.deepEqual(
    received.map((message) => message.text),
    ['hello (checked)', '**** fine'],
  );
  assert.equal(hook.calls.length, 3);
  assert.ok(hook.calls.every((call) => call.signed), 'every call carries a valid signature');
  assert.deepEqual(hook.calls[2]?.body, { type: 'message.before_send', message: { conversationId: dm, senderId: 'ann', clientMsgId: hook.calls[2]?.body.message.clientMsgId, text: '**** fine' } });
});

test('an endpoint that is down: fail-open stores the message as sent; fail-closed refuses it retryably and the SDK sends it again until it is stored once', async (t) => {
  let down = true;
  const hook = await hookEndpoint(t, (_body, response) => (down ? json(response, { error: 'down' }, 503) : json(response, { action: 'allow' })));
  const open = await pair(t, { hookSecret: SECRET, moderation: { beforeSendUrl: hook.url } });
  assert.equal((await open.ann.send(open.dm, { text: 'through anyway' })).seq, 1);

  const closed = await pair(t, { hookSecret: SECRET, moderation: { beforeSendUrl: hook.url, beforeSendFailure: 'closed' } });
  const sending = closed.ann.send(closed.dm, { text: 'waits for the check' });
  await eventually(() => hook.calls.filter((call) => call.body.message.text === 'waits for the check').length >= 2, 10_000, 'refused and retried');
  down = false;
  const stored = await sending;
  assert.equal(stored.seq, 1);
  await eventually(() => closed.received.length === 1, 5000, 'delivered once');
  const history = await closed.fixture.api.call('GET', `/v1/conversations/${closed.dm}/messages`);
  assert.equal((history.body as { messages: unknown[] }).messages.length, 1, 'stored once');
});

test('a slow endpoint counts as down after the timeout; a repeated send of a stored message is not put to the hook again', async (t) => {
  let slow = true;
  const hook = await hookEndpoint(t, (_body, response) => {
    if (slow) setTimeout(() => json(response, { action: 'reject', reason: 'too_late' }), 1000);
    else json(response, { action: 'reject', reason: 'changed_mind' });
  });
  const { ann, dm } = await pair(t, { hookSecret: SECRET, moderation: { beforeSendUrl: hook.url, beforeSendTimeoutMs: 100 } });
  const stored = await ann.send(dm, { text: 'quick' }, { clientMsgId: 'same-id' });
  assert.equal(stored.seq, 1, 'fail-open after 100 ms');
  slow = false;
  const repeated = await ann.send(dm, { text: 'quick' }, { clientMsgId: 'same-id' });
  assert.equal(repeated.seq, 1, 'the stored message, not a refusal');
  assert.equal(hook.calls.length, 1);
});

test('an in-process hook (Parley embedded in the host process) sees each message and can refuse it', async (t) => {
  const seen: OutgoingMessage[] = [];
  const { ann, dm } = await pair(t, {
    moderation: {
      beforeSend: (message) => {
        seen.push(message);
        return message.senderId === 'ann' && message.text === 'secret' ? { action: 'reject', reason: 'policy.secret' } : { action: 'allow' };
      },
    },
  });
  assert.equal((await refusal(ann.send(dm, { text: 'secret' }))).reason, 'policy.secret');
  assert.equal((await ann.send(dm, { text: 'public' })).seq, 1);
  assert.deepEqual(
    seen.map((message) => message.text),
    ['secret', 'public'],
  );
});
