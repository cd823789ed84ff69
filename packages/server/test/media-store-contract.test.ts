/** The local-disk and S3 media stores against the MediaStore contract; S3 through a local s3rver. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { LocalDiskMediaStore } from '../src/media/local-disk-store.js';
import { S3MediaStore } from '../src/media/s3-store.js';
import { mediaStoreContract } from './contract/media-store-contract.js';
import { type LocalS3, startLocalS3 } from './support/local-s3.js';

mediaStoreContract('local disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-media-'));
  return {
    open: async () => new LocalDiskMediaStore(dir),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3();
});
after(() => s3.close());

let bucketCount = 0;
mediaStoreContract('S3 (s3rver)', async () => {
  const bucket = `media-${++bucketCount}`;
  await s3.createBucket(bucket);
  return {
    open: async () => new S3MediaStore({ bucket, prefix: 'parley/', ...s3.options }),
    destroy: async () => undefined,
  };
});
