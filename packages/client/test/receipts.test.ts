import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReceiptBook } from '../src/receipts.js';

const member = (userId: string, deliveredSeq: number, readSeq: number, firstSeq = 1) => ({ userId, deliveredSeq, readSeq, firstSeq });

test('positions only rise, whatever order answers and pushes arrive in; a read counts as delivered', () => {
  const book = new ReceiptBook();
  assert.equal(book.apply('g', [member('bob', 5, 3)], 'ann'), true);
  assert.equal(book.apply('g', [member('bob', 4, 2)], 'ann'), false, 'an older answer changes nothing');
  book.apply('g', [member('bob', 5, 7)], 'ann');
  assert.deepEqual(book.of('g'), [member('bob', 7, 7)]);
  book.apply('g', [member('ann', 9, 9)], 'ann');
  assert.deepEqual(book.of('g')?.map((entry) => entry.userId), ['bob'], 'the user is not their own recipient');
});

test('a message counts the members who were there for it, or the one it is addressed to', () => {
  const book = new ReceiptBook();
  assert.equal(book.receiptsOf({ conversationId: 'g', seq: 3, senderId: 'ann' }), undefined, 'unknown until asked');
  book.apply('g', [member('bob', 10, 4), member('cat', 3, 0), member('dan', 2, 2), member('eve', 10, 10, 6)], 'ann');
  assert.deepEqual(book.receiptsOf({ conversationId: 'g', seq: 3, senderId: 'ann' }), { status: 'sent', total: 3, deliveredTo: ['bob', 'cat'], readBy: ['bob'] });
  assert.deepEqual(book.receiptsOf({ conversationId: 'g', seq: 2, senderId: 'ann' }), { status: 'delivered', total: 3, deliveredTo: ['bob', 'cat', 'dan'], readBy: ['bob', 'dan'] });
  assert.equal(book.receiptsOf({ conversationId: 'g', seq: 7, senderId: 'ann', visibleTo: 'eve' })?.status, 'read', 'only eve counts');
  assert.equal(book.receiptsOf({ conversationId: 'g', seq: 4, senderId: 'bob' })?.total, 2, "bob's own message: the others, eve not yet there");
});

test('members an answer no longer lists have left and stop counting', () => {
  const book = new ReceiptBook();
  book.apply('g', [member('bob', 5, 5), member('cat', 1, 0)], 'ann');
  book.keepOnly('g', new Set(['bob']));
  assert.equal(book.receiptsOf({ conversationId: 'g', seq: 5, senderId: 'ann' })?.status, 'read');
});
