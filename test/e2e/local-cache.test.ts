/**
 * The SDK's local cache against a real server: a restarted client shows
 * what it kept before it is connected, then fetches only what changed; and
 * whatever happened while it was away (messages past a gap, a read on
 * another device, a removal, a new conversation, a replaced database) it
 * ends up exactly where a fresh client without a cache does, with no message
 * lost or repeated. What each sync carried is read off the wire through an
 * injected WebSocket constructor.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import {
  type CacheEvent,
  type ConversationSummary,
  FileCache,
  type LocalCache,
  type Message,
  ParleyClient,
  type ParleyClientOptions,
} from '@parley/client';
import { type PullResult, type SyncResult, decodePacket } from '@parley/protocol';
import { WebSocket } from 'ws';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

/** What one client's connections received, decoded. */
interface Wire {
  syncs: SyncResult[];
  pulls: PullResult[];
}

/** A WebSocket constructor that decodes every packet the server sends into `wire`. */
function recordingWebSocket(wire: Wire): NonNullable<ParleyClientOptions['WebSocket']> {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false });
      this.on('message', (data: Buffer) => {
        for (const frame of decodePacket(new Uint8Array(data))) {
          if (frame.body?.$case === 'syncResult') wire.syncs.push(frame.body.value);
          if (frame.body?.$case === 'pullResult') wire.pulls.push(frame.body.value);
        }
      });
    }
  } as unknown as NonNullable<ParleyClientOptions['WebSocket']>;
}

interface Device {
  client: ParleyClient;
  messages: Message[];
  cacheEvents: CacheEvent[];
  wire: Wire;
}

function device(t: TestContext, fixture: TestServer, userId: string, store?: LocalCache): Device {
  const wire: Wire = { syncs: [], pulls: [] };
  const client = new ParleyClient({
    url: fixture.server.wsUrl,
    token: () => fixture.api.token(userId),
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    WebSocket: recordingWebSocket(wire),
    ...(store === undefined ? {} : { cache: { store, userId } }),
  });
  t.after(() => client.close());
  const recorded: Device = { client, messages: [], cacheEvents: [], wire };
  client.on('message', (message) => recorded.messages.push(message));
  client.on('cache', (event) => recorded.cacheEvents.push(event));
  return recorded;
}

async function cacheDirectory(t: TestContext): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-client-cache-'));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

async function serverWith(t: TestContext, userIds: string[], port?: number): Promise<TestServer> {
  const fixture = await startTestServer(t, port === undefined ? {} : { port });
  for (const id of userIds) await fixture.api.createUser(id);
  return fixture;
}

async function post(fixture: TestServer, conversationId: string, senderId: string, text: string): Promise<void> {
  const { status, body } = await fixture.api.call('POST', `/v1/conversations/${conversationId}/messages`, { senderId, text });
  if (status !== 201) throw new Error(`post: ${status} ${JSON.stringify(body)}`);
}

/** The list as a user sees it, without what only a device knows (the last message object). */
function listOf(client: ParleyClient): Array<Partial<ConversationSummary>> {
  return client
    .conversations()
    .map(({ id, lastSeq, readSeq, unread, active, leftSeq, memberCount, firstSeq, name }) => ({ id, lastSeq, readSeq, unread, active, leftSeq, memberCount, firstSeq, name }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

function of(recorded: Device, conversationId: string): Message[] {
  return recorded.messages.filter((message) => message.conversationId === conversationId);
}

/** The highest seq a user may read in a conversation. */
function readableEnd(summary: ConversationSummary): number {
  return summary.leftSeq === undefined ? summary.lastSeq : Math.min(summary.leftSeq, summary.lastSeq);
}

/**
 * The cached client holds exactly what a fresh one does: the same list and
 * unread counts, every message the fresh one got (the same ones), each once,
 * in seq order, and nothing beyond what the user may read.
 */
function assertSameAsFresh(cached: Device, fresh: Device): void {
  assert.deepEqual(listOf(cached.client), listOf(fresh.client));
  assert.equal(cached.client.totalUnread, fresh.client.totalUnread);
  const ids = cached.messages.map((message) => message.id);
  assert.equal(new Set(ids).size, ids.length, 'no message twice');
  for (const summary of fresh.client.conversations()) {
    const held = of(cached, summary.id);
    const seqs = held.map((message) => message.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${summary.id}: in seq order`);
    const heldById = new Map(held.map((message) => [message.id, message]));
    for (const message of of(fresh, summary.id)) {
      assert.deepEqual(heldById.get(message.id), message, `${summary.id}: seq ${message.seq} as the fresh client has it`);
    }
    assert.ok(seqs.every((seq) => seq <= readableEnd(summary)), `${summary.id}: nothing beyond what may be read`);
  }
}

/** Until every conversation's messages reach its readable end (or there are none to show). */
async function caughtUp(recorded: Device): Promise<void> {
  await eventually(
    () =>
      recorded.client.state === 'open' &&
      recorded.client.conversations().every((summary) => {
        const last = of(recorded, summary.id).at(-1);
        return last === undefined || last.seq === readableEnd(summary) || summary.lastMessage?.seq === last.seq;
      }),
    5000,
    'caught up',
  );
  // Pulls and syncs that were already on their way land too.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

describe('local cache: restart', () => {
  test('a restarted client shows its conversations and messages before connecting, then fetches only what changed', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const store = new FileCache(await cacheDirectory(t));
    for (const id of ['g1', 'g2', 'g3']) {
      await fixture.api.createGroup({ id, name: id, ownerId: 'bob', memberIds: ['alice'] });
      for (let index = 1; index <= 3; index += 1) await post(fixture, id, 'bob', `${id} ${index}`);
    }
    const first = device(t, fixture, 'alice', store);
    await first.client.connect();
    await caughtUp(first);
    const before = first.messages.map((message) => message.id);
    assert.equal(before.length, 12, 'three creation events and nine messages');
    await first.client.close();

    // While away, only g2 changes.
    await post(fixture, 'g2', 'bob', 'g2 while away 1');
    await post(fixture, 'g2', 'bob', 'g2 while away 2');

    const restarted = device(t, fixture, 'alice', store);
    let atRestore: { state: string; syncAnswers: number; conversations: number; messages: string[] } | undefined;
    restarted.client.on('cache', (event) => {
      if (event.type === 'restored') {
        atRestore = { state: restarted.client.state, syncAnswers: restarted.wire.syncs.length, conversations: restarted.client.conversations().length, messages: restarted.messages.map((message) => message.id) };
      }
    });
    const connected = restarted.client.connect();
    await eventually(() => atRestore !== undefined, 2000, 'the cache restored');
    assert.deepEqual(atRestore, { state: 'connecting', syncAnswers: 0, conversations: 3, messages: before });
    await connected;
    await caughtUp(restarted);

    // Only the changed conversation came back, with only the messages not held.
    const [sync] = restarted.wire.syncs;
    assert.deepEqual(sync?.conversations.map((summary) => summary.id), ['g2']);
    assert.deepEqual(
      sync?.recent.map((run) => [run.conversationId, run.messages.map((message) => message.text)]),
      [['g2', ['g2 while away 1', 'g2 while away 2']]],
    );
    assert.equal(restarted.wire.pulls.length, 0, `nothing to pull: ${JSON.stringify(restarted.wire.pulls.map((pull) => [pull.messages.map((m) => [m.conversationId, m.seq]), pull.coveredFrom, pull.coveredTo]))}`);
    assert.deepEqual(
      of(restarted, 'g2').map((message) => message.text),
      [undefined, 'g2 1', 'g2 2', 'g2 3', 'g2 while away 1', 'g2 while away 2'],
    );

    const fresh = device(t, fixture, 'alice');
    await fresh.client.connect();
    await caughtUp(fresh);
    assertSameAsFresh(restarted, fresh);
    // The fresh client needed every conversation; the restarted one one.
    assert.equal(fresh.wire.syncs[0]?.conversations.length, 3);
  });

  test('messages that came live after the last sync are held by position: no answer repeats them, none is shown twice', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const store = new FileCache(await cacheDirectory(t));
    await fixture.api.createGroup({ id: 'live', name: 'live', ownerId: 'bob', memberIds: ['alice'] });
    const first = device(t, fixture, 'alice', store);
    await first.client.connect();
    // Pushed after the sync: stored after the client's version.
    for (let index = 1; index <= 5; index += 1) await post(fixture, 'live', 'bob', `live ${index}`);
    await eventually(() => of(first, 'live').length === 6, 3000, 'the pushes');
    await first.client.close();

    const restarted = device(t, fixture, 'alice', store);
    await restarted.client.connect();
    await post(fixture, 'live', 'bob', 'after the restart');
    await eventually(() => of(restarted, 'live').some((message) => message.text === 'after the restart'), 3000, 'a new push');
    const [sync] = restarted.wire.syncs;
    assert.deepEqual(sync?.conversations.map((summary) => summary.id), ['live'], 'changed since the version');
    assert.deepEqual(sync?.recent, [], 'but nothing the client holds');
    assert.deepEqual(
      of(restarted, 'live').map((message) => message.text),
      [undefined, 'live 1', 'live 2', 'live 3', 'live 4', 'live 5', 'after the restart'],
    );
  });

  test('whatever happened while away, the restarted client ends where a fresh one does', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const store = new FileCache(await cacheDirectory(t));
    for (const id of ['gap', 'readElsewhere', 'removed', 'quiet']) {
      await fixture.api.createGroup({ id, name: id, ownerId: 'bob', memberIds: ['alice'] });
      await post(fixture, id, 'bob', `${id} before`);
    }
    const first = device(t, fixture, 'alice', store);
    await first.client.connect();
    await caughtUp(first);
    await first.client.close();

    // More messages than a sync carries: the run leaves a gap the client must pull.
    for (let index = 1; index <= 45; index += 1) await post(fixture, 'gap', 'bob', `gap ${index}`);
    // Read on another device.
    await post(fixture, 'readElsewhere', 'bob', 'read on the phone');
    const phone = device(t, fixture, 'alice');
    await phone.client.connect();
    await phone.client.markRead('readElsewhere');
    await phone.client.close();
    // Removed by the owner, who goes on talking.
    const bob = device(t, fixture, 'bob');
    await bob.client.connect();
    await bob.client.removeMember('removed', 'alice');
    await post(fixture, 'removed', 'bob', 'after alice left');
    await bob.client.close();
    // A conversation created meanwhile.
    await fixture.api.createGroup({ id: 'brandNew', name: 'brandNew', ownerId: 'bob', memberIds: ['alice'] });
    await post(fixture, 'brandNew', 'bob', 'welcome');

    const restarted = device(t, fixture, 'alice', store);
    await restarted.client.connect();
    await caughtUp(restarted);
    assert.ok(restarted.wire.pulls.length > 0, 'the gap was pulled');
    assert.deepEqual(restarted.wire.syncs[0]?.conversations.map((summary) => summary.id).sort(), ['brandNew', 'gap', 'readElsewhere', 'removed']);

    const fresh = device(t, fixture, 'alice');
    await fresh.client.connect();
    await caughtUp(fresh);
    assertSameAsFresh(restarted, fresh);
    assert.equal(restarted.client.conversation('readElsewhere')?.unread, 0);
    assert.equal(restarted.client.conversation('removed')?.active, false);
    assert.ok(!restarted.messages.some((message) => message.text === 'after alice left'));
    assert.deepEqual(
      of(restarted, 'gap').filter((message) => message.type === 'user').map((message) => message.text),
      ['gap before', ...Array.from({ length: 45 }, (_, index) => `gap ${index + 1}`)],
    );
  });

  test('a server whose database was replaced: the cache is discarded and the client syncs from scratch', async (t) => {
    const original = await serverWith(t, ['alice', 'bob']);
    const store = new FileCache(await cacheDirectory(t));
    await original.api.createGroup({ id: 'old', name: 'old', ownerId: 'bob', memberIds: ['alice'] });
    for (let index = 1; index <= 10; index += 1) await post(original, 'old', 'bob', `old ${index}`);
    const first = device(t, original, 'alice', store);
    await first.client.connect();
    await caughtUp(first);
    await first.client.close();
    const port = Number(new URL(original.server.wsUrl).port);
    await original.close();

    // Same address, new data.
    const replaced = await serverWith(t, ['alice', 'bob'], port);
    assert.equal(replaced.server.wsUrl, original.server.wsUrl);
    await replaced.api.createGroup({ id: 'new', name: 'new', ownerId: 'bob', memberIds: ['alice'] });
    await post(replaced, 'new', 'bob', 'new 1');

    const restarted = device(t, replaced, 'alice', store);
    await restarted.client.connect();
    await caughtUp(restarted);
    assert.deepEqual(
      restarted.cacheEvents.map((event) => event.type === 'discarded' ? `discarded: ${event.reason}` : event.type),
      ['restored', 'discarded: server reset'],
    );
    assert.deepEqual(restarted.client.conversations().map((summary) => summary.id), ['new']);
    const fresh = device(t, replaced, 'alice');
    await fresh.client.connect();
    await caughtUp(fresh);
    assert.deepEqual(listOf(restarted.client), listOf(fresh.client));
    // What came after the discard is the new server's only.
    const afterDiscard = restarted.messages.slice(restarted.messages.findIndex((message) => message.conversationId === 'new'));
    assert.deepEqual(afterDiscard.map((message) => message.id), fresh.messages.map((message) => message.id));
  });

  test('a replaced database that has written more than the cached one and holds none of its conversations: told by the welcome\'s database id', async (t) => {
    const original = await serverWith(t, ['alice', 'bob']);
    const store = new FileCache(await cacheDirectory(t));
    await original.api.createGroup({ id: 'old', name: 'old', ownerId: 'bob', memberIds: ['alice'] });
    for (let index = 1; index <= 3; index += 1) await post(original, 'old', 'bob', `old ${index}`);
    const first = device(t, original, 'alice', store);
    await first.client.connect();
    await caughtUp(first);
    const cachedVersion = first.wire.syncs.at(-1)?.version ?? 0;
    await first.client.close();
    const port = Number(new URL(original.server.wsUrl).port);
    await original.close();

    // Past the cached version, and nothing of the cached conversation: no sync answer could refute the cache.
    const replaced = await serverWith(t, ['alice', 'bob'], port);
    await replaced.api.createGroup({ id: 'new', name: 'new', ownerId: 'bob', memberIds: ['alice'] });
    for (let index = 1; index <= 12; index += 1) await post(replaced, 'new', 'bob', `new ${index}`);

    const restarted = device(t, replaced, 'alice', store);
    await restarted.client.connect();
    await caughtUp(restarted);
    assert.ok((restarted.wire.syncs.at(-1)?.version ?? 0) > cachedVersion, 'the new database is ahead of the cached version');
    assert.deepEqual(
      restarted.cacheEvents.map((event) => (event.type === 'discarded' ? `discarded: ${event.reason}` : event.type)),
      ['restored', 'discarded: server reset'],
    );
    assert.equal(restarted.wire.syncs[0]?.conversations.length, 1, 'the first sync is a full one: the new database\'s one conversation');
    const fresh = device(t, replaced, 'alice');
    await fresh.client.connect();
    await caughtUp(fresh);
    assert.deepEqual(listOf(restarted.client), listOf(fresh.client));
    assert.deepEqual(of(restarted, 'new').map((message) => message.id), of(fresh, 'new').map((message) => message.id));
  });

  test('a client that stays up while the server comes back with another database forgets what it held, even without a cache', async (t) => {
    const original = await serverWith(t, ['alice', 'bob']);
    await original.api.createGroup({ id: 'old', name: 'old', ownerId: 'bob', memberIds: ['alice'] });
    await post(original, 'old', 'bob', 'old 1');
    // The client's token comes from whichever server is up (each has its own secret).
    let current = original;
    const alice = device(t, { ...original, api: { ...original.api, token: (userId: string) => current.api.token(userId) } }, 'alice');
    await alice.client.connect();
    await caughtUp(alice);
    assert.deepEqual(alice.client.conversations().map((summary) => summary.id), ['old']);
    const port = Number(new URL(original.server.wsUrl).port);
    await original.close();

    const replaced = await serverWith(t, ['alice', 'bob'], port);
    await replaced.api.createGroup({ id: 'new', name: 'new', ownerId: 'bob', memberIds: ['alice'] });
    for (let index = 1; index <= 5; index += 1) await post(replaced, 'new', 'bob', `new ${index}`);
    current = replaced;
    await eventually(() => alice.cacheEvents.some((event) => event.type === 'discarded'), 10_000, 'the reconnect discards the old database\'s state');
    assert.deepEqual(alice.cacheEvents, [{ type: 'discarded', reason: 'server reset' }]);
    const fresh = device(t, replaced, 'alice');
    await fresh.client.connect();
    await caughtUp(fresh);
    await eventually(() => alice.client.state === 'open' && alice.client.conversation('new')?.lastSeq === fresh.client.conversation('new')?.lastSeq, 5000, 'synced with the new database');
    assert.deepEqual(listOf(alice.client), listOf(fresh.client));
  });
});

describe('local cache: ownership and failures', () => {
  test('clearCache deletes the user\'s data; another user on the device never sees it', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const directory = await cacheDirectory(t);
    await fixture.api.createGroup({ id: 'private', name: 'private', ownerId: 'alice', memberIds: [] });
    await post(fixture, 'private', 'alice', 'alice only');
    const alice = device(t, fixture, 'alice', new FileCache(directory));
    await alice.client.connect();
    await caughtUp(alice);
    await alice.client.close();
    assert.equal((await readdir(directory)).length, 1);

    const bob = device(t, fixture, 'bob', new FileCache(directory));
    await bob.client.connect();
    assert.deepEqual(bob.cacheEvents, []);
    assert.deepEqual(bob.client.conversations(), []);
    await bob.client.close();

    const again = device(t, fixture, 'alice', new FileCache(directory));
    await again.client.connect();
    assert.equal(again.cacheEvents[0]?.type, 'restored');
    await again.client.clearCache();
    await again.client.close();
    const left = await readdir(directory);
    assert.equal(left.length, 1, 'only bob\'s entry is left');

    const afterSignOut = device(t, fixture, 'alice', new FileCache(directory));
    await afterSignOut.client.connect();
    assert.deepEqual(afterSignOut.cacheEvents, [], 'nothing restored');
  });

  test('a cache opened for another user than the token\'s is discarded on welcome and left as it was', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const directory = await cacheDirectory(t);
    await fixture.api.createGroup({ id: 'alices', name: 'alices', ownerId: 'alice', memberIds: [] });
    const alice = device(t, fixture, 'alice', new FileCache(directory));
    await alice.client.connect();
    await caughtUp(alice);
    await alice.client.close();
    const [entry] = await readdir(directory);
    const kept = await readFile(join(directory, entry as string), 'utf8');

    // The application names alice, the token is bob's.
    const wire: Wire = { syncs: [], pulls: [] };
    const mixedUp = new ParleyClient({
      url: fixture.server.wsUrl,
      token: () => fixture.api.token('bob'),
      WebSocket: recordingWebSocket(wire),
      cache: { store: new FileCache(directory), userId: 'alice' },
    });
    t.after(() => mixedUp.close());
    const events: CacheEvent[] = [];
    mixedUp.on('cache', (event) => events.push(event));
    await mixedUp.connect();
    assert.deepEqual(
      events.map((event) => event.type === 'discarded' ? `discarded: ${event.reason}` : event.type),
      ['restored', 'discarded: another user'],
    );
    assert.deepEqual(mixedUp.conversations(), []);
    await mixedUp.close();
    assert.equal(await readFile(join(directory, entry as string), 'utf8'), kept, 'alice\'s entry untouched');
    assert.equal((await readdir(directory)).length, 1, 'nothing written for bob under alice\'s name');
  });

  test('a cache that cannot be written never stops messaging', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const broken: LocalCache = {
      read: async () => undefined,
      write: async () => {
        throw new Error('disk full');
      },
      remove: async () => undefined,
    };
    await fixture.api.createGroup({ id: 'g', name: 'g', ownerId: 'bob', memberIds: ['alice'] });
    const alice = device(t, fixture, 'alice', broken);
    await alice.client.connect();
    await post(fixture, 'g', 'bob', 'still arrives');
    await eventually(() => alice.messages.some((message) => message.text === 'still arrives'), 3000, 'the message');
    await eventually(() => alice.cacheEvents.some((event) => event.type === 'failed' && event.operation === 'write'), 3000, 'the failure reported');
    const sent = await alice.client.send('g', { text: 'and goes out' });
    assert.equal(sent.text, 'and goes out');
  });

  test('a cache of another schema or garbage is discarded, never shown', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    await fixture.api.createGroup({ id: 'g', name: 'g', ownerId: 'alice', memberIds: [] });
    const kept = new Map<string, string>();
    const removed: string[] = [];
    const store: LocalCache = {
      read: async (key) => kept.get(key) ?? '{"schema":1,"version":"oops"',
      write: async (key, value) => void kept.set(key, value),
      remove: async (key) => void removed.push(key),
    };
    const alice = device(t, fixture, 'alice', store);
    await alice.client.connect();
    assert.deepEqual(alice.cacheEvents, []);
    assert.deepEqual(alice.client.conversations().map((summary) => summary.id), ['g']);
    await eventually(() => removed.length === 1, 2000, 'the refused entry removed');
  });
});
