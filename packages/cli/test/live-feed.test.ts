/**
 * What a live room's chatter prints as in the terminal chat: a hot room is
 * bounded to a readable rate, merged counts come as one line, and the
 * reader's own lines print once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoomEvent } from '@parley/client';
import { LiveFeed } from '../src/chat/live-feed.js';

const chat = (senderId: string, text: string): RoomEvent => ({ kind: 'chat', senderId, senderName: senderId, text });
/** Counts print in the reader's locale. */
const count = (value: number) => new Intl.NumberFormat().format(value);
const lines = (from: number, count: number) => Array.from({ length: count }, (_, index) => chat('fan', `line ${from + index}`));

describe('live feed', () => {
  test('a hot room prints at most 10 chat lines a second; the rest is counted as "… N more" ahead of the next second’s lines', () => {
    const feed = new LiveFeed({ selfId: 'ann' });
    const first = feed.add(lines(0, 25), 0, 1000);
    assert.deepEqual(first, [...Array.from({ length: 10 }, (_, index) => `fan: line ${index}`)]);
    assert.deepEqual(feed.add(lines(25, 5), 7, 1500), [], 'still the same second: counted, as are the events the server skipped');
    assert.deepEqual(feed.add(lines(30, 2), 0, 2000), ['… 27 more', 'fan: line 30', 'fan: line 31']);
    assert.equal(feed.pending, false);
  });

  test('likes, joins and the online count come as one line; a lone join names who came', () => {
    const feed = new LiveFeed({ selfId: 'ann', online: 1200 });
    assert.equal(feed.pending, false, 'the count shown on joining is not repeated');
    feed.add(
      [
        { kind: 'like', senderId: 'bob', senderName: 'Bob', count: 20 },
        { kind: 'joined', senderId: 'cat', senderName: 'Cat', count: 12 },
        { kind: 'like', senderId: 'dan', senderName: 'Dan', count: 15 },
      ],
      0,
      0,
    );
    feed.setOnline(1204);
    assert.deepEqual(feed.summary(), [`♥ +35 likes · 12 joined · ${count(1204)} watching`]);
    assert.equal(feed.pending, false);
    feed.add([{ kind: 'joined', senderId: 'eve', senderName: 'Eve', count: 1 }], 0, 100);
    assert.deepEqual(feed.summary(), [`eve joined · ${count(1204)} watching`]);
    feed.setOnline(1190);
    assert.deepEqual(feed.summary(), [`${count(1190)} watching`]);
  });

  test('the reader’s own chat line is not printed again when it comes back; a refused one leaves others’ equal lines alone', () => {
    const feed = new LiveFeed({ selfId: 'ann' });
    feed.expectEcho('hello');
    assert.deepEqual(feed.add([chat('bob', 'hello'), chat('ann', 'hello'), chat('ann', 'hello')], 0, 0), ['bob: hello', 'ann: hello'], 'one echo awaited, one taken');
    feed.expectEcho('refused');
    feed.cancelEcho('refused');
    assert.deepEqual(feed.add([chat('ann', 'refused')], 0, 10), ['ann: refused'], 'from another device of the reader');
  });

  test('text from the network cannot steer the terminal', () => {
    const feed = new LiveFeed({ selfId: 'ann' });
    assert.deepEqual(feed.add([chat('bob', 'red \u001b[31mtext\nand a second line')], 0, 0), ['bob: red \ufffd[31mtext and a second line']);
  });
});
