/**
 * Reconnect sync against the same reads straight from SQLite, in one run.
 *
 * One user in --conversations groups (with a few peers) runs the real SDK
 * client. It connects, syncs, and goes offline (networkLost()); meanwhile
 * --changed of its conversations get --messages each. Then it reconnects
 * (reconnectNow()) and the clock runs until every one of those messages was
 * emitted: welcome, sync, the pulls, the events. Repeated --rounds times.
 *
 * The baseline is what the server cannot avoid: the same reads done directly
 * on the server's SQLite file by this process with better-sqlite3 (the
 * user's memberships changed since the client's version, then each changed
 * conversation's new messages), timed in CPU and wall clock.
 *
 * Every round checks that each offline message was emitted exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Message, ParleyClient } from '@parley/client';
import Database from 'better-sqlite3';
import { ProgressLine } from '../support/progress.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { Target, UsageWindow, inBatches, machineSummary, sleep, sorted, untilIdle } from './common.js';
import { adminPost } from '../support/setup.js';
import { writeResult } from './results.js';

export const SYNC_USAGE = `Usage: npm run bench -- sync [options]

  --conversations N  groups the user is in (default 1000)
  --changed N        of them, how many get messages while the user is offline (default 100)
  --messages N       messages per changed conversation (default 10)
  --rounds N         offline/reconnect rounds (default 10; the first ones also warm the server up)
  --json PATH        where to write the results (default bench/results/versus/sync-<time>.json)`;

const PEERS = 20;
const SETUP_CONCURRENCY = 16;
const CATCH_UP_TIMEOUT_MS = 30_000;
const BASELINE_REPEATS = 20;

interface Options {
  conversations: number;
  changed: number;
  messages: number;
  rounds: number;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      conversations: { type: 'string', default: '1000' },
      changed: { type: 'string', default: '100' },
      messages: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '10' },
      json: { type: 'string' },
    },
  });
  return { conversations: Number(values.conversations), changed: Number(values.changed), messages: Number(values.messages), rounds: Number(values.rounds), json: values.json };
}

interface Round {
  catchUpMs: number;
  serverCpuUs: number;
  requests: Record<string, number>;
  emitted: number;
  duplicates: number;
}

export async function runSync(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-sync-'));
  const target = await Target.start('parley', 'full', undefined, dataDir);
  const rounds: Round[] = [];
  let client: ParleyClient | undefined;
  let baseline: { cpuUs: number[]; wallMs: number[] } = { cpuUs: [], wallMs: [] };
  let versionBeforeLastRound = 0;
  try {
    const { httpUrl, adminKey, wsUrl } = target.child.urls;
    const peers = Array.from({ length: PEERS }, (_, index) => `p${index}`);
    progress.note(`creating ${formatCount(options.conversations)} groups`);
    const [token] = await target.users(['me', ...peers]);
    const groups = Array.from({ length: options.conversations }, (_, index) => `g${index}`);
    await inBatches(groups, SETUP_CONCURRENCY, (id, index) => target.group(id, 'me', [peers[index % PEERS] as string]));

    const seen = new Map<string, number>();
    client = new ParleyClient({ url: wsUrl, token: token as string, reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
    client.on('message', (message: Message) => {
      if (message.text !== undefined) seen.set(message.clientMsgId, (seen.get(message.clientMsgId) ?? 0) + 1);
    });
    await client.connect();
    await sleep(1000);

    for (let round = 0; round < options.rounds; round++) {
      client.networkLost();
      versionBeforeLastRound = storeVersion(join(dataDir, 'parley.db'));
      // Different conversations each round, so each reconnect finds new changes.
      const changed = Array.from({ length: options.changed }, (_, index) => groups[(round * options.changed + index) % groups.length] as string);
      const sends = changed.flatMap((conversationId) => Array.from({ length: options.messages }, (_, n) => ({ conversationId, n })));
      let sent = 0;
      await inBatches(sends, SETUP_CONCURRENCY, async ({ conversationId, n }) => {
        const clientMsgId = `r${round}-${conversationId}-${n}`;
        await adminPost(httpUrl, adminKey, `/v1/conversations/${conversationId}/messages`, { senderId: peers[Number(conversationId.slice(1)) % PEERS], text: `m${n}`, clientMsgId });
        sent += 1;
        if (sent % 100 === 0) progress.update(sent / sends.length, `round ${round + 1}/${options.rounds}: ${formatCount(sent)} messages sent while offline`);
      });
      const expected = sends.map(({ conversationId, n }) => `r${round}-${conversationId}-${n}`);
      await untilIdle(target);
      const window = await UsageWindow.begin(target);
      const startedAt = performance.now();
      client.reconnectNow();
      while (expected.some((id) => !seen.has(id)) && performance.now() - startedAt < CATCH_UP_TIMEOUT_MS) await sleep(1);
      const catchUpMs = performance.now() - startedAt;
      const usage = await window.end();
      await sleep(300);
      rounds.push({
        catchUpMs: round2(catchUpMs),
        serverCpuUs: usage.cpuUs,
        requests: usage.requests,
        emitted: expected.filter((id) => seen.has(id)).length,
        duplicates: expected.filter((id) => (seen.get(id) ?? 0) > 1).length,
      });
      progress.update((round + 1) / options.rounds, `round ${round + 1}/${options.rounds}: caught up in ${formatFixed(catchUpMs, 1)} ms`);
    }
    progress.finish();
    baseline = directReads(join(dataDir, 'parley.db'), versionBeforeLastRound, options);
  } finally {
    await client?.close();
    await target.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const expectedPerRound = options.changed * options.messages;
  const catchUp = sorted(rounds.map((r) => r.catchUpMs));
  const cpu = sorted(rounds.map((r) => r.serverCpuUs / 1000));
  const baselineCpu = sorted(baseline.cpuUs.map((us) => us / 1000));
  const baselineWall = sorted(baseline.wallMs);
  const summary = {
    benchmark: 'versus-sync',
    options: { ...options, json: undefined },
    rounds,
    parley: {
      catchUpMs: { p50: round2(percentile(catchUp, 50)), max: round2(percentile(catchUp, 100)) },
      serverCpuMs: { p50: round2(percentile(cpu, 50)), max: round2(percentile(cpu, 100)) },
      requestsPerRound: rounds[rounds.length - 1]?.requests ?? {},
    },
    baseline: { cpuMs: { p50: round2(percentile(baselineCpu, 50)) }, wallMs: { p50: round2(percentile(baselineWall, 50)) } },
    comparison: { cpuRatio: round(percentile(cpu, 50) / percentile(baselineCpu, 50), 2) },
    check: {
      expectedPerRound,
      ok: rounds.length === options.rounds && rounds.every((r) => r.emitted === expectedPerRound && r.duplicates === 0),
    },
    machine: machineSummary(),
    timestamp: new Date().toISOString(),
  };
  process.stdout.write(`\n${syncTable(summary)}\n\ndelivery check: ${rounds.map((r) => `${r.emitted}/${expectedPerRound} emitted, ${r.duplicates} twice`).join('; ')} → ${summary.check.ok ? 'OK' : 'FAILED'}\n`);
  process.stdout.write(`results written to ${writeResult('sync', summary, options.json)}\n`);
  return summary.check.ok ? 0 : 1;
}

/** The store's sync version now (the client synced up to about here before going offline). */
function storeVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT value FROM meta WHERE key = ?').get('version') as { value: number }).value;
  } finally {
    db.close();
  }
}

/**
 * The reads a reconnect needs, done directly: the user's memberships changed
 * since `since` (the version before the last round's messages), and each
 * changed conversation's new messages.
 */
function directReads(path: string, since: number, options: Options): { cpuUs: number[]; wallMs: number[] } {
  const db = new Database(path, { readonly: true });
  try {
    const uid = (db.prepare('SELECT uid FROM users WHERE id = ?').get('me') as { uid: number }).uid;
    const memberships = db.prepare(
      `SELECT m.cid, m.uid, m.role, m.first_seq, m.left_seq, m.read_seq, m.joined_at, m.absences,
         c.id, c.kind, c.name, c.subject, c.peer_a, c.peer_b, c.last_seq, c.member_count, c.created_at, c.updated_at
       FROM members m JOIN conversations c ON c.cid = m.cid WHERE m.uid = ? AND (c.version > ? OR m.version > ?)`,
    );
    const messages = db.prepare('SELECT * FROM messages WHERE cid = ? AND seq > ? AND seq <= ? ORDER BY seq');
    const cpuUs: number[] = [];
    const wallMs: number[] = [];
    for (let repeat = 0; repeat < BASELINE_REPEATS; repeat++) {
      const cpuStart = process.cpuUsage();
      const wallStart = performance.now();
      const rows = memberships.all(uid, since, since) as Array<{ cid: number; last_seq: number }>;
      let read = 0;
      for (const row of rows) read += messages.all(row.cid, row.last_seq - options.messages, row.last_seq).length;
      wallMs.push(performance.now() - wallStart);
      const cpu = process.cpuUsage(cpuStart);
      cpuUs.push(cpu.user + cpu.system);
      if (read === 0) throw new Error('the direct reads found nothing');
    }
    return { cpuUs, wallMs };
  } finally {
    db.close();
  }
}

type SyncSummary = {
  parley: { catchUpMs: { p50: number; max: number }; serverCpuMs: { p50: number; max: number }; requestsPerRound: Record<string, number> };
  baseline: { cpuMs: { p50: number }; wallMs: { p50: number } };
  comparison: { cpuRatio: number };
  options: Options;
};

export function syncTable(summary: SyncSummary): string {
  const o = summary.options;
  const requests = Object.entries(summary.parley.requestsPerRound)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const header = ['reconnect', 'to every message, p50 ms', 'max ms', 'server CPU p50 ms', 'requests per reconnect'];
  const rows = [
    [`Parley, ${formatCount(o.conversations)} conversations, ${o.changed} changed × ${o.messages}`, formatFixed(summary.parley.catchUpMs.p50, 1), formatFixed(summary.parley.catchUpMs.max, 1), formatFixed(summary.parley.serverCpuMs.p50, 1), requests],
    ['the same reads straight from SQLite', formatFixed(summary.baseline.wallMs.p50, 1), '-', formatFixed(summary.baseline.cpuMs.p50, 1), '-'],
  ];
  return `${markdownTable(header, rows)}\n\nParley ÷ direct reads, server CPU: ${formatFixed(summary.comparison.cpuRatio, 2)}×`;
}

function round2(value: number): number {
  return round(value, 2);
}
