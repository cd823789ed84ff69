/**
 * The LocalCache adapter for browsers: one IndexedDB object store, one
 * record per key, through the `idb` package. A put is one transaction, so a
 * reader sees the old text or the new one. Exported by the browser entry
 * only, so Node programs never load `idb`.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { LocalCache } from './local-cache.js';

const DB_VERSION = 1;
const STORE = 'entries';

interface CacheSchema extends DBSchema {
  entries: { key: string; value: string };
}

export class IndexedDbCache implements LocalCache {
  private database: Promise<IDBPDatabase<CacheSchema>> | undefined;

  /** `databaseName`: the IndexedDB database it keeps its entries in. Default 'parley-cache'. */
  constructor(private readonly databaseName = 'parley-cache') {}

  async read(key: string): Promise<string | undefined> {
    return (await this.open()).get(STORE, key);
  }

  async write(key: string, value: string): Promise<void> {
    await (await this.open()).put(STORE, value, key);
  }

  async remove(key: string): Promise<void> {
    await (await this.open()).delete(STORE, key);
  }

  /** Closes the database connection; the next call opens it again. */
  close(): void {
    const database = this.database;
    this.database = undefined;
    void database?.then((opened) => opened.close()).catch(() => undefined);
  }

  private open(): Promise<IDBPDatabase<CacheSchema>> {
    if (this.database === undefined) {
      const opening = openDB<CacheSchema>(this.databaseName, DB_VERSION, {
        upgrade(database) {
          if (!database.objectStoreNames.contains(STORE)) database.createObjectStore(STORE);
        },
        // Another tab upgrading the schema: let it, and open again next time.
        blocking: () => this.close(),
      });
      // A failed open (a private mode without IndexedDB) is tried again on the next call.
      opening.catch(() => {
        if (this.database === opening) this.database = undefined;
      });
      this.database = opening;
    }
    return this.database;
  }
}
