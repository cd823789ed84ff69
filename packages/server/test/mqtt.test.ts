/**
 * The MQTT listener's pure parts: topics and payloads, where a device stands
 * in a conversation, repeats of unacknowledged publishes, packet lengths.
 * (test/e2e/mqtt.test.ts drives the whole listener with a real MQTT client.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyError } from '@parley/protocol';
import { DeliveryCursor } from '../src/mqtt/cursor.js';
import { publishContent, publishTarget, subscribedConversation } from '../src/mqtt/mapping.js';
import { PacketLengthCheck, PacketTooLarge } from '../src/mqtt/packet-size.js';
import { PublishLedger } from '../src/mqtt/publish-ledger.js';

const isCode = (codeName: string) => (error: unknown) => error instanceof ParleyError && error.codeName === codeName;

test('topics name one conversation; publishes may add their clientMsgId; wildcards and other topics are refused', () => {
  assert.equal(subscribedConversation('conversations/dm:AbC_-x'), 'dm:AbC_-x');
  assert.equal(subscribedConversation('conversations/team@home.io'), 'team@home.io');
  for (const filter of ['conversations/+', 'conversations/#', '#', 'conversations/', 'conversations/a/b', 'rooms/a', `conversations/${'x'.repeat(81)}`]) {
    assert.equal(subscribedConversation(filter), undefined, filter);
  }
  assert.deepEqual(publishTarget('conversations/team'), { conversationId: 'team' });
  assert.deepEqual(publishTarget('conversations/team/reading-42'), { conversationId: 'team', clientMsgId: 'reading-42' });
  for (const topic of ['conversations/team/a/b', 'conversations/', 'conversations//x', 'other/team', `conversations/team/${'x'.repeat(65)}`]) {
    assert.throws(() => publishTarget(topic), isCode('INVALID_ARGUMENT'), topic);
  }
});

test('a payload is text when it is UTF-8 within the text limit, else data within the data limit', () => {
  const limits = { maxTextChars: 4, maxDataBytes: 6 };
  assert.deepEqual(publishContent(Buffer.from('h\u00e9!'), limits), { text: 'h\u00e9!' });
  // Five characters: too long for text, small enough for data.
  assert.deepEqual(publishContent(Buffer.from('hello'), limits), { data: Buffer.from('hello') });
  assert.deepEqual(publishContent(Buffer.from([0xff, 0xfe]), limits), { data: Buffer.from([0xff, 0xfe]) });
  assert.throws(() => publishContent(Buffer.alloc(7, 0xff), limits), isCode('TOO_LARGE'));
  assert.throws(() => publishContent(Buffer.alloc(0), limits), isCode('INVALID_ARGUMENT'));
});

test('a cursor hands over what follows, reads gaps, and resumes after the first unacknowledged seq', () => {
  const cursor = new DeliveryCursor(10);
  assert.equal(cursor.offer(10), 'drop');
  assert.equal(cursor.offer(11), 'deliver');
  cursor.handedOver(11, true);
  // 13 before 12: read 12 from the store first.
  assert.equal(cursor.offer(13), 'catch-up');
  assert.equal(cursor.next, 12);
  cursor.handedOver(12, true);
  cursor.passedOver(13); // addressed to someone else
  assert.equal(cursor.behind, false);
  cursor.acknowledged(12);
  assert.equal(cursor.resumeAfter, 10, 'seq 11 was not acknowledged');
  cursor.acknowledged(11);
  assert.equal(cursor.resumeAfter, 13);
  cursor.handedOver(14, true);
  cursor.rewind();
  assert.equal(cursor.next, 14, 'the unacknowledged seq goes out again');
  assert.equal(cursor.behind, true, 'after a reconnect the store is asked what came meanwhile');
  assert.equal(cursor.offer(15), 'catch-up');
});

test('a store read ends what is behind, unless a message was heard of during the read', () => {
  const cursor = new DeliveryCursor(5);
  cursor.offer(9);
  const horizon = cursor.horizon;
  // The member left at seq 7: 9 is not for it.
  cursor.passedOver(7);
  cursor.readUpTo(7, horizon);
  assert.equal(cursor.behind, false);
  const raced = new DeliveryCursor(5);
  const before = raced.horizon;
  raced.offer(6); // committed while the store was read, after the read
  raced.readUpTo(5, before);
  assert.equal(raced.behind, true);
});

test('a publish repeated before it was acknowledged keeps its clientMsgId; after the acknowledgement the packet id is new', () => {
  let next = 0;
  const ledger = new PublishLedger({ maxPerDevice: 2, maxDevices: 2 }, () => `id-${++next}`);
  assert.equal(ledger.attempt('dev', 7, 'a'), 'id-1');
  assert.equal(ledger.attempt('dev', 7, 'a'), 'id-1', 'a repeat');
  assert.equal(ledger.attempt('other', 7, 'a'), 'id-2', 'another device');
  assert.equal(ledger.attempt('dev', 7, 'b'), 'id-3', 'other content under the same packet id is a new message');
  ledger.acknowledged('dev', 7, 'id-3');
  assert.equal(ledger.attempt('dev', 7, 'b'), 'id-4', 'acknowledged: the packet id was free to reuse');
});

test('packet lengths are read across chunks; a packet announcing more than the limit is refused before its body', () => {
  const check = new PacketLengthCheck(200);
  // PUBLISH with remaining length 130 (0x82 0x01), its header split over two chunks, then the body in pieces.
  check.check(Buffer.from([0x30, 0x82]));
  check.check(Buffer.from([0x01, ...Buffer.alloc(60)]));
  check.check(Buffer.alloc(70));
  // PINGREQ: no body.
  check.check(Buffer.from([0xc0, 0x00]));
  assert.throws(() => check.check(Buffer.from([0x30, 0xc9, 0x01])), PacketTooLarge, '201 bytes announced');
  assert.throws(() => new PacketLengthCheck(200).check(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])), PacketTooLarge, 'a fifth length byte');
});
