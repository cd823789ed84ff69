/**
 * The outbox's promises: a send keeps its clientMsgId through every retry,
 * unacknowledged sends go back in their original order, refused sends reject
 * alone, rate-limited ones wait.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_MSG_ID_PATTERN, ParleyError } from '@parley/protocol';
import { Outbox, newClientMsgId, validateContent, type Transmission } from '../src/outbox.js';

function drain<T>(outbox: Outbox<T>, now = 0): Transmission<T>[] {
  const sent: Transmission<T>[] = [];
  for (let next = outbox.nextToSend(now); next !== undefined; next = outbox.nextToSend(now)) sent.push(next);
  return sent;
}

describe('Outbox', () => {
  it('generates valid, distinct clientMsgIds', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newClientMsgId();
      assert.match(id, CLIENT_MSG_ID_PATTERN);
      ids.add(id);
    }
    assert.equal(ids.size, 1000);
  });

  it('sends in order and resolves on acknowledgement', async () => {
    const outbox = new Outbox<string>();
    const first = outbox.add('c', { text: 'one' });
    const second = outbox.add('c', { text: 'two' });
    const sent = drain(outbox);
    assert.deepEqual(sent.map((t) => t.entry.content.text), ['one', 'two']);
    assert.equal(outbox.acknowledge(sent[1] as Transmission<string>, 'm2'), true);
    assert.equal(outbox.acknowledge(sent[0] as Transmission<string>, 'm1'), true);
    assert.equal(await first, 'm1');
    assert.equal(await second, 'm2');
    assert.equal(outbox.size, 0);
  });

  it('a send transmitted before a retry holds back later sends until it is answered', () => {
    // The server refuses every send of a conversation that reaches it behind a
    // refused one, until that one is retried. A send still in flight when the
    // retry goes out reached the server first and comes back refused too; a
    // later send pipelined meanwhile would overtake it.
    const outbox = new Outbox<string>(3);
    for (const text of ['a', 'b', 'c', 'd']) void outbox.add('c', { text });
    const [a, b, c] = drain(outbox, 0) as Transmission<string>[];
    const limited = new ParleyError('RATE_LIMITED', 'slow down', { retryAfterMs: 100 });
    assert.equal(outbox.fail(a as Transmission<string>, limited, 0), 'retrying');
    assert.equal(outbox.fail(b as Transmission<string>, limited, 0), 'retrying');
    void outbox.add('other', { text: 'x' });
    const other = drain(outbox, 50);
    assert.deepEqual(other.map((t) => t.entry.content.text), ['x'], 'other conversations are not held back');
    outbox.acknowledge(other[0] as Transmission<string>, 'ack-x');
    // The retries go, in order; d, queued behind c (sent before them, unanswered), waits.
    const retries = drain(outbox, 100);
    assert.deepEqual(retries.map((t) => t.entry.content.text), ['a', 'b']);
    for (const retry of retries) outbox.acknowledge(retry, `ack-${retry.entry.content.text}`);
    assert.deepEqual(drain(outbox, 100).map((t) => t.entry.content.text), [], 'd still waits for c');
    // c comes back refused (it reached the server behind the refused a): retried before d.
    assert.equal(outbox.fail(c as Transmission<string>, limited, 100), 'retrying');
    assert.deepEqual(drain(outbox, 150).map((t) => t.entry.content.text), []);
    assert.deepEqual(drain(outbox, 200).map((t) => t.entry.content.text), ['c', 'd'], 'a send right behind a retry is safe');
  });

  it('caps sends in flight', () => {
    const outbox = new Outbox<string>(2);
    for (let i = 0; i < 5; i++) void outbox.add('c', { text: String(i) });
    const sent = drain(outbox);
    assert.equal(sent.length, 2);
    outbox.acknowledge(sent[0] as Transmission<string>, 'x');
    assert.equal(drain(outbox).length, 1);
  });

  it('requeues unacknowledged sends in original order with the same clientMsgId', () => {
    const outbox = new Outbox<string>();
    for (const text of ['a', 'b', 'c']) void outbox.add('c', { text });
    const firstTry = drain(outbox);
    outbox.acknowledge(firstTry[0] as Transmission<string>, 'ack-a');
    outbox.requeueInFlight();
    const secondTry = drain(outbox);
    assert.deepEqual(secondTry.map((t) => t.entry.content.text), ['b', 'c']);
    assert.deepEqual(
      secondTry.map((t) => t.entry.clientMsgId),
      firstTry.slice(1).map((t) => t.entry.clientMsgId),
    );
  });

  it('ignores answers to a transmission that was superseded', async () => {
    const outbox = new Outbox<string>();
    const promise = outbox.add('c', { text: 'a' });
    const [stale] = drain(outbox);
    outbox.requeueInFlight();
    const [fresh] = drain(outbox);
    assert.equal(outbox.fail(stale as Transmission<string>, new ParleyError('CLOSED'), 0), 'stale');
    assert.equal(outbox.acknowledge(stale as Transmission<string>, 'old'), false);
    assert.equal(outbox.acknowledge(fresh as Transmission<string>, 'new'), true);
    assert.equal(await promise, 'new');
  });

  it('rejects a refused send only', async () => {
    const outbox = new Outbox<string>();
    const refused = outbox.add('c', { text: 'a' });
    const fine = outbox.add('c', { text: 'b' });
    const [first, second] = drain(outbox);
    assert.equal(outbox.fail(first as Transmission<string>, new ParleyError('FORBIDDEN'), 0), 'rejected');
    outbox.acknowledge(second as Transmission<string>, 'ok');
    await assert.rejects(refused, (error: ParleyError) => error.codeName === 'FORBIDDEN');
    assert.equal(await fine, 'ok');
  });

  it('keeps a rate-limited send queued until retryAfterMs, holding back its conversation only', () => {
    const outbox = new Outbox<string>();
    void outbox.add('a', { text: 'a1' });
    const [a1] = drain(outbox, 1000);
    void outbox.add('a', { text: 'a2' });
    void outbox.add('b', { text: 'b1' });
    assert.equal(outbox.fail(a1 as Transmission<string>, new ParleyError('RATE_LIMITED', 'slow down', { retryAfterMs: 500 }), 1000), 'retrying');
    assert.equal(outbox.nextRetryAt(), 1500);
    assert.deepEqual(drain(outbox, 1200).map((t) => t.entry.content.text), ['b1']);
    const retried = drain(outbox, 1500);
    assert.deepEqual(retried.map((t) => t.entry.content.text), ['a1', 'a2']);
    assert.equal(retried[0]?.entry.clientMsgId, a1?.entry.clientMsgId);
  });

  it('rejectAll rejects queued and in-flight sends', async () => {
    const outbox = new Outbox<string>(1);
    const inFlight = outbox.add('c', { text: 'a' });
    const queued = outbox.add('c', { text: 'b' });
    drain(outbox);
    outbox.rejectAll(new ParleyError('CLOSED'));
    await assert.rejects(inFlight, (error: ParleyError) => error.codeName === 'CLOSED');
    await assert.rejects(queued, (error: ParleyError) => error.codeName === 'CLOSED');
    assert.equal(outbox.size, 0);
  });
});

describe('validateContent', () => {
  it('requires text or data of the right types', () => {
    assert.equal(validateContent({}, undefined)?.codeName, 'INVALID_ARGUMENT');
    assert.equal(validateContent({ text: 42 } as unknown as { text: string }, undefined)?.codeName, 'INVALID_ARGUMENT');
    assert.equal(validateContent({ data: [1, 2] } as unknown as { data: Uint8Array }, undefined)?.codeName, 'INVALID_ARGUMENT');
    assert.equal(validateContent({ text: 'hi' }, undefined), undefined);
    assert.equal(validateContent({ data: new Uint8Array(3) }, undefined), undefined);
  });

  it('applies the announced limits', () => {
    const limits = { maxTextChars: 5, maxDataBytes: 4 };
    assert.equal(validateContent({ text: 'abcdef' }, limits)?.codeName, 'TOO_LARGE');
    assert.equal(validateContent({ text: '😀😀😀😀😀' }, limits), undefined); // 5 characters, 10 UTF-16 units
    assert.equal(validateContent({ data: new Uint8Array(5) }, limits)?.codeName, 'TOO_LARGE');
    assert.equal(validateContent({ text: 'abcde', data: new Uint8Array(4) }, limits), undefined);
  });
});
