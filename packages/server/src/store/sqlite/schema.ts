/**
 * SQLite schema. Integer surrogate keys keep the message indexes small; the
 * messages table is an ordinary rowid table (appends go to the end of the
 * B-tree) with one index for seq ranges and one for idempotent sends.
 */
export const SCHEMA = `
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
`;
