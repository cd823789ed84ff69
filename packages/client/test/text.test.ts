/** The SDK's text helpers: splitting long text into messages, and the wording of system events. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type SystemEvent, describeSystemEvent, splitLongText } from '../src/index.js';

describe('splitLongText', () => {
  test('text that fits is one part, unchanged', () => {
    assert.deepEqual(splitLongText('hello  world ', 20), ['hello  world ']);
    assert.deepEqual(splitLongText('', 20), ['']);
  });

  test('long text breaks at a paragraph, then a line, then a space, every part within the limit and nothing lost', () => {
    const paragraphs = `${'a'.repeat(60)}\n\n${'b'.repeat(30)}`;
    assert.deepEqual(splitLongText(paragraphs, 80), ['a'.repeat(60), 'b'.repeat(30)]);
    const lines = `${'a'.repeat(50)}\n${'b'.repeat(50)}`;
    assert.deepEqual(splitLongText(lines, 80), ['a'.repeat(50), 'b'.repeat(50)]);
    const words = Array.from({ length: 40 }, (_, index) => `word${index}`).join(' ');
    const parts = splitLongText(words, 50) ?? [];
    assert.ok(parts.length > 1);
    for (const part of parts) assert.ok(part.length <= 50 && !part.startsWith(' ') && !part.endsWith(' '), JSON.stringify(part));
    assert.equal(parts.join(' '), words);
  });

  test('an unbroken run is cut at the limit, never between the halves of a surrogate pair', () => {
    assert.deepEqual(splitLongText('x'.repeat(25), 10), ['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    const emoji = `${'x'.repeat(9)}😀${'y'.repeat(5)}`;
    const parts = splitLongText(emoji, 10) ?? [];
    assert.deepEqual(parts, ['x'.repeat(9), `😀${'y'.repeat(5)}`]);
    for (const part of parts) assert.doesNotMatch(part, /\p{Cs}/u);
  });

  test('more parts than allowed is refused as a whole', () => {
    assert.equal(splitLongText('x'.repeat(101), 10, 10), undefined);
    assert.equal(splitLongText('x'.repeat(100), 10, 10)?.length, 10);
  });
});

describe('describeSystemEvent', () => {
  const names = new Map([
    ['sam', 'Sam Ortiz'],
    ['dana', 'Dana'],
    ['me', 'Me Myself'],
  ]);
  const text = (event: SystemEvent, conversationName?: string) =>
    describeSystemEvent(event, { selfId: 'me', nameOf: (id) => names.get(id) ?? id, conversationName });

  test('with an actor, the actor did it; the reader is "you"', () => {
    assert.equal(text({ type: 'members_added', actorId: 'sam', userIds: ['dana'] }), 'Sam Ortiz added Dana');
    assert.equal(text({ type: 'members_added', actorId: 'sam', userIds: ['me', 'dana'] }), 'Sam Ortiz added you and Dana');
    assert.equal(text({ type: 'members_added', actorId: 'me', userIds: ['dana', 'zoe', 'sam'] }), 'You added Dana, zoe and Sam Ortiz');
    assert.equal(text({ type: 'member_removed', actorId: 'sam', userId: 'me' }), 'Sam Ortiz removed you');
    assert.equal(text({ type: 'member_left', actorId: 'dana', userId: 'dana' }), 'Dana left');
    assert.equal(text({ type: 'renamed', actorId: 'me', name: 'Crew' }), 'You renamed the group to “Crew”');
    assert.equal(text({ type: 'role_changed', actorId: 'sam', userId: 'dana', role: 'admin' }), 'Sam Ortiz made Dana an admin');
    assert.equal(text({ type: 'group_created', actorId: 'sam', name: 'Team', memberIds: ['sam', 'me'] }), 'Sam Ortiz created the group “Team”');
  });

  test('without an actor (the admin API named none), the passive voice, never "added you" by nobody', () => {
    assert.equal(text({ type: 'members_added', actorId: '', userIds: ['me'] }, 'Team'), 'You were added to Team');
    assert.equal(text({ type: 'members_added', actorId: '', userIds: ['dana', 'me'] }, 'Team'), 'You and Dana were added to Team');
    assert.equal(text({ type: 'members_added', actorId: '', userIds: ['dana'] }), 'Dana was added');
    assert.equal(text({ type: 'members_added', actorId: '', userIds: ['dana', 'sam'] }), 'Dana and Sam Ortiz were added');
    assert.equal(text({ type: 'member_removed', actorId: '', userId: 'dana' }), 'Dana was removed');
    assert.equal(text({ type: 'member_removed', actorId: '', userId: 'me' }), 'You were removed');
    assert.equal(text({ type: 'renamed', actorId: '', name: 'Crew' }), 'The group was renamed to “Crew”');
    assert.equal(text({ type: 'role_changed', actorId: '', userId: 'me', role: 'owner' }), 'You are now the owner');
    assert.equal(text({ type: 'group_created', actorId: '', name: 'Team', memberIds: [] }), 'The group “Team” was created');
  });

  test('an event this SDK does not know is still a sentence', () => {
    assert.equal(describeSystemEvent(undefined), 'Conversation updated');
    assert.equal(describeSystemEvent({ type: 'pinned', actorId: 'sam' } as unknown as SystemEvent), 'Conversation updated');
  });
});
