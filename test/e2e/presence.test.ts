/**
 * Presence, end to end: a contact shows online while any of their devices
 * is active, away when all are, offline with "last seen" once their last
 * device is gone for the grace period, and a phone that drops and comes
 * back within it never shows offline. Only people who share a conversation
 * may watch each other; a user may hide their presence (and then sees no
 * one's last seen); last seen survives a restart; every list and rate is
 * bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type ParleyError, ParleyClient, type Presence } from '@parley/client';
import { PresenceState } from '@parley/protocol';
import { type TestServer, eventually, signedIn, startTestServer } from '../support/fixtures.js';

const GRACE_MS = 300;

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  await parley.connect();
  return parley;
}

/** A server with ann, bob and cat, where ann and bob share a direct chat and cat shares nothing with them. */
async function contacts(t: TestContext, options: Parameters<typeof startTestServer>[1] = {}) {
  const fixture = await startTestServer(t, { presence: { offlineGraceMs: GRACE_MS }, ...options });
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id }).catch(() => undefined);
  const ann = await device(t, fixture, 'ann');
  await ann.direct('bob');
  return { fixture, ann };
}

/** Every presence event of `userId` a client hears, in order. */
function heard(client: ParleyClient, userId: string): Presence[] {
  const events: Presence[] = [];
  client.on('presence', (presence) => {
    if (presence.userId === userId) events.push(presence);
  });
  return events;
}

const stateOf = (client: ParleyClient, userId: string) => client.presenceOf(userId)?.state;

test('a contact is online while any device is active, away when all are, online again when one comes back', async (t) => {
  const { fixture, ann } = await contacts(t);
  assert.deepEqual(await ann.watchPresence(['bob']), [{ userId: 'bob', state: 'offline' }], 'never seen: offline without a last seen');
  const events = heard(ann, 'bob');
  const phone = await device(t, fixture, 'bob');
  await eventually(() => stateOf(ann, 'bob') === 'online', 5000, 'bob online');
  const laptop = await device(t, fixture, 'bob');
  phone.setAway(true);
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(stateOf(ann, 'bob'), 'online', 'one device away, the other active: online');
  laptop.setAway(true);
  await eventually(() => stateOf(ann, 'bob') === 'away', 5000, 'every device away: away');
  phone.setAway(false);
  await eventually(() => stateOf(ann, 'bob') === 'online', 5000, 'back at one device: online');
  assert.deepEqual(
    events.map((event) => event.state),
    ['online', 'away', 'online'],
    'each change told once',
  );
  // A device that reconnects stays away: its away state goes with it.
  laptop.setAway(false);
  phone.setAway(true);
  laptop.setAway(true);
  await eventually(() => stateOf(ann, 'bob') === 'away', 5000, 'away again');
});

test('a contact whose last device left shows offline after the grace, last seen when it left', async (t) => {
  const { fixture, ann } = await contacts(t);
  const bob = await device(t, fixture, 'bob');
  await ann.watchPresence(['bob']);
  assert.equal(stateOf(ann, 'bob'), 'online');
  const before = Date.now();
  await bob.close();
  const after = Date.now();
  await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 2));
  assert.equal(stateOf(ann, 'bob'), 'online', 'still online within the grace');
  await eventually(() => stateOf(ann, 'bob') === 'offline', 5000, 'offline after the grace');
  const lastSeen = ann.presenceOf('bob')?.lastSeen ?? 0;
  assert.ok(lastSeen >= before - 50 && lastSeen <= after + 50, `last seen when the connection closed (${lastSeen}, ${before}..${after})`);
  // A device of ann connecting later is told the same at once.
  const annLater = await device(t, fixture, 'ann');
  assert.deepEqual(await annLater.watchPresence(['bob']), [{ userId: 'bob', state: 'offline', lastSeen }]);
});

test('a phone that drops and reconnects within the grace never shows offline', async (t) => {
  const { fixture, ann } = await contacts(t, { presence: { offlineGraceMs: 1500 } });
  const first = await device(t, fixture, 'bob');
  await ann.watchPresence(['bob']);
  const events = heard(ann, 'bob');
  await first.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await device(t, fixture, 'bob');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.deepEqual(events, [], 'no offline, no online: nothing changed for ann');
  assert.equal(stateOf(ann, 'bob'), 'online');
});

test('only users who share a conversation can be watched; the others are unknown, online or not', async (t) => {
  const { fixture, ann } = await contacts(t);
  await device(t, fixture, 'bob');
  const answer = await ann.watchPresence(['cat', 'bob', 'nobody', 'not an id!']);
  assert.deepEqual(
    answer.map((presence) => [presence.userId, presence.state]),
    [
      ['cat', 'unknown'],
      ['bob', 'online'],
      ['nobody', 'unknown'],
      ['not an id!', 'unknown'],
    ],
  );
  // Once they share a group, cat can be watched too; leaving it ends that for the next list.
  const cat = await device(t, fixture, 'cat');
  const group = await cat.createGroup({ name: 'Lunch', memberIds: ['ann'] });
  await ann.watchPresence(['cat', 'bob']);
  assert.equal(stateOf(ann, 'cat'), 'online');
  await ann.leave(group.id);
  await ann.watchPresence(['cat', 'bob']);
  assert.equal(stateOf(ann, 'cat'), 'unknown');
  assert.equal(stateOf(ann, 'bob'), 'online');
});

test('a user who hides their presence shows as unknown, and sees nobody’s last seen', async (t) => {
  const { fixture, ann } = await contacts(t);
  const bob = await device(t, fixture, 'bob');
  await ann.watchPresence(['bob']);
  assert.equal(stateOf(ann, 'bob'), 'online');
  const settings = await bob.setPresenceHidden(true);
  assert.equal(settings.hidePresence, true);
  await eventually(() => stateOf(ann, 'bob') === 'unknown', 5000, 'hidden from ann at once');
  const annTablet = await device(t, fixture, 'ann');
  assert.deepEqual(await annTablet.watchPresence(['bob']), [{ userId: 'bob', state: 'unknown' }], 'and from a new watcher');
  await bob.setPresenceHidden(false);
  await eventually(() => stateOf(ann, 'bob') === 'online', 5000, 'shown again');

  // Reciprocal: ann hides hers, and sees bob go offline with no time.
  await ann.setPresenceHidden(true);
  assert.equal(ann.userSettings?.hidePresence, true);
  await bob.close();
  await eventually(() => stateOf(ann, 'bob') === 'offline', 5000, 'bob offline');
  assert.equal(ann.presenceOf('bob')?.lastSeen, undefined, 'no last seen for one who hides their own');
  await ann.setPresenceHidden(false);
  await eventually(() => (ann.presenceOf('bob')?.lastSeen ?? 0) > 0, 5000, 'last seen shown again once she shows hers');
});

test('last seen survives a restart of the server', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-presence-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await startTestServer(undefined, { dataDir, presence: { offlineGraceMs: GRACE_MS } });
  let lastSeen = 0;
  try {
    for (const id of ['ann', 'bob']) await first.api.call('POST', '/v1/users', { id });
    const ann = new ParleyClient({ url: first.server.wsUrl, token: () => first.api.token('ann'), reconnect: false });
    const bob = new ParleyClient({ url: first.server.wsUrl, token: () => first.api.token('bob'), reconnect: false });
    await ann.connect();
    await ann.direct('bob');
    await ann.watchPresence(['bob']);
    await bob.connect();
    await bob.close();
    await eventually(() => (ann.presenceOf('bob')?.lastSeen ?? 0) > 0, 5000, 'bob last seen');
    lastSeen = ann.presenceOf('bob')?.lastSeen ?? 0;
    // Written within a second of going offline.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await ann.close();
  } finally {
    await first.close();
  }
  const second = await startTestServer(t, { dataDir, presence: { offlineGraceMs: GRACE_MS } });
  const ann = await device(t, second, 'ann');
  assert.deepEqual(await ann.watchPresence(['bob']), [{ userId: 'bob', state: 'offline', lastSeen }]);
});

test('users online when the server stops are last seen at the stop', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-presence-'));
  let second: TestServer | undefined;
  // The folder goes once the server that uses it has closed (its store may still be opening it).
  t.after(async () => {
    await second?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const first = await startTestServer(undefined, { dataDir });
  const before = Date.now();
  try {
    for (const id of ['ann', 'bob']) await first.api.call('POST', '/v1/users', { id });
    const bob = new ParleyClient({ url: first.server.wsUrl, token: () => first.api.token('bob'), reconnect: false });
    await bob.connect();
    await bob.direct('ann');
  } finally {
    await first.close();
  }
  second = await startTestServer(t, { dataDir });
  const ann = await device(t, second, 'ann');
  const [bob] = await ann.watchPresence(['bob']);
  assert.equal(bob?.state, 'offline');
  assert.ok((bob?.lastSeen ?? 0) >= before, 'last seen when the server stopped');
});

test('bounds: 200 users per list, subscriptions and away changes per connection, and a flapping device costs watchers little', async (t) => {
  const { fixture, ann } = await contacts(t);
  const many = Array.from({ length: 201 }, (_, index) => `user${index}`);
  await assert.rejects(ann.watchPresence(many), (error: ParleyError) => error.codeName === 'TOO_LARGE');

  // The server refuses it too, and refuses lists that come too fast.
  const raw = await signedIn(fixture.server.wsUrl, await fixture.api.token('ann'));
  t.after(() => raw.close());
  const tooMany = await raw.request({ $case: 'presenceSubscribe', value: { userIds: many } });
  assert.equal(tooMany.body?.$case === 'error' && tooMany.body.value.name, 'TOO_LARGE');
  const answers = [];
  for (let index = 0; index < 8; index++) answers.push(await raw.request({ $case: 'presenceSubscribe', value: { userIds: ['bob'] } }));
  const refused = answers.filter((frame) => frame.body?.$case === 'error' && frame.body.value.name === 'RATE_LIMITED');
  assert.ok(refused.length >= 1, 'subscriptions past the burst are refused');
  const first = answers[0]?.body;
  assert.deepEqual(first?.$case === 'presenceResult' && first.value.users, [{ userId: 'bob', state: PresenceState.PRESENCE_STATE_OFFLINE, lastSeen: 0 }]);

  // A device flapping between away and active: the last value wins, and ann hears a few events, not one per flap.
  await ann.watchPresence(['bob']);
  const bob = await device(t, fixture, 'bob');
  await eventually(() => stateOf(ann, 'bob') === 'online', 5000, 'bob online');
  const events = heard(ann, 'bob');
  for (let flap = 0; flap < 30; flap++) bob.setAway(flap % 2 === 0);
  bob.setAway(true);
  await eventually(() => stateOf(ann, 'bob') === 'away', 8000, 'the last value wins');
  assert.ok(events.length <= 4, `few events for many flaps (${events.length})`);
  const setRefusals = [];
  for (let index = 0; index < 14; index++) {
    const answer = await raw.request({ $case: 'setPresence', value: { away: index % 2 === 0 } });
    if (answer.body?.$case === 'error') setRefusals.push(answer.body.value.name);
  }
  assert.ok(setRefusals.length >= 1 && setRefusals.every((name) => name === 'RATE_LIMITED'), 'away changes past the burst are refused');
});
