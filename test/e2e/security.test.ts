/**
 * Transport security and abuse bounds: TLS on both listeners, origin
 * allowlist, connection and send-rate limits, token revocation, slow readers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import { type Message, ParleyClient, type StateChange } from '@parley/client';
import { ManualClock } from '@parley/protocol';
import { createDevCertificate } from '@parley/server';
import WebSocket from 'ws';
import { RawConnection, type TestServer, eventually, startTestServer } from '../support/fixtures.js';

async function devCertificate(t: { after: (fn: () => unknown) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return createDevCertificate(dir);
}

/** Admin REST over https, trusting the development CA. */
function httpsJson(url: string, method: string, path: string, ca: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(new URL(path, url), { method, ca, headers: { authorization: 'Bearer test-admin-key', 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test('TLS on both listeners: the SDK talks wss:// and tls:// and verifies the certificate', async (t) => {
  const certificate = await devCertificate(t);
  const fixture = await startTestServer(t, { tls: { cert: certificate.cert, key: certificate.key } });
  assert.match(fixture.server.httpUrl, /^https:/);
  assert.match(fixture.server.wsUrl, /^wss:/);
  assert.match(fixture.server.tcpUrl ?? '', /^tls:/);
  for (const id of ['alice', 'bob']) assert.equal((await httpsJson(fixture.server.httpUrl, 'POST', '/v1/users', certificate.cert, { id })).status, 201);
  const token = async (userId: string) => (await httpsJson(fixture.server.httpUrl, 'POST', `/v1/users/${userId}/tokens`, certificate.cert, {})).body.token as string;
  const alice = new ParleyClient({ url: fixture.server.wsUrl, token: await token('alice'), tls: { ca: certificate.cert } });
  const bob = new ParleyClient({ url: fixture.server.tcpUrl as string, token: await token('bob'), tls: { ca: certificate.cert } });
  t.after(() => Promise.all([alice.close(), bob.close()]));
  const received: Message[] = [];
  bob.on('message', (message) => received.push(message));
  await Promise.all([alice.connect(), bob.connect()]);
  const conversationId = await alice.direct('bob');
  await alice.send(conversationId, { text: 'over TLS' });
  await eventually(() => received.some((m) => m.text === 'over TLS'));
});

test('TLS refuses untrusted certificates and versions below 1.3', async (t) => {
  const certificate = await devCertificate(t);
  const fixture = await startTestServer(t, { tls: { cert: certificate.cert, key: certificate.key } });
  const port = Number(new URL(fixture.server.tcpUrl as string).port);
  const handshake = (options: ConnectionOptions) =>
    new Promise<string>((resolve) => {
      const socket = connectTls({ host: '127.0.0.1', port, servername: 'localhost', ...options });
      socket.once('secureConnect', () => {
        resolve(`ok ${socket.getProtocol()}`);
        socket.destroy();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  assert.equal(await handshake({ ca: certificate.cert }), 'ok TLSv1.3');
  assert.match(await handshake({}), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  assert.notEqual(await handshake({ ca: certificate.cert, maxVersion: 'TLSv1.2' }), 'ok TLSv1.2');
  const plain = await new Promise<string>((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port }, () => socket.write(Buffer.from([0, 0, 0, 2, 0x0a, 0x00])));
    socket.on('data', () => undefined);
    socket.once('close', () => resolve('closed'));
    socket.once('error', () => resolve('closed'));
  });
  assert.equal(plain, 'closed', 'plaintext on a TLS port is dropped');
});

test('browser origins: same origin and the allowlist may connect, other sites may not', async (t) => {
  const fixture = await startTestServer(t, { allowedOrigins: ['https://app.example'] });
  const attempt = (origin?: string) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(fixture.server.wsUrl, origin === undefined ? {} : { origin });
      ws.once('open', () => {
        resolve('open');
        ws.close();
      });
      ws.once('unexpected-response', (_request, response) => resolve(String(response.statusCode)));
      ws.once('error', () => resolve('error'));
    });
  const self = new URL(fixture.server.httpUrl).origin;
  assert.equal(await attempt(), 'open', 'native clients send no Origin');
  assert.equal(await attempt(self), 'open');
  assert.equal(await attempt('https://app.example'), 'open');
  assert.equal(await attempt('https://evil.example'), '403');
});

test('connections per user are bounded', async (t) => {
  const fixture = await startTestServer(t, { limits: { maxConnectionsPerUser: 2 } });
  await fixture.api.createUser('alice');
  const token = await fixture.api.token('alice');
  for (let n = 0; n < 2; n++) {
    const connection = await RawConnection.open(fixture.server.wsUrl);
    assert.equal((await connection.hello(token)).body?.$case, 'welcome');
  }
  const third = await RawConnection.open(fixture.server.tcpUrl as string);
  const refused = await third.hello(token);
  assert.equal(refused.body?.$case, 'error');
  assert.equal((refused.body?.value as { name: string }).name, 'LIMIT_EXCEEDED');
  await third.waitClosed();
});

test('the per-user send rate is enforced without breaking send order or duplicating', async (t) => {
  const fixture = await startTestServer(t, { limits: { sendsPerSecondPerUser: 20, sendBurstPerUser: 5 } });
  await fixture.api.createUser('alice');
  await fixture.api.createUser('bob');
  const alice = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('alice') });
  const bob = new ParleyClient({ url: fixture.server.tcpUrl as string, token: await fixture.api.token('bob') });
  t.after(() => Promise.all([alice.close(), bob.close()]));
  const received: Message[] = [];
  bob.on('message', (message) => received.push(message));
  await Promise.all([alice.connect(), bob.connect()]);
  const conversationId = await alice.direct('bob');
  const raw = await RawConnection.open(fixture.server.wsUrl);
  await raw.hello(await fixture.api.token('alice'));
  const burst = await Promise.all(Array.from({ length: 8 }, (_, n) => raw.request({ $case: 'send', value: { conversationId, clientMsgId: `raw-${n}`, text: 'x' } })));
  const limited = burst.filter((reply) => reply.body?.$case === 'error');
  assert.ok(limited.length > 0, 'a burst beyond the bucket is refused');
  for (const reply of limited) {
    const error = reply.body?.value as { name: string; retryAfterMs: number };
    assert.equal(error.name, 'RATE_LIMITED');
    assert.ok(error.retryAfterMs > 0);
  }
  raw.close();
  const rawAccepted = burst.length - limited.length;
  const sent = await Promise.all(Array.from({ length: 30 }, (_, n) => alice.send(conversationId, { text: `r${n}` })));
  assert.deepEqual(sent.map((m) => m.text), Array.from({ length: 30 }, (_, n) => `r${n}`));
  const seqs = sent.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'seq order is send order');
  await eventually(() => received.filter((m) => m.text?.startsWith('r')).length === 30, 10_000);
  assert.deepEqual(received.filter((m) => m.text?.startsWith('r')).map((m) => m.text), sent.map((m) => m.text));
  assert.equal(received.length, rawAccepted + 30, 'nothing duplicated');
});

test('revoking a user closes their connections and refuses their old tokens', async (t) => {
  const fixture = await startTestServer(t);
  await fixture.api.createUser('alice');
  const oldToken = await fixture.api.token('alice');
  const states: StateChange[] = [];
  const client = new ParleyClient({ url: fixture.server.wsUrl, token: oldToken, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
  client.on('state', (change) => states.push(change));
  t.after(() => client.close());
  await client.connect();
  const revoked = await fixture.api.call('POST', '/v1/users/alice/revoke');
  assert.equal(revoked.status, 200);
  await eventually(() => client.state === 'closed', 5000, 'the revoked client is closed');
  assert.ok(states.some((change) => change.error?.name === 'UNAUTHENTICATED'));
  const stale = await RawConnection.open(fixture.server.tcpUrl as string);
  assert.equal(((await stale.hello(oldToken)).body?.value as { name: string }).name, 'UNAUTHENTICATED');
  await new Promise((resolve) => setTimeout(resolve, 5));
  const fresh = await RawConnection.open(fixture.server.tcpUrl as string);
  assert.equal((await fresh.hello(await fixture.api.token('alice'))).body?.$case, 'welcome', 'tokens minted after the revocation work');
});

test('a reader that stops reading is cut off at its queue bound while others keep receiving', async (t) => {
  const fixture: TestServer = await startTestServer(t, { limits: { maxQueuedBytes: 256 * 1024 } });
  for (const id of ['alice', 'slow', 'fast']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'feed', name: 'Feed', ownerId: 'alice', memberIds: ['slow', 'fast'] });
  const slow = await RawConnection.tcp(fixture.server.tcpUrl as string);
  await slow.hello(await fixture.api.token('slow'));
  const slowSocket = (slow as unknown as { rawSocket: import('node:net').Socket }).rawSocket;
  slowSocket.pause();
  const fast = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('fast') });
  const alice = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('alice') });
  t.after(() => Promise.all([fast.close(), alice.close()]));
  let fastCount = 0;
  fast.on('message', (message) => {
    if (message.type === 'user') fastCount++;
  });
  await Promise.all([fast.connect(), alice.connect()]);
  const data = new Uint8Array(32 * 1024);
  for (let n = 0; n < 300; n++) await alice.send('feed', { text: `${n}`, data });
  await eventually(() => fastCount === 300, 15_000, 'the fast reader gets everything');
  slowSocket.resume();
  await slow.waitClosed(10_000);
  const error = slow.frames.find((frame) => frame.body?.$case === 'error');
  assert.equal(error, undefined, 'a slow consumer is dropped without an error frame (it could not read one)');
  assert.ok(slow.frames.filter((frame) => frame.body?.$case === 'push').length < 300, 'it did not get the whole stream queued');
});

test('a connection ends when its token expires; a token function lets the client resume', async (t) => {
  // The server runs on a ManualClock (the clients on real time, so their
  // heartbeats stay out of the way): 30 s tokens, deadlines swept every 5 s.
  const clock = new ManualClock();
  const fixture = await startTestServer(t, { clock });
  await fixture.api.createUser('alice');
  await fixture.api.createUser('bob');
  let minted = 0;
  const alice = new ParleyClient({
    url: fixture.server.wsUrl,
    token: () => {
      minted++;
      return fixture.api.token('alice', 30);
    },
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
  });
  const bob = new ParleyClient({ url: fixture.server.tcpUrl as string, token: await fixture.api.token('bob') });
  t.after(() => Promise.all([alice.close(), bob.close()]));
  const received: Message[] = [];
  const states: StateChange[] = [];
  alice.on('message', (message) => received.push(message));
  alice.on('state', (change) => states.push(change));
  await Promise.all([alice.connect(), bob.connect()]);
  const conversationId = await bob.direct('alice');
  clock.advance(29_999);
  assert.deepEqual([fixture.server.connectionCount(), alice.state, minted], [2, 'open', 1], 'the token has not expired yet');
  clock.advance(5_000);
  assert.equal(fixture.server.connectionCount(), 1, "alice's connection ended");
  await eventually(() => minted >= 2 && alice.state === 'open', 5000, 'the client to fetch a new token and reconnect');
  assert.ok(states.some((change) => change.error?.name === 'TOKEN_EXPIRED'));
  await bob.send(conversationId, { text: 'after expiry' });
  await eventually(() => received.some((m) => m.text === 'after expiry'), 5000);
});

test('configured limits: request rate per connection, pull size, data size', async (t) => {
  const fixture = await startTestServer(t, { limits: { requestsPerSecond: 10, requestBurst: 10, maxPullLimit: 7, maxDataBytes: 100 } });
  await fixture.api.createUser('alice');
  await fixture.api.createUser('bob');
  const alice = await RawConnection.open(fixture.server.tcpUrl as string);
  await alice.hello(await fixture.api.token('alice'));
  const direct = await alice.request({ $case: 'openDirect', value: { peerId: 'bob', subject: '' } });
  if (direct.body?.$case !== 'conversationResult') return assert.fail('expected conversationResult');
  const conversationId = direct.body.value.summary?.id as string;
  for (let n = 0; n < 12; n++) await alice.request({ $case: 'send', value: { conversationId, clientMsgId: `l${n}`, text: `${n}` } });
  const tooBig = await alice.request({ $case: 'send', value: { conversationId, clientMsgId: 'big', data: new Uint8Array(101) } });
  assert.equal((tooBig.body?.value as { name: string }).name, 'TOO_LARGE');
  // Sends are not counted against the per-connection request budget; the other requests are.
  const replies = await Promise.all(Array.from({ length: 15 }, () => alice.request({ $case: 'pull', value: { conversationId, fromSeq: 1, toSeq: 0, limit: 1000, descending: false } })));
  const results = replies.filter((reply) => reply.body?.$case === 'pullResult');
  const limited = replies.filter((reply) => reply.body?.$case === 'error');
  assert.ok(limited.length >= 4, `expected refusals beyond the burst, got ${limited.length}`);
  for (const reply of limited) {
    const error = reply.body?.value as { name: string; retryAfterMs: number; fatal: boolean };
    assert.equal(error.name, 'RATE_LIMITED');
    assert.ok(error.retryAfterMs > 0);
    assert.equal(error.fatal, false);
  }
  for (const reply of results) {
    if (reply.body?.$case !== 'pullResult') continue;
    assert.equal(reply.body.value.messages.length, 7, 'a pull returns at most maxPullLimit messages');
    assert.equal(reply.body.value.coveredTo, 7);
  }
});

test('a rate-limited connection is served again once retryAfterMs of clock time has passed, not before', async (t) => {
  const clock = new ManualClock();
  const fixture = await startTestServer(t, { clock, limits: { requestsPerSecond: 10, requestBurst: 3 } });
  await fixture.api.createUser('alice');
  const alice = await RawConnection.open(fixture.server.tcpUrl as string);
  await alice.hello(await fixture.api.token('alice'));
  const sync = () => alice.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } });
  const errorName = (reply: Awaited<ReturnType<typeof sync>>) => (reply.body?.$case === 'error' ? reply.body.value.name : reply.body?.$case);
  for (let n = 0; n < 3; n++) assert.equal(errorName(await sync()), 'syncResult');
  const refused = await sync();
  assert.deepEqual([errorName(refused), (refused.body?.value as { retryAfterMs: number }).retryAfterMs], ['RATE_LIMITED', 100], 'past the burst: one request per 100 ms');
  clock.advance(99);
  assert.equal(errorName(await sync()), 'RATE_LIMITED', '99 ms later: still refused');
  clock.advance(1);
  assert.equal(errorName(await sync()), 'syncResult', '100 ms after the refusal: served');
  // An idle bucket refills up to its burst and no further.
  clock.advance(10_000);
  const burst = await Promise.all(Array.from({ length: 4 }, () => sync()));
  assert.deepEqual(burst.map(errorName), ['syncResult', 'syncResult', 'syncResult', 'RATE_LIMITED']);
});

test('/dev sign-in attempts are limited per user id and come back in clock time', async (t) => {
  const clock = new ManualClock();
  const fixture = await startTestServer(t, { clock });
  const post = async (path: string, body: unknown) => (await fixture.api.call('POST', path, body, null)).status;
  const signIn = (password: string) => post('/dev/signin', { userId: 'dana', password });
  assert.equal(await post('/dev/signup', { userId: 'dana', name: 'Dana', password: 'dana-password-1' }), 201);
  // Ten attempts a minute per user id, right or wrong; once spent, one more every 6 s.
  for (let n = 0; n < 10; n++) assert.equal(await signIn('a wrong password'), 401);
  assert.equal(await signIn('dana-password-1'), 429);
  assert.equal(await post('/dev/signin', { userId: 'erin', password: 'a wrong password' }), 401, 'other user ids are not affected');
  clock.advance(5_999);
  assert.equal(await signIn('dana-password-1'), 429, 'not before 6 s');
  clock.advance(1);
  assert.equal(await signIn('dana-password-1'), 200, 'one attempt back after 6 s');
  assert.equal(await signIn('dana-password-1'), 429, 'and only one');
});
