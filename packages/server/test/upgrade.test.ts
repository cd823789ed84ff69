/**
 * Upgrading a data folder written by the release before versioned migrations
 * (fixtures/release-0.1): every message, member, read position, unread count
 * and development account must be intact, and new writes must work.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { startServer } from '@parley/server';
import { LocalBus } from '../src/bus/local-bus.js';
import { DEFAULT_SERVER_LIMITS } from '../src/config.js';
import { ConversationService } from '../src/services/conversations.js';
import { MessagingService } from '../src/services/messaging.js';
import { SearchService } from '../src/services/search.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'release-0.1');

/** JSON shape of the fixture: undefined fields dropped, bytes as base64. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, field: unknown) => (field instanceof Uint8Array ? Buffer.from(field).toString('base64') : field)));
}

test('a data folder from release 0.1 upgrades with nothing lost, and takes new writes', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-upgrade-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  cpSync(join(FIXTURE, 'parley.db'), join(dataDir, 'parley.db'));
  cpSync(join(FIXTURE, 'dev-auth.db'), join(dataDir, 'dev-auth.db'));
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
  const options = { port: 0, tcpPort: false as const, adminKey: 'fixture-admin', tokenSecret: 'fixture-secret', logLevel: 'silent', dataDir };

  // First start: migrations run, the old password file is taken over and retired.
  const server = await startServer(options);
  await server.close();
  assert.equal(existsSync(join(dataDir, 'dev-auth.db')), false);
  assert.equal(existsSync(join(dataDir, 'dev-auth.db.imported')), true);
  const raw = new Database(join(dataDir, 'parley.db'), { readonly: true });
  assert.equal(raw.pragma('user_version', { simple: true }), MIGRATIONS[MIGRATIONS.length - 1]?.version);
  raw.close();

  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  const bus = new LocalBus();
  const messaging = new MessagingService(store, bus, DEFAULT_SERVER_LIMITS);
  const conversations = new ConversationService(store, bus, DEFAULT_SERVER_LIMITS);
  try {
    for (const [userId, user] of Object.entries<{ name: string; tokensValidAfter: number; totalUnread: number }>(expected.users)) {
      const stored = await store.getUser(userId);
      assert.deepEqual([stored?.name, stored?.tokensValidAfter], [user.name, user.tokensValidAfter], userId);
      const changes = await messaging.sync(userId, 0);
      assert.equal(changes.totalUnread, user.totalUnread, `total unread of ${userId}`);
      // Fields added since 0.1 read as their defaults for old rows; the rest is exactly as 0.1 left it.
      for (const conversation of changes.conversations) {
        assert.deepEqual([conversation.attributes, conversation.mentions, conversation.threadUnread], [{}, 0, 0], `attributes, mentions and thread unread of ${conversation.id}`);
      }
      const withoutNewFields = changes.conversations.map(
        ({ attributes: _attributes, mutedUntil: _mutedUntil, pinnedAt: _pinnedAt, draft: _draft, mentions: _mentions, threadUnread: _threadUnread, ...rest }) => rest,
      );
      assert.deepEqual(plain(withoutNewFields), expected.conversations[userId], `conversations of ${userId}`);
    }
    for (const [key, range] of Object.entries(expected.ranges)) {
      const [userId, conversationId] = key.split(' ') as [string, string];
      assert.deepEqual(plain(await messaging.pull(userId, conversationId, 1, 0, 500, false)), range, key);
    }
    // Messages stored before search existed were indexed by the migration: each one's first words find it.
    const search = new SearchService(store);
    let searched = 0;
    for (const [key, range] of Object.entries<{ messages: Array<{ seq: number; type: string; text?: string; hidden?: boolean }> }>(expected.ranges)) {
      const [userId, conversationId] = key.split(' ') as [string, string];
      for (const message of range.messages) {
        if (message.type !== 'user' || message.hidden === true || message.text === undefined || !/[\p{L}\p{N}]/u.test(message.text)) continue;
        const words = message.text.trim().split(/\s+/).slice(0, 4).join(' ');
        const page = await search.search({ userId, text: words, conversationId, limit: 50 });
        assert.ok(page.hits.some((hit) => hit.message.seq === message.seq), `${key}: "${words}" finds seq ${message.seq}`);
        searched += 1;
      }
    }
    assert.ok(searched > 0);
    for (const [conversationId, members] of Object.entries(expected.members)) {
      assert.deepEqual(plain(await conversations.members(undefined, conversationId)), members, conversationId);
    }
  } finally {
    await store.close();
  }

  // Second start: accounts sign in, and new messages continue the sequences.
  const again = await startServer(options);
  t.after(() => again.close());
  const post = async (path: string, body: unknown, key?: string) => {
    const response = await fetch(again.httpUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  assert.equal((await post('/dev/signin', { userId: 'erin', password: 'erin-password-1' })).status, 200);
  assert.equal((await post('/dev/signin', { userId: 'frank', password: 'frank-password-1' })).status, 200);
  assert.equal((await post('/dev/signin', { userId: 'frank', password: 'erin-password-1' })).status, 401);
  assert.equal((await post('/dev/signup', { userId: 'erin', name: 'Again', password: 'another-password' })).status, 409);
  assert.equal((await post('/dev/signup', { userId: 'gina', name: 'Gina', password: 'gina-password-1' })).status, 201);
  const sent = await post('/v1/conversations/team/messages', { senderId: 'carol', clientMsgId: 'after-upgrade', text: 'still here' }, 'fixture-admin');
  assert.equal(sent.status, 201);
  assert.equal(sent.body.message.seq, 14);
  const retry = await post('/v1/conversations/team/messages', { senderId: 'bob', clientMsgId: 'g-2', text: 'retry from before' }, 'fixture-admin');
  assert.deepEqual([retry.status, retry.body.duplicate, retry.body.message.text], [200, true, 'hi all']);
});

test('a database written by a newer release is refused, not misread', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-upgrade-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const path = join(dataDir, 'parley.db');
  const newer = new Database(path);
  newer.pragma('user_version = 999');
  newer.close();
  assert.throws(() => new SqliteStore({ path, backgroundCheckpoints: false }), { name: 'UNAVAILABLE' });
});
