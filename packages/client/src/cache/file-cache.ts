/**
 * The LocalCache adapter for Node: one file per key in one directory. A
 * write goes to a temporary file that is then renamed over the old one, so a
 * crash mid-write leaves the previous entry, never half of the new one.
 * Plain node:fs, no native modules. Exported by the Node entry only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalCache } from './local-cache.js';

export class FileCache implements LocalCache {
  /** `directory` is created on the first write. */
  constructor(private readonly directory: string) {}

  async read(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async write(key: string, value: string): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const target = this.pathOf(key);
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, value, 'utf8');
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /** Keys hold URLs and user ids: hashed into a safe, fixed-length file name. */
  private pathOf(key: string): string {
    return join(this.directory, `${createHash('sha256').update(key).digest('hex')}.json`);
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}
