/**
 * The pure parts of the web app's live rooms: which lane a chat line flies
 * in and when, how many lines and hearts the stage holds, how this user's
 * own echoes are told apart from others' chatter, what card a room's
 * reliable message shows as, and a live's address. The browser test (test/browser/live-room.test.ts
 * at the root) covers the page in Chromium.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message, RoomEvent } from '@parley/client';
import { cardOf } from '../src/live/cards.js';
import {
  DANMAKU_LANES,
  EMPTY_DANMAKU,
  EMPTY_HEARTS,
  MAX_DANMAKU,
  MAX_HEARTS,
  MAX_HEARTS_PER_BURST,
  NO_ECHOES,
  awaitLikes,
  awaitLine,
  burst,
  landLine,
  launchLines,
  nextLaunchAt,
  popHeart,
  stageNews,
} from '../src/live/effects.js';
import { parseRoute, roomIdFromInput, routeHash } from '../src/route.js';

const line = (text: string, own = false) => ({ text, senderName: 'Fan', own });

describe('danmaku', () => {
  test('lines take free lanes at once; a line finding none waits, and goes when a lane clears', () => {
    const burstOfLines = Array.from({ length: DANMAKU_LANES + 2 }, (_, index) => line(`line ${index}`));
    const field = launchLines(EMPTY_DANMAKU, burstOfLines, 1000, 600);
    assert.equal(field.lines.length, DANMAKU_LANES);
    assert.deepEqual(
      field.lines.map((launched) => launched.lane),
      Array.from({ length: DANMAKU_LANES }, (_, lane) => lane),
    );
    assert.deepEqual(
      field.waiting.map((waiting) => waiting.text),
      [`line ${DANMAKU_LANES}`, `line ${DANMAKU_LANES + 1}`],
    );
    const next = nextLaunchAt(field);
    assert.ok(next !== undefined && next > 1000);
    assert.equal(launchLines(field, [], next - 1, 600), field, 'nothing goes before a lane clears');
    // Lines of one length clear their lanes together: both waiting ones go, in order.
    const later = launchLines(field, [], next, 600);
    assert.deepEqual(
      later.lines.slice(DANMAKU_LANES).map((launched) => launched.text),
      [`line ${DANMAKU_LANES}`, `line ${DANMAKU_LANES + 1}`],
    );
    assert.equal(later.waiting.length, 0);
  });

  test('every line crosses at one speed: a longer line or a wider stage takes longer', () => {
    const field = launchLines(EMPTY_DANMAKU, [line('hi'), line('a much longer line than the first one')], 0, 600);
    const [short, long] = field.lines;
    assert.ok(short !== undefined && long !== undefined && long.durationMs > short.durationMs);
    const wide = launchLines(EMPTY_DANMAKU, [line('hi')], 0, 1200);
    assert.ok((wide.lines[0]?.durationMs ?? 0) > short.durationMs);
  });

  test('own lines go first; past the bound the oldest of others’ waiting lines are dropped', () => {
    let field = launchLines(EMPTY_DANMAKU, Array.from({ length: DANMAKU_LANES }, (_, index) => line(`first ${index}`)), 0, 600);
    field = launchLines(field, Array.from({ length: 20 }, (_, index) => line(`waiting ${index}`)), 1, 600);
    field = launchLines(field, [line('mine', true)], 2, 600);
    assert.equal(field.waiting[0]?.text, 'mine');
    assert.equal(field.waiting.at(-1)?.text, 'waiting 19');
    assert.ok(field.dropped > 0);
    assert.equal(field.waiting.length + field.dropped, 21);
  });

  test('the stage holds a bounded number of lines; a landing makes room', () => {
    let field = EMPTY_DANMAKU;
    for (let at = 0; field.lines.length < MAX_DANMAKU; at += 60_000) field = launchLines(field, [line(`at ${at}`)], at, 600);
    const full = launchLines(field, [line('one too many')], 10_000_000, 600);
    assert.equal(full.lines.length, MAX_DANMAKU);
    assert.equal(nextLaunchAt(full), undefined, 'a full stage waits for a landing, not for a time');
    const landed = launchLines(landLine(full, full.lines[0]?.id ?? 0), [], 10_000_000, 600);
    assert.equal(landed.lines.length, MAX_DANMAKU);
    assert.equal(landed.lines.at(-1)?.text, 'one too many');
  });
});

describe('hearts', () => {
  test('a burst shows one heart per like, capped per burst and on screen; each leaves when done', () => {
    const one = burst(EMPTY_HEARTS, 1, true, () => 0.5);
    assert.equal(one.hearts.length, 1);
    assert.equal(one.hearts[0]?.own, true);
    assert.equal(burst(EMPTY_HEARTS, 500, false).hearts.length, MAX_HEARTS_PER_BURST);
    let field = EMPTY_HEARTS;
    for (let index = 0; index < 20; index++) field = burst(field, 100, false);
    assert.equal(field.hearts.length, MAX_HEARTS);
    assert.equal(popHeart(field, field.hearts[0]?.id ?? 0).hearts.length, MAX_HEARTS - 1);
  });
});

describe('own echoes', () => {
  const event = (kind: RoomEvent['kind'], senderId: string, extra: Partial<RoomEvent> = {}): RoomEvent => ({ kind, senderId, senderName: senderId, ...extra });

  test('an own line already shown is skipped once when it comes back; others’ lines and a repeat show', () => {
    const echoes = awaitLine(NO_ECHOES, 'hello');
    const news = stageNews([event('chat', 'me', { text: 'hello' }), event('chat', 'ann', { text: 'hello' }), event('chat', 'me', { text: 'hello' })], 'me', echoes);
    assert.deepEqual(
      news.lines.map((shown) => [shown.senderName, shown.own]),
      [
        ['ann', false],
        ['me', true],
      ],
    );
    assert.deepEqual(news.echoes.lines, []);
  });

  test('merged likes count off own taps already shown, whoever the merged sender is', () => {
    const echoes = awaitLikes(NO_ECHOES, 3);
    const first = stageNews([event('like', 'ann', { count: 2 })], 'me', echoes);
    assert.equal(first.likes, 0);
    const second = stageNews([event('like', 'me', { count: 5 })], 'me', first.echoes);
    assert.equal(second.likes, 4);
    assert.equal(second.echoes.likes, 0);
  });
});

describe('cards', () => {
  const origin = 'https://parley.example';
  const message = (content: Message['content'], extra: Partial<Message> = {}): Message => ({
    id: 'm1',
    conversationId: 'live-1',
    seq: 1,
    senderId: 'host',
    clientMsgId: 'c1',
    type: 'user',
    createdAt: 0,
    ...(content === undefined ? {} : { content }),
    ...extra,
  });
  const custom = (customType: string, data: Record<string, unknown>) => message({ type: 'custom', customType, data });

  test('products, gifts and red packets show as their cards, amounts as people read them', () => {
    assert.deepEqual(cardOf(custom('shop.product_card', { title: 'Linen shirt', price: 39.9 }), origin), { kind: 'product', title: 'Linen shirt', price: '39.90' });
    assert.deepEqual(cardOf(custom('shop.product_card', { title: 'Mug', price: '€12' }), origin), { kind: 'product', title: 'Mug', price: '€12' });
    assert.deepEqual(cardOf(custom('live.gift', { gift: 'rose', value: 1520 }), origin), { kind: 'gift', gift: 'rose', value: '1,520' });
    assert.deepEqual(cardOf(custom('live.red_packet', { amount: 8.88, note: ' Lucky ' }), origin), { kind: 'red_packet', amount: '8.88', note: 'Lucky' });
  });

  test('a product image shows only from the page’s own server (its policy loads no other)', () => {
    const ownImage = cardOf(custom('shop.product_card', { title: 'Hat', price: 5, imageUrl: '/media/hat.jpg' }), origin);
    assert.deepEqual(ownImage, { kind: 'product', title: 'Hat', price: '5.00', imageUrl: 'https://parley.example/media/hat.jpg' });
    const foreign = cardOf(custom('shop.product_card', { title: 'Hat', price: 5, imageUrl: 'https://cdn.elsewhere.example/hat.jpg' }), origin);
    assert.equal('imageUrl' in foreign, false);
  });

  test('text is an announcement, the room’s end is its own card, anything unexpected is a generic card', () => {
    assert.deepEqual(cardOf(message(undefined, { text: 'Free shipping' }), origin), { kind: 'announcement', text: 'Free shipping' });
    assert.deepEqual(cardOf(message(undefined, { type: 'system', system: { type: 'room_closed', actorId: 'host' } }), origin), { kind: 'ended' });
    assert.deepEqual(cardOf(custom('shop.product_card', { title: 42 }), origin), { kind: 'custom', customType: 'shop.product_card', fields: [['title', '42']], more: 0 });
    assert.deepEqual(cardOf(custom('poll.open', { question: 'Blue or sand?', options: ['blue', 'sand'] }), origin), {
      kind: 'custom',
      customType: 'poll.open',
      fields: [
        ['question', 'Blue or sand?'],
        ['options', '["blue","sand"]'],
      ],
      more: 0,
    });
  });
});

describe('live links', () => {
  test('a live has its own address beside conversations; a pasted link joins like its room id', () => {
    assert.deepEqual(parseRoute('#/live/r-abc'), { page: 'live', roomId: 'r-abc' });
    assert.deepEqual(parseRoute('#/c/g-team'), { page: 'conversation', conversationId: 'g-team' });
    assert.deepEqual(parseRoute('#/live/'), { page: 'home' });
    assert.deepEqual(parseRoute('#/live/%E0%A4%A'), { page: 'home' });
    assert.equal(routeHash({ page: 'live', roomId: 'a b' }), '#/live/a%20b');
    assert.equal(roomIdFromInput('  r-abc '), 'r-abc');
    assert.equal(roomIdFromInput('https://chat.example/#/live/r-abc'), 'r-abc');
  });
});
