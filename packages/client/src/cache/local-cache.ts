/**
 * The port behind the SDK's local cache: where a client keeps what it needs
 * to show its conversations and recent messages after a restart, before it
 * is connected (docs/decisions.md, 114). It owns nothing but the contract:
 * a few texts under keys, each written whole or not at all. What the texts
 * mean (schema, bounds, validation) is cached-state.ts's business, so every
 * adapter stays a dumb store and passes the same contract suite.
 *
 * Adapters: MemoryCache (here: this process only), FileCache (Node, one
 * directory), IndexedDbCache (browsers). With no cache at all, the client
 * behaves as it always did.
 */

export interface LocalCache {
  /** The text last written under `key`, or undefined when there is none. */
  read(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`, replacing what was there; a reader sees the old text or the new one, never a mix. */
  write(key: string, value: string): Promise<void>;
  /** Forgets `key`; removing a key that is not there is fine. */
  remove(key: string): Promise<void>;
}

/** Keeps entries in this process only: for tests, and for apps that want the cache's bookkeeping without persistence. */
export class MemoryCache implements LocalCache {
  private readonly entries = new Map<string, string>();

  async read(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async write(key: string, value: string): Promise<void> {
    this.entries.set(key, value);
  }

  async remove(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
