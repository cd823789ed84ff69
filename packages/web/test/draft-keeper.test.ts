/** DraftKeeper: what is saved, when, and cut to the limit the server announced. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DraftKeeper, type DraftServer, keepable } from '../src/chat/draft-keeper.js';

/** A server that keeps drafts in a map and answers saves at once. */
function fakeServer(maxChars: number): DraftServer & { saves: Array<[string, string]> } {
  const drafts = new Map<string, string>();
  const saves: Array<[string, string]> = [];
  return {
    saves,
    draftOf: (conversationId) => drafts.get(conversationId) ?? '',
    save: async (conversationId, text) => {
      saves.push([conversationId, text]);
      drafts.set(conversationId, text);
    },
    maxChars: () => maxChars,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test('a text is cut to the limit, never through a surrogate pair', () => {
  assert.equal(keepable('abcdef', 10), 'abcdef');
  assert.equal(keepable('abcdef', 4), 'abcd');
  // '😀' is two UTF-16 units: cutting after its first would leave half a character.
  assert.equal(keepable('abc😀', 4), 'abc');
  assert.equal(keepable('ab😀', 4), 'ab😀');
});

test('a draft is saved once typing pauses, cut to the server\'s limit, and kept whole on this page', async () => {
  const server = fakeServer(5);
  const keeper = new DraftKeeper(server, 10);
  keeper.typed('c1', 'hello world');
  keeper.typed('c1', 'hello world!');
  assert.deepEqual(server.saves, [], 'nothing while typing goes on');
  await new Promise((resolve) => setTimeout(resolve, 30));
  await settle();
  assert.deepEqual(server.saves, [['c1', 'hello']]);
  assert.equal(keeper.text('c1'), 'hello world!', 'the page keeps what was typed');
  keeper.close();
});

test('flush saves at once, and a text the server already holds is not saved again', async () => {
  const server = fakeServer(4000);
  const keeper = new DraftKeeper(server, 60_000);
  keeper.typed('c1', 'draft');
  keeper.flush();
  await settle();
  assert.deepEqual(server.saves, [['c1', 'draft']]);
  keeper.typed('c1', 'draft');
  keeper.flush('c1');
  await settle();
  assert.equal(server.saves.length, 1);
  keeper.close();
});
