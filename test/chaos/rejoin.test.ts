/**
 * A failure the membership-churn scenario found, reproduced on purpose: a
 * member removed from a group and added back, with its device connected
 * throughout, must go on receiving — from the seq at which it was added back,
 * nothing from the time it was out. No faults needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Message, ParleyClient } from '@parley/client';
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
  assert.equal((await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['bob'] })).status, 200);
  await post('after coming back');

  const last = (await fixture.api.call('GET', '/v1/users/bob/conversations')).body.conversations.find((view: { id: string }) => view.id === 'team');
  const readable = (seq: number) => seq <= 5 || seq >= last.firstSeq;
  const expected = Array.from({ length: last.lastSeq }, (_, index) => index + 1).filter(readable);
  await eventually(() => shown.length >= expected.length, 5000, 'the messages after bob came back').catch(() => {});
  assert.deepEqual(
    shown.map((message) => message.seq),
    expected,
    `bob's device shows ${shown.map((message) => `${message.seq}:${message.text ?? message.type}`).join(' ')}`,
  );
});
