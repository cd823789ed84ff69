/**
 * Reading messages through the admin API (`GET /v1/conversations/:id/messages`):
 * pages walk back and forward without gaps or repeats, and `?userId=` shows
 * exactly what that member may read (access window, absences, addressed
 * messages), as the socket's history does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { type TestServer, startTestServer } from '../support/fixtures.js';

interface Page {
  messages: Array<{ seq: number; type: string; text?: string; system?: { type: string } }>;
  nextBefore: number | null;
  nextAfter: number | null;
  lastSeq: number;
}

async function page(fixture: TestServer, conversationId: string, query: Record<string, string | number> = {}): Promise<Page> {
  const search = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
  const response = await fixture.api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages?${search}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

async function send(fixture: TestServer, conversationId: string, senderId: string, text: string, visibleTo?: string): Promise<number> {
  const response = await fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId, text, visibleTo });
  assert.equal(response.status, 201);
  return response.body.message.seq;
}

const seqsOf = (result: Page) => result.messages.map((message) => message.seq);
const range = (from: number, through: number) => Array.from({ length: through - from + 1 }, (_, index) => from + index);

test('pages walk back from the newest and forward from any seq, oldest first, with no gap or repeat', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'ben']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'team', name: 'Team', ownerId: 'ann', memberIds: ['ben'] });
  for (let index = 1; index <= 12; index++) await send(fixture, 'team', index % 2 === 0 ? 'ann' : 'ben', `message ${index}`);

  const newest = await page(fixture, 'team');
  assert.deepEqual(seqsOf(newest), range(1, 13), 'default page: up to 50, the newest, oldest first');
  assert.equal(newest.nextBefore, null);
  assert.equal(newest.nextAfter, null);
  assert.equal(newest.lastSeq, 13);

  const back: number[][] = [];
  let cursor: Record<string, number> | undefined = {};
  while (cursor !== undefined) {
    const result: Page = await page(fixture, 'team', { limit: 5, ...cursor });
    back.push(seqsOf(result));
    cursor = result.nextBefore === null ? undefined : { before: result.nextBefore };
  }
  assert.deepEqual(back, [range(9, 13), range(4, 8), range(1, 3)]);

  const forward: number[][] = [];
  let after: number | null = 0;
  while (after !== null) {
    const result: Page = await page(fixture, 'team', { limit: 5, after });
    forward.push(seqsOf(result));
    after = result.nextAfter;
  }
  assert.deepEqual(forward, [range(1, 5), range(6, 10), range(11, 13)]);

  const middle = await page(fixture, 'team', { after: 4, before: 8 });
  assert.deepEqual(seqsOf(middle), [5, 6, 7]);
  assert.equal(middle.nextBefore, 5);
  assert.equal(middle.nextAfter, 7);

  // Polling for what is new: nothing, then the one message sent since.
  assert.deepEqual(seqsOf(await page(fixture, 'team', { after: 13 })), []);
  const seq = await send(fixture, 'team', 'ann', 'one more');
  const fresh = await page(fixture, 'team', { after: 13 });
  assert.deepEqual(seqsOf(fresh), [seq]);
  assert.equal(fresh.messages[0]?.text, 'one more');
  assert.equal(fresh.nextBefore, seq, 'the cursor is the page’s first seq: before it lie the older ones');
});

test('?userId= reads as that member: their window, their absences, nothing addressed to others', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'ben', 'cat', 'dan']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'team', name: 'Team', ownerId: 'ann', memberIds: ['ben'] }); // seq 1
  const early = await send(fixture, 'team', 'ann', 'before cat'); // 2
  const catAdded = (await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['cat'] })).body.seq; // 3
  const withCat = await send(fixture, 'team', 'ben', 'cat is here'); // 4
  const forAnn = await send(fixture, 'team', 'ben', 'only for ann', 'ann'); // 5
  const catOut = (await fixture.api.call('DELETE', '/v1/groups/team/members/cat')).body.seq; // 6
  const whileAway = await send(fixture, 'team', 'ann', 'cat is away'); // 7
  const catBack = (await fixture.api.call('POST', '/v1/groups/team/members', { userIds: ['cat'] })).body.seq; // 8
  const benOut = (await fixture.api.call('DELETE', '/v1/groups/team/members/ben')).body.seq; // 9
  const afterBen = await send(fixture, 'team', 'ann', 'ben is gone'); // 10

  const everything = await page(fixture, 'team');
  assert.deepEqual(seqsOf(everything), range(1, 10), 'the operator sees every message, addressed ones included');

  const cat = await page(fixture, 'team', { userId: 'cat' });
  assert.deepEqual(seqsOf(cat), [catAdded, withCat, catOut, catBack, benOut, afterBen]);
  assert.ok(!seqsOf(cat).includes(early) && !seqsOf(cat).includes(whileAway) && !seqsOf(cat).includes(forAnn));
  assert.equal(cat.nextBefore, null, 'nothing older is readable for cat');

  const ben = await page(fixture, 'team', { userId: 'ben' });
  assert.deepEqual(seqsOf(ben), [1, early, catAdded, withCat, catOut, whileAway, catBack, benOut]);
  assert.equal(ben.lastSeq, benOut, 'a past member reads up to the event that removed them');
  assert.equal(ben.nextAfter, null);
  assert.ok(!seqsOf(ben).includes(forAnn), 'a message addressed to ann is not in ben’s view');

  const ann = await page(fixture, 'team', { userId: 'ann', after: 4, limit: 2 });
  assert.deepEqual(seqsOf(ann), [forAnn, catOut]);
  assert.equal(ann.nextAfter, catOut);

  // Walking cat's view back one message at a time skips the absence without an empty page.
  const steps: number[] = [];
  let before: number | null = Number.MAX_SAFE_INTEGER;
  while (before !== null) {
    const result: Page = await page(fixture, 'team', { userId: 'cat', limit: 1, ...(before === Number.MAX_SAFE_INTEGER ? {} : { before }) });
    steps.push(...seqsOf(result));
    before = result.nextBefore;
  }
  assert.deepEqual(steps, [afterBen, benOut, catBack, catOut, withCat, catAdded]);

  const stranger = await fixture.api.call('GET', '/v1/conversations/team/messages?userId=dan');
  assert.equal(stranger.status, 403);
  assert.equal(stranger.body.error.name, 'FORBIDDEN');
  const nobody = await fixture.api.call('GET', '/v1/conversations/team/messages?userId=nobody');
  assert.equal(nobody.status, 404);
  assert.equal(nobody.body.error.message, 'unknown user nobody');
  const missing = await fixture.api.call('GET', '/v1/conversations/no-such-group/messages');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.name, 'NOT_FOUND');
});

test('a direct conversation started over the socket is readable by its id, for either person', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'ben']) await fixture.api.createUser(id);
  const client = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('ann'), requestTimeoutMs: 5000 });
  t.after(() => client.close());
  await client.connect();
  const conversationId = await client.direct('ben');
  await client.send(conversationId, { text: 'hello ben' });

  for (const userId of ['ann', 'ben']) {
    const result = await page(fixture, conversationId, { userId });
    assert.deepEqual(
      result.messages.map((message) => message.text),
      ['hello ben'],
      userId,
    );
  }
});
