/**
 * REST manners: malformed input is refused with the field named in words
 * (never changed and stored), 405 with Allow, 415 for anything but JSON,
 * 404 for paths nobody serves, a true health report, and the admin API's
 * optional actor on group changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '@parley/protocol';
import { ParleyClient } from '@parley/client';
import { ADMIN_KEY, type TestServer, eventually, startTestServer } from '../support/fixtures.js';

const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };

/** A request with full control of headers and body bytes. */
async function raw(fixture: TestServer, method: string, path: string, init: { headers?: Record<string, string>; body?: string | ArrayBuffer } = {}) {
  const response = await fetch(fixture.server.httpUrl + path, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined;
  return { status: response.status, headers: response.headers, text, json };
}

/** Messages a person reads: never a regular expression or a validator's own phrasing. */
function assertWorded(message: string): void {
  assert.doesNotMatch(message, /\^|\$|\[A-Z|must NOT|must match pattern|additional properties/, message);
}

async function withGroup(t: Parameters<typeof startTestServer>[0]) {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'ben', 'cat']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'team', name: 'Team', ownerId: 'ann', memberIds: ['ben'] });
  return fixture;
}

test('malformed base64 is refused naming the field, and nothing is stored', async (t) => {
  const fixture = await withGroup(t);
  for (const data of ['@@@not base64', 'aGVsbG8===', 'aGVsbG9=', 'aGVs bG8=', 'aGVsb', 'aGVsbG8=\n', '-_8=']) {
    const response = await fixture.api.call('POST', '/v1/conversations/team/messages', { senderId: 'ann', data });
    assert.equal(response.status, 400, JSON.stringify(data));
    assert.equal(response.body.error.name, 'INVALID_ARGUMENT');
    assert.match(response.body.error.message, /^data must be standard base64/);
  }
  const history = await fixture.api.call('GET', '/v1/conversations/team/messages');
  assert.deepEqual(
    history.body.messages.map((message: { type: string }) => message.type),
    ['system'],
    'only the group_created event: no refused message was stored',
  );
  // Both spellings of the same bytes are accepted and read back in the canonical one.
  for (const data of ['aGVsbG8=', 'aGVsbG8']) {
    const response = await fixture.api.call('POST', '/v1/conversations/team/messages', { senderId: 'ann', data });
    assert.equal(response.status, 201);
    assert.equal(response.body.message.data, 'aGVsbG8=');
  }
});

test('bytes that are not UTF-8 and strings with lone surrogates are refused, not replaced', async (t) => {
  const fixture = await withGroup(t);
  const json = { ...AUTH, 'content-type': 'application/json' };
  // "café" with é in Latin-1: one byte 0xe9, which UTF-8 cannot start a character with here.
  const invalidUtf8 = new Uint8Array([...new TextEncoder().encode('{"senderId":"ann","text":"caf'), 0xe9, ...new TextEncoder().encode('"}')]).buffer;
  let response = await raw(fixture, 'POST', '/v1/conversations/team/messages', { headers: json, body: invalidUtf8 });
  assert.equal(response.status, 400);
  assert.match(response.json.error.message, /not valid UTF-8/);

  response = await raw(fixture, 'POST', '/v1/conversations/team/messages', { headers: json, body: '{"senderId":"ann","text":"half \\ud83d pair"}' });
  assert.equal(response.status, 400);
  assert.match(response.json.error.message, /field "text" holds a lone UTF-16 surrogate/);

  response = await raw(fixture, 'POST', '/v1/conversations/team/messages', { headers: json, body: '{"senderId":"ann","text":"whole \\ud83d\\ude00 pair"}' });
  assert.equal(response.status, 201);
  assert.equal(response.json.message.text, 'whole 😀 pair');

  response = await raw(fixture, 'GET', '/v1/users/%E0%A4%A', { headers: AUTH });
  assert.equal(response.status, 400);
  assert.equal(response.json.error.name, 'INVALID_ARGUMENT');
});

test('a body that is not JSON gets 415, whatever its content type says', async (t) => {
  const fixture = await startTestServer(t);
  const body = '{"id":"alice"}';
  for (const headers of [{ ...AUTH, 'content-type': 'text/plain' }, { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, { ...AUTH }]) {
    const response = await raw(fixture, 'POST', '/v1/users', { headers, body: new TextEncoder().encode(body).buffer });
    assert.equal(response.status, 415, JSON.stringify(headers));
    assert.equal(response.json.error.name, 'INVALID_ARGUMENT');
    assert.match(response.json.error.message, /application\/json/);
  }
  const response = await raw(fixture, 'POST', '/v1/users', { headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8' }, body });
  assert.equal(response.status, 201);
  const none = await raw(fixture, 'POST', '/v1/users', { headers: AUTH });
  assert.equal(none.status, 400);
  assert.equal(none.json.error.message, 'a JSON object body is required');
});

test('a method the path does not offer gets 405 with Allow', async (t) => {
  const fixture = await startTestServer(t);
  await fixture.api.createUser('alice');
  const cases: Array<[string, string, string]> = [
    ['PUT', '/v1/users', 'GET, HEAD, POST'],
    ['DELETE', '/v1/users/alice', 'GET, HEAD'],
    ['GET', '/v1/users/alice/tokens', 'POST'],
    ['PATCH', '/v1/conversations/team/messages', 'GET, HEAD, POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['GET', '/dev/signin', 'POST'],
  ];
  for (const [method, path, allow] of cases) {
    const response = await raw(fixture, method, path, { headers: AUTH });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
    assert.equal(response.json.error.name, 'INVALID_ARGUMENT');
    assert.match(response.json.error.message, new RegExp(`^${method} is not allowed on ${path.replace(/[/]/g, '\\/')}`));
  }
});

test('unknown fields and parameters are named, and rules are said in words', async (t) => {
  const fixture = await withGroup(t);
  const cases: Array<[string, string, unknown, string]> = [
    ['POST', '/v1/users', { id: 'bob', nick: 'B' }, 'unknown field "nick" in the body'],
    ['POST', '/v1/users', { id: 'has space' }, 'field "id" must be 1-64 characters of A-Z a-z 0-9 _ . @ -'],
    ['POST', '/v1/users', { id: 42 }, 'field "id" must be a string'],
    ['POST', '/v1/users', { name: 'no id' }, 'field "id" is required'],
    ['POST', '/v1/users', { id: 'bob', name: '' }, 'field "name" must not be empty'],
    ['POST', '/v1/users', { id: 'x'.repeat(65) }, 'field "id" must be at most 64 characters long'],
    ['POST', '/v1/groups', { name: 'G', ownerId: 'ann', memberIds: ['ben', 'bad id'] }, 'field "memberIds[1]" must be 1-64 characters of A-Z a-z 0-9 _ . @ -'],
    ['POST', '/v1/users/ann/tokens', { ttlSeconds: 0 }, 'field "ttlSeconds" must be at least 1'],
    ['POST', '/v1/users/ann/tokens', { ttl: 60 }, 'unknown field "ttl" in the body'],
    ['POST', '/v1/users/ann/revoke', { everywhere: true }, 'unknown field "everywhere" in the body'],
    ['GET', '/v1/users/ann?expand=1', undefined, 'unknown query parameter "expand"'],
    ['GET', '/v1/users?limit=ten', undefined, 'query parameter "limit" must be a whole number of at most 4 digits'],
    ['GET', '/v1/users/bad%20id', undefined, 'path segment "id" must be 1-64 characters of A-Z a-z 0-9 _ . @ -'],
    ['GET', '/v1/conversations/team/messages?before=-1', undefined, 'query parameter "before" must be a whole number of at most 15 digits'],
    ['GET', '/v1/conversations/team/messages?limit=201', undefined, 'limit must be between 1 and 200'],
    ['DELETE', '/v1/groups/team/members/ben?by=ann', undefined, 'unknown query parameter "by"'],
  ];
  for (const [method, path, body, message] of cases) {
    const response = await fixture.api.call(method, path, body);
    assert.equal(response.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    assert.equal(response.body.error.name, 'INVALID_ARGUMENT');
    assert.equal(response.body.error.message, message);
    assertWorded(response.body.error.message);
  }
});

test('paths nobody serves are 404: HTML for a browser, JSON for programs and under /v1', async (t) => {
  const fixture = await startTestServer(t);
  let response = await raw(fixture, 'GET', '/no-such-page', { headers: { accept: 'text/html,application/xhtml+xml' } });
  assert.equal(response.status, 404);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(response.text, /Nothing is served at <code>\/no-such-page<\/code>/);
  response = await raw(fixture, 'GET', '/no-such-page');
  assert.equal(response.status, 404);
  assert.equal(response.json.error.name, 'NOT_FOUND');
  response = await raw(fixture, 'GET', '/v1/no-such-route', { headers: { ...AUTH, accept: 'text/html' } });
  assert.equal(response.status, 404);
  assert.equal(response.json.error.name, 'NOT_FOUND');
  response = await raw(fixture, 'GET', '/<script>', { headers: { accept: 'text/html' } });
  assert.doesNotMatch(response.text, /<script>/, 'the path is escaped in the page');
});

test('/healthz counts every user, and separately the connected ones and their connections', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const fixture = await startTestServer(t, { clock });
  const health = async () => (await fixture.api.call('GET', '/healthz', undefined, null)).body;
  assert.deepEqual({ ...(await health()), version: undefined }, { status: 'ok', version: undefined, users: 0, connectedUsers: 0, connections: 0 });
  for (const id of ['ann', 'ben', 'cat']) await fixture.api.createUser(id);
  assert.equal((await health()).users, 0, 'the count is cached for a second');
  clock.advance(1000);
  assert.equal((await health()).users, 3);

  const clients = [];
  for (const id of ['ann', 'ann', 'ben']) {
    const client = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token(id), requestTimeoutMs: 5000 });
    t.after(() => client.close());
    await client.connect();
    clients.push(client);
  }
  await eventually(async () => (await health()).connections === 3);
  const report = await health();
  assert.equal(report.connectedUsers, 2);
  assert.equal(report.users, 3);
});

test('group changes through the admin API carry the actor when one is named, and none otherwise', async (t) => {
  const fixture = await withGroup(t);
  const events = async () =>
    (await fixture.api.call('GET', '/v1/conversations/team/messages')).body.messages.map((message: { system: unknown }) => message.system);

  assert.equal((await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['cat'], actorId: 'ghost' })).status, 404);
  assert.equal((await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['cat'], actorId: 'ben' })).status, 200);
  assert.equal((await fixture.api.call('DELETE', '/v1/groups/team/members/cat')).status, 200);
  assert.equal((await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['cat'] })).status, 200);
  assert.equal((await fixture.api.call('PATCH', '/v1/groups/team', { name: 'Crew', actorId: 'ann' })).status, 200);
  assert.equal((await fixture.api.call('DELETE', '/v1/groups/team/members/ben?actorId=ann')).status, 200);
  assert.equal((await fixture.api.call('DELETE', '/v1/groups/team/members/cat?actorId=cat')).status, 200);

  assert.deepEqual((await events()).slice(1), [
    { type: 'members_added', actorId: 'ben', userIds: ['cat'] },
    { type: 'member_removed', actorId: '', userId: 'cat' },
    { type: 'members_added', actorId: '', userIds: ['cat'] },
    { type: 'renamed', actorId: 'ann', name: 'Crew' },
    { type: 'member_removed', actorId: 'ann', userId: 'ben' },
    { type: 'member_left', actorId: 'cat', userId: 'cat' },
  ]);
});
