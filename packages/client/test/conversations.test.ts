/**
 * Conversation bookkeeping: what a user sees in the list (order, last message,
 * unread badge) stays right whatever order summaries and messages arrive in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversationList } from '../src/conversations.js';
import type { ConversationSummary, Message } from '../src/types.js';

const ME = 'me';

function summary(overrides: Partial<ConversationSummary> & { id: string }): ConversationSummary {
  return {
    kind: 'group',
    name: overrides.id,
    lastSeq: 0,
    readSeq: 0,
    unread: 0,
    role: 'member',
    firstSeq: 1,
    active: true,
    updatedAt: 0,
    memberCount: 2,
    attributes: {},
    ...overrides,
  };
}

function message(conversationId: string, seq: number, overrides: Partial<Message> = {}): Message {
  return {
    id: `${conversationId}-${seq}`,
    conversationId,
    seq,
    senderId: 'alice',
    clientMsgId: `c${seq}`,
    type: 'user',
    text: `hello ${seq}`,
    createdAt: 1000 + seq,
    ...overrides,
  };
}

describe('ConversationList: applying messages', () => {
  it('a new message from someone else becomes lastMessage and counts as unread', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 3, readSeq: 3 }));
    const changed = list.applyMessage(message('c', 4), ME);
    assert.ok(changed !== undefined);
    assert.equal(changed.lastSeq, 4);
    assert.equal(changed.lastMessage?.seq, 4);
    assert.equal(changed.updatedAt, 1004);
    assert.equal(changed.unread, 1);
    assert.equal(list.totalUnread, 1);
  });

  it('messages the summary already accounts for change nothing', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 5, readSeq: 2, unread: 3 }));
    assert.equal(list.applyMessage(message('c', 4), ME), undefined);
    assert.equal(list.applyMessage(message('c', 5), ME), undefined);
    assert.equal(list.get('c')?.unread, 3);
  });

  it('system messages and own messages never count as unread', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c' }));
    list.applyMessage(message('c', 1, { type: 'system', senderId: 'alice' }), ME);
    assert.equal(list.get('c')?.unread, 0);
    assert.equal(list.get('c')?.lastMessage?.seq, 1);
  });

  it('an own message marks the conversation read up to it', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 2, readSeq: 0, unread: 2 }));
    list.applyMessage(message('c', 3), ME);
    const changed = list.applyMessage(message('c', 4, { senderId: ME }), ME);
    assert.equal(changed?.readSeq, 4);
    assert.equal(changed?.unread, 0);
  });

  it('a message at or below readSeq does not count (read on another device first)', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 2, readSeq: 5 }));
    list.applyMessage(message('c', 3), ME);
    list.applyMessage(message('c', 6), ME);
    assert.equal(list.get('c')?.unread, 1);
  });

  it('a hidden placeholder advances lastSeq but neither lastMessage, updatedAt nor unread', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 1, lastMessage: message('c', 1), updatedAt: 1001 }));
    const changed = list.advanceLastSeq('c', 2);
    assert.equal(changed?.lastSeq, 2);
    assert.equal(changed?.lastMessage?.seq, 1);
    assert.equal(changed?.updatedAt, 1001);
    assert.equal(changed?.unread, 0);
    assert.equal(list.advanceLastSeq('c', 2), undefined);
  });

  it('messages for unknown conversations are ignored', () => {
    const list = new ConversationList();
    assert.equal(list.applyMessage(message('nowhere', 1), ME), undefined);
    assert.deepEqual(list.list(), []);
  });
});

describe('ConversationList: server summaries', () => {
  it('a newer summary replaces the local one', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 1, unread: 1 }));
    list.applyMessage(message('c', 2), ME);
    const changed = list.applyServerSummary(summary({ id: 'c', name: 'Renamed', lastSeq: 2, unread: 2, readSeq: 0, updatedAt: 5000 }));
    assert.equal(changed?.name, 'Renamed');
    assert.equal(changed?.unread, 2);
    assert.equal(changed?.updatedAt, 5000);
  });

  it('a stale summary keeps the local lastSeq, lastMessage, updatedAt and counts the newer messages', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 3, readSeq: 0, unread: 3 }));
    list.applyMessage(message('c', 4), ME);
    list.applyMessage(message('c', 5), ME);
    assert.equal(list.get('c')?.unread, 5);
    // Another device read up to 3; the change was computed before messages 4 and 5.
    const changed = list.applyServerSummary(summary({ id: 'c', name: 'New name', lastSeq: 3, readSeq: 3, unread: 0, updatedAt: 900 }));
    assert.equal(changed?.name, 'New name');
    assert.equal(changed?.lastSeq, 5);
    assert.equal(changed?.lastMessage?.seq, 5);
    assert.equal(changed?.updatedAt, 1005);
    assert.equal(changed?.readSeq, 3);
    assert.equal(changed?.unread, 2);
  });

  it('a stale summary read past the local messages leaves only the unread above its read position', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 1 }));
    list.applyMessage(message('c', 2), ME);
    list.applyMessage(message('c', 3), ME);
    list.applyMessage(message('c', 4), ME);
    const changed = list.applyServerSummary(summary({ id: 'c', lastSeq: 3, readSeq: 3, unread: 0 }));
    assert.equal(changed?.unread, 1);
    assert.equal(changed?.lastSeq, 4);
  });

  it('a summary older than one already applied does not undo its count', () => {
    // Found by the cluster suite (test/cluster/postgres-outage.test.ts): a read's answer and another
    // device's change travel on different paths, and the older one may arrive last.
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 119, readSeq: 119 }));
    for (const seq of [120, 121, 122]) list.applyMessage(message('c', seq), ME);
    list.applyServerSummary(summary({ id: 'c', lastSeq: 122, readSeq: 119, unread: 3 }));
    assert.equal(list.applyServerSummary(summary({ id: 'c', lastSeq: 121, readSeq: 119, unread: 2 })), undefined);
    assert.equal(list.get('c')?.unread, 3);
  });

  it('read positions never move back', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 10 }));
    const changed = list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 8, unread: 2 }));
    assert.equal(changed, undefined);
    assert.equal(list.get('c')?.readSeq, 10);
    assert.equal(list.get('c')?.unread, 0);
  });

  it('an identical summary is not reported as a change', () => {
    const list = new ConversationList();
    const first = summary({ id: 'c', lastSeq: 2, lastMessage: message('c', 2) });
    assert.equal(list.applyServerSummary(first), first);
    assert.equal(list.applyServerSummary({ ...first, lastMessage: message('c', 2) }), undefined);
  });
});

describe('ConversationList: reading', () => {
  it('markReadLocally up to lastSeq clears unread at once', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 4, unread: 4 }));
    const changed = list.markReadLocally('c', 4);
    assert.equal(changed?.readSeq, 4);
    assert.equal(changed?.unread, 0);
    assert.equal(list.markReadLocally('c', 3), undefined);
  });

  it('a partial local read removes the locally counted messages it covers; read_result is authoritative', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 0 }));
    for (const seq of [1, 2, 3, 4]) list.applyMessage(message('c', seq), ME);
    assert.equal(list.markReadLocally('c', 2)?.unread, 2);
    assert.equal(list.applyReadResult('c', 2, 2), undefined);
    assert.equal(list.applyReadResult('c', 3, 1)?.unread, 1);
    assert.equal(list.get('c')?.readSeq, 3);
  });

  it('a read result older than a newer local read does not move it back', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 5, unread: 5 }));
    list.markReadLocally('c', 5);
    list.applyReadResult('c', 3, 2);
    assert.equal(list.get('c')?.readSeq, 5);
    assert.equal(list.get('c')?.unread, 0);
  });
});

describe('ConversationList: list order and totals', () => {
  it('lists newest activity first, then by id', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'b', updatedAt: 10 }));
    list.applyServerSummary(summary({ id: 'a', updatedAt: 10 }));
    list.applyServerSummary(summary({ id: 'old', updatedAt: 1 }));
    list.applyServerSummary(summary({ id: 'new', updatedAt: 20 }));
    assert.deepEqual(list.list().map((s) => s.id), ['new', 'a', 'b', 'old']);
    list.applyMessage(message('old', 1, { createdAt: 30 }), ME);
    assert.deepEqual(list.list().map((s) => s.id), ['old', 'new', 'a', 'b']);
  });

  it('the total is the sum of the per-conversation counts', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'a', lastSeq: 2, unread: 2 }));
    list.applyServerSummary(summary({ id: 'b', lastSeq: 3, unread: 3 }));
    list.applyMessage(message('a', 3), ME);
    assert.equal(list.totalUnread, 6);
    list.markReadLocally('b', 3);
    assert.equal(list.totalUnread, 3);
    const sum = list.list().reduce((total, s) => total + s.unread, 0);
    assert.equal(list.totalUnread, sum);
  });

  it('hands out copies of the list', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'a' }));
    list.list().pop();
    assert.equal(list.list().length, 1);
  });

  it('lists pinned conversations first, the latest pinned on top, then by activity', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'recent', updatedAt: 900 }));
    list.applyServerSummary(summary({ id: 'old-pin', updatedAt: 10, pinnedAt: 100 }));
    list.applyServerSummary(summary({ id: 'new-pin', updatedAt: 5, pinnedAt: 200 }));
    list.applyServerSummary(summary({ id: 'older', updatedAt: 800 }));
    assert.deepEqual(list.list().map((entry) => entry.id), ['new-pin', 'old-pin', 'recent', 'older']);
  });

  it("an older summary (by lastSeq) still brings the user's settings: they change without moving lastSeq", () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'g', lastSeq: 5, readSeq: 5, draft: 'old draft' }));
    const changed = list.applyServerSummary(summary({ id: 'g', lastSeq: 4, readSeq: 4, mutedUntil: 9_000, pinnedAt: 7 }));
    assert.equal(changed?.lastSeq, 5, 'the newer lastSeq stays');
    assert.equal(changed?.mutedUntil, 9_000);
    assert.equal(changed?.pinnedAt, 7);
    assert.equal('draft' in (changed ?? {}), false, 'a cleared draft is cleared');
    assert.equal(list.applyServerSummary(summary({ id: 'g', lastSeq: 4, readSeq: 4, mutedUntil: 9_000, pinnedAt: 7 })), undefined, 'nothing new: no event');
  });
});

describe('ConversationList: unread thread replies', () => {
  it('a summary read before a thread read it crossed does not bring the count back', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 10, threadUnread: 1 }));
    // The thread read's answer first, then a summary the server built before the read.
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 10 }));
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 10, threadUnread: 1 }));
    assert.equal(list.get('c')?.threadUnread, undefined);
    assert.equal(list.totalUnread, 0);
  });

  it('a reply is a new seq: its summary raises the count, also after the reply itself arrived', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 10 }));
    list.applyMessage(message('c', 11, { threadRoot: 4 }), ME);
    list.applyServerSummary(summary({ id: 'c', lastSeq: 11, readSeq: 10, threadUnread: 1 }));
    assert.equal(list.get('c')?.threadUnread, 1);
    assert.equal(list.get('c')?.unread, 0, 'a reply is not unread in the timeline');
    // Lower counts always stand (a recall, a read on another device).
    list.applyServerSummary(summary({ id: 'c', lastSeq: 11, readSeq: 10 }));
    assert.equal(list.get('c')?.threadUnread, undefined);
    assert.equal(list.totalUnread, 0);
  });
});

describe('ConversationList: a summary that crossed a read', () => {
  it('one counted before the read, arriving after its answer, does not bring the read messages back', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 25, readSeq: 18, unread: 7 }));
    list.markReadLocally('c', 23);
    list.applyReadResult('c', 23, 2);
    assert.equal(list.get('c')?.unread, 2);
    // Built by the server before the read committed, delivered after its answer.
    list.applyServerSummary(summary({ id: 'c', lastSeq: 25, readSeq: 18, unread: 7 }));
    assert.deepEqual([list.get('c')?.readSeq, list.get('c')?.unread], [23, 2]);
    assert.equal(list.totalUnread, 2);
  });

  it('one that also tells of new messages counts them on top of the local count, never more than it says', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 25, readSeq: 18, unread: 7 }));
    list.applyReadResult('c', 23, 2);
    list.applyServerSummary(summary({ id: 'c', lastSeq: 27, readSeq: 18, unread: 9 }));
    assert.deepEqual([list.get('c')?.lastSeq, list.get('c')?.readSeq, list.get('c')?.unread], [27, 23, 4]);
  });

  it('never more unread than messages after the read position', () => {
    const list = new ConversationList();
    list.applyServerSummary(summary({ id: 'c', lastSeq: 10, readSeq: 8, unread: 2 }));
    list.markReadLocally('c', 9);
    list.applyServerSummary(summary({ id: 'c', lastSeq: 12, readSeq: 2, unread: 10 }));
    const seen = list.get('c');
    assert.ok(seen !== undefined && seen.unread <= seen.lastSeq - seen.readSeq, `unread ${seen?.unread} after read ${seen?.readSeq} of ${seen?.lastSeq}`);
  });
});
