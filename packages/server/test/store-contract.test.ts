/** The embedded SQLite store against the Store contract. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { storeContract } from './contract/store-contract.js';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  return {
    async open() {
      return new SqliteStore({ path: join(dir, 'parley.db') });
    },
    async destroy() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
