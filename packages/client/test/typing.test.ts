/** Typing indicators on the client, on a manual clock: throttled out, lapsing in. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@parley/protocol';
import { TYPING_RESEND_MS, TYPING_SHOWN_MS, type TypingChange, TypingIndicators } from '../src/typing.js';

function setup() {
  const clock = new ManualClock(1_000_000);
  const sent: Array<[string, boolean]> = [];
  const changes: TypingChange[] = [];
  const indicators = new TypingIndicators(clock, (conversationId, typing) => sent.push([conversationId, typing]), (change) => changes.push(change));
  return { clock, sent, changes, indicators };
}

describe('typing indicators', () => {
  it('sends "typing" once per resend interval per conversation, and "stopped" only after a "typing"', () => {
    const { clock, sent, indicators } = setup();
    indicators.stopped('g');
    indicators.typing('g');
    indicators.typing('g');
    indicators.typing('d');
    clock.advance(TYPING_RESEND_MS - 1);
    indicators.typing('g');
    clock.advance(1);
    indicators.typing('g');
    indicators.stopped('g');
    indicators.stopped('g');
    assert.deepEqual(sent, [['g', true], ['d', true], ['g', true], ['g', false]]);
  });

  it('a send ends typing without a "stopped" (the message says it); the next keystroke sends at once', () => {
    const { sent, indicators } = setup();
    indicators.typing('g');
    indicators.stopped('g', false);
    indicators.typing('g');
    assert.deepEqual(sent, [['g', true], ['g', true]]);
  });

  it('shows others until they stop, a message of theirs arrives, or the indicator lapses; renewals extend it', () => {
    const { clock, changes, indicators } = setup();
    indicators.received('g', 'ann', true);
    indicators.received('g', 'bob', true);
    assert.deepEqual(indicators.typingIn('g'), ['ann', 'bob']);
    clock.advance(TYPING_SHOWN_MS - 1000);
    indicators.received('g', 'ann', true);
    clock.advance(1000);
    assert.deepEqual(indicators.typingIn('g'), ['ann'], 'bob lapsed, ann was renewed');
    indicators.messageFrom('g', 'ann');
    assert.deepEqual(indicators.typingIn('g'), []);
    indicators.received('g', 'cat', true);
    indicators.received('g', 'cat', false);
    indicators.received('g', 'dan', false);
    assert.deepEqual(
      changes.map((change) => change.userIds),
      [['ann'], ['ann', 'bob'], ['ann'], [], ['cat'], []],
    );
  });

  it('a lost connection clears what is shown and forgets what was sent', () => {
    const { clock, sent, changes, indicators } = setup();
    indicators.typing('g');
    indicators.received('g', 'ann', true);
    indicators.clear();
    assert.deepEqual(indicators.typingIn('g'), []);
    assert.deepEqual(changes.at(-1), { conversationId: 'g', userIds: [] });
    indicators.typing('g');
    assert.equal(sent.length, 2, 'sent again on the new connection');
    clock.advance(TYPING_SHOWN_MS);
    assert.equal(changes.length, 2, 'no timer of the cleared indicator fires');
  });
});
