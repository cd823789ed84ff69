/**
 * The PostgreSQL schema as numbered, ordered migration steps, applied at
 * start. `schema_migrations` records the steps applied; every later step runs
 * in one transaction (PostgreSQL's DDL is transactional), under an advisory
 * lock, so several nodes starting at once upgrade the database exactly once
 * and a database is either fully upgraded or untouched. Steps are never
 * edited once released: a change is a new step.
 *
 * Ids are the domain's strings, in the "C" collation (byte order, as in
 * SQLite): no surrogate keys, so every node reads rows without an id cache.
 * `version` columns hold the sync version of the commit that last wrote the
 * row (postgres-store.ts, "Sync versions").
 */
import { ParleyError } from '@parley/protocol';
import type pg from 'pg';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, conversations, members, messages, rooms, media, development passwords and the sync version',
    sql: `
CREATE TABLE meta (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO meta (key, value) VALUES ('version', 0);

CREATE TABLE users (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  created_at bigint NOT NULL,
  tokens_valid_after bigint NOT NULL DEFAULT 0
);

CREATE TABLE conversations (
  id text COLLATE "C" PRIMARY KEY,
  kind smallint NOT NULL,
  name text NOT NULL,
  subject text NOT NULL,
  peer_a text COLLATE "C" REFERENCES users (id),
  peer_b text COLLATE "C" REFERENCES users (id),
  last_seq bigint NOT NULL DEFAULT 0,
  member_count integer NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  closed_at bigint,
  version bigint NOT NULL
);

CREATE TABLE members (
  user_id text COLLATE "C" NOT NULL REFERENCES users (id),
  conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
  role smallint NOT NULL,
  first_seq bigint NOT NULL,
  left_seq bigint,
  read_seq bigint NOT NULL DEFAULT 0,
  joined_at bigint NOT NULL,
  absences jsonb,
  version bigint NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);
CREATE INDEX members_of_conversation ON members (conversation_id) WHERE left_seq IS NULL;

-- The sender is not a foreign key: system events have none ('').
CREATE TABLE messages (
  conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
  seq bigint NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  sender_id text COLLATE "C" NOT NULL,
  client_msg_id text NOT NULL,
  type smallint NOT NULL,
  text text,
  data bytea,
  visible_to text COLLATE "C" REFERENCES users (id),
  created_at bigint NOT NULL,
  content bytea,
  version bigint NOT NULL,
  PRIMARY KEY (conversation_id, seq),
  UNIQUE (sender_id, client_msg_id)
);

CREATE TABLE dev_credentials (
  user_id text COLLATE "C" PRIMARY KEY REFERENCES users (id),
  password_hash text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE media (
  id text COLLATE "C" PRIMARY KEY,
  owner_id text COLLATE "C" NOT NULL REFERENCES users (id),
  kind text NOT NULL,
  blob text NOT NULL,
  mime text NOT NULL,
  size bigint NOT NULL,
  file_name text NOT NULL,
  width integer NOT NULL,
  height integer NOT NULL,
  duration_ms bigint NOT NULL,
  thumbhash bytea,
  animated boolean NOT NULL,
  variants text[] NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX media_by_owner ON media (owner_id, blob);

CREATE TABLE media_refs (
  media_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (media_id, conversation_id, seq)
);

CREATE TABLE room_people (
  conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
  user_id text COLLATE "C" NOT NULL REFERENCES users (id),
  role smallint NOT NULL,
  muted_until bigint NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);
`,
  },
  {
    version: 2,
    // Each node's durability barrier (postgres-store.ts, "Durability"): a
    // row per node so that nodes flushing at once never wait for each other.
    description: 'flush marks',
    sql: `
CREATE TABLE flush_marks (
  node text PRIMARY KEY,
  at bigint NOT NULL
);
`,
  },
  {
    version: 3,
    // The message feed the webhooks read (Store.messageFeed): every message
    // in commit order, paged by (version, conversation, seq); the cursors
    // its readers keep, one holder at a time; and the host's attributes of
    // a conversation.
    description: 'message feed, feed cursors, conversation attributes',
    sql: `
CREATE INDEX messages_feed ON messages (version, conversation_id, seq);
CREATE TABLE feed_cursors (
  name text PRIMARY KEY,
  version bigint NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  holder text NOT NULL,
  lease_until bigint NOT NULL
);
ALTER TABLE conversations ADD COLUMN attributes jsonb;
`,
  },
  {
    version: 4,
    // Web Push: each browser's subscription, keyed by its endpoint (one
    // browser profile, held by the last user to register it) and listed per
    // user, oldest first, whenever a notification goes out; and a user's own
    // choice of how much a notification shows. The user ids are not foreign
    // keys: SQLite checks none, and both adapters must accept the same rows.
    description: 'web push subscriptions, push preferences',
    sql: `
CREATE TABLE web_push_subscriptions (
  endpoint text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  p256dh text NOT NULL,
  auth text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX web_push_subscriptions_of_user ON web_push_subscriptions (user_id, created_at);
CREATE TABLE push_preferences (
  user_id text COLLATE "C" PRIMARY KEY,
  preview text NOT NULL
);
`,
  },
  {
    version: 5,
    // A member's own settings for a conversation (muted, pinned, the unsent
    // draft) live on the member row, so they take the commit's version and
    // reach the member's other devices through sync exactly like the read
    // position. 0 and '' mean "not set"; a constant default adds the columns
    // without rewriting the table.
    description: 'member settings: muted until, pinned at, draft',
    sql: `
ALTER TABLE members
  ADD COLUMN muted_until bigint NOT NULL DEFAULT 0,
  ADD COLUMN pinned_at bigint NOT NULL DEFAULT 0,
  ADD COLUMN draft text NOT NULL DEFAULT '';
`,
  },
];

/** Creates the schema if needed and brings it to the latest step; returns the versions applied. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<number[]> {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    // One migrator per schema at a time, across every node of the cluster.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`parley-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoteIdentifier(schema)}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)');
    const result = await client.query<{ current: number | null }>('SELECT max(version) AS current FROM schema_migrations');
    const current = result.rows[0]?.current ?? 0;
    if (current > latest) {
      throw new ParleyError('UNAVAILABLE', `the database has schema version ${current}; this server knows up to ${latest} (a newer release wrote it)`);
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.description, Date.now()]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return applied;
}

/** Schema names are checked (PostgresStore) before they reach SQL; quoting keeps them exact. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
