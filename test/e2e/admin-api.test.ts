/** The admin / integration REST API: auth, validation, users, tokens, groups. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '@parley/protocol';
import { startTestServer } from '../support/fixtures.js';

test('health check answers without a key', async (t) => {
  const { api } = await startTestServer(t);
  const { status, body } = await api.call('GET', '/healthz', undefined, null);
  assert.equal(status, 200);
  assert.equal(body.status, 'ok');
});

test('every /v1 route needs the admin key', async (t) => {
  const { api } = await startTestServer(t);
  for (const key of [null, 'wrong-key', '']) {
    const { status, body } = await api.call('POST', '/v1/users', { id: 'alice' }, key);
    assert.equal(status, 401);
    assert.equal(body.error.name, 'UNAUTHENTICATED');
  }
});

test('users are created, renamed and read back', async (t) => {
  const { api } = await startTestServer(t);
  let response = await api.call('POST', '/v1/users', { id: 'alice', name: 'Alice' });
  assert.equal(response.status, 201);
  assert.equal(response.body.name, 'Alice');
  response = await api.call('POST', '/v1/users', { id: 'alice', name: 'Alice B.' });
  assert.equal(response.status, 200);
  response = await api.call('GET', '/v1/users/alice');
  assert.equal(response.body.name, 'Alice B.');
  response = await api.call('GET', '/v1/users/nobody');
  assert.equal(response.status, 404);
  assert.equal(response.body.error.name, 'NOT_FOUND');
});

test('bad bodies get a 4xx JSON error with a stable code', async (t) => {
  const { api } = await startTestServer(t);
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/v1/users', { id: 'bob', name: 'Bob', admin: true }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', { id: 'has space' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', { id: 42 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', { name: 'no id' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', '{"id":', 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', { id: 'x'.repeat(65) }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/users', { id: 'big', name: 'n'.repeat(2 * 1024 * 1024) }, 413, 'TOO_LARGE'],
    ['POST', '/v1/users/ghost/tokens', {}, 404, 'NOT_FOUND'],
    ['POST', '/v1/groups', { name: 'G' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/groups', { name: 'G', ownerId: 'ghost' }, 404, 'NOT_FOUND'],
    ['GET', '/v1/nothing-here', undefined, 404, 'NOT_FOUND'],
  ];
  for (const [method, path, body, status, name] of cases) {
    const response = await api.call(method, path, body);
    assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 60)}`);
    assert.equal(response.body.error.name, name);
    assert.equal(typeof response.body.error.code, 'number');
  }
});

test('tokens are minted for existing users with a lifetime', async (t) => {
  const clock = new ManualClock();
  const { api } = await startTestServer(t, { clock });
  await api.createUser('alice');
  const response = await api.call('POST', '/v1/users/alice/tokens', { ttlSeconds: 60 });
  assert.equal(response.status, 201);
  assert.match(response.body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal(response.body.expiresAt, clock.now() + 60_000, 'expiry in the server clock\'s time');
  const noBody = await api.call('POST', '/v1/users/alice/tokens');
  assert.equal(noBody.status, 201);
  assert.equal(noBody.body.expiresAt, clock.now() + 3_600_000, 'one hour by default');
  const bad = await api.call('POST', '/v1/users/alice/tokens', { ttlSeconds: -1 });
  assert.equal(bad.status, 400);
});

test('groups: create, add and remove members, list them', async (t) => {
  const { api } = await startTestServer(t);
  for (const id of ['owner', 'm1', 'm2', 'm3']) await api.createUser(id);
  let response = await api.call('POST', '/v1/groups', { id: 'team', name: 'Team', ownerId: 'owner', memberIds: ['m1'] });
  assert.equal(response.status, 201);
  assert.deepEqual(response.body, { id: 'team', name: 'Team', ownerId: 'owner', memberCount: 2 });
  response = await api.call('POST', '/v1/groups', { id: 'team', name: 'Again', ownerId: 'owner' });
  assert.equal(response.status, 409);
  assert.equal(response.body.error.name, 'CONFLICT');
  response = await api.call('POST', '/v1/groups/team/members', { userIds: ['m2', 'm3'] });
  assert.deepEqual(response.body.added, ['m2', 'm3']);
  response = await api.call('DELETE', '/v1/groups/team/members/m1');
  assert.deepEqual(response.body.removed, ['m1']);
  response = await api.call('DELETE', '/v1/groups/team/members/owner');
  assert.equal(response.status, 403);
  response = await api.call('GET', '/v1/groups/team/members');
  assert.deepEqual(response.body.members.map((m: { userId: string }) => m.userId).sort(), ['m2', 'm3', 'owner']);
  response = await api.call('POST', '/v1/groups/nope/members', { userIds: ['m2'] });
  assert.equal(response.status, 404);
  response = await api.call('POST', '/v1/groups/team/members', { userIds: ['ghost'] });
  assert.equal(response.status, 404);
});

test('group size is bounded', async (t) => {
  const { api } = await startTestServer(t, { limits: { maxGroupMembers: 3 } });
  for (const id of ['o', 'a', 'b', 'c']) await api.createUser(id);
  let response = await api.call('POST', '/v1/groups', { id: 'g', name: 'G', ownerId: 'o', memberIds: ['a', 'b', 'c'] });
  assert.equal(response.status, 422, 'owner plus three members exceeds three');
  assert.equal(response.body.error.name, 'LIMIT_EXCEEDED');
  response = await api.call('POST', '/v1/groups', { id: 'g', name: 'G', ownerId: 'o', memberIds: ['a', 'b'] });
  assert.equal(response.status, 201);
  response = await api.call('POST', '/v1/groups/g/members', { userIds: ['c'] });
  assert.equal(response.status, 422);
  assert.equal(response.body.error.name, 'LIMIT_EXCEEDED');
});

test('integration messages can be addressed to one member only', async (t) => {
  const { api } = await startTestServer(t);
  for (const id of ['bot', 'ann', 'ben']) await api.createUser(id);
  await api.createGroup({ id: 'room', name: 'Room', ownerId: 'bot', memberIds: ['ann', 'ben'] });
  const response = await api.call('POST', '/v1/conversations/room/messages', { senderId: 'bot', text: 'welcome Ann', visibleTo: 'ann' });
  assert.equal(response.status, 201);
  assert.equal(response.body.message.visibleTo, 'ann');
  const ann = await api.call('GET', '/v1/users/ann/conversations');
  const ben = await api.call('GET', '/v1/users/ben/conversations');
  assert.equal(ann.body.conversations[0].lastMessage.text, 'welcome Ann');
  assert.equal(ann.body.totalUnread, 1);
  assert.notEqual(ben.body.conversations[0].lastMessage?.text, 'welcome Ann');
  assert.equal(ben.body.totalUnread, 0);
});
