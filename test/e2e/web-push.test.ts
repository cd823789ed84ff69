/**
 * Web Push, end to end: browsers registered through the SDK get the
 * notifications of a user who has no device connected, from a push service
 * on a local HTTPS port that checks the VAPID signature and decrypts each
 * payload with that browser's own keys (packages/server/test/support/web-push-service.ts).
 * Also: gone subscriptions are forgotten, a busy push service is retried,
 * registrations are checked (a user cannot aim the server at any host), a
 * user's own preview setting, and the key surviving a restart.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type ErrorName, ParleyClient } from '@parley/client';
import type { ServerOptions } from '@parley/server';
import { ADMIN_KEY, type TestServer, eventually, startTestServer } from '../support/fixtures.js';
import { type LocalPushService, startPushService } from '../../packages/server/test/support/web-push-service.js';

async function setup(t: TestContext, options: ServerOptions = {}) {
  const service = await startPushService();
  t.after(() => service.close());
  const fixture = await startTestServer(t, {
    ...options,
    push: { windowMs: 200, webPush: { allowedHosts: ['127.0.0.1'], agent: service.agent, subject: 'mailto:ops@example.com' }, ...options.push },
  });
  for (const [id, name] of [['ann', 'Ann'], ['bob', 'Bob'], ['cat', 'Cat']]) await fixture.api.call('POST', '/v1/users', { id, name });
  const ann = client(t, fixture, 'ann');
  await ann.connect();
  return { service, fixture, ann };
}

function client(t: TestContext, fixture: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  return parley;
}

/** A user's browser registered from an SDK client that is not connected (so the user counts as offline). */
async function registerBrowser(t: TestContext, fixture: TestServer, service: LocalPushService, userId: string, browserId: string) {
  const browser = service.browser(browserId);
  await client(t, fixture, userId).push.registerWebPush(browser.subscription);
  return browser;
}

async function refusal(promise: Promise<unknown>): Promise<ErrorName | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { codeName?: ErrorName }).codeName;
  }
}

async function metrics(fixture: TestServer): Promise<string> {
  return (await fetch(`${fixture.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("an offline user's browsers each get the notification, signed with the server's key and encrypted for that browser", async (t) => {
  const { service, fixture, ann } = await setup(t);
  const key = await client(t, fixture, 'bob').push.webPushKey();
  assert.ok(key !== undefined && Buffer.from(key, 'base64url').length === 65, 'the VAPID public key, an uncompressed P-256 point');
  await registerBrowser(t, fixture, service, 'bob', 'bob-laptop');
  await registerBrowser(t, fixture, service, 'bob', 'bob-phone');
  const dm = await ann.direct('bob');
  await ann.send(dm, { text: 'one' });
  await ann.send(dm, { text: 'two 👋' });
  await eventually(() => service.requests.length === 2, 5000, 'a request per browser');
  await pause(300);
  assert.equal(service.requests.length, 2, 'one notification per browser for the burst');
  const expected = { v: 1, title: 'Ann', body: 'Ann: two 👋 (+1 more)', conversationId: dm, seq: 2, count: 2, badge: 2 };
  for (const request of service.requests) {
    assert.equal(request.status, 201);
    assert.deepEqual(request.payload, expected, 'decrypted with the browser own keys');
    assert.equal(request.vapidKey, key, 'signed with the key the browser subscribed with');
    assert.equal(request.claims.aud, `https://${service.host}`);
    assert.equal(request.claims.sub, 'mailto:ops@example.com');
    assert.ok(request.claims.exp * 1000 > Date.now() && request.claims.exp * 1000 <= Date.now() + 24 * 3600 * 1000);
    assert.equal(request.headers['content-encoding'], 'aes128gcm');
    assert.equal(request.headers.ttl, '86400');
    assert.equal(request.headers.urgency, 'high');
    assert.match(String(request.headers.topic), /^[A-Za-z0-9_-]{32}$/u, 'one topic per conversation, so a push service keeps only the latest');
  }
  assert.deepEqual(service.requests.map((request) => request.browserId).sort(), ['bob-laptop', 'bob-phone']);
  assert.ok(!service.requests.some((request) => request.browserId.startsWith('ann')), 'the sender is never notified');
});

test('a user with a device connected gets no Web Push; one without any registered browser costs no request', async (t) => {
  const { service, fixture, ann } = await setup(t);
  await registerBrowser(t, fixture, service, 'bob', 'bob-laptop');
  const bob = client(t, fixture, 'bob');
  await bob.connect();
  const dm = await ann.direct('bob');
  await ann.send(dm, { text: 'you are here' });
  const group = await ann.createGroup({ name: 'Trip', memberIds: ['cat'] });
  await ann.send(group.id, { text: 'cat has no browser registered' });
  await pause(600);
  assert.equal(service.requests.length, 0);
  const counted = await metrics(fixture);
  assert.match(counted, /parley_push_notifications_total\{outcome="skipped_online"[^}]*\} 1\n/u);
  assert.match(counted, /parley_push_notifications_total\{outcome="unreachable"[^}]*\} 1\n/u);
});

test('a subscription the push service calls gone is forgotten; a busy push service is asked again', async (t) => {
  const { service, fixture, ann } = await setup(t);
  await registerBrowser(t, fixture, service, 'bob', 'old-browser');
  await registerBrowser(t, fixture, service, 'bob', 'busy-browser');
  service.answer('old-browser', [410]);
  service.answer('busy-browser', [429, 503]);
  const dm = await ann.direct('bob');
  await ann.send(dm, { text: 'first' });
  await eventually(() => service.requests.filter((request) => request.status === 201).length === 1, 10_000, 'the busy browser served at the third try');
  assert.deepEqual(
    service.requests.map((request) => [request.browserId, request.status]).sort(),
    [['busy-browser', 201], ['busy-browser', 429], ['busy-browser', 503], ['old-browser', 410]].sort(),
  );
  await eventually(async () => /outcome="web_push_gone"[^}]*\} 1\n/u.test(await metrics(fixture)), 5000, 'the gone count');
  const before = service.requests.length;
  await ann.send(dm, { text: 'second' });
  await eventually(() => service.requests.length === before + 1, 5000, 'the next notification');
  await pause(300);
  assert.deepEqual(service.requests.slice(before).map((request) => request.browserId), ['busy-browser'], 'the forgotten browser is not asked again');
});

test('registrations are checked: https on a push service host, real keys, a signed-in user; unregistering stops the notifications', async (t) => {
  const { service, fixture, ann } = await setup(t);
  const bob = client(t, fixture, 'bob');
  const browser = service.browser('bob-laptop');
  const keys = browser.subscription.keys;
  assert.equal(await refusal(bob.push.registerWebPush({ endpoint: `http://${service.host}/push/x`, keys })), 'INVALID_ARGUMENT', 'plain http');
  assert.equal(await refusal(bob.push.registerWebPush({ endpoint: 'https://10.0.0.8/push/x', keys })), 'FORBIDDEN', 'not a push service host');
  assert.equal(await refusal(bob.push.registerWebPush({ endpoint: browser.subscription.endpoint, keys: { ...keys, p256dh: keys.auth } })), 'INVALID_ARGUMENT', 'a key of the wrong size');
  assert.equal(await refusal(bob.push.registerWebPush({ endpoint: browser.subscription.endpoint, keys: { ...keys, auth: '***' } })), 'INVALID_ARGUMENT', 'not base64url');
  const anonymous = await fetch(`${fixture.server.httpUrl}/push/web/subscriptions`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(browser.subscription) });
  assert.equal(anonymous.status, 401);
  await bob.push.registerWebPush(browser.subscription);
  await bob.push.unregisterWebPush(browser.subscription.endpoint);
  await bob.push.unregisterWebPush(browser.subscription.endpoint);
  await ann.send(await ann.direct('bob'), { text: 'nobody hears this' });
  await pause(600);
  assert.equal(service.requests.length, 0);
});

test('a browser signed in as another user moves to that user; nobody can unregister a browser they do not hold', async (t) => {
  const { service, fixture, ann } = await setup(t);
  const shared = await registerBrowser(t, fixture, service, 'bob', 'family-tablet');
  await client(t, fixture, 'cat').push.registerWebPush(shared.subscription);
  await client(t, fixture, 'ann').push.unregisterWebPush(shared.subscription.endpoint);
  await ann.send(await ann.direct('bob'), { text: 'for bob' });
  await ann.send(await ann.direct('cat'), { text: 'for cat' });
  await eventually(() => service.requests.length === 1, 5000, "cat's notification");
  await pause(300);
  assert.equal(service.requests.length, 1);
  assert.equal((service.requests[0]?.payload as { body: string }).body, 'for cat');
});

test("a user's own preview setting overrides the deployment's, on every device", async (t) => {
  const { service, fixture, ann } = await setup(t, { push: { preview: 'sender' } });
  const bob = client(t, fixture, 'bob');
  await registerBrowser(t, fixture, service, 'bob', 'bob-laptop');
  assert.deepEqual(await bob.push.preferences(), { preview: undefined, deploymentDefault: 'sender' });
  const dm = await ann.direct('bob');
  await ann.send(dm, { text: 'secret plans' });
  await eventually(() => service.requests.length === 1, 5000, 'the first notification');
  assert.equal((service.requests[0]?.payload as { body: string }).body, 'New message from Ann');
  await bob.push.setPreview('hidden');
  assert.deepEqual(await client(t, fixture, 'bob').push.preferences(), { preview: 'hidden', deploymentDefault: 'sender' });
  await ann.send(dm, { text: 'more secret plans' });
  await eventually(() => service.requests.length === 2, 5000, 'the second notification');
  assert.deepEqual(service.requests[1]?.payload, { v: 1, title: 'New messages', body: 'You have a new message', conversationId: dm, seq: 2, count: 1, badge: 2 });
  await bob.push.setPreview(undefined);
  assert.deepEqual(await bob.push.preferences(), { preview: undefined, deploymentDefault: 'sender' });
});

test('the VAPID key is generated once into the data folder and kept across restarts; Web Push can be turned off', async (t) => {
  const first = await startTestServer(undefined, {});
  const dataDir = first.dataDir;
  await first.api.call('POST', '/v1/users', { id: 'bob' });
  const bob = new ParleyClient({ url: first.server.wsUrl, token: await first.api.token('bob') });
  const key = await bob.push.webPushKey();
  await bob.close();
  await first.server.close();
  const second = await startTestServer(t, { dataDir });
  const again = client(t, second, 'bob');
  assert.equal(await again.push.webPushKey(), key);
  const off = await startTestServer(t, { push: { webPush: false } });
  await off.api.call('POST', '/v1/users', { id: 'bob' });
  const bobOff = client(t, off, 'bob');
  assert.equal(await bobOff.push.webPushKey(), undefined);
  assert.equal(await refusal(bobOff.push.registerWebPush({ endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: { p256dh: 'BA', auth: 'AA' } })), 'NOT_FOUND');
});
