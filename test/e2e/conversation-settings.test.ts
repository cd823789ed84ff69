/**
 * A user's own conversation settings (mute, pin, draft), end to end: they
 * reach the user's other devices at once and a device that connects later
 * through its sync, nobody else sees them, and their bounds hold.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type ConversationSummary, type ErrorName, MUTED_FOREVER, ParleyClient, isMuted } from '@parley/client';
import type { ServerOptions } from '@parley/server';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

async function setup(t: TestContext, options: ServerOptions = {}) {
  const fixture = await startTestServer(t, options);
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id });
  return fixture;
}

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  await parley.connect();
  return parley;
}

async function refusal(promise: Promise<unknown>): Promise<ErrorName | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { codeName?: ErrorName }).codeName;
  }
}

const settingsOf = (summary: ConversationSummary | undefined) => ({ mutedUntil: summary?.mutedUntil, pinnedAt: summary?.pinnedAt, draft: summary?.draft });

test("mute, pin and a draft reach the user's other devices at once, and a device that connects later; other members see none of it", async (t) => {
  const fixture = await setup(t);
  const phone = await device(t, fixture, 'ann');
  const laptop = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const group = (await phone.createGroup({ name: 'Book club', memberIds: ['bob'] })).id;
  const dm = await phone.direct('cat');
  await eventually(() => laptop.conversations().length === 2, 5000, 'both conversations on the laptop');

  const muted = await phone.mute(group);
  assert.equal(muted.mutedUntil, MUTED_FOREVER);
  assert.ok(isMuted(muted));
  const pinned = await phone.pin(dm);
  assert.ok(pinned.pinnedAt !== undefined && Math.abs(pinned.pinnedAt - Date.now()) < 60_000);
  await phone.saveDraft(group, 'half a thought… 📚');

  const expected = { group: { mutedUntil: MUTED_FOREVER, pinnedAt: undefined, draft: 'half a thought… 📚' }, dm: { mutedUntil: undefined, pinnedAt: pinned.pinnedAt, draft: undefined } };
  await eventually(() => laptop.conversation(group)?.draft === 'half a thought… 📚', 5000, 'the laptop hears the draft');
  assert.deepEqual(settingsOf(laptop.conversation(group)), expected.group);
  assert.deepEqual(settingsOf(laptop.conversation(dm)), expected.dm);
  assert.deepEqual(laptop.conversations().map((summary) => summary.id), [dm, group], 'the pinned conversation first');

  const tablet = await device(t, fixture, 'ann');
  assert.deepEqual(settingsOf(tablet.conversation(group)), expected.group, 'a first connection gets them from its sync');
  assert.deepEqual(settingsOf(tablet.conversation(dm)), expected.dm);

  await eventually(() => bob.conversation(group) !== undefined, 5000, "bob's copy of the group");
  assert.deepEqual(settingsOf(bob.conversation(group)), { mutedUntil: undefined, pinnedAt: undefined, draft: undefined }, 'settings are per member');

  await laptop.unmute(group);
  await laptop.unpin(dm);
  await laptop.saveDraft(group, '');
  await eventually(() => phone.conversation(group)?.draft === undefined && phone.conversation(dm)?.pinnedAt === undefined, 5000, 'the phone hears the changes back');
  assert.deepEqual(settingsOf(phone.conversation(group)), { mutedUntil: undefined, pinnedAt: undefined, draft: undefined });
  assert.equal(phone.conversation(group)?.unread, 0, 'unread counts are untouched by settings');
});

test('pins are bounded and keep their order; pinning twice keeps the place; drafts are bounded', async (t) => {
  const fixture = await setup(t, { limits: { maxPinned: 2, maxDraftChars: 10 } });
  const ann = await device(t, fixture, 'ann');
  assert.equal(ann.serverLimits?.maxPinned, 2, 'the welcome says how many');
  assert.equal(ann.serverLimits?.maxDraftChars, 10);
  const first = await ann.direct('bob');
  const second = await ann.direct('cat');
  const third = (await ann.createGroup({ name: 'Third', memberIds: ['bob'] })).id;
  const firstPin = await ann.pin(first);
  await new Promise((resolve) => setTimeout(resolve, 5));
  await ann.pin(second);
  assert.deepEqual(ann.conversations().map((summary) => summary.id), [second, first, third], 'the latest pinned on top');
  assert.equal(await refusal(ann.pin(third)), 'LIMIT_EXCEEDED');
  assert.equal((await ann.pin(first)).pinnedAt, firstPin.pinnedAt, 'pinning a pinned conversation keeps its place');
  await ann.unpin(second);
  await ann.pin(third);
  assert.equal(await refusal(ann.saveDraft(first, 'x'.repeat(11))), 'TOO_LARGE');
  await ann.saveDraft(first, 'x'.repeat(10));
  // Text every store keeps as it is, drafts and messages alike (PostgreSQL refuses NUL).
  assert.equal(await refusal(ann.saveDraft(first, 'a\u0000b')), 'INVALID_ARGUMENT');
  assert.equal(await refusal(ann.send(first, { text: 'a\u0000b' })), 'INVALID_ARGUMENT');
  // Half a surrogate pair cannot cross the WebSocket protocol (UTF-8 on the wire), but JSON can carry one.
  const halfEmoji = await fixture.api.call('PUT', `/v1/conversations/${encodeURIComponent(third)}/attributes`, { attributes: { title: 'cut \ud83d' } });
  assert.equal(halfEmoji.status, 400);
  assert.equal(halfEmoji.body.error.name, 'INVALID_ARGUMENT');
  assert.equal(await refusal(ann.mute(first, -5)), 'INVALID_ARGUMENT');
});

test('a mute until a time ends by itself; a past member may unmute and unpin but not pin; outsiders are refused', async (t) => {
  const fixture = await setup(t);
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const group = (await ann.createGroup({ name: 'Short lived', memberIds: ['bob'] })).id;
  await eventually(() => bob.conversation(group) !== undefined, 5000, "bob's copy");
  const until = Date.now() + 300;
  const summary = await bob.mute(group, until);
  assert.equal(summary.mutedUntil, until);
  assert.ok(isMuted(summary));
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.ok(!isMuted(bob.conversation(group) ?? {}), 'over once its time passed');
  await bob.pin(group);
  await bob.mute(group);
  await bob.leave(group);
  await eventually(() => bob.conversation(group)?.active === false, 5000, 'bob has left');
  assert.equal((await bob.unpin(group)).pinnedAt, undefined);
  assert.equal((await bob.unmute(group)).mutedUntil, undefined);
  assert.equal(await refusal(bob.pin(group)), 'FORBIDDEN');
  const cat = await device(t, fixture, 'cat');
  assert.equal(await refusal(cat.mute(group)), 'FORBIDDEN');
  assert.equal(await refusal(cat.pin('no-such-group')), 'FORBIDDEN', 'the same answer as for a conversation one is not in');
});
