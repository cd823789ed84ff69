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
import { MessageContent, ParleyError, searchIndexWords, searchableText } from '@parley/protocol';
import type pg from 'pg';

interface Migration {
  version: number;
  description: string;
  sql: string;
  /** Runs after `sql`, in the same transaction: for data SQL alone cannot compute. */
  backfill?: (client: pg.ClientBase) => Promise<void>;
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
  {
    version: 6,
    // Full-text search (services/search.ts). The domain hands over words it
    // has already folded and split (@parley/protocol search-text.ts), the
    // same words SQLite's FTS5 index gets, so the 'simple' configuration
    // (no stemming, no stop words, no unaccent extension needed) keeps them
    // as they are and both stores match alike. Results come newest first
    // (by id): for a rare word the GIN index finds the few matches and they
    // are sorted; for a frequent one, walking the id index backwards stops
    // after a page instead of sorting every match (430 ms against under
    // 1 ms for a word in most of 100,000 messages). Existing user messages
    // of direct and group conversations are indexed here, as the domain
    // indexes new ones.
    description: 'full-text message search',
    sql: `
ALTER TABLE messages ADD COLUMN search tsvector;
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_by_id ON messages (id);
`,
    backfill: async (client) => {
      const USER = 1;
      const ROOM = 3;
      let after = 0;
      for (;;) {
        const rows = (
          await client.query<{ id: string; conversation_id: string; seq: string; text: string | null; content: Buffer | null }>(
            `SELECT m.id, m.conversation_id, m.seq, m.text, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.id > $1 AND m.type = $2 AND c.kind <> $3 ORDER BY m.id LIMIT 1000`,
            [after, USER, ROOM],
          )
        ).rows;
        if (rows.length === 0) break;
        const conversations: string[] = [];
        const seqs: string[] = [];
        const words: string[] = [];
        for (const row of rows) {
          const content = row.content === null ? undefined : MessageContent.decode(row.content);
          const indexed = searchIndexWords(searchableText(row.text ?? undefined, content));
          if (indexed === '') continue;
          conversations.push(row.conversation_id);
          seqs.push(row.seq);
          words.push(indexed);
        }
        await client.query(
          `UPDATE messages SET search = to_tsvector('simple', t.words) FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(conversation_id, seq, words)
           WHERE messages.conversation_id = t.conversation_id AND messages.seq = t.seq`,
          [conversations, seqs, words],
        );
        after = Number((rows[rows.length - 1] as { id: string }).id);
      }
      // The words' statistics, so that the planner chooses between the two indexes from the first search on.
      await client.query('ANALYZE messages');
    },
  },
  {
    version: 7,
    // Receipts (services/receipts.ts): how far each member's devices have
    // received, beside the read position, so a receipt is derived from two
    // positions per member instead of a row per message per member; and
    // whether a user shares when they read.
    description: 'receipts: delivered positions, read receipts setting',
    sql: `
ALTER TABLE members ADD COLUMN delivered_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN read_receipts_off boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 8,
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
ALTER TABLE messages ADD COLUMN recalled_at bigint, ADD COLUMN edited_at bigint;
ALTER TABLE conversations ADD COLUMN recalls bigint NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN hidden_count bigint NOT NULL DEFAULT 0;
CREATE TABLE message_edits (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  text text NOT NULL,
  written_at bigint NOT NULL
);
CREATE INDEX message_edits_of ON message_edits (conversation_id, seq, written_at);
CREATE TABLE hidden_messages (
  user_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (user_id, conversation_id, seq)
);
ALTER TABLE messages ADD COLUMN mentions jsonb, ADD COLUMN mention_all boolean, ADD COLUMN reply_to bigint;
CREATE TABLE message_mentions (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (conversation_id, seq, user_id)
);
CREATE TABLE reactions (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  emoji text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (conversation_id, seq, user_id, emoji)
);
`,
  },
  {
    version: 9,
    // Presence (services/presence.ts): whether a user shows when they are
    // online, and when they were last seen (written once each time a user's
    // last device goes, never per event).
    description: 'presence: hide setting and last seen',
    sql: `
ALTER TABLE users ADD COLUMN hide_presence boolean NOT NULL DEFAULT false, ADD COLUMN last_seen_at bigint;
`,
  },
  {
    version: 10,
    // Threads (services/threads.ts): as SQLite migration 14.
    description: 'threads: replies, reply counts on roots, followers',
    sql: `
ALTER TABLE messages ADD COLUMN thread_root bigint, ADD COLUMN thread_replies integer, ADD COLUMN thread_last_seq bigint, ADD COLUMN thread_last_at bigint;
CREATE INDEX messages_by_thread ON messages (conversation_id, thread_root, seq) WHERE thread_root IS NOT NULL;
ALTER TABLE members ADD COLUMN threads_followed integer NOT NULL DEFAULT 0;
CREATE TABLE thread_follows (
  conv text COLLATE "C" NOT NULL,
  follower text COLLATE "C" NOT NULL,
  root bigint NOT NULL,
  read_seq bigint NOT NULL,
  PRIMARY KEY (conv, follower, root)
);
CREATE INDEX thread_followers ON thread_follows (conv, root);
`,
  },
  {
    version: 11,
    // As SQLite migration 15.
    description: 'users: badge setting',
    sql: `
ALTER TABLE users ADD COLUMN hide_muted_from_badge boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 12,
    // As SQLite migration 16.
    description: 'meta: the database identity',
    sql: `
INSERT INTO meta (key, value) VALUES ('database_id', floor(random() * 9007199254740992)::bigint) ON CONFLICT (key) DO NOTHING;
`,
  },
  {
    version: 13,
    // As SQLite migration 17.
    description: 'messages: the main timeline index',
    sql: `
CREATE INDEX messages_main ON messages (conversation_id, seq) WHERE thread_root IS NULL;
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
      await migration.backfill?.(client);
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
