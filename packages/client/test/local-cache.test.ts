/**
 * The local cache: every Node adapter passes the port's contract, and the
 * state a client writes reads back exactly, or not at all when it is of
 * another schema, another user, or garbage.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileCache, MemoryCache } from '../src/index.js';
import {
  type CachedState,
  MAX_CACHED_MESSAGES,
  RecentRuns,
  cacheKey,
  decodeState,
  encodeState,
  snapshotOf,
} from '../src/cache/cached-state.js';
import type { ConversationSummary, Message } from '../src/types.js';
import { localCacheContract } from './local-cache-contract.js';

describe('LocalCache contract: MemoryCache', () => {
  for (const contractCase of localCacheContract) {
    it(contractCase.name, async () => {
      const shared = new MemoryCache();
      await contractCase.run(() => shared);
    });
  }
});

describe('LocalCache contract: FileCache', async () => {
  const root = await mkdtemp(join(tmpdir(), 'parley-cache-'));
  after(() => rm(root, { recursive: true, force: true }));
  for (const [index, contractCase] of localCacheContract.entries()) {
    it(contractCase.name, async () => {
      const directory = join(root, String(index), 'nested');
      await contractCase.run(() => new FileCache(directory));
    });
  }

  it('leaves no temporary files behind', async () => {
    const directory = join(root, 'tidy');
    const cache = new FileCache(directory);
    await Promise.all([cache.write('a', '1'), cache.write('a', '2'), cache.write('b', '3')]);
    const files = await readdir(directory);
    assert.equal(files.length, 2);
    assert.ok(files.every((file) => file.endsWith('.json')));
  });

  it('a read of an unreadable directory fails instead of pretending the cache is empty', async () => {
    const file = join(root, 'not-a-directory');
    await writeFile(file, 'x');
    await assert.rejects(new FileCache(file).read('a'));
  });
});

const owner = { serverUrl: 'ws://chat.example/ws', userId: 'alice' };

function summary(id: string, lastSeq: number, extra: Partial<ConversationSummary> = {}): ConversationSummary {
  return { id, kind: 'group', name: id, lastSeq, readSeq: 0, unread: 0, role: 'member', firstSeq: 1, active: true, updatedAt: lastSeq, memberCount: 2, attributes: {}, ...extra };
}

function message(conversationId: string, seq: number, extra: Partial<Message> = {}): Message {
  return { id: `${conversationId}-${seq}`, conversationId, seq, senderId: 'bob', clientMsgId: `c${seq}`, type: 'user', text: `m${seq}`, createdAt: seq, ...extra };
}

describe('cached state', () => {
  it('reads back what was written, bytes included', () => {
    const withBytes = message('g', 2, { data: new Uint8Array([0, 1, 254, 255]) });
    const state: CachedState = {
      databaseId: '00a1b2c3d4e5f6',
      version: 42,
      conversations: [{ summary: summary('g', 2, { lastMessage: withBytes }), synced: 2, run: { from: 1, synced: 2, messages: [message('g', 1), withBytes] } }],
      unconfirmedReads: [{ conversationId: 'g', seq: 2 }],
    };
    const decoded = decodeState(owner, encodeState(owner, state));
    assert.ok('state' in decoded);
    assert.deepEqual(decoded.state, state);
  });

  it('refuses another schema, another user, another server and garbage', () => {
    const text = encodeState(owner, { version: 1, conversations: [], unconfirmedReads: [] });
    assert.deepEqual(decodeState({ ...owner, userId: 'bob' }, text), { refused: 'another owner' });
    assert.deepEqual(decodeState({ ...owner, serverUrl: 'ws://elsewhere/ws' }, text), { refused: 'another owner' });
    assert.deepEqual(decodeState(owner, text.replace('"schema":1', '"schema":0')), { refused: 'another schema' });
    assert.deepEqual(decodeState(owner, text.slice(0, 20)), { refused: 'unreadable' });
    assert.deepEqual(decodeState(owner, 'null'), { refused: 'unreadable' });
    assert.deepEqual(decodeState(owner, text.replace('"version"', '"databaseId":7,"version"')), { refused: 'malformed' });
  });

  it('takes a state written before the database id was kept, without one', () => {
    const decoded = decodeState(owner, encodeState(owner, { version: 3, conversations: [], unconfirmedReads: [] }));
    assert.deepEqual(decoded, { state: { version: 3, conversations: [], unconfirmedReads: [] } });
  });

  it('refuses a run that is not what it claims (out of order, beyond synced, of another conversation)', () => {
    const bad = (messages: Message[]) =>
      decodeState(
        owner,
        encodeState(owner, { version: 1, conversations: [{ summary: summary('g', 3), synced: 3, run: { from: 1, synced: 3, messages } }], unconfirmedReads: [] }),
      );
    assert.ok('refused' in bad([message('g', 2), message('g', 1)]));
    assert.ok('refused' in bad([message('g', 4)]));
    assert.ok('refused' in bad([message('other', 1)]));
    assert.ok('state' in bad([message('g', 1), message('g', 3)]));
  });

  it('keys are per server and user', () => {
    assert.notEqual(cacheKey(owner), cacheKey({ ...owner, userId: 'bob' }));
    assert.notEqual(cacheKey(owner), cacheKey({ ...owner, serverUrl: 'ws://other/ws' }));
  });
});

describe('recent runs', () => {
  it('continue where they ended and keep the newest messages only', () => {
    const runs = new RecentRuns();
    runs.advance('g', 3, [message('g', 2), message('g', 3)]);
    assert.deepEqual(runs.get('g'), { from: 2, synced: 3, messages: [message('g', 2), message('g', 3)] });
    const many = Array.from({ length: MAX_CACHED_MESSAGES + 5 }, (_, index) => message('g', 4 + index));
    runs.advance('g', 3 + many.length, many);
    const run = runs.get('g');
    assert.equal(run?.messages.length, MAX_CACHED_MESSAGES);
    assert.equal(run?.from, run?.messages[0]?.seq);
    assert.equal(run?.synced, 3 + many.length);
  });

  it('take an older history page that reaches them, and nothing that leaves a hole', () => {
    const runs = new RecentRuns();
    runs.advance('g', 10, [message('g', 9), message('g', 10)]);
    runs.prepend('g', { coveredFrom: 3, coveredTo: 7, messages: [message('g', 3), message('g', 7)] }, 10);
    assert.equal(runs.get('g')?.from, 9, 'a page ending at 7 leaves 8 unknown');
    runs.prepend('g', { coveredFrom: 5, coveredTo: 8, messages: [message('g', 5), message('g', 8)] }, 10);
    assert.deepEqual(runs.get('g')?.messages.map((held) => held.seq), [5, 8, 9, 10]);
    assert.equal(runs.get('g')?.from, 5);
  });

  it('apply amendments to the messages they hold', () => {
    const runs = new RecentRuns();
    runs.advance('g', 2, [message('g', 1), message('g', 2)]);
    runs.amend({ conversationId: 'g', seq: 1, actorId: 'bob', at: 5, amendmentSeq: 3, change: 'edited', text: 'fixed' }, 'alice');
    runs.amend({ conversationId: 'g', seq: 2, actorId: 'alice', at: 6, amendmentSeq: 4, change: 'deleted' }, 'alice');
    assert.deepEqual(runs.get('g')?.messages.map((held) => held.text), ['fixed']);
  });

  it('a snapshot keeps every summary and its position, drops runs that do not end at the position', () => {
    const runs = new RecentRuns();
    runs.advance('a', 2, [message('a', 2)]);
    runs.advance('b', 5, [message('b', 5)]);
    const synced = new Map([
      ['a', 2],
      ['b', 6],
    ]);
    const state = snapshotOf({ databaseId: 'db1', version: 9, summaries: [summary('a', 2), summary('b', 6)], syncedOf: (id) => synced.get(id), runs, unconfirmedReads: new Map() });
    assert.equal(state.version, 9);
    assert.equal(state.databaseId, 'db1');
    assert.deepEqual(
      state.conversations.map((conversation) => [conversation.summary.id, conversation.synced, conversation.run?.messages.length]),
      [
        ['a', 2, 1],
        ['b', 6, undefined],
      ],
    );
  });
});
