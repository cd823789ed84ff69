/**
 * Wire-to-public conversion: absence on the wire ('' and 0) becomes absent
 * fields, enums become strings, system events are typed, bytes are copied.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversationKind, MessageType, Role, type Message as WireMessage } from '@parley/protocol';
import { parseLegacySystemEvent, toMessage, toSummary } from '../src/convert.js';

const wireMessage = (overrides: Partial<WireMessage> = {}): WireMessage => ({
  id: 'm1',
  conversationId: 'g',
  seq: 1,
  senderId: 'alice',
  clientMsgId: 'c1',
  type: MessageType.MESSAGE_TYPE_USER,
  createdAt: 1000,
  visibleTo: '',
  hidden: false,
  recalledAt: 0,
  editedAt: 0,
  reactions: [],
  ...overrides,
});

describe('convert', () => {
  it('maps a user message, leaving out absent fields', () => {
    const message = toMessage(wireMessage({ text: 'hi' }));
    assert.deepEqual(message, { id: 'm1', conversationId: 'g', seq: 1, senderId: 'alice', clientMsgId: 'c1', type: 'user', text: 'hi', createdAt: 1000 });
  });

  it('copies data out of the received packet into a plain Uint8Array', () => {
    const packet = Buffer.from([9, 1, 2, 3, 9]);
    const data = packet.subarray(1, 4);
    const message = toMessage(wireMessage({ data }));
    packet[1] = 42;
    assert.equal(Object.getPrototypeOf(message.data), Uint8Array.prototype);
    assert.deepEqual([...(message.data ?? [])], [1, 2, 3]);
  });

  it('maps typed system events', () => {
    const message = toMessage(
      wireMessage({
        type: MessageType.MESSAGE_TYPE_SYSTEM,
        system: { actorId: 'alice', event: { $case: 'roleChanged', value: { userId: 'bob', role: Role.ROLE_ADMIN } } },
      }),
    );
    assert.equal(message.type, 'system');
    assert.deepEqual(message.system, { type: 'role_changed', actorId: 'alice', userId: 'bob', role: 'admin' });
    const created = toMessage(
      wireMessage({ type: MessageType.MESSAGE_TYPE_SYSTEM, system: { actorId: 'alice', event: { $case: 'groupCreated', value: { name: 'T', memberIds: ['alice', 'bob'] } } } }),
    );
    assert.deepEqual(created.system, { type: 'group_created', actorId: 'alice', name: 'T', memberIds: ['alice', 'bob'] });
  });

  it('still reads system events sent as JSON data by older servers', () => {
    const data = new TextEncoder().encode(JSON.stringify({ event: 'members_added', actorId: 'alice', userIds: ['bob'], extra: 1 }));
    const message = toMessage(wireMessage({ type: MessageType.MESSAGE_TYPE_SYSTEM, data }));
    assert.deepEqual(message.system, { type: 'members_added', actorId: 'alice', userIds: ['bob'] });
    const left = parseLegacySystemEvent(new TextEncoder().encode(JSON.stringify({ event: 'member_left', actorId: 'bob', userIds: ['bob'] })));
    assert.deepEqual(left, { type: 'member_left', actorId: 'bob', userId: 'bob' });
    assert.equal(parseLegacySystemEvent(new TextEncoder().encode('not json')), undefined);
    assert.equal(parseLegacySystemEvent(new TextEncoder().encode('{"event":1}')), undefined);
  });

  it('maps a summary', () => {
    const summary = toSummary({
      id: 'dm:x',
      kind: ConversationKind.CONVERSATION_KIND_DIRECT,
      name: '',
      subject: '',
      peerId: 'bob',
      lastSeq: 3,
      lastMessage: wireMessage({ seq: 3, text: 'yo' }),
      readSeq: 2,
      unread: 1,
      role: Role.ROLE_OWNER,
      firstSeq: 1,
      leftSeq: 0,
      active: true,
      updatedAt: 5,
      memberCount: 2,
      attributes: { item_id: 'sku-42' },
      mutedUntil: 0,
      pinnedAt: 1_700_000_000_000,
      draft: '',
      mentions: 0,
      threadUnread: 0,
    });
    assert.equal(summary.kind, 'direct');
    assert.equal(summary.pinnedAt, 1_700_000_000_000);
    assert.equal('mutedUntil' in summary, false, 'settings appear only when set');
    assert.equal('draft' in summary, false);
    assert.deepEqual(summary.attributes, { item_id: 'sku-42' });
    assert.equal(summary.role, 'owner');
    assert.equal(summary.peerId, 'bob');
    assert.equal('subject' in summary, false);
    assert.equal('leftSeq' in summary, false);
    assert.equal(summary.lastMessage?.text, 'yo');
  });
});
