/**
 * MediaStore on an S3-compatible object store (AWS S3, MinIO, Ceph, R2...):
 * what the nodes of a cluster share. One object per key under an optional
 * prefix. PutObject with a known length streams the body; S3 makes an
 * object visible only once it is complete.
 */
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ParleyError } from '@parley/protocol';
import { type ByteRange, type MediaBody, type MediaObjectInfo, type MediaStore, checkMediaKey } from './media-store.js';

export interface S3MediaStoreOptions {
  bucket: string;
  /** Prepended to every key ("parley/media/"). Default none. */
  prefix?: string;
  /** For S3-compatible servers: their URL. Default: AWS for the region. */
  endpoint?: string;
  /** Default us-east-1. */
  region?: string;
  /** Path-style URLs (bucket in the path), which most S3-compatible servers need. Default true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Default: the AWS SDK's credential chain (AWS_ACCESS_KEY_ID, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** How often a failed put looks for a short object left behind (100, 200, 300, 400 ms apart). */
const SHORT_OBJECT_LOOKS = 5;

export class S3MediaStore implements MediaStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3MediaStoreOptions) {
    const config: S3ClientConfig = {
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      // Checksums only where S3 requires them: the SDK's default sends bodies
      // in aws-chunked encoding with a trailing checksum, which several
      // S3-compatible servers store verbatim, trailer and all.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    this.client = new S3Client(config);
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
  }

  private keyOf(key: string): string {
    return this.prefix + checkMediaKey(key);
  }

  async put(key: string, source: MediaBody, info: { size: number; contentType: string }): Promise<void> {
    const body = 'path' in source ? createReadStream(source.path, { highWaterMark: 1024 * 1024 }) : (source as Readable);
    if ((await this.stat(key)) !== undefined) {
      body.destroy();
      return;
    }
    // Through a pipeline: a source that fails then aborts the request (and
    // rejects here) instead of raising an error nobody listens for.
    const relay = new PassThrough();
    try {
      await Promise.all([
        pipeline(body, relay),
        this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: relay, ContentLength: info.size, ContentType: info.contentType })),
      ]);
    } catch (error) {
      await this.removeShort(key, info.size);
      throw error;
    }
  }

  /**
   * S3 itself refuses a body shorter than its length; some compatible
   * servers keep what arrived, and may finish writing it a moment after the
   * request was cut. A short object under a content address is never right,
   * so it goes (a complete one, put meanwhile by another node, stays). Looked
   * for a few times over about a second: this is a failure path only.
   */
  private async removeShort(key: string, size: number): Promise<void> {
    for (let attempt = 1; attempt <= SHORT_OBJECT_LOOKS; attempt++) {
      const stored = await this.stat(key).catch(() => undefined);
      if (stored !== undefined) {
        if (stored.size !== size) await this.delete(key).catch(() => undefined);
        return;
      }
      if (attempt < SHORT_OBJECT_LOOKS) await new Promise((resolve) => setTimeout(resolve, attempt * 100));
    }
  }

  async stat(key: string): Promise<MediaObjectInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }) }),
      );
      return object.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new ParleyError('NOT_FOUND', 'no such media');
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function isNotFound(error: unknown): boolean {
  const candidate = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return candidate.name === 'NotFound' || candidate.name === 'NoSuchKey' || candidate.$metadata?.httpStatusCode === 404;
}
