/**
 * The user directory: a signed-in user names the ids they meet and finds
 * people by id or name, as far as the deployment allows (open, exact, off);
 * the admin API lists every user page by page. Real server, real SDK.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { ParleyClient, ParleyError } from '@parley/client';
import type { ServerOptions } from '@parley/server';
import { type TestServer, startTestServer } from '../support/fixtures.js';

const PEOPLE: ReadonlyArray<[string, string]> = [
  ['sam', 'Sam Ortiz'],
  ['samantha', 'Samantha Lee'],
  ['dana', 'Dana Samuels'],
  ['alex', 'Alex Kim'],
  ['odd_one', 'Full 100% Person'],
  ['oddxone', 'Full 100x Person'],
];

async function directoryServer(t: TestContext, options: ServerOptions = {}): Promise<TestServer> {
  const fixture = await startTestServer(t, options);
  for (const [id, name] of PEOPLE) await fixture.api.createUser(id, name);
  return fixture;
}

async function connectedAs(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient> {
  const client = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token(userId), requestTimeoutMs: 5000 });
  t.after(() => client.close());
  await client.connect();
  return client;
}

function codeOf(error: unknown): string | undefined {
  return error instanceof ParleyError ? error.codeName : undefined;
}

const idsOf = (users: ReadonlyArray<{ id: string }>) => users.map((user) => user.id);

describe('user directory through the SDK', () => {
  test('getUsers names the ids asked for, in their order, and leaves unknown ids out', async (t) => {
    const fixture = await directoryServer(t, { userDirectory: 'off' });
    const alex = await connectedAs(t, fixture, 'alex');
    assert.deepEqual(await alex.getUsers(['sam', 'ghost', 'dana', 'sam']), [
      { id: 'sam', name: 'Sam Ortiz' },
      { id: 'dana', name: 'Dana Samuels' },
    ]);
    assert.deepEqual(await alex.getUsers([]), []);
  });

  test('getUsers takes more ids than one request carries', async (t) => {
    const fixture = await directoryServer(t);
    const alex = await connectedAs(t, fixture, 'alex');
    const ids = Array.from({ length: 250 }, (_, index) => `nobody-${index}`);
    ids.splice(180, 0, 'dana');
    assert.deepEqual(await alex.getUsers(ids), [{ id: 'dana', name: 'Dana Samuels' }]);
  });

  test('open: part of an id or a name finds people, ignoring case, the exact id first', async (t) => {
    const fixture = await directoryServer(t);
    const alex = await connectedAs(t, fixture, 'alex');
    assert.deepEqual(idsOf(await alex.searchUsers('SAM')), ['sam', 'samantha', 'dana']);
    assert.deepEqual(idsOf(await alex.searchUsers('ortiz')), ['sam']);
    assert.deepEqual(idsOf(await alex.searchUsers('samantha')), ['samantha']);
    assert.deepEqual(idsOf(await alex.searchUsers('  lee ')), ['samantha']);
    assert.deepEqual(idsOf(await alex.searchUsers('sam', { limit: 1 })), ['sam']);
    // % and _ are plain characters, not wildcards.
    assert.deepEqual(idsOf(await alex.searchUsers('d_o')), ['odd_one']);
    assert.deepEqual(idsOf(await alex.searchUsers('100%')), ['odd_one']);
    assert.deepEqual(await alex.searchUsers('nobody like this'), []);
  });

  test('open: an empty or overlong query is refused with INVALID_ARGUMENT', async (t) => {
    const fixture = await directoryServer(t);
    const alex = await connectedAs(t, fixture, 'alex');
    assert.equal(codeOf(await alex.searchUsers('   ').catch((error: unknown) => error)), 'INVALID_ARGUMENT');
    assert.equal(codeOf(await alex.searchUsers('x'.repeat(65)).catch((error: unknown) => error)), 'INVALID_ARGUMENT');
  });

  test('exact: only the user whose id is typed in full is found', async (t) => {
    const fixture = await directoryServer(t, { userDirectory: 'exact' });
    const alex = await connectedAs(t, fixture, 'alex');
    assert.deepEqual(await alex.searchUsers('sam'), [{ id: 'sam', name: 'Sam Ortiz' }]);
    assert.deepEqual(await alex.searchUsers('Sam Ortiz'), []);
    assert.deepEqual(await alex.searchUsers('sa'), []);
  });

  test('off: searching is FORBIDDEN, and naming known ids still works', async (t) => {
    const fixture = await directoryServer(t, { userDirectory: 'off' });
    const alex = await connectedAs(t, fixture, 'alex');
    assert.equal(codeOf(await alex.searchUsers('sam').catch((error: unknown) => error)), 'FORBIDDEN');
    assert.deepEqual(await alex.getUsers(['sam']), [{ id: 'sam', name: 'Sam Ortiz' }]);
  });
});

describe('user directory through the admin API', () => {
  test('GET /v1/users lists every user by id, page by page, and filters by query', async (t) => {
    const fixture = await directoryServer(t, { userDirectory: 'off' });
    const first = await fixture.api.call('GET', '/v1/users?limit=4');
    assert.equal(first.status, 200);
    assert.deepEqual(idsOf(first.body.users), ['alex', 'dana', 'odd_one', 'oddxone']);
    assert.equal(first.body.nextAfter, 'oddxone');
    assert.ok(first.body.users.every((user: { name?: string; createdAt?: number }) => typeof user.name === 'string' && typeof user.createdAt === 'number'));
    const second = await fixture.api.call('GET', `/v1/users?limit=4&after=${first.body.nextAfter}`);
    assert.deepEqual(idsOf(second.body.users), ['sam', 'samantha']);
    assert.equal(second.body.nextAfter, undefined);
    const filtered = await fixture.api.call('GET', '/v1/users?query=sam');
    assert.deepEqual(idsOf(filtered.body.users), ['dana', 'sam', 'samantha']);
  });

  test('GET /v1/users needs the admin key', async (t) => {
    const fixture = await directoryServer(t);
    assert.equal((await fixture.api.call('GET', '/v1/users', undefined, null)).status, 401);
  });
});
