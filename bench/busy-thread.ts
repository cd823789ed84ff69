/**
 * What a busy thread costs the conversation around it: the time to build one
 * member's conversation summary (MessagingService.conversationView: last
 * message, unread, mentions, thread unread) as replies pile up in one thread
 * after the conversation's newest main-timeline message. Thread replies are
 * in the conversation's own seq (decision 119), so every query that wants the
 * main timeline, or a follower's unread replies, must not step over them.
 *
 * In process, on the store directly (no server, no network): the figure is
 * the store's work per summary, which a server repeats for every follower a
 * reply tells (services/follower-teller.ts). The reader is the replier (a
 * follower with nothing unread), measured over --views summaries after a
 * warm-up, at each length of --replies.
 *
 *   node --import tsx bench/busy-thread.ts [--store sqlite|postgres|both] [--replies 100,1000,5000,20000]
 *        [--views 200] [--json bench/results/threads/NAME.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { LocalBus } from '../packages/server/src/bus/local-bus.js';
import { DEFAULT_SERVER_LIMITS } from '../packages/server/src/config.js';
import { ConversationService } from '../packages/server/src/services/conversations.js';
import { MessagingService } from '../packages/server/src/services/messaging.js';
import { UserService } from '../packages/server/src/services/users.js';
import { PostgresStore } from '../packages/server/src/store/postgres/postgres-store.js';
import { SqliteStore } from '../packages/server/src/store/sqlite/sqlite-store.js';
import type { Store } from '../packages/server/src/store/store.js';
import { POSTGRES_URL } from './support/cluster.js';
import { markdownTable, round } from './support/stats.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    replies: { type: 'string', default: '100,1000,5000,20000' },
    views: { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const REPLIES = (values.replies ?? '').split(',').map((text) => bounded(text, 'replies', 100, 100_000));
const VIEWS = bounded(values.views, 'views', 10, 10_000);
const STORES: ReadonlyArray<'sqlite' | 'postgres'> | undefined =
  values.store === 'both' ? ['sqlite', 'postgres'] : values.store === 'sqlite' || values.store === 'postgres' ? [values.store] : undefined;
if (STORES === undefined) throw new Error('--store must be sqlite, postgres or both');
/** Replies sent at once while filling the thread (the store batches them into few commits). */
const FILL_BATCH = 100;

function bounded(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be integers from ${min} to ${max}`);
  return value;
}

interface Row {
  store: 'sqlite' | 'postgres';
  replies: number;
  msPerSummary: number;
}

/** A fresh database of the kind, and how to remove it. */
async function openStore(kind: 'sqlite' | 'postgres'): Promise<{ store: Store; analyze(): Promise<void>; destroy(): Promise<void> }> {
  if (kind === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'parley-busy-thread-'));
    return {
      store: new SqliteStore({ path: join(directory, 'parley.db'), durability: 'normal' }),
      analyze: async () => undefined,
      destroy: async () => rmSync(directory, { recursive: true, force: true }),
    };
  }
  const schema = `bench_busy_thread_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  return {
    store: await PostgresStore.open({ url: POSTGRES_URL, schema, poolSize: 6 }),
    // As autovacuum would in a deployment: the planner must know the tables grew.
    analyze: async () => {
      await admin.query(`ANALYZE "${schema}".messages`);
      await admin.query(`ANALYZE "${schema}".thread_follows`);
    },
    destroy: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

async function benchStore(kind: 'sqlite' | 'postgres'): Promise<Row[]> {
  const { store, analyze, destroy } = await openStore(kind);
  const rows: Row[] = [];
  try {
    const bus = new LocalBus();
    const messaging = new MessagingService(store, bus, DEFAULT_SERVER_LIMITS);
    await new UserService(store, bus).putUser('host', 'Host');
    await new UserService(store, bus).putUser('guest', 'Guest');
    await new ConversationService(store, bus, DEFAULT_SERVER_LIMITS).createGroup('host', { id: 'ama', name: 'AMA', memberIds: ['guest'] });
    const root = await messaging.send('host', { conversationId: 'ama', clientMsgId: 'root', text: 'Ask me anything' });
    let replies = 0;
    for (const target of REPLIES) {
      while (replies < target) {
        const batch = Math.min(FILL_BATCH, target - replies);
        await Promise.all(
          Array.from({ length: batch }, (_, index) =>
            messaging.send('guest', { conversationId: 'ama', clientMsgId: `r${replies + index}`, text: 'a question', threadRoot: root.message.seq }),
          ),
        );
        replies += batch;
      }
      await analyze();
      for (let index = 0; index < 20; index++) await messaging.conversationView('guest', 'ama');
      const started = performance.now();
      for (let index = 0; index < VIEWS; index++) await messaging.conversationView('guest', 'ama');
      const row: Row = { store: kind, replies, msPerSummary: round((performance.now() - started) / VIEWS, 3) };
      rows.push(row);
      console.log(`${kind}: ${replies} replies, ${row.msPerSummary} ms per summary`);
    }
  } finally {
    await store.close();
    await destroy();
  }
  return rows;
}

const rows: Row[] = [];
for (const store of STORES) rows.push(...(await benchStore(store)));
console.log(`\nOne member's conversation summary, ${VIEWS} in a row, with N thread replies after the newest main message\n`);
console.log(markdownTable(['store', 'replies', 'ms per summary'], rows.map((row) => [row.store, String(row.replies), String(row.msPerSummary)])));
if (values.json !== undefined) {
  const path = resolve(values.json);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ benchmark: 'busy-thread', options: { replies: REPLIES, views: VIEWS }, rows }, null, 2)}\n`);
  console.log(`\nwrote ${path}`);
}
