/**
 * Connecting, and holding idle connections, against a bare-ws server, in
 * one run.
 *
 * N peers connect, a few dozen at a time: WebSocket upgrade, then on Parley
 * hello → welcome (token verified, user checked, session registered), on the
 * baseline the hello packet echoed back (the same round trip with nothing
 * behind it). Reported: server CPU µs per connection (upgrade included),
 * connect latency from opening the socket to the answer, and with every
 * connection idle and garbage collected, server RSS and V8 heap per
 * connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PROTOCOL_VERSION } from '@parley/protocol';
import { ProgressLine } from '../support/progress.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { TARGET_LABEL, Target, type TargetKind, UsageWindow, inBatches, machineSummary, sleep, sorted } from './common.js';
import { RawPeer } from './raw-peer.js';
import { writeResult } from './results.js';

export const CONNECT_USAGE = `Usage: npm run bench -- connect [options]

  --connections N    connections to open (default 5000)
  --concurrency C    connection attempts in flight (default 32)
  --idle S           seconds to hold them idle before measuring memory (default 2)
  --json PATH        where to write the results (default bench/results/versus/connect-<time>.json)`;

interface Options {
  connections: number;
  concurrency: number;
  idleS: number;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '32' },
      idle: { type: 'string', default: '2' },
      json: { type: 'string' },
    },
  });
  return { connections: Number(values.connections), concurrency: Number(values.concurrency), idleS: Number(values.idle), json: values.json };
}

export interface ConnectRow {
  target: TargetKind;
  connections: number;
  connectsPerS: number;
  serverCpuUsPerConnect: number;
  latencyMs: { p50: number; p99: number };
  idleRssBytesPerConnection: number;
  idleHeapBytesPerConnection: number;
}

async function runTarget(kind: TargetKind, options: Options, progress: ProgressLine): Promise<ConnectRow> {
  const ids = Array.from({ length: options.connections }, (_, index) => `c${index}`);
  // Users and tokens are made by a first Parley process; the measured one
  // starts on its data, so its memory holds connections, not setup garbage.
  const dataDir = kind === 'parley' ? mkdtempSync(join(tmpdir(), 'parley-bench-connect-')) : undefined;
  let tokens = ids.map(() => '');
  if (dataDir !== undefined) {
    progress.note(`${TARGET_LABEL[kind]}: creating ${formatCount(ids.length)} users and tokens`);
    const setup = await Target.start(kind, 'full', undefined, dataDir);
    try {
      tokens = await setup.users(ids);
    } finally {
      await setup.stop();
    }
  }
  progress.note(`${TARGET_LABEL[kind]}: starting`);
  const target = await Target.start(kind, 'full', undefined, dataDir);
  const peers: RawPeer[] = [];
  try {
    const handlers = { onAck() {}, onDelivery() {} };
    // Warm up the server's code paths with a few connections that are closed again.
    for (let index = 0; index < 50; index++) (await connectOnce(target, index, tokens[index] ?? '', handlers)).peer.close();
    await sleep(500);
    const before = await UsageWindow.begin(target);
    const memoryBefore = await target.child.usage(true);
    const latencies: number[] = [];
    const startedAt = performance.now();
    let done = 0;
    await inBatches(ids, options.concurrency, async (_, index) => {
      const { peer, ms } = await connectOnce(target, index, tokens[index] ?? '', handlers);
      peers.push(peer);
      latencies.push(ms);
      done += 1;
      if (done % 100 === 0) progress.update(done / ids.length, `${TARGET_LABEL[kind]}: ${formatCount(done)} connected`);
    });
    const seconds = (performance.now() - startedAt) / 1000;
    const usage = await before.end();
    progress.finish();
    await sleep(options.idleS * 1000);
    const memoryAfter = await target.child.usage(true);
    const ordered = sorted(latencies);
    return {
      target: kind,
      connections: options.connections,
      connectsPerS: round(options.connections / seconds, 0),
      serverCpuUsPerConnect: round(usage.cpuUs / options.connections, 1),
      latencyMs: { p50: round(percentile(ordered, 50), 2), p99: round(percentile(ordered, 99), 2) },
      idleRssBytesPerConnection: round((memoryAfter.rssBytes - memoryBefore.rssBytes) / options.connections, 0),
      idleHeapBytesPerConnection: round((memoryAfter.heapUsedBytes - memoryBefore.heapUsedBytes) / options.connections, 0),
    };
  } finally {
    for (const peer of peers) peer.close();
    await target.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Opens one connection and completes its first round trip (Parley: hello → welcome; baseline: hello echoed). */
async function connectOnce(target: Target, index: number, token: string, handlers: { onAck(): void; onDelivery(): void }): Promise<{ peer: RawPeer; ms: number }> {
  const startedAt = performance.now();
  if (target.isParley) {
    const peer = await target.connect(index, token, '', handlers);
    return { peer, ms: performance.now() - startedAt };
  }
  const peer = await RawPeer.open(`${target.child.urls.wsUrl}?group=c${index}`, index, handlers);
  await peer.request({ $case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, token: 'x'.repeat(150), client: 'bench-raw' } });
  return { peer, ms: performance.now() - startedAt };
}

export async function runConnect(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  const rows: ConnectRow[] = [];
  for (const kind of ['parley', 'ws-relay'] as const) rows.push(await runTarget(kind, options, progress));
  const parley = rows[0] as ConnectRow;
  const baseline = rows[1] as ConnectRow;
  const summary = {
    benchmark: 'versus-connect',
    options: { ...options, json: undefined },
    rows,
    comparison: {
      cpuRatio: round(parley.serverCpuUsPerConnect / baseline.serverCpuUsPerConnect, 2),
      idleRssRatio: round(parley.idleRssBytesPerConnection / baseline.idleRssBytesPerConnection, 2),
      idleHeapRatio: round(parley.idleHeapBytesPerConnection / baseline.idleHeapBytesPerConnection, 2),
    },
    machine: machineSummary(),
    timestamp: new Date().toISOString(),
  };
  process.stdout.write(`\n${connectTable(summary)}\n`);
  process.stdout.write(`results written to ${writeResult('connect', summary, options.json)}\n`);
  return 0;
}

type ConnectSummary = { rows: ConnectRow[]; comparison: { cpuRatio: number; idleRssRatio: number; idleHeapRatio: number } };

export function connectTable(summary: ConnectSummary): string {
  const header = ['target', 'connections', 'connects/s', 'server CPU µs/connect', 'p50 ms', 'p99 ms', 'idle RSS KB/conn', 'idle heap KB/conn'];
  const rows = summary.rows.map((row) => [
    TARGET_LABEL[row.target],
    formatCount(row.connections),
    formatCount(row.connectsPerS),
    formatFixed(row.serverCpuUsPerConnect, 0),
    formatFixed(row.latencyMs.p50, 2),
    formatFixed(row.latencyMs.p99, 2),
    formatFixed(row.idleRssBytesPerConnection / 1024, 1),
    formatFixed(row.idleHeapBytesPerConnection / 1024, 1),
  ]);
  const c = summary.comparison;
  return `${markdownTable(header, rows)}\n\nParley ÷ baseline: CPU per connect ${formatFixed(c.cpuRatio, 2)}×, idle RSS ${formatFixed(c.idleRssRatio, 2)}×, idle heap ${formatFixed(c.idleHeapRatio, 2)}×`;
}
