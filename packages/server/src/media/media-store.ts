/**
 * The MediaStore port: keeps the bytes of uploads and of the sizes made from
 * them, by key, and nothing else. It knows no rule: who may read what, which
 * key holds which upload, and what a type is are decided by the media service.
 * Adapters: the local disk (default, under the data folder) and any
 * S3-compatible object store (shared by the nodes of a cluster). Both pass
 * the MediaStore contract suite (test/contract/media-store-contract.ts).
 *
 * What every adapter guarantees:
 * - `put` streams: it never holds a whole object in memory; the object
 *   becomes visible whole or not at all (no reader sees a partial object,
 *   also after a crash during the write);
 * - `put` of an existing key keeps one object (same key, same bytes: the
 *   keys are content addresses);
 * - `read` with a range returns exactly those bytes.
 */
import type { Readable } from 'node:stream';

/** Keys are chosen by the domain: a SHA-256 in hex, optionally `.` and a size name ("…e3b0.medium"). */
export const MEDIA_KEY_PATTERN = /^[0-9a-f]{64}(\.[a-z]{1,16})?$/;

export interface MediaObjectInfo {
  /** Bytes. */
  size: number;
}

/** Inclusive byte offsets, as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a put stores: a stream, or a whole file (which an adapter may copy without reading it through JavaScript). */
export type MediaBody = Readable | { path: string };

export interface MediaStore {
  /** Stores `body` (exactly `size` bytes) under `key`. */
  put(key: string, body: MediaBody, info: { size: number; contentType: string }): Promise<void>;
  /** The object's size, or undefined when there is none. */
  stat(key: string): Promise<MediaObjectInfo | undefined>;
  /** The object's bytes, or the range of them; NOT_FOUND when there is no object. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the object; no-op when there is none. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export function checkMediaKey(key: string): string {
  if (!MEDIA_KEY_PATTERN.test(key)) throw new Error(`not a media key: ${key}`);
  return key;
}
