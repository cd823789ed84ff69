/** SeqOrder: each conversation's messages leave in seq order, whatever order the bus brought them in. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeqOrder } from '../src/gateway/seq-order.js';

function recorder(order: SeqOrder) {
  const out: string[] = [];
  return { out, admit: (conversationId: string, seq: number) => order.admit(conversationId, seq, () => out.push(`${conversationId}${seq}`)) };
}

test('in order passes straight through; a conversation met mid-stream starts where it is met', () => {
  const order = new SeqOrder({ maxWaitMs: 1000, maxConversations: 10 });
  const { out, admit } = recorder(order);
  admit('a', 41);
  admit('a', 42);
  admit('b', 1);
  assert.deepEqual(out, ['a41', 'a42', 'b1']);
  order.close();
});

test('a message that overtook its predecessor waits for it; conversations do not wait for each other', () => {
  const order = new SeqOrder({ maxWaitMs: 1000, maxConversations: 10 });
  const { out, admit } = recorder(order);
  admit('a', 1);
  admit('a', 3);
  admit('a', 4);
  admit('b', 7);
  assert.deepEqual(out, ['a1', 'b7']);
  admit('a', 2);
  assert.deepEqual(out, ['a1', 'b7', 'a2', 'a3', 'a4']);
  admit('a', 3); // a repeat goes out (devices drop what they hold)
  assert.equal(out.length, 6);
  order.close();
});

test('a predecessor that never comes: what waited goes out in order after the wait, and later ones flow again', async () => {
  const order = new SeqOrder({ maxWaitMs: 30, maxConversations: 10 });
  const { out, admit } = recorder(order);
  admit('a', 1);
  admit('a', 4);
  admit('a', 3);
  assert.deepEqual(out, ['a1']);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(out, ['a1', 'a3', 'a4']);
  assert.equal(order.gapsGivenUp, 2);
  admit('a', 5);
  admit('a', 2); // the lost one, late: out at once
  assert.deepEqual(out, ['a1', 'a3', 'a4', 'a5', 'a2']);
  order.close();
});

test('memory is bounded: the least recently seen conversation with nothing waiting is forgotten', () => {
  const order = new SeqOrder({ maxWaitMs: 1000, maxConversations: 2 });
  const { out, admit } = recorder(order);
  admit('a', 1);
  admit('b', 1);
  admit('a', 3); // a waits for 2: it is kept
  admit('c', 1); // forgets b, the oldest with nothing waiting
  admit('b', 5); // met afresh: no wait
  admit('a', 2);
  assert.deepEqual(out, ['a1', 'b1', 'c1', 'b5', 'a2', 'a3']);
  order.close();
});

test('a forgotten conversation starts afresh with its next message, whatever it held', () => {
  const order = new SeqOrder({ maxWaitMs: 60_000, maxConversations: 10 });
  const { out, admit } = recorder(order);
  admit('a', 1);
  admit('a', 3); // waits for 2
  order.forget('a'); // the user left this node: 2 to 8 go elsewhere
  admit('a', 9);
  admit('a', 10);
  assert.deepEqual(out, ['a1', 'a9', 'a10']);
  order.close();
});
