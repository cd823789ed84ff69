/**
 * REST read paths an integrator polls: `/healthz` (with its user count) and
 * history pages (`GET /v1/conversations/:id/messages`, the operator's view
 * and one member's), against a server in its own process holding --users
 * users and a group of --messages messages. Requests go one at a time, so
 * the figures are the latency of one request, not a throughput ceiling.
 *
 *   node --import tsx bench/rest.ts [--users 20000] [--messages 5000] [--requests 300]
 *        [--json bench/results/NAME.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ProgressLine } from './support/progress.js';
import { ServerChild } from './support/server-child.js';
import { markdownTable, percentile, round } from './support/stats.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    messages: { type: 'string', default: '5000' },
    requests: { type: 'string', default: '300' },
    json: { type: 'string' },
  },
});
const USERS = bounded(values.users, 'users', 2, 200_000);
const MESSAGES = bounded(values.messages, 'messages', 1, 100_000);
const REQUESTS = bounded(values.requests, 'requests', 10, 10_000);

function bounded(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return value;
}

const server = await ServerChild.start({ durability: 'normal' });
const { httpUrl, adminKey } = server.urls;

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(httpUrl + path, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** Runs `request` --requests times, one after another; latencies in ms, sorted. */
async function measure(request: (index: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let index = 0; index < REQUESTS; index++) {
    const started = performance.now();
    await request(index);
    latencies.push(performance.now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

try {
  const progress = new ProgressLine();
  const total = USERS + MESSAGES;
  // Users in parallel batches: the setup is not what is measured.
  for (let start = 0; start < USERS; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, USERS - start) }, (_, offset) => call('POST', '/v1/users', { id: `user${start + offset}`, name: `User ${start + offset}` })),
    );
    progress.update(Math.min(USERS, start + 50) / total, 'creating users');
  }
  await call('POST', '/v1/groups', { id: 'bench', name: 'Bench', ownerId: 'user0', memberIds: ['user1'] });
  for (let start = 0; start < MESSAGES; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, MESSAGES - start) }, (_, offset) =>
        call('POST', '/v1/conversations/bench/messages', { senderId: `user${(start + offset) % 2}`, text: `message ${start + offset}` }),
      ),
    );
    progress.update((USERS + Math.min(MESSAGES, start + 50)) / total, 'sending messages');
  }
  progress.finish();

  const lastSeq = MESSAGES + 1;
  const cases: Array<[string, (index: number) => Promise<unknown>]> = [
    ['GET /healthz (user count cached for 1 s)', () => call('GET', '/healthz')],
    ['GET …/messages (newest 50)', () => call('GET', '/v1/conversations/bench/messages')],
    ['GET …/messages?before=S&limit=200', (index) => call('GET', `/v1/conversations/bench/messages?limit=200&before=${lastSeq - ((index * 37) % lastSeq)}`)],
    ['GET …/messages?after=S&limit=200&userId=U', (index) => call('GET', `/v1/conversations/bench/messages?limit=200&userId=user1&after=${(index * 37) % lastSeq}`)],
  ];
  const rows: Array<{ request: string; p50Ms: number; p99Ms: number; meanMs: number }> = [];
  for (const [request, run] of cases) {
    const latencies = await measure(run);
    rows.push({
      request,
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
      meanMs: round(latencies.reduce((sum, value) => sum + value, 0) / latencies.length, 2),
    });
  }
  // The uncached count, what one probe pays once a second: a few samples, each after the cache expired.
  const uncached: number[] = [];
  for (let sample = 0; sample < 10; sample++) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 1050));
    const started = performance.now();
    await call('GET', '/healthz');
    uncached.push(performance.now() - started);
  }
  uncached.sort((a, b) => a - b);
  rows.push({
    request: 'GET /healthz (count not cached, 10 samples)',
    p50Ms: round(percentile(uncached, 50), 2),
    p99Ms: round(percentile(uncached, 99), 2),
    meanMs: round(uncached.reduce((sum, value) => sum + value, 0) / uncached.length, 2),
  });

  console.log(`\n${USERS} users, a group of ${MESSAGES} messages, ${REQUESTS} sequential requests each\n`);
  console.log(markdownTable(['request', 'p50 ms', 'p99 ms', 'mean ms'], rows.map((row) => [row.request, String(row.p50Ms), String(row.p99Ms), String(row.meanMs)])));
  if (values.json !== undefined) {
    const path = resolve(values.json);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify({ users: USERS, messages: MESSAGES, requests: REQUESTS, rows }, null, 2)}\n`);
    console.log(`\nwrote ${path}`);
  }
} finally {
  await server.stop();
}
