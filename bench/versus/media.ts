/**
 * Text beside media: does the media channel hold up the message path?
 *
 * N pairs of raw-protocol peers send direct text messages at a fixed rate
 * (as in direct.ts). The same rate runs twice in one server: once alone, once
 * while U uploaders push files over tus and D downloaders pull 1 MiB ranges of
 * a stored video as fast as the loopback and the server allow, and a player
 * fetches a video's prefetch range (the SDK's notify-pull size) every 200 ms.
 *
 * Reported: text p50/p99 one-way latency in both phases and their ratio (the
 * target: p99 within 20% of the run without media), upload and download
 * MB/s, time to the first byte of the prefetch range, server CPU. Every run
 * checks that each acknowledged text reached its receiver once, in order.
 */
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { prefetchLength } from '@parley/client';
import { ProgressLine } from '../support/progress.js';
import { formatCount, formatFixed, markdownTable, percentile, round } from '../support/stats.js';
import { DeliveryCheck, Target, UsageWindow, machineSummary, sleep, sorted, untilIdle } from './common.js';
import type { RawPeer } from './raw-peer.js';
import { type MediaCounters, type MediaLoadConfig, PREFETCH_EVERY_MS, VIDEO_DURATION_MS, upload, videoBytes } from './media-load.js';
import { writeResult } from './results.js';

export const MEDIA_USAGE = `Usage: npm run bench -- media [options]

  --pairs N          text peer pairs, one direct conversation each (default 50)
  --rate R           text msg/s in total, in both phases (default 1000)
  --duration S       measured seconds per phase (default 10)
  --warmup S         unmeasured seconds before each phase (default 2)
  --uploaders U      concurrent uploads (default 4)
  --upload-mib M     size of each upload in MiB (default 8)
  --downloaders D    concurrent ranged downloads (default 8)
  --video-mib V      size of the stored video the downloads read, MiB (default 32)
  --media-server M   where media is served: same (the text server, default), separate (a second
                     server process), separate-low (a second process whose main thread runs at nice 19)
  --json PATH        where to write the results (default bench/results/versus/media-<time>.json)`;

const DRAIN_TIMEOUT_MS = 15_000;

interface Options {
  pairs: number;
  rate: number;
  durationS: number;
  warmupS: number;
  uploaders: number;
  uploadMiB: number;
  downloaders: number;
  videoMiB: number;
  mediaServer: 'same' | 'separate' | 'separate-low';
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string', default: '50' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      uploaders: { type: 'string', default: '4' },
      'upload-mib': { type: 'string', default: '8' },
      downloaders: { type: 'string', default: '8' },
      'video-mib': { type: 'string', default: '32' },
      'media-server': { type: 'string', default: 'same' },
      json: { type: 'string' },
    },
  });
  return {
    pairs: Number(values.pairs),
    rate: Number(values.rate),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    uploaders: Number(values.uploaders),
    uploadMiB: Number(values['upload-mib']),
    downloaders: Number(values.downloaders),
    videoMiB: Number(values['video-mib']),
    mediaServer: values['media-server'] === 'separate' || values['media-server'] === 'separate-low' ? values['media-server'] : 'same',
    json: values.json,
  };
}

export interface MediaPhaseRow {
  phase: 'text alone' | 'text with media';
  seconds: number;
  delivered: number;
  latencyMs: { p50: number; p99: number; max: number };
  serverCores: number;
  uploadMBps: number;
  uploads: number;
  downloadMBps: number;
  rangeRequests: number;
  prefetchFirstByteMs: { p50: number; p99: number; count: number };
  /** How long ready work waited for the server's main thread. */
  serverLoopDelayMs?: { p50: number; p99: number; max: number };
}

interface Sender {
  peer: RawPeer;
  conversationId: string;
  sentAt: number[];
  acked: number;
}




/**
 * The media load runs in a worker thread: its own event loop, so that
 * generating and draining hundreds of MB/s never delays the reading of the
 * text messages whose latency is measured here. (It still shares the
 * machine's cores with the server, as a real link's traffic would.)
 */
class MediaLoad {
  private readonly worker: Worker;

  constructor(config: MediaLoadConfig) {
    // A worker does not inherit the parent's TypeScript loader: it registers tsx before loading the module.
    const module = JSON.stringify(new URL('./media-load.ts', import.meta.url).href);
    const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${module}); })`;
    this.worker = new Worker(boot, { eval: true, workerData: config });
  }

  /** Counters since the load started. */
  counters(): Promise<MediaCounters> {
    return new Promise((resolve) => {
      this.worker.once('message', (counters: MediaCounters) => resolve(counters));
      this.worker.postMessage('counters');
    });
  }

  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}

export async function runMedia(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const progress = new ProgressLine();
  progress.note(`Parley: starting, ${options.pairs * 2} text peers, ${options.uploaders} uploaders, ${options.downloaders} downloaders`);
  const target = await Target.start('parley', 'full');
  // Media on another process of this machine: what taking it off the message server's event loop would give.
  const mediaTarget = options.mediaServer === 'same' ? undefined : await Target.start('parley', 'full');
  const pid = mediaTarget?.child.pid;
  if (options.mediaServer === 'separate-low' && pid !== undefined) setPriority(pid, 19);
  const httpUrl = (mediaTarget ?? target).child.urls.httpUrl;
  try {
    const count = options.pairs * 2;
    const ids = Array.from({ length: count }, (_, index) => `t${index}`);
    const mediaIds = Array.from({ length: Math.max(1, options.uploaders) }, (_, index) => `m${index}`);
    const tokens = await target.users([...ids, ...mediaIds]);
    const mediaTokens = mediaTarget === undefined ? tokens.slice(count) : await mediaTarget.users(mediaIds);
    const video = videoBytes(Math.round(options.videoMiB * 1024 * 1024));
    const stored = await upload(httpUrl, mediaTokens[0] as string, video, 'video');
    const videoPath = `/media/${stored.mediaId}/original`;

    const check = new DeliveryCheck(count);
    const senders: Sender[] = [];
    let measuring = false;
    let latencies: number[] = [];
    let acked = 0;
    const peers = await target.connectAll(count, tokens, (index) => `pair${index >> 1}`, (index) => ({
      onAck: () => {
        (senders[index] as Sender).acked += 1;
        acked += 1;
      },
      onDelivery: (from, counter) => {
        check.record(index, from, counter);
        if (!measuring) return;
        const sentAt = senders[from]?.sentAt[counter];
        if (sentAt !== undefined) latencies.push(performance.now() - sentAt);
      },
      onSendError: () => undefined,
    }));
    for (let pair = 0; pair < options.pairs; pair++) {
      const reply = await (peers[2 * pair] as RawPeer).request({ $case: 'openDirect', value: { peerId: ids[2 * pair + 1] as string, subject: '' } });
      if (reply.body?.$case !== 'conversationResult' || reply.body.value.summary === undefined) throw new Error(`open_direct failed: ${reply.body?.$case}`);
      const conversationId = reply.body.value.summary.id;
      for (const index of [2 * pair, 2 * pair + 1]) senders[index] = { peer: peers[index] as RawPeer, conversationId, sentAt: [], acked: 0 };
    }
    const text = 'x'.repeat(64);
    let next = 0;

    const rows: MediaPhaseRow[] = [];
    for (const phase of ['text alone', 'text with media'] as const) {
      await untilIdle(target);
      const load =
        phase === 'text with media'
          ? new MediaLoad({ httpUrl, tokens: mediaTokens, videoPath, videoSize: video.length, uploaders: options.uploaders, uploadBytes: Math.round(options.uploadMiB * 1024 * 1024), downloaders: options.downloaders })
          : undefined;
      const none: MediaCounters = { uploadedBytes: 0, uploads: 0, downloadedBytes: 0, rangeRequests: 0, prefetchFirstByte: [] };
      let mediaAtStart = none;
      let lastCounters = none;
      const totalS = options.warmupS + options.durationS;
      const startedAt = performance.now();
      const stopAt = startedAt + totalS * 1000;
      let window: UsageWindow | undefined;
      let deliveredAtStart = 0;
      let measureStartedAt = 0;
      let sent = 0;
      while (performance.now() < stopAt) {
        const now = performance.now();
        if (window === undefined && now - startedAt >= options.warmupS * 1000) {
          window = await UsageWindow.begin(target);
          measuring = true;
          latencies = [];
          deliveredAtStart = check.delivered;
          measureStartedAt = performance.now();
          mediaAtStart = (await load?.counters()) ?? none;
        }
        const due = Math.floor((options.rate * (now - startedAt)) / 1000);
        for (; sent < due; sent++) {
          const sender = senders[next++ % count] as Sender;
          sender.sentAt.push(performance.now());
          sender.peer.send(sender.conversationId, sender.sentAt.length - 1, text);
        }
        progress.update(
          (now - startedAt) / (totalS * 1000),
          `${phase}: ${formatCount(acked)} acked, ${formatCount(check.delivered)} delivered${load === undefined ? '' : `, ${formatFixed(lastCounters.uploadedBytes / 1048576, 0)} MiB up, ${formatFixed(lastCounters.downloadedBytes / 1048576, 0)} MiB down`}`,
        );
        if (load !== undefined && sent % 500 === 0) void load.counters().then((counters) => (lastCounters = counters));
        await sleep(1);
      }
      measuring = false;
      const usage = await (window as UsageWindow).end();
      const seconds = (performance.now() - measureStartedAt) / 1000;
      const atEnd = (await load?.counters()) ?? none;
      const uploaded = atEnd.uploadedBytes - mediaAtStart.uploadedBytes;
      const downloaded = atEnd.downloadedBytes - mediaAtStart.downloadedBytes;
      const firstBytes = sorted(atEnd.prefetchFirstByte.slice(mediaAtStart.prefetchFirstByte.length));
      const uploads = atEnd.uploads - mediaAtStart.uploads;
      const ranges = atEnd.rangeRequests - mediaAtStart.rangeRequests;
      await load?.stop();
      const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
      while (performance.now() < drainUntil && check.delivered < senders.reduce((sum, sender) => sum + sender.sentAt.length, 0)) await sleep(10);
      const ordered = sorted(latencies);
      rows.push({
        phase,
        seconds: round(seconds, 2),
        delivered: check.delivered - deliveredAtStart,
        latencyMs: { p50: round(percentile(ordered, 50), 2), p99: round(percentile(ordered, 99), 2), max: round(percentile(ordered, 100), 2) },
        serverCores: round(usage.cpuUs / (seconds * 1e6), 2),
        uploadMBps: round(uploaded / 1e6 / seconds, 1),
        uploads,
        downloadMBps: round(downloaded / 1e6 / seconds, 1),
        rangeRequests: ranges,
        prefetchFirstByteMs: { p50: round(percentile(firstBytes, 50), 2), p99: round(percentile(firstBytes, 99), 2), count: firstBytes.length },
        serverLoopDelayMs: usage.loopDelayMs,
      });
    }
    progress.finish();
    const sentTotal = senders.reduce((sum, sender) => sum + sender.sentAt.length, 0);
    const verdict = {
      sent: sentTotal,
      acked,
      delivered: check.delivered,
      duplicatesOrReordered: check.duplicatesOrReordered,
      gaps: check.gaps,
      ok: acked === sentTotal && check.delivered === sentTotal && check.duplicatesOrReordered === 0 && check.gaps === 0,
    };
    for (const peer of peers) peer.close();
    const alone = rows[0] as MediaPhaseRow;
    const withMedia = rows[1] as MediaPhaseRow;
    const summary = {
      benchmark: 'versus-media',
      options: { ...options, json: undefined },
      prefetchBytes: prefetchLength(video.length, VIDEO_DURATION_MS),
      rows,
      p99Ratio: round(withMedia.latencyMs.p99 / Math.max(0.001, alone.latencyMs.p99), 2),
      check: verdict,
      machine: machineSummary(),
      timestamp: new Date().toISOString(),
    };
    process.stdout.write(`\n${mediaTable(summary)}\n\ndelivery check: ${formatCount(acked)} acked of ${formatCount(sentTotal)} sent, ${formatCount(check.delivered)} delivered → ${verdict.ok ? 'OK' : 'FAILED'}\n`);
    const path = writeResult('media', summary, options.json);
    process.stdout.write(`results written to ${path}\n`);
    return verdict.ok ? 0 : 1;
  } finally {
    await target.stop();
    await mediaTarget?.stop();
  }
}

type MediaSummary = { rows: MediaPhaseRow[]; p99Ratio: number; prefetchBytes: number; options: Options };

export function mediaTable(summary: MediaSummary): string {
  const header = ['phase', 'text msg/s', 'text p50 ms', 'text p99 ms', 'server loop delay p99 ms', 'upload MB/s', 'uploads', 'download MB/s', 'range requests', 'prefetch first byte p50 / p99 ms', 'server cores'];
  const rows = summary.rows.map((row) => [
    row.phase,
    formatCount(Math.round(row.delivered / row.seconds)),
    formatFixed(row.latencyMs.p50, 2),
    formatFixed(row.latencyMs.p99, 2),
    row.serverLoopDelayMs === undefined ? '-' : formatFixed(row.serverLoopDelayMs.p99, 2),
    row.phase === 'text alone' ? '-' : formatFixed(row.uploadMBps, 1),
    row.phase === 'text alone' ? '-' : String(row.uploads),
    row.phase === 'text alone' ? '-' : formatFixed(row.downloadMBps, 1),
    row.phase === 'text alone' ? '-' : formatCount(row.rangeRequests),
    row.phase === 'text alone' ? '-' : `${formatFixed(row.prefetchFirstByteMs.p50, 2)} / ${formatFixed(row.prefetchFirstByteMs.p99, 2)}`,
    formatFixed(row.serverCores, 2),
  ]);
  const { options } = summary;
  const where =
    options.mediaServer === 'separate' ? ' Media served by a second server process.' : options.mediaServer === 'separate-low' ? ' Media served by a second server process whose main thread runs at nice 19.' : '';
  return `${markdownTable(header, rows)}\n\nText p99 with media ÷ alone: **${formatFixed(summary.p99Ratio, 2)}×** (target ≤ 1.20×). Media load: ${options.uploaders} uploaders of ${options.uploadMiB} MiB files, ${options.downloaders} downloaders of 1 MiB ranges, a ${formatCount(Math.round(summary.prefetchBytes / 1024))} KiB prefetch range every ${PREFETCH_EVERY_MS} ms.${where}`;
}
