/**
 * The MediaStore contract: what the media service relies on, run against
 * every adapter. An adapter passes by giving a factory of empty stores.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { ParleyError } from '@parley/protocol';
import type { MediaStore } from '../../src/media/media-store.js';

export interface MediaStoreFactory {
  open(): Promise<MediaStore>;
  destroy(): Promise<void>;
}

const keyOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A stream that yields `bytes` in small chunks, as an upload arrives. */
function chunked(bytes: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += chunk) yield bytes.subarray(offset, offset + chunk);
    })(),
  );
}

export function mediaStoreContract(name: string, createStore: () => Promise<MediaStoreFactory>): void {
  describe(`MediaStore contract: ${name}`, () => {
    async function setup(t: { after(fn: () => unknown): void }): Promise<MediaStore> {
      const factory = await createStore();
      const store = await factory.open();
      t.after(async () => {
        await store.close();
        await factory.destroy();
      });
      return store;
    }

    test('an object put in chunks reads back byte for byte, whole and by range', async (t) => {
      const store = await setup(t);
      const bytes = randomBytes(300_000);
      const key = keyOf(bytes);
      assert.equal(await store.stat(key), undefined);
      await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'application/octet-stream' });
      assert.deepEqual(await store.stat(key), { size: bytes.length });
      assert.ok((await buffer(await store.read(key))).equals(bytes));
      const middle = await buffer(await store.read(key, { start: 1000, end: 65_535 + 1000 }));
      assert.ok(middle.equals(bytes.subarray(1000, 65_536 + 1000)));
      const last = await buffer(await store.read(key, { start: bytes.length - 1, end: bytes.length - 1 }));
      assert.deepEqual([...last], [bytes[bytes.length - 1]]);
    });

    test('sizes made from an upload live under the key with a suffix, apart from the original', async (t) => {
      const store = await setup(t);
      const original = randomBytes(1000);
      const medium = randomBytes(10);
      const key = keyOf(original);
      await store.put(key, chunked(original), { size: original.length, contentType: 'image/jpeg' });
      await store.put(`${key}.medium`, chunked(medium), { size: medium.length, contentType: 'image/webp' });
      assert.ok((await buffer(await store.read(`${key}.medium`))).equals(medium));
      assert.deepEqual(await store.stat(key), { size: 1000 });
    });

    test('a whole file can be put by its path', async (t) => {
      const store = await setup(t);
      const bytes = randomBytes(150_000);
      const dir = mkdtempSync(join(tmpdir(), 'parley-media-file-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'upload'), bytes);
      await store.put(keyOf(bytes), { path: join(dir, 'upload') }, { size: bytes.length, contentType: 'application/pdf' });
      assert.ok((await buffer(await store.read(keyOf(bytes)))).equals(bytes));
      assert.ok(readFileSync(join(dir, 'upload')).equals(bytes), 'the source file is left as it was');
    });

    test('putting the same key twice keeps one object with the same bytes', async (t) => {
      const store = await setup(t);
      const bytes = randomBytes(5000);
      const key = keyOf(bytes);
      await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'application/pdf' });
      await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'application/pdf' });
      assert.ok((await buffer(await store.read(key))).equals(bytes));
    });

    test('a put whose stream fails leaves no object', async (t) => {
      const store = await setup(t);
      const bytes = randomBytes(200_000);
      const key = keyOf(bytes);
      const failing = Readable.from(
        (async function* () {
          yield bytes.subarray(0, 100_000);
          throw new Error('connection cut');
        })(),
      );
      await assert.rejects(store.put(key, failing, { size: bytes.length, contentType: 'application/octet-stream' }));
      assert.equal(await store.stat(key), undefined);
    });

    test('reading a missing object is NOT_FOUND; deleting one is a no-op', async (t) => {
      const store = await setup(t);
      const key = keyOf(randomBytes(8));
      await assert.rejects(store.read(key), (error: unknown) => error instanceof ParleyError && error.codeName === 'NOT_FOUND');
      await store.delete(key);
      const bytes = randomBytes(100);
      await store.put(key, chunked(bytes), { size: bytes.length, contentType: 'text/plain' });
      await store.delete(key);
      assert.equal(await store.stat(key), undefined);
    });

    test('keys that are not content addresses are refused: nothing from a client becomes a path', async (t) => {
      const store = await setup(t);
      for (const key of ['../../etc/passwd', 'abc', `${'a'.repeat(64)}/x`, `${'A'.repeat(64)}`]) {
        await assert.rejects(store.stat(key));
        await assert.rejects(store.put(key, chunked(Buffer.from('x')), { size: 1, contentType: 'text/plain' }));
      }
    });
  });
}
