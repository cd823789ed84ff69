/**
 * What is made from uploaded bytes: the type sniffed from them, their
 * SHA-256, and for images the stored original (orientation applied, EXIF and
 * every other metadata stripped), a medium size and a ThumbHash preview.
 * Images go through sharp with bounded input pixels; at most as many images
 * are processed at once as the machine has cores, each on one libvips
 * thread, so that a burst of uploads queues instead of starving the message
 * path.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ParleyError } from '@parley/protocol';
import { fileTypeFromFile } from 'file-type';
import sharp, { type FormatEnum, type Metadata } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

/** An image's longer side in the medium size, in pixels. */
export const MEDIUM_SIDE = 1280;
/** ThumbHash works on at most 100×100 pixels. */
const THUMBHASH_SIDE = 100;

export interface SniffedFile {
  /** From the bytes; application/octet-stream when nothing is recognised. */
  mimeType: string;
  size: number;
  sha256: string;
}

export interface ProcessedImage {
  width: number;
  height: number;
  animated: boolean;
  thumbhash: Uint8Array;
  /** The sizes to store, besides none of the upload's own bytes. */
  original: { bytes: Buffer; mimeType: string };
  medium: { bytes: Buffer; mimeType: string };
  /** The first frame, for animated images. */
  poster?: { bytes: Buffer; mimeType: string };
}

/**
 * Hashes files on a worker thread: SHA-256 runs at a few hundred MB/s, so
 * hashing a 100 MB upload on the event loop would hold message delivery for
 * a while, in slices of a millisecond or more. One worker for the process,
 * started on first use and never keeping it alive.
 */
const HASH_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
parentPort.on('message', ({ id, path }) => {
  const hash = createHash('sha256');
  let size = 0;
  createReadStream(path, { highWaterMark: 1024 * 1024 })
    .on('data', (chunk) => { hash.update(chunk); size += chunk.length; })
    .on('end', () => parentPort.postMessage({ id, sha256: hash.digest('hex'), size }))
    .on('error', (error) => parentPort.postMessage({ id, error: String(error && error.message) }));
});
`;

interface HashAnswer {
  id: number;
  sha256?: string;
  size?: number;
  error?: string;
}

let hashWorker: Worker | undefined;
let nextHashId = 0;
const hashWaiters = new Map<number, { resolve(value: { sha256: string; size: number }): void; reject(error: Error): void }>();

function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  if (hashWorker === undefined) {
    const worker = new Worker(HASH_WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (answer: HashAnswer) => {
      const waiter = hashWaiters.get(answer.id);
      hashWaiters.delete(answer.id);
      if (answer.error !== undefined || answer.sha256 === undefined) waiter?.reject(new Error(answer.error ?? 'hashing failed'));
      else waiter?.resolve({ sha256: answer.sha256, size: answer.size ?? 0 });
    });
    worker.on('error', (error) => {
      for (const waiter of hashWaiters.values()) waiter.reject(error);
      hashWaiters.clear();
      hashWorker = undefined;
    });
    hashWorker = worker;
  }
  const id = ++nextHashId;
  const worker = hashWorker;
  return new Promise((resolve, reject) => {
    hashWaiters.set(id, { resolve, reject });
    worker.postMessage({ id, path });
  });
}

/** The file's hash (on the worker) and its type (from its first bytes). */
export async function sniffFile(path: string): Promise<SniffedFile> {
  const [{ sha256, size }, type] = await Promise.all([hashFile(path), fileTypeFromFile(path)]);
  return { mimeType: type?.mime ?? 'application/octet-stream', size, sha256 };
}

/** Image types sharp decodes and browsers show. */
export const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']);

const slots = Math.max(1, availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

// One libvips thread per image: parallelism comes from the slots above.
sharp.concurrency(1);

/**
 * Decodes the image at `path` (at most `maxPixels` pixels per frame) and
 * makes what is stored and shown. INVALID_ARGUMENT when it does not decode.
 */
export function processImage(path: string, mimeType: string, maxPixels: number): Promise<ProcessedImage> {
  return withSlot(async () => {
    const options = { limitInputPixels: maxPixels, failOn: 'error' as const };
    let metadata: Metadata;
    try {
      metadata = await sharp(path, options).metadata();
    } catch (error) {
      throw new ParleyError('INVALID_ARGUMENT', `the image could not be decoded: ${(error as Error).message}`, { cause: error });
    }
    const animated = (metadata.pages ?? 1) > 1 && (mimeType === 'image/gif' || mimeType === 'image/webp');
    try {
      const oriented = () => sharp(path, { ...options, animated }).autoOrient();
      // Re-encoded without metadata: EXIF (camera, GPS position) never leaves the server.
      const original = await oriented().toFormat(outputFormat(mimeType), outputOptions(mimeType)).toBuffer({ resolveWithObject: true });
      const width = original.info.width;
      const height = animated ? (original.info.pageHeight ?? original.info.height) : original.info.height;
      const medium = await oriented()
        .resize({ width: MEDIUM_SIDE, height: MEDIUM_SIDE, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer();
      const firstFrame = () => sharp(path, options).autoOrient();
      const small = await firstFrame()
        .resize({ width: THUMBHASH_SIDE, height: THUMBHASH_SIDE, fit: 'inside' })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const thumbhash = rgbaToThumbHash(small.info.width, small.info.height, small.data);
      const processed: ProcessedImage = {
        width,
        height,
        animated,
        thumbhash,
        original: { bytes: original.data, mimeType },
        medium: { bytes: medium, mimeType: 'image/webp' },
      };
      if (animated) processed.poster = { bytes: await firstFrame().webp({ quality: 80 }).toBuffer(), mimeType: 'image/webp' };
      return processed;
    } catch (error) {
      if (error instanceof ParleyError) throw error;
      throw new ParleyError('INVALID_ARGUMENT', `the image could not be processed: ${(error as Error).message}`, { cause: error });
    }
  });
}

function outputFormat(mimeType: string): keyof FormatEnum | 'avif' {
  switch (mimeType) {
    case 'image/png':
      return 'png';
    case 'image/gif':
      return 'gif';
    case 'image/webp':
      return 'webp';
    case 'image/avif':
      return 'avif';
    default:
      return 'jpeg';
  }
}

function outputOptions(mimeType: string): Record<string, unknown> {
  return mimeType === 'image/jpeg' ? { quality: 90, mozjpeg: true } : mimeType === 'image/webp' ? { quality: 90 } : {};
}
