/**
 * The SDK's side of the media channel (docs/media.md): resumable uploads
 * over tus, signed URLs for rendering, and the prefetch of a video's first
 * seconds. It runs beside the message connection and never through it.
 *
 * Runtime-specific parts (reading a file path, hashing) come from the entry
 * point as an `OpenSource` function; tus-js-client picks its Node or
 * browser build by itself.
 */
import { type MediaInfoJson, type MediaUrlsJson, ParleyError } from '@parley/protocol';
import { RestApi, errorFromBody, responseError } from './http.js';
import type { MediaKind, MediaSize, MediaSource, UploadedMedia } from './types.js';

/** A source ready to upload: what tus-js-client reads, its size, name and SHA-256 ('' when it was not hashed). */
export interface OpenedSource {
  input: Blob | Uint8Array | object;
  size: number;
  fileName: string;
  sha256: string;
}

export type OpenSource = (source: MediaSource) => Promise<OpenedSource>;

/**
 * The part of tus-js-client's Upload this module uses. The entries pass the
 * class itself, so that each runtime gets its own build of it (the Node
 * entry the Node one; bundlers pick the browser one for the browser entry)
 * and this core imports nothing runtime-specific.
 */
export interface TusUpload {
  start(): void;
  abort(shouldTerminate?: boolean): Promise<void>;
  findPreviousUploads(): Promise<PreviousUpload[]>;
  resumeFromPreviousUpload(previous: PreviousUpload): void;
}

export interface PreviousUpload {
  size: number | null;
  metadata: { [key: string]: string };
  creationTime: string;
  urlStorageKey: string;
  uploadUrl: string | null;
  parallelUploadUrls: string[] | null;
}

interface UrlStorage {
  findAllUploads(): Promise<PreviousUpload[]>;
  findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]>;
  removeUpload(urlStorageKey: string): Promise<void>;
  addUpload(fingerprint: string, upload: PreviousUpload): Promise<string>;
}

interface TusResponse {
  getStatus(): number;
  getBody(): string;
}

export interface TusOptions {
  endpoint: string;
  uploadSize: number;
  metadata: Record<string, string>;
  chunkSize: number;
  retryDelays: number[];
  urlStorage: UrlStorage;
  storeFingerprintForResuming: boolean;
  removeFingerprintOnSuccess: boolean;
  fingerprint: () => Promise<string>;
  onBeforeRequest: (request: { setHeader(name: string, value: string): void }) => Promise<void>;
  onProgress: (sent: number, total: number) => void;
  onSuccess: (payload: { lastResponse: TusResponse }) => void;
  onShouldRetry: (error: Error & { originalResponse: TusResponse | null }, attempt: number, options: unknown) => boolean;
  onError: (error: Error & { originalResponse?: TusResponse | null }) => void;
}

export type TusUploadConstructor = new (input: OpenedSource['input'], options: TusOptions) => TusUpload;

/** Waits between attempts of a failed upload request; after the last, the upload fails. */
const RETRY_DELAYS_MS = [0, 500, 1000, 2000, 4000, 8000, 15_000];
/** Bytes per PATCH: a request cut off loses at most this much work. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Signed URLs are fetched again this long before they expire. */
const URL_MARGIN_MS = 60_000;
/** Seconds of video the prefetch covers. */
const PREFETCH_SECONDS = 3;
const PREFETCH_MIN_BYTES = 256 * 1024;
const PREFETCH_MAX_BYTES = 4 * 1024 * 1024;

/** Upload URLs by fingerprint, so that an upload started again resumes where it stopped (in this process). */
class MemoryUrlStorage implements UrlStorage {
  private readonly uploads = new Map<string, PreviousUpload & { fingerprint: string }>();
  private next = 0;

  async findAllUploads(): Promise<PreviousUpload[]> {
    return [...this.uploads.values()];
  }

  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return [...this.uploads.values()].filter((upload) => upload.fingerprint === fingerprint);
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    this.uploads.delete(urlStorageKey);
  }

  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `upload-${++this.next}`;
    this.uploads.set(key, { ...upload, urlStorageKey: key, fingerprint });
    return key;
  }
}

export interface MediaChannelOptions {
  httpUrl: string | undefined;
  Upload: TusUploadConstructor;
  token: () => Promise<string>;
  openSource: OpenSource;
  now: () => number;
  prefetchCacheBytes: number;
}

export class MediaChannel {
  private readonly urlStorage = new MemoryUrlStorage();
  private readonly signed = new Map<string, { urls: Partial<Record<MediaSize, string>>; expiresAt: number }>();
  /** Prefetched video heads by media id, oldest first (a Map keeps insertion order). */
  private readonly heads = new Map<string, Uint8Array>();
  private headBytes = 0;

  private readonly rest: RestApi;

  constructor(private readonly options: MediaChannelOptions) {
    this.rest = new RestApi(options, 'media');
  }

  private get base(): string {
    return this.rest.base;
  }

  private authorised(): Promise<Record<string, string>> {
    return this.rest.authorised();
  }

  /**
   * Uploads `source` as `kind` and resolves with what the server stored. The
   * same bytes uploaded before by this user are not sent again; a broken
   * upload resumes where it stopped (retried for about half a minute, and
   * again when the same source is uploaded again in this process).
   */
  async upload(
    kind: MediaKind,
    source: MediaSource,
    options: { fileName?: string; onProgress?: (sent: number, total: number) => void; signal?: AbortSignal; maxBytes?: number } = {},
  ): Promise<UploadedMedia> {
    const opened = await this.options.openSource(source);
    // Refused here, before any byte travels, when the server announced its limit.
    if (options.maxBytes !== undefined && options.maxBytes > 0 && opened.size > options.maxBytes) {
      throw new ParleyError('TOO_LARGE', `a ${kind} may have at most ${options.maxBytes} bytes`);
    }
    const fileName = options.fileName ?? opened.fileName;
    throwIfCancelled(options.signal);
    const earlier = opened.sha256 === '' ? undefined : await this.lookup(kind, opened.sha256);
    // Cancelled while asking: an abort listener added now would never run.
    throwIfCancelled(options.signal);
    if (earlier !== undefined) {
      options.onProgress?.(opened.size, opened.size);
      return earlier;
    }
    const base = this.base;
    return new Promise<UploadedMedia>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', abort);
        outcome();
      };
      const upload = new this.options.Upload(opened.input, {
        endpoint: `${base}/media/uploads`,
        uploadSize: opened.size,
        metadata: { kind, filename: fileName },
        chunkSize: CHUNK_BYTES,
        retryDelays: RETRY_DELAYS_MS,
        urlStorage: this.urlStorage,
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        fingerprint: async () => `parley:${kind}:${opened.sha256 || fileName}:${opened.size}`,
        onBeforeRequest: async (request) => {
          request.setHeader('Authorization', `Bearer ${await this.options.token()}`);
        },
        onProgress: (sent, total) => options.onProgress?.(sent, total),
        onSuccess: ({ lastResponse }) => {
          const body = lastResponse.getBody();
          if (typeof body === 'string' && body.startsWith('{')) {
            finish(() => resolve(toUploaded(JSON.parse(body) as MediaInfoJson)));
            return;
          }
          // Completed by an earlier attempt whose answer was lost: the server knows the bytes.
          void this.lookup(kind, opened.sha256).then(
            (found) => finish(() => (found === undefined ? reject(new ParleyError('INTERNAL', 'the upload completed but the server does not know it')) : resolve(found))),
            (error: unknown) => finish(() => reject(error)),
          );
        },
        onShouldRetry: (error) => {
          const status = error.originalResponse?.getStatus() ?? 0;
          // Network failures, server errors and lock conflicts pass; refusals do not.
          return status === 0 || status >= 500 || status === 409 || status === 423 || status === 429;
        },
        onError: (error) => finish(() => reject(uploadError(error))),
      });
      const abort = () => {
        void upload.abort(true).catch(() => undefined);
        finish(() => reject(new ParleyError('CLOSED', 'the upload was cancelled')));
      };
      options.signal?.addEventListener('abort', abort, { once: true });
      void upload.findPreviousUploads().then((previous) => {
        if (settled) return;
        const last = previous[previous.length - 1];
        if (last !== undefined) upload.resumeFromPreviousUpload(last);
        upload.start();
      });
    });
  }

  /** This user's earlier upload of these bytes as this kind, if any. */
  async lookup(kind: MediaKind, sha256: string): Promise<UploadedMedia | undefined> {
    const response = await fetch(`${this.base}/media/lookup?kind=${kind}&sha256=${sha256}`, { headers: await this.authorised() });
    if (response.status === 404) return undefined;
    if (!response.ok) throw await responseError(response);
    return toUploaded((await response.json()) as MediaInfoJson);
  }

  /**
   * A URL for one size of a media item, good for `<img src>` and `<video
   * src>` (signed, short-lived, no header needed). Falls back to the
   * original when the item has no such size.
   */
  async url(mediaId: string, size: MediaSize = 'original'): Promise<string> {
    let entry = this.signed.get(mediaId);
    if (entry === undefined || entry.expiresAt - URL_MARGIN_MS <= this.options.now()) {
      const response = await fetch(`${this.base}/media/${encodeURIComponent(mediaId)}`, { headers: await this.authorised() });
      if (!response.ok) throw await responseError(response);
      const body = (await response.json()) as MediaUrlsJson;
      entry = { urls: body.urls, expiresAt: body.urlsExpireAt };
      this.signed.set(mediaId, entry);
    }
    const path = entry.urls[size] ?? entry.urls.original;
    if (path === undefined) throw new ParleyError('NOT_FOUND', `no size ${size}`);
    return `${this.base}${path}`;
  }

  /**
   * Fetches the first seconds of a video (by its average bitrate) into the
   * cache. Resolves with the bytes and the time to their first byte.
   */
  async prefetch(mediaId: string, sizeBytes: number, durationMs: number): Promise<{ bytes: Uint8Array; firstByteMs: number } | undefined> {
    if (this.heads.has(mediaId)) return undefined;
    const length = prefetchLength(sizeBytes, durationMs);
    const url = await this.url(mediaId, 'original');
    const started = this.options.now();
    const response = await fetch(url, { headers: { range: `bytes=0-${length - 1}` } });
    if (response.status !== 206 && response.status !== 200) throw await responseError(response);
    const reader = response.body?.getReader();
    if (reader === undefined) return undefined;
    const chunks: Uint8Array[] = [];
    let firstByteMs = -1;
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (firstByteMs < 0) firstByteMs = this.options.now() - started;
      chunks.push(value);
      total += value.length;
      // A server that ignored the range sends everything: keep the head only.
      if (total >= length) {
        void reader.cancel().catch(() => undefined);
        break;
      }
    }
    const bytes = new Uint8Array(Math.min(total, length));
    let offset = 0;
    for (const chunk of chunks) {
      const part = chunk.subarray(0, bytes.length - offset);
      bytes.set(part, offset);
      offset += part.length;
    }
    this.remember(mediaId, bytes);
    return { bytes, firstByteMs: Math.max(0, firstByteMs) };
  }

  /** A prefetched head of a video, if one is cached. */
  prefetched(mediaId: string): Uint8Array | undefined {
    const bytes = this.heads.get(mediaId);
    if (bytes !== undefined) {
      this.heads.delete(mediaId);
      this.heads.set(mediaId, bytes);
    }
    return bytes;
  }

  private remember(mediaId: string, bytes: Uint8Array): void {
    if (bytes.length > this.options.prefetchCacheBytes) return;
    this.heads.set(mediaId, bytes);
    this.headBytes += bytes.length;
    for (const [oldest, head] of this.heads) {
      if (this.headBytes <= this.options.prefetchCacheBytes) break;
      this.heads.delete(oldest);
      this.headBytes -= head.length;
    }
  }
}

/** Cancelling rejects with CLOSED, as the docs promise, not with the signal's DOMException. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new ParleyError('CLOSED', 'the upload was cancelled');
}

/** Bytes that hold about PREFETCH_SECONDS of a video of this size and length. */
export function prefetchLength(sizeBytes: number, durationMs: number): number {
  const byBitrate = durationMs > 0 ? Math.ceil((sizeBytes * PREFETCH_SECONDS * 1000) / durationMs) : PREFETCH_MIN_BYTES;
  return Math.max(1, Math.min(sizeBytes, Math.max(PREFETCH_MIN_BYTES, Math.min(PREFETCH_MAX_BYTES, byBitrate))));
}

function toUploaded(json: MediaInfoJson): UploadedMedia {
  return {
    mediaId: json.mediaId,
    kind: json.kind,
    mimeType: json.mimeType,
    size: json.size,
    fileName: json.fileName,
    width: json.width,
    height: json.height,
    thumbhash: base64ToBytes(json.thumbhash),
    animated: json.animated,
    sizes: json.sizes,
  };
}

function base64ToBytes(value: string): Uint8Array {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

function uploadError(error: Error & { originalResponse?: { getStatus(): number; getBody(): string } | null }): ParleyError {
  const response = error.originalResponse;
  if (response === undefined || response === null) return new ParleyError('UNAVAILABLE', `the upload failed: ${error.message}`, { cause: error });
  return errorFromBody(response.getStatus(), response.getBody());
}
