/**
 * The chaos checks catch what they claim to: each kind of misbehaviour,
 * planted in an otherwise clean record of a run, shows up in its own count
 * and fails the target. A check that cannot fail proves nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message } from '@parley/client';
import { type DeviceRecord, type SendRecord, type ServerUserView, chaosText, check, meetsTarget } from './checks.js';

const CONVERSATION = 'dm:ab';

function message(seq: number, senderDevice: string, index: number, id = `m${seq}`): Message {
  return {
    id,
    conversationId: CONVERSATION,
    seq,
    senderId: senderDevice.split('/')[0] as string,
    clientMsgId: `c-${senderDevice}-${index}`,
    type: 'user',
    text: chaosText(senderDevice, index),
    createdAt: 1,
  };
}

function serverView(readSeq: number, unread: number, lastSeq = 3, firstSeq = 1): ServerUserView {
  return { totalUnread: unread, conversations: new Map([[CONVERSATION, { lastSeq, readSeq, unread, firstSeq, leftSeq: 0 }]]) };
}

/**
 * A clean run: alice (devices a/0, a/1) and bob (b/0) in one conversation;
 * a/0 sent seq 1 and 3, b/0 sent seq 2. Every device shows 1, 2, 3. Alice
 * read everything; bob's own send marked him read up to 2, so alice's seq 3
 * is his one unread message.
 */
function cleanRun() {
  const timeline = [message(1, 'a/0', 0), message(2, 'b/0', 0), message(3, 'a/0', 1)];
  const device = (key: string, readSeq: number, unread: number): DeviceRecord => ({
    key,
    userId: key.split('/')[0] as string,
    events: [...timeline],
    startSeq: new Map([[CONVERSATION, 0]]),
    summaries: new Map([[CONVERSATION, { lastSeq: 3, readSeq, unread }]]),
    totalUnread: unread,
  });
  const devices = [device('a/0', 3, 0), device('a/1', 3, 0), device('b/0', 2, 1)];
  const sends: SendRecord[] = [
    { deviceKey: 'a/0', conversationId: CONVERSATION, index: 0, status: 'acked', message: timeline[0] as Message },
    { deviceKey: 'b/0', conversationId: CONVERSATION, index: 0, status: 'acked', message: timeline[1] as Message },
    { deviceKey: 'a/0', conversationId: CONVERSATION, index: 1, status: 'acked', message: timeline[2] as Message },
  ];
  const server = new Map([
    ['a', serverView(3, 0)],
    ['b', serverView(2, 1)],
  ]);
  return { devices, sends, server };
}

function withEvents(devices: DeviceRecord[], key: string, events: Message[]): DeviceRecord[] {
  return devices.map((device) => (device.key === key ? { ...device, events } : device));
}

describe('chaos checks', () => {
  test('a clean run meets the target', () => {
    const { devices, sends, server } = cleanRun();
    const result = check(devices, sends, server);
    assert.deepEqual(result.problems, []);
    assert.equal(result.acked, 3);
    assert.equal(result.expectedDeliveries, 9, 'three messages, three member devices each');
    assert.equal(result.delivered, 9);
    assert.ok(meetsTarget(result));
  });

  test('a message emitted twice is a duplicate', () => {
    const { devices, sends, server } = cleanRun();
    const events = [...(devices[0] as DeviceRecord).events, message(2, 'b/0', 0)];
    const result = check(withEvents(devices, 'a/0', events), sends, server);
    assert.equal(result.duplicates, 1);
    assert.ok(!meetsTarget(result));
  });

  test('a send stored twice (two seqs, one send) is a duplicate', () => {
    const { devices, sends } = cleanRun();
    const twice = [message(1, 'a/0', 0), message(2, 'b/0', 0), message(3, 'a/0', 1), message(4, 'a/0', 1, 'm4')];
    const views = new Map([
      ['a', serverView(4, 0, 4)],
      ['b', serverView(2, 2, 4)],
    ]);
    const result = check(withEvents(devices, 'b/0', twice), sends, views);
    assert.ok(result.duplicates >= 1);
    assert.ok(!meetsTarget(result));
  });

  test('a message missing on one device is undelivered and a gap', () => {
    const { devices, sends, server } = cleanRun();
    const result = check(withEvents(devices, 'a/1', [message(1, 'a/0', 0), message(3, 'a/0', 1)]), sends, server);
    assert.equal(result.delivered, result.expectedDeliveries - 1);
    assert.equal(result.gaps, 1);
    assert.ok(!meetsTarget(result));
  });

  test('messages shown out of seq order are order violations', () => {
    const { devices, sends, server } = cleanRun();
    const result = check(withEvents(devices, 'b/0', [message(2, 'b/0', 0), message(1, 'a/0', 0), message(3, 'a/0', 1)]), sends, server);
    assert.ok(result.orderViolations >= 1);
  });

  test("a sender's messages stored out of send order are order violations", () => {
    const { devices, sends, server } = cleanRun();
    // a/0's send 1 got seq 1 and its send 0 got seq 3: every device shows them reversed.
    const swapped = [message(1, 'a/0', 1), message(2, 'b/0', 0), message(3, 'a/0', 0)];
    const records = devices.map((device) => ({ ...device, events: swapped }));
    const acks = sends.map((send) =>
      send.deviceKey === 'a/0' ? { ...send, message: swapped.find((m) => m.text === chaosText('a/0', send.index)) as Message } : send,
    );
    const result = check(records, acks, server);
    assert.ok(result.orderViolations >= 1 + records.length, `the acks and every device: ${result.orderViolations}`);
  });

  test('devices that disagree on the message at a seq are order violations', () => {
    const { devices, sends, server } = cleanRun();
    const result = check(withEvents(devices, 'a/1', [message(1, 'a/0', 0), message(2, 'b/0', 0, 'other'), message(3, 'a/0', 1)]), sends, server);
    assert.ok(result.orderViolations >= 1);
    assert.equal(result.delivered, result.expectedDeliveries - 1);
  });

  test('an unread count that disagrees with the server is a mismatch', () => {
    const { devices, sends, server } = cleanRun();
    const drifted = devices.map((device) => (device.key === 'b/0' ? { ...device, summaries: new Map([[CONVERSATION, { lastSeq: 3, readSeq: 3, unread: 0 }]]), totalUnread: 0 } : device));
    const result = check(drifted, sends, server);
    assert.equal(result.unreadMismatches, 2, 'the conversation and the total');
    assert.ok(!meetsTarget(result));
  });

  test('a server unread count that disagrees with the messages is a mismatch', () => {
    const { devices, sends, server } = cleanRun();
    const views = new Map(server);
    views.set('b', serverView(0, 1));
    const result = check(devices, sends, views);
    assert.ok(result.unreadMismatches >= 1, 'alice sent 1 and 3 after read position 0: 2 unread, not 1');
  });

  test('a rejected or unsettled send misses the target', () => {
    const { devices, sends, server } = cleanRun();
    const more: SendRecord[] = [...sends, { deviceKey: 'b/0', conversationId: CONVERSATION, index: 1, status: 'rejected', error: 'CLOSED' }, { deviceKey: 'b/0', conversationId: CONVERSATION, index: 2, status: 'pending' }];
    const result = check(devices, more, server);
    assert.equal(result.rejected, 1);
    assert.equal(result.pending, 1);
    assert.ok(!meetsTarget(result));
  });

  test('a message shown to someone who is not a member is misdelivered', () => {
    const { devices, sends, server } = cleanRun();
    const views = new Map(server);
    views.set('b', serverView(2, 1, 3, 2));
    const result = check(devices, sends, views);
    assert.equal(result.misdelivered, 1, 'bob joined at seq 2 and was shown seq 1');
    assert.ok(!meetsTarget(result));
  });
});
