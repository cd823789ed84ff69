/**
 * The PushSender adapters against the PushSender contract: the webhook
 * adapter, posting to a real HTTP endpoint on a local port that checks each
 * request's signature, and the Web Push adapter, sending to a push service
 * on a local HTTPS port that checks the VAPID signature and decrypts each
 * payload with the browser's keys. Also what only the webhook adapter has:
 * the dead letters.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { type PushNotification, type PushSender, allPushSenders } from '../src/push/push-sender.js';
import { WebPushSender, type WebPushPayload, generateVapidKeys } from '../src/push/web-push.js';
import { WebhookPushSender } from '../src/push/webhook-push.js';
import type { WebPushSubscriptionRow } from '../src/store/store.js';
import { type FakeBrowser, startPushService } from './support/web-push-service.js';
import { type PushPlatform, pushSenderContract } from './contract/push-sender-contract.js';

const SECRET = 'push-secret';

async function webhookPlatform(options: { attempts?: number } = {}): Promise<PushPlatform & { dir: string; unsigned: () => number }> {
  const received: PushNotification[] = [];
  let failures = 0;
  let unsigned = 0;
  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const [stamp, digest] = String(request.headers['x-parley-signature']).split(',');
    if (digest !== `v1=${createHmac('sha256', SECRET).update(`${stamp?.slice(2)}.${raw}`).digest('hex')}`) unsigned += 1;
    if (failures > 0) {
      failures -= 1;
      response.writeHead(502).end();
      return;
    }
    received.push(...(JSON.parse(raw) as { notifications: PushNotification[] }).notifications);
    response.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dir = mkdtempSync(join(tmpdir(), 'parley-push-'));
  const sender = new WebhookPushSender(
    { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`, secret: SECRET, deadLetterPath: join(dir, 'dead.jsonl'), firstRetryMs: 20, ...options },
    pino({ level: 'silent' }),
  );
  return {
    sender,
    received,
    dir,
    unsigned: () => unsigned,
    failNext: (count) => {
      failures = count;
    },
    close: async () => {
      await sender.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

pushSenderContract('webhook', () => webhookPlatform());

/** Each user has one browser, subscribed at a local push service; what it decrypts is what the platform received. */
async function webPushPlatform(): Promise<PushPlatform> {
  const service = await startPushService();
  const browsers = new Map<string, FakeBrowser>();
  const subscriptionOf = (userId: string): WebPushSubscriptionRow => {
    let browser = browsers.get(userId);
    if (browser === undefined) {
      browser = service.browser(userId);
      browsers.set(userId, browser);
    }
    return { endpoint: browser.subscription.endpoint, userId, ...browser.subscription.keys, createdAt: 0 };
  };
  const sender = new WebPushSender(
    { vapid: generateVapidKeys(), subject: 'mailto:ops@example.com', subscriptionsOf: async (userId) => [subscriptionOf(userId)], forget: async () => {}, agent: service.agent, firstRetryMs: 20 },
    pino({ level: 'silent' }),
  );
  return {
    sender,
    get received() {
      return service.requests
        .filter((request) => request.status === 201)
        .map((request) => {
          const { v, ...fields } = request.payload as WebPushPayload;
          assert.equal(v, 1);
          return { userId: request.browserId, ...fields };
        });
    },
    failNext: (count) => service.failNext(count),
    close: async () => {
      await sender.close();
      await service.close();
    },
  };
}

pushSenderContract('Web Push', () => webPushPlatform());

test('webhook: every request is signed; what still fails after the last attempt goes to the dead-letter log', async (t) => {
  const platform = await webhookPlatform({ attempts: 2 });
  t.after(() => platform.close());
  platform.failNext(2);
  const lost: PushNotification = { userId: 'bob', conversationId: 'g1', seq: 4, count: 2, title: 'G', body: 'x', badge: 9 };
  await platform.sender.send([lost]);
  const deadLetters = join(platform.dir, 'dead.jsonl');
  const deadline = Date.now() + 5000;
  let text = '';
  while (Date.now() < deadline) {
    text = (() => {
      try {
        return readFileSync(deadLetters, 'utf8');
      } catch {
        return '';
      }
    })();
    if (text !== '') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const entry = JSON.parse(text.trim()) as { reason: string; notification: PushNotification };
  assert.equal(entry.reason, 'answered 502');
  assert.deepEqual(entry.notification, lost);
  assert.equal(platform.received.length, 0);
  assert.equal(platform.unsigned(), 0);
  assert.equal((platform.sender as WebhookPushSender).counts.deadLettered, 1);
});

test('several adapters as one: each gets every notification; a user is reachable when any adapter reaches them, asking in order', async () => {
  const asked: string[] = [];
  const fake = (name: string, reaches?: (userId: string) => boolean) => {
    const got: PushNotification[] = [];
    const sender: PushSender = {
      async send(notifications) {
        got.push(...notifications);
      },
      async close() {},
      ...(reaches === undefined
        ? {}
        : {
            async reaches(userId: string) {
              asked.push(`${name}:${userId}`);
              return reaches(userId);
            },
          }),
    };
    return { sender, got };
  };
  const phones = fake('phones', (userId) => userId === 'ann');
  const browsers = fake('browsers', (userId) => userId === 'cat');
  const both = allPushSenders([phones.sender, browsers.sender]) as PushSender;
  assert.equal(await both.reaches?.('ann'), true);
  assert.equal(await both.reaches?.('cat'), true);
  assert.equal(await both.reaches?.('bob'), false);
  assert.deepEqual(asked, ['phones:ann', 'phones:cat', 'browsers:cat', 'phones:bob', 'browsers:bob'], 'stops at the first yes');
  const note: PushNotification = { userId: 'ann', conversationId: 'g', seq: 1, count: 1, title: 'G', body: 'x', badge: 1 };
  await both.send([note]);
  assert.deepEqual([phones.got, browsers.got], [[note], [note]]);
  const webhookLike = fake('webhook');
  assert.equal(await allPushSenders([webhookLike.sender, browsers.sender])?.reaches?.('bob'), true, 'an adapter without reaches reaches everyone');
  assert.equal(allPushSenders([browsers.sender]), browsers.sender, 'one adapter is itself');
});
