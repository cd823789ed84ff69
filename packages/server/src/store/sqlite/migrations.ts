/**
 * The SQLite schema as numbered, ordered migration steps. `PRAGMA
 * user_version` records the last step applied; at open every later step runs,
 * all of them in one transaction, so a database is either fully upgraded or
 * untouched. Steps are never edited once released: a change is a new step.
 *
 * Integer surrogate keys keep the message indexes small; the messages table is
 * an ordinary rowid table (appends go to the end of the B-tree) with one index
 * for seq ranges and one for idempotent sends.
 */
import type Database from 'better-sqlite3';
import { MessageContent, ParleyError, searchIndexWords, searchableText } from '@parley/protocol';

interface Migration {
  version: number;
  description: string;
  sql: string;
  /** Runs after `sql`, in the same transaction: for data SQL alone cannot compute. */
  backfill?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // IF NOT EXISTS: databases from before versioned migrations (user_version 0)
    // already hold exactly these tables and pass through unchanged.
    description: 'users, conversations, members, messages and the sync version',
    sql: `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (
  uid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  tokens_valid_after INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS conversations (
  cid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  subject TEXT NOT NULL,
  peer_a INTEGER,
  peer_b INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0,
  member_count INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS members (
  uid INTEGER NOT NULL,
  cid INTEGER NOT NULL,
  role INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  left_seq INTEGER,
  read_seq INTEGER NOT NULL DEFAULT 0,
  joined_at INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (uid, cid)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS members_of_conversation ON members (cid) WHERE left_seq IS NULL;

CREATE TABLE IF NOT EXISTS messages (
  mid INTEGER PRIMARY KEY,
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sender INTEGER NOT NULL,
  client_msg_id TEXT NOT NULL,
  type INTEGER NOT NULL,
  text TEXT,
  data BLOB,
  visible_to INTEGER,
  created_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS messages_by_seq ON messages (cid, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_client_id ON messages (sender, client_msg_id);
`,
  },
  {
    version: 2,
    // Development accounts used to live in a second file (dev-auth.db); in the
    // main database a sign-up writes the user and the password in one commit.
    description: 'development account passwords',
    sql: `
CREATE TABLE dev_credentials (
  uid INTEGER PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    version: 3,
    // A member added back keeps its earlier windows readable; the times it was
    // out are kept as JSON [[from, through], ...] (rare, short, read with the row).
    description: 'member absences',
    sql: `
ALTER TABLE members ADD COLUMN absences TEXT;
`,
  },
  {
    version: 4,
    // The sync version of the commit that stored each message, so a sync can
    // carry the messages stored after the client's version (recentMessages).
    // Rows stored before this migration have none and count as older than
    // any version a client holds.
    description: 'message versions',
    sql: `
ALTER TABLE messages ADD COLUMN version INTEGER;
`,
  },
  {
    version: 5,
    // Typed content is kept as its protobuf encoding: compact, and read back
    // as the same message the domain completed. Media rows say what an
    // upload is; media_refs lists the messages that carry it, which is what
    // downloads are authorised by.
    description: 'typed message content and media',
    sql: `
ALTER TABLE messages ADD COLUMN content BLOB;

CREATE TABLE media (
  id TEXT PRIMARY KEY,
  owner INTEGER NOT NULL,
  kind TEXT NOT NULL,
  blob TEXT NOT NULL,
  mime TEXT NOT NULL,
  size INTEGER NOT NULL,
  file_name TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  thumbhash BLOB,
  animated INTEGER NOT NULL,
  variants TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX media_by_owner ON media(owner, blob);

CREATE TABLE media_refs (
  media_id TEXT NOT NULL,
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (media_id, cid, seq)
) WITHOUT ROWID;
`,
  },
  {
    version: 6,
    // Live rooms: a conversation kind (3) with a closing time, and the few
    // people a room knows by name (host, admins, muted viewers). Viewers
    // themselves are connections and never stored.
    description: 'live rooms',
    sql: `
ALTER TABLE conversations ADD COLUMN closed_at INTEGER;

CREATE TABLE room_people (
  cid INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  role INTEGER NOT NULL,
  muted_until INTEGER NOT NULL,
  PRIMARY KEY (cid, uid)
) WITHOUT ROWID;
`,
  },
  {
    version: 7,
    // The message feed the webhooks read (Store.messageFeed): every message
    // in commit order, paged by (version, conversation, seq); the cursors its
    // readers keep, one holder at a time; and the host's attributes of a
    // conversation (JSON).
    description: 'message feed, feed cursors, conversation attributes',
    sql: `
CREATE INDEX messages_feed ON messages(version, cid, seq) WHERE version IS NOT NULL;
CREATE TABLE feed_cursors (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  holder TEXT NOT NULL,
  lease_until INTEGER NOT NULL
);
ALTER TABLE conversations ADD COLUMN attributes TEXT;
`,
  },
  {
    version: 8,
    // Web Push: each browser's subscription, keyed by its endpoint (one
    // browser profile, held by the last user to register it) and listed per
    // user, oldest first, whenever a notification goes out; and a user's own
    // choice of how much a notification shows. User ids are stored as text:
    // a handful of rows per user, never joined with messages, so the compact
    // uid keys would buy nothing here.
    description: 'web push subscriptions, push preferences',
    sql: `
CREATE TABLE web_push_subscriptions (
  endpoint TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX web_push_subscriptions_of_user ON web_push_subscriptions(user_id, created_at);
CREATE TABLE push_preferences (
  user_id TEXT PRIMARY KEY,
  preview TEXT NOT NULL
);
`,
  },
  {
    version: 9,
    // A member's own settings for a conversation (muted, pinned, the unsent
    // draft) live on the member row, so they are stamped with the commit's
    // version and reach the member's other devices through sync exactly like
    // the read position. 0 and '' mean "not set": NOT NULL keeps one
    // spelling of that, and existing rows get it without a rewrite.
    description: 'member settings: muted until, pinned at, draft',
    sql: `
ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN pinned_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN draft TEXT NOT NULL DEFAULT '';
`,
  },
  {
    version: 10,
    // Full-text search (services/search.ts). The domain indexes words it has
    // already folded and split (@parley/protocol search-text.ts), the same
    // words it gives PostgreSQL, so FTS5 only compares them: unicode61 with
    // remove_diacritics 0, because folding again here would make SQLite
    // match what PostgreSQL does not (unicode61 also strips the stroke from
    // "ø"). Not the trigram tokenizer: it matches inside words but never a
    // query under 3 characters, which leaves out most Chinese and Japanese
    // words; the domain indexes those scripts a character at a time instead
    // and matches a query's characters as a phrase. Contentless (the text is
    // in messages) with contentless_delete, so a message can leave the index.
    // The rowid is the message's mid. Existing user messages of direct and
    // group conversations are indexed here, as the domain indexes new ones.
    description: 'full-text message search',
    sql: `
CREATE VIRTUAL TABLE message_search USING fts5(words, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0');
`,
    backfill: (db) => {
      const USER = 1;
      const ROOM = 3;
      const page = db.prepare<[number, number, number], { mid: number; text: string | null; content: Buffer | null }>(
        'SELECT m.mid, m.text, m.content FROM messages m JOIN conversations c ON c.cid = m.cid WHERE m.mid > ? AND m.type = ? AND c.kind <> ? ORDER BY m.mid LIMIT 1000',
      );
      const insert = db.prepare('INSERT INTO message_search(rowid, words) VALUES (?, ?)');
      let after = 0;
      for (;;) {
        const rows = page.all(after, USER, ROOM);
        if (rows.length === 0) break;
        for (const row of rows) {
          const content = row.content === null ? undefined : MessageContent.decode(row.content);
          const words = searchIndexWords(searchableText(row.text ?? undefined, content));
          if (words !== '') insert.run(row.mid, words);
        }
        after = (rows[rows.length - 1] as { mid: number }).mid;
      }
    },
  },
  {
    version: 11,
    // Receipts (services/receipts.ts): how far each member's devices have
    // received, beside the read position, so a receipt is derived from two
    // positions per member instead of a row per message per member; and
    // whether a user shares when they read.
    description: 'receipts: delivered positions, read receipts setting',
    sql: `
ALTER TABLE members ADD COLUMN delivered_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN read_receipts_off INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 12,
    // Recall, edit and delete for me (services/amendments.ts). A recalled
    // or edited message is changed in place and stamped; earlier texts of an
    // edited one are kept beside it (its history, dropped on recall); what a
    // user deleted for themselves is a row per user and message, written
    // only when they do, and so is each reaction. A message's mentions are
    // kept on it and, one row per mentioned user (the empty user: everyone),
    // beside it, for counting unread mentions. `recalls` and
    // `hidden_count` change whenever a message stops counting as unread, so
    // counts cached before are not reused.
    description: 'recall, edit, delete for me, reactions, mentions and replies',
    sql: `
ALTER TABLE messages ADD COLUMN recalled_at INTEGER;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE conversations ADD COLUMN recalls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN hidden_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE message_edits (
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  written_at INTEGER NOT NULL
);
CREATE INDEX message_edits_of ON message_edits(cid, seq, written_at);
CREATE TABLE hidden_messages (
  uid INTEGER NOT NULL,
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (uid, cid, seq)
) WITHOUT ROWID;
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE messages ADD COLUMN mention_all INTEGER;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
CREATE TABLE message_mentions (
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  PRIMARY KEY (cid, seq, uid)
) WITHOUT ROWID;
CREATE TABLE reactions (
  cid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  emoji TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (cid, seq, uid, emoji)
) WITHOUT ROWID;
`,
  },
  {
    version: 13,
    // Presence (services/presence.ts): whether a user shows when they are
    // online, and when they were last seen (written once each time a user's
    // last device goes, never per event).
    description: 'presence: hide setting and last seen',
    sql: `
ALTER TABLE users ADD COLUMN hide_presence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
`,
  },
  {
    version: 14,
    // Threads (services/threads.ts): a reply names its root; the root keeps
    // its reply count and newest reply, so a page of messages shows "3
    // replies" without a query; each follower's read position in a thread
    // is a row (followers are the root's sender, those who replied or were
    // mentioned), counted on the member so a list without threads costs
    // nothing. The follow table's columns are named apart from the messages
    // table's so the message filter's SQL can run over their join.
    description: 'threads: replies, reply counts on roots, followers',
    sql: `
ALTER TABLE messages ADD COLUMN thread_root INTEGER;
ALTER TABLE messages ADD COLUMN thread_replies INTEGER;
ALTER TABLE messages ADD COLUMN thread_last_seq INTEGER;
ALTER TABLE messages ADD COLUMN thread_last_at INTEGER;
CREATE INDEX messages_by_thread ON messages (cid, thread_root, seq) WHERE thread_root IS NOT NULL;
ALTER TABLE members ADD COLUMN threads_followed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE thread_follows (
  conv INTEGER NOT NULL,
  follower INTEGER NOT NULL,
  root INTEGER NOT NULL,
  read_seq INTEGER NOT NULL,
  PRIMARY KEY (conv, follower, root)
) WITHOUT ROWID;
CREATE INDEX thread_followers ON thread_follows (conv, root);
`,
  },
  {
    version: 15,
    // Whether muted conversations are left out of the user's badge (views.ts badgeCount).
    description: 'users: badge setting',
    sql: `
ALTER TABLE users ADD COLUMN hide_muted_from_badge INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 16,
    // Store.databaseId: made once, here, so a database upgraded in place keeps
    // its clients' caches and a new or replaced one gets an id of its own.
    // Below 2^53, so it reads back as an exact number.
    description: 'meta: the database identity',
    sql: `
INSERT OR IGNORE INTO meta (key, value) VALUES ('database_id', abs(random() % 9007199254740992));
`,
  },
  {
    version: 17,
    // The main timeline without thread replies (MessageFilter.mainOnly): a
    // summary's last message and the timeline's pages reach the newest main
    // message at once, however many replies a busy thread added after it.
    description: 'messages: the main timeline index',
    sql: `
CREATE INDEX messages_main ON messages (cid, seq) WHERE thread_root IS NULL;
`,
  },
];

/** Brings the database to the latest schema; returns the versions applied. */
export function migrate(db: Database.Database): number[] {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const applied: number[] = [];
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > latest) {
      throw new ParleyError('UNAVAILABLE', `the database has schema version ${current}; this server knows up to ${latest} (a newer release wrote it)`);
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      migration.backfill?.(db);
      applied.push(migration.version);
    }
    if (applied.length > 0) db.pragma(`user_version = ${latest}`);
  }).immediate();
  return applied;
}
