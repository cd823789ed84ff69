/** The built-in word filter: matches anywhere, without regard to case, in any script; masks or refuses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyError } from '@parley/protocol';
import { MAX_BLOCKED_WORDS, WordFilter, parseWordList, screen } from '../src/moderation/word-filter.js';

test('matches are masked one * per character, whatever their case or script, inside words too', () => {
  const filter = new WordFilter(['darn', '坏蛋', 'Spam'], 'mask');
  assert.deepEqual(filter.apply('Darn it, 坏蛋! spamspam'), { text: '**** it, **! ********', matches: 4 });
  assert.deepEqual(filter.apply('nothing here'), { text: 'nothing here', matches: 0 });
});

test('where two words start at one place the longer is masked whole; characters of regular expressions are plain text', () => {
  const filter = new WordFilter(['bad', 'badword', 'a.c', '(x)'], 'mask');
  assert.equal(filter.apply('badword bad abc a.c (x)').text, '******* *** abc *** ***');
});

test('screen: mask returns the masked text and counts it; reject throws REJECTED "blocked_word" and counts it', () => {
  const masking = new WordFilter(['darn'], 'mask');
  assert.equal(screen(masking, 'oh darn'), 'oh ****');
  assert.equal(screen(masking, 'fine'), 'fine');
  assert.equal(masking.masked, 1);
  const refusing = new WordFilter(['darn'], 'reject');
  assert.throws(
    () => screen(refusing, 'oh DARN'),
    (error: unknown) => error instanceof ParleyError && error.codeName === 'REJECTED' && error.reason === 'blocked_word' && !error.retryable,
  );
  assert.equal(refusing.refused, 1);
});

test('lists: one per line or comma-separated, comments and blanks ignored; bounded', () => {
  assert.deepEqual(parseWordList('# the list\ndarn, heck\n\n  坏蛋  \n'), ['darn', 'heck', '坏蛋']);
  assert.equal(new WordFilter(['', '  '], 'mask').empty, true);
  assert.throws(() => new WordFilter(Array.from({ length: MAX_BLOCKED_WORDS + 1 }, (_, index) => `w${index}`), 'mask'), /at most/u);
  assert.throws(() => new WordFilter(['x'.repeat(101)], 'mask'), /longer than/u);
});
