/**
 * Message search latency (`GET /search/messages`, docs/search.md) on SQLite
 * and on PostgreSQL: a server in its own process holding --messages
 * messages of made-up words (a few frequent, most rare, as in speech) spread
 * over --conversations groups, searched by members of every group. Queries
 * go one at a time, so the figures are the latency of one search, not a
 * throughput ceiling. Each case rotates over many readers so that the
 * per-user rate limit never answers instead of the store.
 *
 *   npm run build
 *   node --import tsx bench/search.ts [--store sqlite|postgres|both] [--messages 100000]
 *        [--conversations 100] [--queries 200] [--json bench/results/search/NAME.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { POSTGRES_URL } from './support/cluster.js';
import { ProgressLine } from './support/progress.js';
import { ServerChild } from './support/server-child.js';
import { adminPost, inBatches } from './support/setup.js';
import { markdownTable, percentile, round } from './support/stats.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    messages: { type: 'string', default: '100000' },
    conversations: { type: 'string', default: '100' },
    queries: { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const MESSAGES = bounded(values.messages, 'messages', 100, 1_000_000);
const CONVERSATIONS = bounded(values.conversations, 'conversations', 1, 1000);
const QUERIES = bounded(values.queries, 'queries', 10, 10_000);
const STORES: ReadonlyArray<'sqlite' | 'postgres'> | undefined =
  values.store === 'both' ? ['sqlite', 'postgres'] : values.store === 'sqlite' || values.store === 'postgres' ? [values.store] : undefined;
if (STORES === undefined) throw new Error('--store must be sqlite, postgres or both');

/** Readers take turns: each stays far below its 30 searches a minute. */
const READERS = 64;
const VOCABULARY = 20_000;
/** A word planted in this many messages: the rare case. */
const NEEDLES = 10;

function bounded(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return value;
}

/** A seeded PRNG (mulberry32): the same messages on every run and in both stores. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pronounceable made-up words, "word0" the most frequent. */
function makeWords(): string[] {
  const next = random(7);
  const syllables = ['ka', 'lo', 'mi', 'ter', 'san', 'vu', 'rel', 'do', 'pin', 'ga', 'shi', 'nor', 'be', 'tal', 'qu', 'ex'];
  const words = new Set<string>();
  while (words.size < VOCABULARY) {
    const count = 2 + Math.floor(next() * 3);
    words.add(Array.from({ length: count }, () => syllables[Math.floor(next() * syllables.length)]).join(''));
  }
  return [...words];
}

function makeMessages(words: readonly string[]): string[] {
  const next = random(11);
  const needleAt = new Set(Array.from({ length: NEEDLES }, (_, n) => Math.floor(((n + 0.5) * MESSAGES) / NEEDLES)));
  return Array.from({ length: MESSAGES }, (_, index) => {
    const length = 6 + Math.floor(next() * 9);
    // Skewed towards the first words, like word frequencies in speech.
    const sentence = Array.from({ length }, () => words[Math.floor(VOCABULARY * next() ** 4)] as string);
    if (needleAt.has(index)) sentence.splice(2, 0, 'needlework');
    return sentence.join(' ');
  });
}

interface Row {
  store: string;
  case: string;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanHits: number;
}

async function benchStore(store: 'sqlite' | 'postgres', messages: readonly string[], words: readonly string[], progress: ProgressLine): Promise<Row[]> {
  const schema = `bench_search_${process.pid}`;
  const serverOptions = store === 'postgres' ? { storeUrl: POSTGRES_URL, storeSchema: schema } : {};
  const server = await ServerChild.start({ durability: 'normal', serverOptions });
  const { httpUrl, adminKey } = server.urls;
  try {
    const readers = Array.from({ length: READERS }, (_, n) => `reader${n}`);
    const writers = ['writer0', 'writer1', 'writer2', 'writer3'];
    await inBatches([...readers, ...writers], 16, (id) => adminPost(httpUrl, adminKey, '/v1/users', { id, name: id }));
    const groups = Array.from({ length: CONVERSATIONS }, (_, n) => `group${n}`);
    await inBatches(groups, 8, (id) => adminPost(httpUrl, adminKey, '/v1/groups', { id, name: id, ownerId: 'writer0', memberIds: [...writers.slice(1), ...readers] }));
    let sent = 0;
    await inBatches(messages, 64, async (text, index) => {
      await adminPost(httpUrl, adminKey, `/v1/conversations/${groups[index % CONVERSATIONS]}/messages`, { senderId: writers[index % writers.length], text });
      if (++sent % 500 === 0) progress.update(sent / messages.length, `${store}: storing messages`);
    });
    progress.finish();
    // The statistics autovacuum gathers in a deployment (the test database may run without it):
    // with them PostgreSQL walks the id index for a frequent word instead of sorting every match.
    if (store === 'postgres') await withPostgres((client) => client.query(`ANALYZE "${schema}".messages`));

    const tokens = await inBatches(readers, 16, async (id) => (await adminPost<{ token: string }>(httpUrl, adminKey, `/v1/users/${id}/tokens`, {})).token);
    let turn = 0;
    const search = async (query: string): Promise<{ hits: unknown[]; nextCursor: string | null }> => {
      const token = tokens[turn++ % READERS] as string;
      const response = await fetch(`${httpUrl}/search/messages?${query}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      if (!response.ok) throw new Error(`search ${query}: HTTP ${response.status} ${text}`);
      return JSON.parse(text);
    };
    const common = words[0] as string;
    const secondCommon = words[1] as string;
    const firstPage = await search(`q=${encodeURIComponent(common)}`);
    const cursor = firstPage.nextCursor ?? '';
    const cases: Array<[string, (index: number) => string]> = [
      [`a rare word (in ${NEEDLES} messages)`, () => 'q=needlework'],
      ['the most frequent word', () => `q=${encodeURIComponent(common)}`],
      ['two frequent words', () => `q=${encodeURIComponent(`${common} ${secondCommon}`)}`],
      ['a 3-letter prefix', () => `q=${encodeURIComponent(common.slice(0, 3))}`],
      ['a rare word nobody wrote', () => 'q=zzyzx'],
      ['the frequent word, one conversation', (index) => `q=${encodeURIComponent(common)}&conversation_id=group${index % CONVERSATIONS}`],
      ['the frequent word, second page', () => `q=${encodeURIComponent(common)}&cursor=${encodeURIComponent(cursor)}`],
    ];
    const rows: Row[] = [];
    for (const [name, query] of cases) {
      const latencies: number[] = [];
      let hits = 0;
      for (let index = 0; index < QUERIES; index++) {
        const started = performance.now();
        const page = await search(query(index));
        latencies.push(performance.now() - started);
        hits += page.hits.length;
      }
      latencies.sort((a, b) => a - b);
      rows.push({
        store,
        case: name,
        p50Ms: round(percentile(latencies, 50), 2),
        p90Ms: round(percentile(latencies, 90), 2),
        p99Ms: round(percentile(latencies, 99), 2),
        meanHits: round(hits / QUERIES, 1),
      });
    }
    return rows;
  } finally {
    await server.stop();
    if (store === 'postgres') await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  }
}

async function withPostgres<T>(task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

const words = makeWords();
const messages = makeMessages(words);
const progress = new ProgressLine();
const rows: Row[] = [];
for (const store of STORES) rows.push(...(await benchStore(store, messages, words, progress)));

console.log(`\n${MESSAGES} messages in ${CONVERSATIONS} groups of ${READERS + 4} members; each reader may read every group; ${QUERIES} sequential searches per case, 20 hits a page\n`);
console.log(
  markdownTable(
    ['store', 'case', 'p50 ms', 'p90 ms', 'p99 ms', 'hits'],
    rows.map((row) => [row.store, row.case, String(row.p50Ms), String(row.p90Ms), String(row.p99Ms), String(row.meanHits)]),
  ),
);
if (values.json !== undefined) {
  const path = resolve(values.json);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ benchmark: 'search', options: { messages: MESSAGES, conversations: CONVERSATIONS, readers: READERS, queries: QUERIES }, rows }, null, 2)}\n`);
  console.log(`\nwrote ${path}`);
}
