/**
 * The media bench's load, in a worker thread (see media.ts): U uploaders
 * pushing fresh files over tus, D downloaders reading 1 MiB ranges of a stored
 * video, and a player fetching the video's prefetch range every 200 ms. The
 * parent asks for counters with 'counters' and ends it with 'stop'.
 */
import { randomBytes } from 'node:crypto';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { prefetchLength } from '@parley/client';

export const RANGE_BYTES = 1024 * 1024;
/** The video's nominal length, for the prefetch size (3 s by bitrate). */
export const VIDEO_DURATION_MS = 60_000;
export const PREFETCH_EVERY_MS = 200;

export interface MediaLoadConfig {
  httpUrl: string;
  tokens: string[];
  videoPath: string;
  videoSize: number;
  uploaders: number;
  uploadBytes: number;
  downloaders: number;
}

export interface MediaCounters {
  uploadedBytes: number;
  uploads: number;
  downloadedBytes: number;
  rangeRequests: number;
  /** Time to the first byte of each prefetch range, ms. */
  prefetchFirstByte: number[];
}

/** One tus upload in two requests (create, then all bytes). */
export async function upload(httpUrl: string, token: string, bytes: Uint8Array<ArrayBuffer>, kind: string): Promise<{ mediaId: string }> {
  const created = await fetch(`${httpUrl}/media/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(bytes.length), 'upload-metadata': `kind ${Buffer.from(kind).toString('base64')}` },
  });
  if (created.status !== 201) throw new Error(`upload create: ${created.status} ${await created.text()}`);
  const done = await fetch(`${httpUrl}${created.headers.get('location')}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: bytes,
  });
  if (done.status !== 200) throw new Error(`upload: ${done.status} ${await done.text()}`);
  return (await done.json()) as { mediaId: string };
}

/** An MP4-looking file (an ftyp box, then random bytes): it sniffs as video/mp4. */
export function videoBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size);
  Buffer.from([0, 0, 0, 24]).copy(bytes, 0);
  Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1').copy(bytes, 4);
  return bytes;
}

/** Reads a response to its end: its byte count and when its first byte came. */
async function drain(response: Response, startedAt: number): Promise<{ bytes: number; firstByteMs: number }> {
  const reader = response.body?.getReader();
  let bytes = 0;
  let firstByteMs = -1;
  if (reader === undefined) return { bytes, firstByteMs };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (firstByteMs < 0) firstByteMs = performance.now() - startedAt;
    bytes += value.length;
  }
  return { bytes, firstByteMs };
}

function run(config: MediaLoadConfig): void {
  // The load stands for other machines' traffic: on this shared machine it
  // yields the cores to the generator's text peers, whose timing is what is
  // measured (Linux keeps a nice value per thread: only this worker is lowered).
  setPriority(19);
  const counters: MediaCounters = { uploadedBytes: 0, uploads: 0, downloadedBytes: 0, rangeRequests: 0, prefetchFirstByte: [] };
  let running = true;
  const loops: Promise<void>[] = [];
  for (let index = 0; index < config.uploaders; index++) {
    loops.push(
      (async () => {
        while (running) {
          // Fresh bytes each time: a repeat would be deduplicated and cost nothing.
          const bytes = randomBytes(config.uploadBytes);
          await upload(config.httpUrl, config.tokens[index % config.tokens.length] as string, bytes, 'file');
          counters.uploadedBytes += bytes.length;
          counters.uploads += 1;
        }
      })(),
    );
  }
  const authorization = { authorization: `Bearer ${config.tokens[0]}` };
  const url = `${config.httpUrl}${config.videoPath}`;
  for (let index = 0; index < config.downloaders; index++) {
    loops.push(
      (async () => {
        while (running) {
          const start = Math.floor(Math.random() * Math.max(1, config.videoSize - RANGE_BYTES));
          const response = await fetch(url, { headers: { ...authorization, range: `bytes=${start}-${start + RANGE_BYTES - 1}` } });
          counters.downloadedBytes += (await drain(response, performance.now())).bytes;
          counters.rangeRequests += 1;
        }
      })(),
    );
  }
  loops.push(
    (async () => {
      const length = prefetchLength(config.videoSize, VIDEO_DURATION_MS);
      while (running) {
        const startedAt = performance.now();
        const response = await fetch(url, { headers: { ...authorization, range: `bytes=0-${length - 1}` } });
        counters.prefetchFirstByte.push((await drain(response, startedAt)).firstByteMs);
        await new Promise((resolve) => setTimeout(resolve, PREFETCH_EVERY_MS));
      }
    })(),
  );
  parentPort?.on('message', (command: string) => {
    if (command === 'counters') parentPort?.postMessage(counters);
    if (command === 'stop') {
      running = false;
      void Promise.all(loops).then(() => process.exit(0));
    }
  });
}

if (!isMainThread) run(workerData as MediaLoadConfig);
