/**
 * Message search end to end (docs/search.md): `GET /search/messages` with a
 * user's token, through the SDK (`client.search.messages`) and as raw HTTP.
 * Who finds what (members only, inside their windows, never what is
 * addressed to others, never system events), paging, highlights, input
 * errors with their codes, tokens, and the per-user rate limit.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type ErrorName, ParleyClient, type SearchHit } from '@parley/client';
import { type TestServer, startTestServer } from '../support/fixtures.js';

async function setup(t: TestContext, users: string[]) {
  const fixture = await startTestServer(t);
  for (const id of users) await fixture.api.createUser(id, id.charAt(0).toUpperCase() + id.slice(1));
  return fixture;
}

function client(t: TestContext, fixture: TestServer, userId: string): ParleyClient {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: false });
  t.after(() => parley.close());
  return parley;
}

/** Sends through the admin API (as the user); returns the stored message's seq. */
async function send(fixture: TestServer, conversationId: string, senderId: string, text: string, visibleTo?: string): Promise<number> {
  const { status, body } = await fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId, text, visibleTo });
  assert.equal(status, 201, JSON.stringify(body));
  return body.message.seq as number;
}

/** Opens the direct conversation of two users through a connected SDK client; returns its id. */
async function directChat(t: TestContext, fixture: TestServer, userId: string, peerId: string): Promise<string> {
  const parley = client(t, fixture, userId);
  await parley.connect();
  return parley.direct(peerId);
}

async function texts(parley: ParleyClient, query: string, conversationId?: string): Promise<string[]> {
  return (await parley.search.messages(query, { conversationId })).hits.map((hit) => hit.message.text ?? '');
}

async function refusal(promise: Promise<unknown>): Promise<{ name: ErrorName | undefined; retryAfterMs: number }> {
  try {
    await promise;
    return { name: undefined, retryAfterMs: 0 };
  } catch (error) {
    const parleyError = error as { codeName?: ErrorName; retryAfterMs?: number };
    return { name: parleyError.codeName, retryAfterMs: parleyError.retryAfterMs ?? 0 };
  }
}

/** The parts of a snippet a highlight marks. */
function marked(hit: SearchHit): string[] {
  return hit.highlights.map((range) => hit.snippet.slice(range.start, range.end));
}

test('members find the messages of their windows; strangers, later joiners and past members only what they could read', async (t) => {
  const fixture = await setup(t, ['owner', 'early', 'late', 'gone', 'stranger']);
  const { api } = fixture;
  await api.createGroup({ id: 'team', name: 'Team', ownerId: 'owner', memberIds: ['early', 'gone'] });
  await send(fixture, 'team', 'owner', 'kickoff meeting at noon');
  assert.equal((await api.call('POST', '/v1/groups/team/members', { userIds: ['late'] })).status, 200);
  await send(fixture, 'team', 'owner', 'meeting notes are up');
  assert.equal((await api.call('DELETE', '/v1/groups/team/members/gone')).status, 200);
  await send(fixture, 'team', 'owner', 'meeting moved to friday');
  await send(fixture, 'team', 'owner', 'private meeting feedback', 'late');
  assert.equal((await api.call('PATCH', '/v1/groups/team', { name: 'Meeting room' })).status, 200);

  const all = ['meeting moved to friday', 'meeting notes are up', 'kickoff meeting at noon'];
  assert.deepEqual(await texts(client(t, fixture, 'early'), 'meeting'), all);
  assert.deepEqual(await texts(client(t, fixture, 'owner'), 'meeting'), all, 'a message addressed to another member is not found, not even by its sender');
  assert.deepEqual(await texts(client(t, fixture, 'late'), 'meeting'), ['private meeting feedback', 'meeting moved to friday', 'meeting notes are up'], 'a later member: nothing from before it joined');
  assert.deepEqual(await texts(client(t, fixture, 'gone'), 'meeting'), ['meeting notes are up', 'kickoff meeting at noon'], 'a past member: up to its leaving');
  assert.deepEqual(await texts(client(t, fixture, 'stranger'), 'meeting'), []);
  assert.deepEqual(await texts(client(t, fixture, 'early'), 'room'), [], 'system events (the rename) are not found');
  assert.deepEqual(await texts(client(t, fixture, 'early'), 'meeting', 'team'), all);
  assert.equal((await refusal(client(t, fixture, 'stranger').search.messages('meeting', { conversationId: 'team' }))).name, 'FORBIDDEN');
  assert.equal((await refusal(client(t, fixture, 'early').search.messages('meeting', { conversationId: 'nowhere' }))).name, 'NOT_FOUND');
});

test('pages come newest first with a cursor, without repeats or gaps, across conversations', async (t) => {
  const fixture = await setup(t, ['ann', 'bob']);
  await fixture.api.createGroup({ id: 'g', name: 'G', ownerId: 'ann', memberIds: ['bob'] });
  const dm = await directChat(t, fixture, 'ann', 'bob');
  for (let n = 0; n < 27; n++) {
    await send(fixture, n % 3 === 0 ? dm : 'g', n % 2 === 0 ? 'ann' : 'bob', `invoice number ${n}`);
    if (n % 4 === 0) await send(fixture, 'g', 'ann', `unrelated ${n}`);
  }
  const bob = client(t, fixture, 'bob');
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await bob.search.messages('INVOICE', { limit: 10, cursor });
    sizes.push(page.hits.length);
    for (const hit of page.hits) {
      assert.equal(hit.conversationId, hit.message.conversationId);
      seen.push(hit.message.text ?? '');
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  assert.deepEqual(sizes, [10, 10, 7]);
  assert.deepEqual(seen, Array.from({ length: 27 }, (_, n) => `invoice number ${26 - n}`));
  const first = await bob.search.messages('invoice');
  assert.equal(first.hits.length, 20, 'the default page is 20');
});

test('hits carry a snippet around the first match and the ranges to emphasise, ignoring case and accents', async (t) => {
  const fixture = await setup(t, ['ann', 'bob']);
  const dm = await directChat(t, fixture, 'ann', 'bob');
  await send(fixture, dm, 'ann', 'Meet me at the Café Crème 👋 — it is the café by the station');
  const long = `${'lorem ipsum dolor sit amet '.repeat(12)}the needle is here ${'consectetur adipiscing elit '.repeat(12)}`;
  await send(fixture, dm, 'ann', long);
  const bob = client(t, fixture, 'bob');

  const [cafe] = (await bob.search.messages('CAFE cr')).hits;
  assert.ok(cafe !== undefined);
  assert.equal(cafe.snippet, 'Meet me at the Café Crème 👋 — it is the café by the station');
  assert.deepEqual(marked(cafe), ['Café', 'Crème', 'café'], 'every match; a prefix marks its whole word');
  assert.deepEqual(cafe.highlights[0], { start: 15, end: 19 });

  const [needle] = (await bob.search.messages('needle')).hits;
  assert.ok(needle !== undefined);
  assert.ok(needle.snippet.length <= 160, `${needle.snippet.length} characters`);
  assert.ok(needle.snippet.startsWith('…') && needle.snippet.endsWith('…'));
  assert.deepEqual(marked(needle), ['needle']);
  assert.equal(needle.message.text, long, 'the whole message comes with the hit');
});

test('input errors: empty or too long queries, bad limits and cursors are INVALID_ARGUMENT; no token or a bad one UNAUTHENTICATED', async (t) => {
  const fixture = await setup(t, ['ann', 'bob']);
  const ann = client(t, fixture, 'ann');
  for (const query of ['', '   ', 'x'.repeat(129)]) assert.equal((await refusal(ann.search.messages(query))).name, 'INVALID_ARGUMENT', JSON.stringify(query));
  assert.deepEqual((await ann.search.messages(` ${'x'.repeat(128)} `)).hits, [], '128 characters after trimming are fine');
  assert.equal((await refusal(ann.search.messages('hello', { cursor: 'not-a-cursor' }))).name, 'INVALID_ARGUMENT');
  assert.equal((await refusal(ann.search.messages('hello', { limit: 51 }))).name, 'INVALID_ARGUMENT');
  assert.equal((await refusal(ann.search.messages('hello', { limit: 0 }))).name, 'INVALID_ARGUMENT');
  assert.deepEqual((await ann.search.messages('"hello OR *')).hits, [], 'query syntax is plain text, never an error');

  const url = `${fixture.server.httpUrl}/search/messages?q=hello`;
  const anonymous = await fetch(url);
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: { name: string } }).error.name, 'UNAUTHENTICATED');
  const forged = await fetch(url, { headers: { authorization: 'Bearer not.a.token' } });
  assert.equal(((await forged.json()) as { error: { name: string } }).error.name, 'UNAUTHENTICATED');
  const unknownParameter = await fetch(`${url}&sort=oldest`, { headers: { authorization: `Bearer ${await fixture.api.token('ann')}` } });
  assert.equal(((await unknownParameter.json()) as { error: { name: string } }).error.name, 'INVALID_ARGUMENT');
});

test("a token names its user: another user's token finds that user's messages, never this one's", async (t) => {
  const fixture = await setup(t, ['ann', 'bob', 'cat']);
  const dm = await directChat(t, fixture, 'ann', 'bob');
  await send(fixture, dm, 'ann', 'the secret recipe');
  const catToken = await fixture.api.token('cat');
  const response = await fetch(`${fixture.server.httpUrl}/search/messages?q=secret&conversation_id=${encodeURIComponent(dm)}`, {
    headers: { authorization: `Bearer ${catToken}` },
  });
  assert.equal(response.status, 403);
  const everywhere = await fetch(`${fixture.server.httpUrl}/search/messages?q=secret`, { headers: { authorization: `Bearer ${catToken}` } });
  assert.deepEqual(await everywhere.json(), { hits: [], nextCursor: null });
  assert.deepEqual(await texts(client(t, fixture, 'bob'), 'secret'), ['the secret recipe']);
});

test('searches are rate limited per user: RATE_LIMITED with retryAfterMs, other users unaffected', async (t) => {
  const fixture = await setup(t, ['ann', 'bob']);
  const token = await fixture.api.token('ann');
  const search = () => fetch(`${fixture.server.httpUrl}/search/messages?q=anything`, { headers: { authorization: `Bearer ${token}` } });
  const statuses: number[] = [];
  for (let n = 0; n < 30; n++) statuses.push((await search()).status);
  assert.ok(statuses.every((status) => status === 200));
  const refused = await search();
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  const body = (await refused.json()) as { error: { name: string; retryAfterMs: number } };
  assert.equal(body.error.name, 'RATE_LIMITED');
  assert.ok(body.error.retryAfterMs > 0 && body.error.retryAfterMs <= 2000, `${body.error.retryAfterMs} ms`);
  const sdkRefusal = await refusal(client(t, fixture, 'ann').search.messages('anything'));
  assert.equal(sdkRefusal.name, 'RATE_LIMITED');
  assert.ok(sdkRefusal.retryAfterMs > 0, 'the SDK error carries the hint');
  assert.deepEqual((await client(t, fixture, 'bob').search.messages('anything')).hits, []);
});

test('a recalled message is no longer found, an edited one by its new words only, one deleted for oneself only by the others', async (t) => {
  const fixture = await setup(t, ['ann', 'bob']);
  const dm = await directChat(t, fixture, 'ann', 'bob');
  const ann = client(t, fixture, 'ann');
  const bob = client(t, fixture, 'bob');
  await Promise.all([ann.connect(), bob.connect()]);
  const secret = await send(fixture, dm, 'ann', 'the safe code is 7421');
  const typo = await send(fixture, dm, 'ann', 'meet at the libary');
  const both = await send(fixture, dm, 'ann', 'library card renewal');
  assert.deepEqual(await texts(bob, '7421'), ['the safe code is 7421']);

  await ann.recall(dm, secret);
  assert.deepEqual(await texts(bob, '7421'), [], 'recalled: gone from search');
  assert.deepEqual(await texts(ann, 'safe code'), []);

  await ann.edit(dm, typo, 'meet at the library');
  assert.deepEqual(await texts(bob, 'libary'), [], 'the old words are gone');
  assert.deepEqual(await texts(bob, 'library'), ['library card renewal', 'meet at the library']);

  await bob.deleteForMe(dm, both);
  assert.deepEqual(await texts(bob, 'library'), ['meet at the library'], 'deleted for bob: not found by bob');
  assert.deepEqual(await texts(ann, 'library'), ['library card renewal', 'meet at the library'], 'ann still finds it');
});
