/**
 * The chaos checks catch what they claim to: each kind of misbehaviour,
 * planted in an otherwise clean record of a run, shows up in its own count
 * and fails the target. A check that cannot fail proves nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message } from '@parley/client';
import { type DeviceRecord, type MembershipHistory, type SendRecord, type ServerUserView, chaosText, check, meetsTarget } from './checks.js';

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

function serverView(readSeq: number, unread: number, lastSeq = 3, firstSeq = 1, leftSeq = 0): ServerUserView {
  return { totalUnread: unread, conversations: new Map([[CONVERSATION, { lastSeq, readSeq, unread, firstSeq, leftSeq }]]) };
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

function withDevice(devices: DeviceRecord[], key: string, change: Partial<DeviceRecord>): DeviceRecord[] {
  return devices.map((device) => (device.key === key ? { ...device, ...change } : device));
}

/**
 * Alice (a/0, a/1) sends seq 1, 2 and 3 to a group with bob (b/0); bob only
 * reads. Bob's membership is given as windows, his device shows `bobSees`.
 */
function groupRun(bobWindows: Array<{ from: number; through?: number }>, bobSees: number[]) {
  const timeline = [message(1, 'a/0', 0), message(2, 'a/0', 1), message(3, 'a/0', 2)];
  const first = bobWindows[0] as { from: number; through?: number };
  const last = bobWindows[bobWindows.length - 1] as { from: number; through?: number };
  const bobReadable = timeline.filter((m) => bobWindows.some((w) => m.seq >= w.from && m.seq <= (w.through ?? 3)));
  const bobUnread = timeline.filter((m) => m.seq >= last.from && m.seq <= (last.through ?? 3)).length;
  const device = (key: string, events: Message[], unread: number): DeviceRecord => ({
    key,
    userId: key.split('/')[0] as string,
    events,
    startSeq: new Map([[CONVERSATION, 0]]),
    summaries: new Map([[CONVERSATION, { lastSeq: 3, readSeq: 3 - unread, unread }]]),
    totalUnread: unread,
  });
  const devices = [device('a/0', timeline, 0), device('a/1', timeline, 0), device('b/0', timeline.filter((m) => bobSees.includes(m.seq)), bobUnread)];
  const sends: SendRecord[] = timeline.map((m, index) => ({ deviceKey: 'a/0', conversationId: CONVERSATION, index, status: 'acked', message: m }));
  const server = new Map([
    ['a', serverView(3, 0)],
    // A member added back keeps its first seq on the server; the time away is an absence.
    ['b', serverView(last.from - 1, bobUnread, 3, first.from, last.through ?? 0)],
  ]);
  const memberships: MembershipHistory = new Map([[CONVERSATION, new Map([['a', [{ from: 1 }]], ['b', bobWindows]])]]);
  return { devices, sends, server, memberships, bobReadable };
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
  test('a client that started mid-run owes only the seqs after its start', () => {
    const { devices, sends, server } = cleanRun();
    const late = withDevice(devices, 'a/1', { events: [message(3, 'a/0', 1)], startSeq: new Map([[CONVERSATION, 2]]) });
    const result = check(late, sends, server);
    assert.deepEqual(result.problems, []);
    assert.equal(result.expectedDeliveries, 7, 'a/1 owes seq 3 only');
    assert.ok(meetsTarget(result));
  });

  test('a conversation first seen mid-run is owed from its first seq: a skipped seq is a gap', () => {
    const { devices, sends, server } = cleanRun();
    // No start point: a/1 met the conversation after it started, and skipped seq 2 (the first-sight bug).
    const skipped = withDevice(devices, 'a/1', { events: [message(1, 'a/0', 0), message(3, 'a/0', 1)], startSeq: new Map() });
    const result = check(skipped, sends, server);
    assert.equal(result.gaps, 1);
    assert.equal(result.delivered, result.expectedDeliveries - 1);
    assert.ok(!meetsTarget(result));
    // Showing only the newest message is no better: seqs 1 and 2 are owed too.
    const late = check(withDevice(devices, 'a/1', { events: [message(3, 'a/0', 1)], startSeq: new Map() }), sends, server);
    assert.equal(late.gaps, 2);
    assert.ok(!meetsTarget(late));
  });

  test('a client closed mid-run owes nothing after the point it reached, and its badges are not compared', () => {
    const { devices, sends, server } = cleanRun();
    const closed = withDevice(devices, 'a/1', {
      events: [message(1, 'a/0', 0)],
      closedThrough: new Map([[CONVERSATION, 1]]),
      summaries: new Map([[CONVERSATION, { lastSeq: 1, readSeq: 0, unread: 1 }]]),
      totalUnread: 1,
    });
    const result = check(closed, sends, server);
    assert.deepEqual(result.problems, []);
    assert.equal(result.expectedDeliveries, 7);
    assert.ok(meetsTarget(result));
    // ...but below that point it owes every seq.
    const holed = withDevice(closed, 'a/1', { events: [message(2, 'b/0', 0)], closedThrough: new Map([[CONVERSATION, 2]]) });
    assert.equal(check(holed, sends, server).gaps, 1);
  });

  test('a removed member gets exactly the messages of its window', () => {
    const exact = groupRun([{ from: 1, through: 2 }], [1, 2]);
    const result = check(exact.devices, exact.sends, exact.server, exact.memberships);
    assert.deepEqual(result.problems, []);
    assert.equal(result.expectedDeliveries, 8, 'alice 2 × 3, bob 2');
    assert.ok(meetsTarget(result));

    const tooMuch = groupRun([{ from: 1, through: 2 }], [1, 2, 3]);
    assert.equal(check(tooMuch.devices, tooMuch.sends, tooMuch.server, tooMuch.memberships).misdelivered, 1);
    const tooLittle = groupRun([{ from: 1, through: 2 }], [1]);
    const missed = check(tooLittle.devices, tooLittle.sends, tooLittle.server, tooLittle.memberships);
    assert.equal(missed.gaps, 1);
    assert.ok(!meetsTarget(missed));
  });

  test('a re-added member continues from its new first seq: both windows, nothing between', () => {
    const exact = groupRun([{ from: 1, through: 1 }, { from: 3 }], [1, 3]);
    const result = check(exact.devices, exact.sends, exact.server, exact.memberships);
    assert.deepEqual(result.problems, []);
    assert.ok(meetsTarget(result));

    // The server's view spans both windows: without the history the time away would look like a gap.
    assert.equal(check(exact.devices, exact.sends, exact.server).gaps, 1);

    const between = groupRun([{ from: 1, through: 1 }, { from: 3 }], [1, 2, 3]);
    assert.equal(check(between.devices, between.sends, between.server, between.memberships).misdelivered, 1);
    const stopped = groupRun([{ from: 1, through: 1 }, { from: 3 }], [1]);
    assert.equal(check(stopped.devices, stopped.sends, stopped.server, stopped.memberships).gaps, 1);
  });

  test('a membership history that disagrees with the server misses the target', () => {
    const run = groupRun([{ from: 1, through: 2 }], [1, 2]);
    const wrong: MembershipHistory = new Map([[CONVERSATION, new Map([['a', [{ from: 1 }]], ['b', [{ from: 1 }]]])]]);
    const result = check(run.devices, run.sends, run.server, wrong);
    assert.equal(result.membershipMismatches, 1, 'bob left at 2 on the server');
    assert.ok(!meetsTarget(result));
  });
  test('an empty conversation a device has not heard of is no mismatch; one with messages is', () => {
    const { devices, sends, server } = cleanRun();
    const views = new Map([...server].map(([userId, view]) => [userId, { ...view, conversations: new Map([...view.conversations, ['dm:new', { lastSeq: 0, readSeq: 0, unread: 0, firstSeq: 1, leftSeq: 0 }]]) }]));
    assert.deepEqual(check(devices, sends, views).problems, []);
    const withMessage = new Map([...server].map(([userId, view]) => [userId, { ...view, conversations: new Map([...view.conversations, ['dm:new', { lastSeq: 1, readSeq: 1, unread: 0, firstSeq: 1, leftSeq: 0 }]]) }]));
    assert.ok(check(devices, sends, withMessage).unreadMismatches > 0);
  });
});
