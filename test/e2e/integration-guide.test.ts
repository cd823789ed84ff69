/**
 * docs/integration.md's recipes, run as they are written: the code blocks
 * must be the files in docs/integration/, and those files must work
 * against a real server: a token minted by "your backend", a system send
 * in context, a before-send hook that refuses phone numbers, and a webhook
 * receiver that sees what happened.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
import { ParleyError } from '@parley/protocol';
// @ts-expect-error: the recipes are plain JavaScript, as an integrator would write them
import { beforeSendHandler } from '../../docs/integration/before-send-hook.mjs';
// @ts-expect-error: plain JavaScript
import { attachItem, remindBuyer } from '../../docs/integration/item-card.mjs';
// @ts-expect-error: plain JavaScript
import { parleyTokenFor } from '../../docs/integration/mint-token.mjs';
// @ts-expect-error: plain JavaScript
import { pushReceiver } from '../../docs/integration/push-receiver.mjs';
// @ts-expect-error: plain JavaScript
import { postOrderUpdate } from '../../docs/integration/system-send.mjs';
// @ts-expect-error: plain JavaScript
import { webhookReceiver } from '../../docs/integration/webhook-receiver.mjs';
import { ADMIN_KEY, eventually, startTestServer } from '../support/fixtures.js';

const RECIPES = ['mint-token.mjs', 'system-send.mjs', 'item-card.mjs', 'before-send-hook.mjs', 'webhook-receiver.mjs', 'push-receiver.mjs'];
const SECRET = 'integration-guide-secret';

async function listen(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('the guide shows each recipe file exactly', () => {
  const guide = readFileSync(new URL('../../docs/integration.md', import.meta.url), 'utf8');
  for (const recipe of RECIPES) {
    const code = readFileSync(new URL(`../../docs/integration/${recipe}`, import.meta.url), 'utf8').trimEnd();
    assert.ok(guide.includes(`\`\`\`js\n${code}\n\`\`\``), `docs/integration.md shows docs/integration/${recipe} as it is`);
  }
});

test('the recipes work: tokens from a backend, a system send, a before-send hook, a webhook receiver', async (t) => {
  const events: Array<{ type: string; conversationId: string; message: { text?: string } }> = [];
  const hookUrl = await listen(t, beforeSendHandler(SECRET));
  const eventsUrl = await listen(t, webhookReceiver(SECRET, (event: (typeof events)[number]) => events.push(event)));
  const pushed: Array<{ userId: string; title: string; body: string; badge: number }> = [];
  const pushUrl = await listen(t, pushReceiver(SECRET, (userId: string, notification: { title: string; body: string; badge: number }) => pushed.push({ userId, ...notification })));
  const fixture = await startTestServer(t, {
    hookSecret: SECRET,
    moderation: { beforeSendUrl: hookUrl },
    webhooks: { url: eventsUrl },
    push: { webhookUrl: pushUrl, windowMs: 200 },
  });
  const parley = { url: fixture.server.httpUrl, adminKey: ADMIN_KEY };

  const buyerToken: string = await parleyTokenFor(parley, { id: 'buyer', name: 'Bea' });
  const sellerToken: string = await parleyTokenFor(parley, { id: 'seller', name: 'Sam' });
  await parleyTokenFor(parley, { id: 'shop', name: 'The Shop' });
  assert.equal(typeof (await parleyTokenFor(parley, { id: 'buyer', name: 'Bea' })), 'string', 'signing in again works');
  const buyer = new ParleyClient({ url: fixture.server.wsUrl, token: () => buyerToken });
  const seller = new ParleyClient({ url: fixture.server.wsUrl, token: () => sellerToken });
  t.after(() => {
    buyer.close();
    seller.close();
  });
  await Promise.all([buyer.connect(), seller.connect()]);
  const sellerGot: Message[] = [];
  seller.on('message', (message) => sellerGot.push(message));
  const chat = (await buyer.createGroup({ name: 'Blue bike, order 1042', memberIds: ['seller', 'shop'] })).id;

  const stored = await postOrderUpdate(parley, chat, '1042', 'paid');
  assert.equal(stored.text, 'Order 1042: paid');
  assert.equal((await postOrderUpdate(parley, chat, '1042', 'paid')).seq, stored.seq, 'a retry is stored once');
  await eventually(() => sellerGot.some((message) => message.text === 'Order 1042: paid'), 5000, 'the seller sees the update');

  const item = { id: 'bike-42', title: 'Blue bike, 120 €', url: 'https://shop.example/items/42' };
  assert.deepEqual(await attachItem(parley, chat, item), { item_id: 'bike-42', title: 'Blue bike, 120 €', url: 'https://shop.example/items/42' });
  await eventually(() => seller.conversation(chat)?.attributes.item_id === 'bike-42', 5000, 'the seller\'s list knows the item');
  const buyerGot: Message[] = [];
  buyer.on('message', (message) => buyerGot.push(message));
  await remindBuyer(parley, chat, 'buyer', 'Please pay within 24 hours.');
  await eventually(() => buyerGot.some((message) => message.text === 'Please pay within 24 hours.'), 5000, 'the buyer sees the reminder');
  assert.ok(!sellerGot.some((message) => message.text === 'Please pay within 24 hours.'), 'the seller does not');

  await assert.rejects(buyer.send(chat, { text: 'call me on +1 555 123 4567' }), (error: unknown) => {
    return error instanceof ParleyError && error.codeName === 'REJECTED' && error.reason === 'contact_details' && error.message === 'Phone numbers can be shared once an order is placed.';
  });
  await buyer.send(chat, { text: 'Is it still available?' });

  await eventually(() => events.some((event) => event.message.text === 'Is it still available?'), 10_000, 'the webhook receiver hears it');
  // "shop" never connects: its offline notifications reach the push receiver.
  await eventually(() => pushed.some((notification) => notification.userId === 'shop' && notification.body.includes('Is it still available?')), 10_000, 'a push for shop');
  const ofChat = events.filter((event) => event.conversationId === chat);
  assert.deepEqual(
    ofChat.map((event) => [event.type, event.message.text]),
    [
      ['conversation.created', undefined],
      ['message.stored', 'Order 1042: paid'],
      ['message.stored', 'Please pay within 24 hours.'],
      ['message.stored', 'Is it still available?'],
    ],
  );
});
