/** The typing line's wording, for one, two and more typers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { typingSentence } from '../src/format.js';

test('one, two, and three or more people typing', () => {
  assert.equal(typingSentence(['Ann']), 'Ann is typing…');
  assert.equal(typingSentence(['Ann', 'Bob']), 'Ann and Bob are typing…');
  assert.equal(typingSentence(['Ann', 'Bob', 'Cat']), '3 people are typing…');
  assert.equal(typingSentence(['Ann', 'Bob', 'Cat', 'Dan', 'Eve']), '5 people are typing…');
});
