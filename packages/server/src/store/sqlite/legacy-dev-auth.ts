/**
 * Upgrade step for data folders written before development accounts moved
 * into the main database: reads `dev-auth.db` (a one-table SQLite file) so the
 * server can take its password hashes over, then renames it to
 * `dev-auth.db.imported`, kept for a manual rollback.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LegacyCredential } from '../../services/dev-accounts.js';

const FILE = 'dev-auth.db';

export interface LegacyDevAuth {
  credentials: LegacyCredential[];
  /** Call once the credentials are committed elsewhere. */
  retire(): void;
}

export function readLegacyDevAuth(dataDir: string): LegacyDevAuth | undefined {
  const path = join(dataDir, FILE);
  if (!existsSync(path)) return undefined;
  // Read-write: a WAL left by a crash is replayed (and checkpointed on close).
  const db = new Database(path, { fileMustExist: true });
  try {
    const rows = db
      .prepare<[], { user_id: string; password_hash: string; created_at: number }>('SELECT user_id, password_hash, created_at FROM credentials')
      .all();
    return {
      credentials: rows.map((row) => ({ userId: row.user_id, passwordHash: row.password_hash, createdAt: row.created_at })),
      retire() {
        for (const suffix of ['', '-wal', '-shm']) {
          if (existsSync(path + suffix)) renameSync(path + suffix, `${path}.imported${suffix}`);
        }
      },
    };
  } finally {
    db.close();
  }
}
