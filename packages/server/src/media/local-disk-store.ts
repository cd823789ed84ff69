/**
 * MediaStore on the local disk: one file per object under `root`, spread
 * over two levels of folders by the key's first four hex digits so that no
 * folder holds millions of entries. A put writes a temporary file, flushes
 * it and renames it into place: readers see whole files only, also after a
 * crash in the middle of a write.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ParleyError } from '@parley/protocol';
import { type ByteRange, type MediaBody, type MediaObjectInfo, type MediaStore, checkMediaKey } from './media-store.js';

/**
 * Bytes per read: 16 times Node's default. A download at hundreds of MB/s
 * then costs the main thread a few hundred reads and writes a second instead
 * of thousands, which is what kept message delivery waiting (bench media).
 */
const READ_CHUNK_BYTES = 1024 * 1024;

export class LocalDiskMediaStore implements MediaStore {
  constructor(private readonly root: string) {}

  private pathOf(key: string): string {
    checkMediaKey(key);
    return join(this.root, key.slice(0, 2), key.slice(2, 4), key);
  }

  async put(key: string, body: MediaBody, info: { size: number }): Promise<void> {
    const path = this.pathOf(key);
    if ((await this.stat(key)) !== undefined) {
      if (!('path' in body)) (body as Readable).resume();
      return;
    }
    await mkdir(join(path, '..'), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.part`;
    try {
      // A file is copied by the kernel (the thread pool), never through the event loop.
      if ('path' in body) await copyFile(body.path, temporary);
      else await pipeline(body as Readable, createWriteStream(temporary, { flags: 'wx' }));
      const handle = await open(temporary, 'r');
      try {
        const written = (await handle.stat()).size;
        if (written !== info.size) throw new ParleyError('INVALID_ARGUMENT', `expected ${info.size} bytes, got ${written}`);
        // Flushed before the rename: a renamed file is a complete one after a power cut.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async stat(key: string): Promise<MediaObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return { size: info.size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    // Opening is the existence check: one call per download, not a stat and then an open.
    const handle = await open(this.pathOf(key), 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new ParleyError('NOT_FOUND', 'no such media') : error;
    });
    return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, ...(range === undefined ? {} : { start: range.start, end: range.end }) });
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async close(): Promise<void> {}
}
