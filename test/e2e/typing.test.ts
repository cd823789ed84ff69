/**
 * Typing indicators, end to end: the other members' devices see who is
 * typing, until they stop, send, or go quiet; the typer's own devices and
 * outsiders see nothing; an outsider cannot make anyone appear typing.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { ParleyClient, type TypingChange } from '@parley/client';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient & { changes: TypingChange[] }> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  const changes: TypingChange[] = [];
  parley.on('typing', (change) => changes.push(change));
  await parley.connect();
  return Object.assign(parley, { changes });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the other members see who is typing until they stop or send; the typer and outsiders see nothing', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'dan']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const annLaptop = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const cat = await device(t, fixture, 'cat');
  const dan = await device(t, fixture, 'dan');
  const group = (await ann.createGroup({ name: 'Plans', memberIds: ['bob', 'cat'] })).id;
  const dm = await ann.direct('bob');

  ann.typing(group);
  ann.typing(group);
  await eventually(() => bob.typingIn(group).length === 1 && cat.typingIn(group).length === 1, 5000, 'both members see ann typing');
  assert.deepEqual(bob.typingIn(group), ['ann']);
  assert.deepEqual(bob.typingIn(dm), [], 'only in that conversation');

  bob.typing(group);
  await eventually(() => cat.typingIn(group).length === 2, 5000, 'cat sees both');
  assert.deepEqual(cat.typingIn(group), ['ann', 'bob']);

  await ann.send(group, { text: 'Saturday?' });
  await eventually(() => cat.typingIn(group).join() === 'bob', 5000, "ann's message ends her indicator");
  bob.stopTyping(group);
  await eventually(() => cat.typingIn(group).length === 0, 5000, 'bob stopped');

  ann.typing(dm);
  await eventually(() => bob.typingIn(dm).join() === 'ann', 5000, 'a direct chat too');

  // Outsiders: dan neither sees the group's indicators nor can fake one.
  dan.typing(group);
  await pause(500);
  assert.deepEqual(bob.typingIn(group), []);
  assert.deepEqual(dan.changes, []);
  for (const own of [ann, annLaptop]) assert.ok(!own.changes.some((change) => change.userIds.includes('ann')), "ann's own devices never show her typing");
  assert.ok(annLaptop.changes.some((change) => change.userIds.includes('bob')), 'but they do show the others');
});

test('an indicator that is not renewed lapses by itself after 6 s; a lost connection clears what was shown', { timeout: 20_000 }, async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const dm = await ann.direct('bob');
  ann.typing(dm);
  await eventually(() => bob.typingIn(dm).length === 1, 5000, 'ann typing');
  const shownAt = Date.now();
  await eventually(() => bob.typingIn(dm).length === 0, 10_000, 'the indicator lapses');
  assert.ok(Date.now() - shownAt >= 5500, 'not before about 6 s');
  await pause(3100);
  ann.typing(dm);
  await eventually(() => bob.typingIn(dm).length === 1, 5000, 'typing again after the resend interval');
  await fixture.server.close();
  await eventually(() => bob.typingIn(dm).length === 0, 5000, 'cleared when the connection is lost');
  assert.deepEqual(bob.changes.at(-1), { conversationId: dm, userIds: [] });
});
