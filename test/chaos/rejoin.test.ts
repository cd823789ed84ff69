/**
 * Two failures the membership-churn scenario found, reproduced on purpose: a
 * member removed from a group and added back must go on receiving from the
 * seq at which it was added back, and show nothing from the time it was out —
 * with its device connected throughout, and with its device offline across
 * the removal and the return (it must still get the rest of its first
 * membership, which it had not fetched yet).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
import { proxyInFront } from '../support/devices.js';
import { eventually, startTestServer } from '../support/fixtures.js';

test('a member added back to a group receives what is sent after it, and nothing from while it was out', async (t) => {
  const fixture = await startTestServer(t);
  for (const userId of ['owner', 'bob']) await fixture.api.createUser(userId);
  await fixture.api.createGroup({ id: 'team', name: 'team', ownerId: 'owner', memberIds: ['bob'] });
  const client = (userId: string) => {
    const each = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId) });
    t.after(() => each.close());
    return each;
  };
  const owner = client('owner');
  const bob = client('bob');
  const shown: Message[] = [];
  bob.on('message', (message) => shown.push(message));
  await Promise.all([owner.connect(), bob.connect()]);
  const post = async (prefix: string) => {
    for (let n = 0; n < 3; n++) await owner.send('team', { text: `${prefix} ${n}` });
  };

  await post('while a member');
  await eventually(() => shown.length === 4, 5000, 'group_created and the first three messages');
  assert.equal((await fixture.api.call('DELETE', '/v1/groups/team/members/bob')).status, 200);
  await post('while out');
  const added = await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['bob'] });
  assert.equal(added.status, 200);
  await post('after coming back');

  const last = (await fixture.api.call('GET', '/v1/users/bob/conversations')).body.conversations.find((view: { id: string }) => view.id === 'team');
  const readable = (seq: number) => seq <= 5 || seq >= added.body.seq;
  const expected = Array.from({ length: last.lastSeq }, (_, index) => index + 1).filter(readable);
  await eventually(() => shown.length >= expected.length, 5000, 'the messages after bob came back').catch(() => {});
  assert.deepEqual(
    shown.map((message) => message.seq),
    expected,
    `bob's device shows ${shown.map((message) => `${message.seq}:${message.text ?? message.type}`).join(' ')}`,
  );
});

test('a device offline while its user was removed and added back still gets the rest of the first membership, and nothing from the time away', async (t) => {
  const fixture = await startTestServer(t);
  for (const userId of ['owner', 'bob']) await fixture.api.createUser(userId);
  await fixture.api.createGroup({ id: 'team', name: 'team', ownerId: 'owner', memberIds: ['bob'] });
  const proxy = await proxyInFront(fixture, t);
  const owner = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token('owner') });
  const bob = new ParleyClient({ url: proxy.urlFor(fixture.server.wsUrl), token: () => fixture.api.token('bob'), reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
  t.after(() => owner.close());
  t.after(() => bob.close());
  const shown: Message[] = [];
  bob.on('message', (message) => shown.push(message));
  await Promise.all([owner.connect(), bob.connect()]);
  const post = async (prefix: string) => {
    for (let n = 0; n < 3; n++) await owner.send('team', { text: `${prefix} ${n}` });
  };

  await eventually(() => shown.length === 1, 5000, 'group_created');
  proxy.set({ refuseConnections: true });
  proxy.resetAll();
  await post('while a member, device offline');
  const removed = await fixture.api.call('DELETE', '/v1/groups/team/members/bob');
  await post('while out');
  const added = await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['bob'] });
  await post('after coming back');
  proxy.set({ refuseConnections: false });

  const last = (await fixture.api.call('GET', '/v1/users/bob/conversations')).body.conversations.find((view: { id: string }) => view.id === 'team');
  const readable = (seq: number) => seq <= removed.body.seq || seq >= added.body.seq;
  const expected = Array.from({ length: last.lastSeq }, (_, index) => index + 1).filter(readable);
  await eventually(() => shown.length >= expected.length, 10_000, 'both memberships').catch(() => {});
  assert.deepEqual(
    shown.map((message) => message.seq),
    expected,
    `bob's device shows ${shown.map((message) => `${message.seq}:${message.text ?? message.type}`).join(' ')}`,
  );
  assert.ok(shown.every((message) => !message.text?.startsWith('while out')));
});
