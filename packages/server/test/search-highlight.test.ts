/**
 * Snippets and highlights of search hits (services/search.ts): what a client
 * relies on to render a hit — ranges that point at the matched words in the
 * snippet as JavaScript strings index it, a bounded snippet around the first
 * match that never splits an emoji, and matching as the index matches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEARCH_LIMITS, highlight, parseQuery } from '../src/services/search.js';

function marked(text: string, query: string): string[] {
  const { snippet, highlights } = highlight(text, parseQuery(query));
  return highlights.map((range) => snippet.slice(range.start, range.end));
}

test('highlights mark whole words, ignoring case and accents, after emoji and other astral characters', () => {
  assert.deepEqual(marked('👋🏽 Héllo wörld, hello again', 'hello WORLD'), ['Héllo', 'wörld', 'hello']);
  assert.deepEqual(marked('𝒜 note: Meeting at noon', 'meet'), ['Meeting'], 'the last word as a prefix, the whole word marked');
  assert.deepEqual(marked('meeting', 'noon meet'), ['meeting'], 'what is there is marked, even when another word is missing');
  assert.deepEqual(marked('port and report', 'port'), ['port'], 'words match from their start only');
});

test('a run of Chinese characters is marked where it occurs in order', () => {
  assert.deepEqual(marked('我们说：你好世界！世界很大', '世界'), ['世界', '世界']);
  assert.deepEqual(marked('你好世界', '界世'), []);
});

test('a long text is cut around the first match, within the bound, with ellipses, never inside an emoji', () => {
  const text = `${'😀'.repeat(100)} the needle ${'🙂'.repeat(100)}`;
  const { snippet, highlights } = highlight(text, parseQuery('needle'));
  assert.ok(snippet.length <= SEARCH_LIMITS.snippetChars, `${snippet.length} UTF-16 units`);
  assert.ok(snippet.startsWith('…') && snippet.endsWith('…'));
  assert.ok(!/^…[\uDC00-\uDFFF]/u.test(snippet) && !/[\uD800-\uDBFF]…$/u.test(snippet), 'no half surrogate pair at a cut');
  assert.deepEqual(
    highlights.map((range) => snippet.slice(range.start, range.end)),
    ['needle'],
  );
  const short = highlight('first line\nsecond line with the word', parseQuery('word'));
  assert.equal(short.snippet, 'first line second line with the word', 'line breaks become spaces, offsets unchanged');
});

test('queries: words only, quotes and operators are separators; bounds are errors', () => {
  assert.deepEqual(parseQuery('  "Hello" AND wörld*  '), [['hello'], ['and'], ['world']]);
  assert.deepEqual(parseQuery('e-mail 你好'), [['e'], ['mail'], ['你', '好']]);
  assert.deepEqual(parseQuery('!!!'), []);
  assert.throws(() => parseQuery('   '), { name: 'INVALID_ARGUMENT' });
  assert.throws(() => parseQuery('x'.repeat(SEARCH_LIMITS.maxQueryChars + 1)), { name: 'INVALID_ARGUMENT' });
  assert.throws(() => parseQuery(Array.from({ length: 17 }, (_, n) => `w${n}`).join(' ')), { name: 'INVALID_ARGUMENT' });
});
