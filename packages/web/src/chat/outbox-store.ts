/**
 * Where the app keeps messages the user sent that the server has not
 * acknowledged, so that they survive a reload, a crash or a closed tab. It owns
 * only storage: ChatStore decides when to write, resend and forget entries.
 *
 * Two adapters behind one small interface: IndexedDB (through `idb`), shared
 * by the browser's tabs, and an in-memory one used when IndexedDB cannot be
 * opened (some private modes) so that sending still works, just not across a
 * reload.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';

/** How a conversation looked when the message was written: enough to show it before the server sends its summary. */
export interface ConversationLabel {
  kind: 'direct' | 'group';
  name: string;
  peerId?: string;
  memberCount: number;
}

/** One message waiting for the server's acknowledgement. */
/** What a text message carries besides its text: mentions (@name, @all) and the message it answers. */
export interface MessageExtras {
  mentions?: string[];
  mentionAll?: boolean;
  replyTo?: number;
}

export interface OutboxRecord {
  /** The signed-in user who wrote it; entries of other users are never shown or sent. */
  userId: string;
  conversationId: string;
  /** The idempotency key it is sent with, every time, from every tab. */
  clientMsgId: string;
  text: string;
  /** Whom it mentions and what it answers, as written. */
  extras?: MessageExtras;
  /** Local clock, ms since epoch. */
  createdAt: number;
  /** Assigned by the store when added: increasing in the order messages were written, across tabs. */
  order: number;
  conversation?: ConversationLabel;
}

export type NewOutboxRecord = Omit<OutboxRecord, 'order'>;

export interface OutboxStore {
  /** Writes a record and resolves once it is stored; returns it with its order. */
  add(record: NewOutboxRecord): Promise<OutboxRecord>;
  /** The user's records, oldest first. */
  list(userId: string): Promise<OutboxRecord[]>;
  /** Forgets a record; forgetting one that is not there is fine. */
  remove(userId: string, clientMsgId: string): Promise<void>;
  close(): void;
}

const DB_NAME = 'parley-web';
const DB_VERSION = 1;
const STORE = 'outbox';

interface OutboxSchema extends DBSchema {
  outbox: {
    key: number;
    value: OutboxRecord;
    indexes: { byMessage: [string, string]; byUser: string };
  };
}

class IndexedDbOutboxStore implements OutboxStore {
  constructor(private readonly db: IDBPDatabase<OutboxSchema>) {}

  async add(record: NewOutboxRecord): Promise<OutboxRecord> {
    const transaction = this.db.transaction(STORE, 'readwrite');
    const store = transaction.store;
    // The same message written twice (a retry after a reload) keeps its first place.
    const existing = await store.index('byMessage').get([record.userId, record.clientMsgId]);
    if (existing !== undefined) {
      await transaction.done;
      return existing;
    }
    // The auto-increment key is the order: IndexedDB serialises write transactions, also between tabs.
    const order = await store.add(record as OutboxRecord);
    await transaction.done;
    return { ...record, order };
  }

  async list(userId: string): Promise<OutboxRecord[]> {
    const records = await this.db.getAllFromIndex(STORE, 'byUser', userId);
    return records.sort((a, b) => a.order - b.order);
  }

  async remove(userId: string, clientMsgId: string): Promise<void> {
    const transaction = this.db.transaction(STORE, 'readwrite');
    const key = await transaction.store.index('byMessage').getKey([userId, clientMsgId]);
    if (key !== undefined) await transaction.store.delete(key);
    await transaction.done;
  }

  close(): void {
    this.db.close();
  }
}

/** Keeps records for this page's life only. */
export class MemoryOutboxStore implements OutboxStore {
  private readonly records: OutboxRecord[] = [];
  private nextOrder = 1;

  add(record: NewOutboxRecord): Promise<OutboxRecord> {
    const existing = this.records.find((held) => held.userId === record.userId && held.clientMsgId === record.clientMsgId);
    if (existing !== undefined) return Promise.resolve({ ...existing });
    const stored = { ...record, order: this.nextOrder++ };
    this.records.push(stored);
    return Promise.resolve({ ...stored });
  }

  list(userId: string): Promise<OutboxRecord[]> {
    return Promise.resolve(this.records.filter((record) => record.userId === userId).map((record) => ({ ...record })));
  }

  remove(userId: string, clientMsgId: string): Promise<void> {
    const index = this.records.findIndex((record) => record.userId === userId && record.clientMsgId === clientMsgId);
    if (index >= 0) this.records.splice(index, 1);
    return Promise.resolve();
  }

  close(): void {}
}

/** The IndexedDB outbox, or an in-memory one when IndexedDB is unavailable. */
export async function openOutboxStore(): Promise<OutboxStore> {
  if (typeof indexedDB === 'undefined') return new MemoryOutboxStore();
  try {
    const db = await openDB<OutboxSchema>(DB_NAME, DB_VERSION, {
      upgrade(database) {
        const store = database.createObjectStore(STORE, { keyPath: 'order', autoIncrement: true });
        store.createIndex('byMessage', ['userId', 'clientMsgId'], { unique: true });
        store.createIndex('byUser', 'userId');
      },
      // Another tab runs a newer version of the app: let it upgrade, reopen on the next load.
      blocking() {
        db.close();
      },
    });
    return new IndexedDbOutboxStore(db);
  } catch (error) {
    console.warn('parley: IndexedDB unavailable, unsent messages will not survive a reload:', error);
    return new MemoryOutboxStore();
  }
}
