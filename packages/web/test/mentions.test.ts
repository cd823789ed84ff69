/** The composer's mentions: what is being typed, who it may mean, and what is still mentioned at send. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_MEMBERS, insertMention, mentionCandidates, mentionQuery, mentionsIn } from '../src/chat/mentions.js';

const people = [
  { id: 'ann', name: 'Ann Lee' },
  { id: 'bob', name: 'Bob' },
  { id: 'bea', name: 'Beatrix Kiddo' },
];

test('an "@query" counts only at the start or after a space, right before the caret', () => {
  assert.deepEqual(mentionQuery('hi @be', 6), { start: 3, query: 'be' });
  assert.deepEqual(mentionQuery('@', 1), { start: 0, query: '' });
  assert.equal(mentionQuery('mail me@home', 12), undefined);
  assert.equal(mentionQuery('hi @bob there', 13), undefined, 'a space ended it');
});

test('candidates match the id, the name or a word of it; @all only in groups; never oneself', () => {
  assert.deepEqual(mentionCandidates(people, 'b', 'ann', true).map((person) => person.id), ['bob', 'bea']);
  assert.deepEqual(mentionCandidates(people, 'kid', 'ann', false).map((person) => person.id), ['bea']);
  assert.deepEqual(mentionCandidates(people, 'a', 'bob', true).map((person) => person.id), ['ann', ALL_MEMBERS]);
  assert.deepEqual(mentionCandidates(people, 'a', 'bob', false).map((person) => person.id), ['ann']);
});

test('choosing replaces the query; at send, only names still in the text count', () => {
  const chosen = insertMention('ok @be see you', 3, 6, 'Beatrix Kiddo');
  assert.deepEqual(chosen, { text: 'ok @Beatrix Kiddo  see you', caret: 18 });
  const names = new Map([
    ['Beatrix Kiddo', 'bea'],
    ['Bob', 'bob'],
  ]);
  assert.deepEqual(mentionsIn('@Beatrix Kiddo, and @all!', names, true), { mentions: ['bea'], mentionAll: true });
  assert.deepEqual(mentionsIn('@Bobby and @all', names, false), { mentions: [], mentionAll: false });
});
