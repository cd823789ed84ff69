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
import { ParleyError } from '@parley/protocol';

interface Migration {
  version: number;
  description: string;
  sql: string;
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
      applied.push(migration.version);
    }
    if (applied.length > 0) db.pragma(`user_version = ${latest}`);
  }).immediate();
  return applied;
}
