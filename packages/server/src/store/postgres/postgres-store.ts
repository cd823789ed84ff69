/**
 * The cluster Store adapter: PostgreSQL through node-postgres (`pg`), shared
 * by every node. Persistence only; the rules are the services'.
 *
 * Transactions: each `write` unit is one READ COMMITTED transaction on a
 * pooled connection. `lockConversation` is `SELECT … FOR NO KEY UPDATE`, so
 * units that assign seqs in one conversation queue behind each other on any
 * node, while foreign-key checks (which take KEY SHARE) never wait on them.
 * A unit that meets a deadlock or a serialization failure is run again from
 * the start (it only ever touched its `tx`); any other failure rolls it back.
 *
 * Sync versions: a version must say "everything committed up to here", so it
 * has to follow commit order, which neither sequences nor transaction ids do
 * (a transaction that draws a number early may commit late, and a client that
 * synced past a later number would never see it). So the version is taken
 * last: just before COMMIT a unit bumps the one row `meta.version` and stamps
 * the rows it wrote with the new value, in a single statement. The row lock on
 * `meta` is held until the commit ends, so versions are handed out in commit
 * order and every row stamped with a version at or below one a reader saw is
 * already visible to it. The cost is that commits across the cluster pass the
 * `meta` row one at a time for the length of one statement and one commit
 * (decision 95).
 *
 * Durability: a unit commits with `synchronous_commit = off`, so its commit
 * (and the `meta` lock) does not wait for the disk, and is acknowledged only
 * after a flush that started after it: a tiny synchronous commit on this
 * node's own row of `flush_marks`. The WAL is written in order, so that
 * flush makes every earlier commit durable; one flush serves every unit
 * that committed while the previous one ran (group commit). A unit's
 * effects are visible to readers from its commit on, a moment before they
 * are durable, as in the SQLite store; they are never acknowledged before.
 *
 * Failures: when PostgreSQL cannot be reached, or a connection breaks, or a
 * statement outlives `queryTimeoutMs`, the caller gets UNAVAILABLE and nothing
 * is acknowledged. A COMMIT whose answer was lost may still have committed:
 * retrying the send with its clientMsgId returns the stored message.
 */
import { type MediaKind, MessageContent, ParleyError } from '@parley/protocol';
import pg from 'pg';
import type { MemberRole } from '../../services/rules.js';
import type {
  ConversationKindName,
  ConversationPatch,
  ConversationRow,
  FeedCursor,
  FeedMessage,
  FeedPosition,
  MediaReference,
  MediaRow,
  MemberPatch,
  MemberRow,
  Membership,
  MembershipQuery,
  MessageFilter,
  MessageQuery,
  MessageSearch,
  NewMessage,
  PushPreviewSetting,
  ReactionCount,
  RecentQuery,
  RoomPersonRow,
  Store,
  StoredMessage,
  StoreReader,
  StoreTx,
  TextVersion,
  UserPatch,
  UserRow,
  UserSearch,
  WebPushSubscriptionRow,
  WriteOptions,
} from '../store.js';
import { databaseIdText } from '../store.js';
import { migrate, quoteIdentifier } from './migrations.js';

export interface PostgresStoreOptions {
  /** A postgres:// connection string. */
  url: string;
  /** The schema that holds Parley's tables; created at start. Default "parley". */
  schema?: string;
  /** Connections this node keeps. Default 10. */
  poolSize?: number;
  /** A statement (or a wait for a connection) that takes longer fails with UNAVAILABLE. Default 10 000 ms. */
  queryTimeoutMs?: number;
  /** Names this node's connections in pg_stat_activity. */
  applicationName?: string;
  /** This node's row in flush_marks. Default: applicationName, else random. */
  nodeId?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Deadlocks and serialization failures: the unit is run again from the start. */
const RETRYABLE_CODES = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 4;

const KIND_TO_INT: Record<ConversationKindName, number> = { direct: 1, group: 2, room: 3 };
const kindFromInt = (value: number): ConversationKindName => (value === 1 ? 'direct' : value === 3 ? 'room' : 'group');
const TYPE_USER = 1;
const TYPE_SYSTEM = 2;
const ROLE_TO_INT: Record<MemberRole, number> = { member: 1, admin: 2, owner: 3 };
const roleFromInt = (value: number): MemberRole => (value === 3 ? 'owner' : value === 2 ? 'admin' : 'member');

/** int8 as a number: seqs, versions and times stay far below 2^53. */
const TYPES = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface UserDbRow {
  id: string;
  name: string;
  created_at: number;
  tokens_valid_after: number;
  read_receipts_off: boolean;
  hide_presence: boolean;
  hide_muted_from_badge: boolean;
  last_seen_at: number | null;
}

interface ConversationDbRow {
  id: string;
  kind: number;
  name: string;
  subject: string;
  peer_a: string | null;
  peer_b: string | null;
  last_seq: number;
  member_count: number;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  attributes: Record<string, string> | null;
  recalls: number;
}

interface MemberDbRow {
  user_id: string;
  conversation_id: string;
  role: number;
  first_seq: number;
  left_seq: number | null;
  read_seq: number;
  joined_at: number;
  absences: Array<[number, number]> | null;
  muted_until: number;
  pinned_at: number;
  draft: string;
  delivered_seq: number;
  hidden_count: number;
  threads_followed: number;
}

interface MessageDbRow {
  id: number;
  conversation_id: string;
  seq: number;
  sender_id: string;
  client_msg_id: string;
  type: number;
  text: string | null;
  data: Buffer | null;
  visible_to: string | null;
  created_at: number;
  content: Buffer | null;
  version: number;
  recalled_at: number | null;
  edited_at: number | null;
  mentions: string[] | null;
  mention_all: boolean | null;
  reply_to: number | null;
  thread_root: number | null;
  thread_replies: number | null;
  thread_last_seq: number | null;
  thread_last_at: number | null;
}

interface MediaDbRow {
  id: string;
  owner_id: string;
  kind: string;
  blob: string;
  mime: string;
  size: number;
  file_name: string;
  width: number;
  height: number;
  duration_ms: number;
  thumbhash: Buffer | null;
  animated: boolean;
  variants: string[];
  created_at: number;
}

interface RoomPersonDbRow {
  conversation_id: string;
  user_id: string;
  role: number;
  muted_until: number;
}

interface WebPushSubscriptionDbRow {
  endpoint: string;
  user_id: string;
  p256dh: string;
  auth: string;
  created_at: number;
}

const USER_COLUMNS = 'id, name, created_at, tokens_valid_after, read_receipts_off, hide_presence, hide_muted_from_badge, last_seen_at';
const CONVERSATION_COLUMNS = 'id, kind, name, subject, peer_a, peer_b, last_seq, member_count, created_at, updated_at, closed_at, attributes, recalls';
const MEMBER_COLUMNS = 'user_id, conversation_id, role, first_seq, left_seq, read_seq, joined_at, absences, muted_until, pinned_at, draft, delivered_seq, hidden_count, threads_followed';
const MESSAGE_COLUMNS = 'id, conversation_id, seq, sender_id, client_msg_id, type, text, data, visible_to, created_at, content, version, recalled_at, edited_at, mentions, mention_all, reply_to, thread_root, thread_replies, thread_last_seq, thread_last_at';

/** SQL of a MessageFilter; null parameters switch a condition off. */
const MESSAGE_FILTER = `conversation_id = $1 AND seq >= $2 AND seq <= $3
  AND ($4::smallint IS NULL OR type = $4)
  AND ($5::text IS NULL OR sender_id <> $5)
  AND ($6::text IS NULL OR visible_to IS NULL OR visible_to = $6)
  AND (NOT $7::boolean OR recalled_at IS NULL)
  AND ($8::text IS NULL OR NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $8 AND h.conversation_id = messages.conversation_id AND h.seq = messages.seq))
  AND ($9::text IS NULL OR EXISTS (SELECT 1 FROM message_mentions mm WHERE mm.conversation_id = messages.conversation_id AND mm.seq = messages.seq AND mm.user_id IN ($9, '')))
  AND ($10::bigint IS NULL OR thread_root = $10)
  AND (NOT $11::boolean OR thread_root IS NULL)`;

/**
 * Every statement, named so that each connection parses it once. Parameters
 * only: no value is ever spliced into SQL text.
 */
const SQL = {
  syncVersion: "SELECT value FROM meta WHERE key = 'version'",
  databaseId: "SELECT value FROM meta WHERE key = 'database_id'",
  userById: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`,
  usersByIds: `SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::text[])`,
  // ILIKE with the backslash escaping the query's own % and _.
  userSearch: `SELECT ${USER_COLUMNS} FROM users WHERE id > $1 AND (id ILIKE $2 OR name ILIKE $2) ORDER BY id LIMIT $3`,
  userCount: 'SELECT count(*)::bigint AS n FROM users',
  userInsert: 'INSERT INTO users (id, name, created_at, tokens_valid_after) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
  userUpdate: `UPDATE users SET name = coalesce($2, name), tokens_valid_after = coalesce($3, tokens_valid_after),
    read_receipts_off = coalesce($4, read_receipts_off), hide_presence = coalesce($5, hide_presence),
    last_seen_at = coalesce($6, last_seen_at), hide_muted_from_badge = coalesce($7, hide_muted_from_badge) WHERE id = $1`,
  sharedMembers: `SELECT DISTINCT theirs.user_id FROM members mine JOIN members theirs ON theirs.conversation_id = mine.conversation_id
    WHERE mine.user_id = $1 AND mine.left_seq IS NULL AND theirs.left_seq IS NULL AND theirs.user_id = ANY($2::text[])`,
  conversationById: `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = $1`,
  conversationLock: `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 FOR NO KEY UPDATE`,
  conversationInsert: `INSERT INTO conversations (id, kind, name, subject, peer_a, peer_b, last_seq, member_count, created_at, updated_at, version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0) ON CONFLICT (id) DO NOTHING`,
  conversationUpdate: `UPDATE conversations SET name = coalesce($2, name), last_seq = coalesce($3, last_seq), updated_at = coalesce($4, updated_at),
    member_count = coalesce($5, member_count), closed_at = coalesce($6, closed_at), attributes = coalesce($7::jsonb, attributes),
    recalls = coalesce($8, recalls) WHERE id = $1`,
  member: `SELECT ${MEMBER_COLUMNS} FROM members WHERE conversation_id = $1 AND user_id = $2`,
  // The member's own settings are left out: a fresh membership has none, and a rejoin keeps what the member chose before.
  memberPut: `INSERT INTO members (user_id, conversation_id, role, first_seq, left_seq, read_seq, joined_at, absences, version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 0)
    ON CONFLICT (user_id, conversation_id) DO UPDATE SET role = excluded.role, first_seq = excluded.first_seq, left_seq = excluded.left_seq,
      read_seq = excluded.read_seq, joined_at = excluded.joined_at, absences = excluded.absences`,
  memberUpdate: `UPDATE members SET role = coalesce($3, role), left_seq = coalesce($4, left_seq), muted_until = coalesce($5, muted_until),
    pinned_at = coalesce($6, pinned_at), draft = coalesce($7, draft), hidden_count = coalesce($8, hidden_count) WHERE conversation_id = $1 AND user_id = $2`,
  memberRaiseRead: 'UPDATE members SET read_seq = $3 WHERE conversation_id = $1 AND user_id = $2 AND read_seq < $3',
  messageRecall: `UPDATE messages SET text = NULL, data = NULL, content = NULL, search = NULL, recalled_at = $3
    WHERE conversation_id = $1 AND seq = $2 AND recalled_at IS NULL`,
  messageEdit: `UPDATE messages SET text = $3, edited_at = $4, search = to_tsvector('simple', $5::text)
    WHERE conversation_id = $1 AND seq = $2 AND recalled_at IS NULL`,
  // The text being replaced, stamped with when it was written.
  textVersionKeep: `INSERT INTO message_edits (conversation_id, seq, text, written_at)
    SELECT conversation_id, seq, text, coalesce(edited_at, created_at) FROM messages WHERE conversation_id = $1 AND seq = $2 AND text IS NOT NULL`,
  textVersionsDrop: 'DELETE FROM message_edits WHERE conversation_id = $1 AND seq = $2',
  textVersions: 'SELECT text, written_at FROM message_edits WHERE conversation_id = $1 AND seq = $2 ORDER BY written_at',
  hiddenInsert: 'INSERT INTO hidden_messages (user_id, conversation_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  reactionInsert: 'INSERT INTO reactions (conversation_id, seq, user_id, emoji, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
  reactionDelete: 'DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2 AND user_id = $3 AND emoji = $4',
  reactionsDrop: 'DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2',
  messageExtras: 'UPDATE messages SET mentions = $3::jsonb, mention_all = $4, reply_to = $5, thread_root = $6 WHERE conversation_id = $1 AND seq = $2',
  // '' is no user: it stands for everyone.
  mentionsInsert: `INSERT INTO message_mentions (conversation_id, seq, user_id) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`,
  reactionsIn: `SELECT seq, emoji, count(*)::int AS n, bool_or(user_id = $4) AS mine FROM reactions WHERE conversation_id = $1 AND seq BETWEEN $2 AND $3
    GROUP BY seq, emoji ORDER BY seq, n DESC, min(at), emoji`,
  hiddenSeqs: 'SELECT seq FROM hidden_messages WHERE user_id = $1 AND conversation_id = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq',
  memberRaiseDelivered: 'UPDATE members SET delivered_seq = $3 WHERE conversation_id = $1 AND user_id = $2 AND delivered_seq < $3 AND left_seq IS NULL',
  sendersBetween: `SELECT DISTINCT sender_id FROM messages WHERE conversation_id = $1 AND seq BETWEEN $2 AND $3 AND type = $4 AND sender_id <> '' LIMIT $5`,
  activeMembers: `SELECT ${MEMBER_COLUMNS} FROM members WHERE conversation_id = $1 AND left_seq IS NULL`,
  activeMemberCount: 'SELECT count(*)::bigint AS n FROM members WHERE conversation_id = $1 AND left_seq IS NULL',
  pinnedCount: 'SELECT count(*)::bigint AS n FROM members WHERE user_id = $1 AND left_seq IS NULL AND pinned_at > 0',
  memberships: `SELECT m.user_id, m.conversation_id, m.role, m.first_seq, m.left_seq, m.read_seq, m.joined_at, m.absences, m.muted_until, m.pinned_at, m.draft, m.delivered_seq, m.hidden_count, m.threads_followed,
      c.id, c.kind, c.name, c.subject, c.peer_a, c.peer_b, c.last_seq, c.member_count, c.created_at, c.updated_at, c.closed_at, c.attributes, c.recalls
    FROM members m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.user_id = $1 AND ($2::bigint IS NULL OR c.version > $2 OR m.version > $2)
      AND (NOT $3::boolean OR coalesce(m.left_seq, c.last_seq) > m.read_seq OR m.threads_followed > 0)`,
  messageByClientId: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_msg_id = $2`,
  // A row comparison the (version, conversation_id, seq) index serves as a range.
  messageFeed: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (version, conversation_id, seq) > ($1, $2, $3) ORDER BY version, conversation_id, seq LIMIT $4`,
  // Taken when new, held by its holder, or lapsed; else no row comes back.
  // ON CONFLICT DO UPDATE locks the row and checks WHERE on its latest version.
  feedCursorClaim: `INSERT INTO feed_cursors AS f (name, version, conversation_id, seq, holder, lease_until) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
      WHERE f.holder = excluded.holder OR f.lease_until < $7
    RETURNING version, conversation_id, seq`,
  feedCursorSave: 'UPDATE feed_cursors SET version = $3, conversation_id = $4, seq = $5 WHERE name = $1 AND holder = $2',
  webPushPut: `INSERT INTO web_push_subscriptions (endpoint, user_id, p256dh, auth, created_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at`,
  // A null user id switches the holder check off.
  webPushDelete: 'DELETE FROM web_push_subscriptions WHERE endpoint = $1 AND ($2::text IS NULL OR user_id = $2)',
  webPushOf: 'SELECT endpoint, user_id, p256dh, auth, created_at FROM web_push_subscriptions WHERE user_id = $1 ORDER BY created_at, endpoint',
  pushPreview: 'SELECT preview FROM push_preferences WHERE user_id = $1',
  pushPreviewSet: 'INSERT INTO push_preferences (user_id, preview) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET preview = excluded.preview',
  pushPreviewDelete: 'DELETE FROM push_preferences WHERE user_id = $1',
  // DO NOTHING keeps the transaction usable: a repeated clientMsgId is an
  // answer (CONFLICT), not a failed statement that would end the unit.
  messageInsert: `INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, type, text, data, visible_to, created_at, content, version, search)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, to_tsvector('simple', $11::text)) ON CONFLICT DO NOTHING RETURNING id`,
  // The GIN index finds the matches of a rare word, the id index walked
  // backwards those of a frequent one (the planner picks by the words'
  // statistics, so the statement is planned per call); the readable ranges (data, see MessageSearch) are checked
  // beside the match, so a page is never short while more readable matches
  // exist.
  messageSearch: `SELECT ${MESSAGE_COLUMNS} FROM messages m
    WHERE m.search @@ to_tsquery('simple', $1) AND m.id < $5
      AND EXISTS (SELECT 1 FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS r(conversation_id, low, high)
                  WHERE r.conversation_id = m.conversation_id AND m.seq BETWEEN r.low AND r.high)
      AND ($6::smallint IS NULL OR m.type = $6)
      AND ($7::text IS NULL OR m.visible_to IS NULL OR m.visible_to = $7)
      AND ($9::text IS NULL OR NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $9 AND h.conversation_id = m.conversation_id AND h.seq = m.seq))
    ORDER BY m.id DESC LIMIT $8`,
  messageSeqTaken: 'SELECT 1 FROM messages WHERE conversation_id = $1 AND seq = $2',
  messagesAscending: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${MESSAGE_FILTER} ORDER BY seq LIMIT $12`,
  messagesDescending: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${MESSAGE_FILTER} ORDER BY seq DESC LIMIT $12`,
  // mainOnly: the literal condition lets the planner walk the main timeline's
  // partial index (messages_main), so thread replies are never stepped over.
  mainAscending: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE thread_root IS NULL AND ${MESSAGE_FILTER} ORDER BY seq LIMIT $12`,
  mainDescending: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE thread_root IS NULL AND ${MESSAGE_FILTER} ORDER BY seq DESC LIMIT $12`,
  messagesRecent: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq DESC LIMIT $4`,
  messageCount: `SELECT count(*)::bigint AS n FROM messages WHERE ${MESSAGE_FILTER}`,
  mainCount: `SELECT count(*)::bigint AS n FROM messages WHERE thread_root IS NULL AND ${MESSAGE_FILTER}`,
  followedReplyCount: `SELECT count(*)::bigint AS n FROM thread_follows f JOIN messages ON messages.conversation_id = f.conv AND messages.thread_root = f.root AND messages.seq > f.read_seq
    WHERE f.conv = $1 AND f.follower = $12 AND ${MESSAGE_FILTER}`,
  threadFollows: 'SELECT root, read_seq FROM thread_follows WHERE conv = $1 AND follower = $2',
  threadFollowers: 'SELECT follower FROM thread_follows WHERE conv = $1 AND root = $2 ORDER BY read_seq DESC, follower LIMIT $3',
  threadReplyAdd: `UPDATE messages SET thread_replies = coalesce(thread_replies, 0) + 1, thread_last_seq = greatest(coalesce(thread_last_seq, 0), $3), thread_last_at = $4
    WHERE conversation_id = $1 AND seq = $2`,
  threadFollow: 'INSERT INTO thread_follows (conv, follower, root, read_seq) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
  threadFollowCounted: 'UPDATE members SET threads_followed = threads_followed + 1 WHERE conversation_id = $1 AND user_id = $2',
  threadReadRaise: 'UPDATE thread_follows SET read_seq = $4 WHERE conv = $1 AND follower = $2 AND root = $3 AND read_seq < $4',
  passwordHash: 'SELECT password_hash FROM dev_credentials WHERE user_id = $1',
  passwordInsert: 'INSERT INTO dev_credentials (user_id, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING',
  passwordReplace: `INSERT INTO dev_credentials (user_id, password_hash, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, created_at = excluded.created_at`,
  media: 'SELECT * FROM media WHERE id = $1',
  ownMedia: 'SELECT * FROM media WHERE owner_id = $1 AND blob = $2 AND kind = $3 LIMIT 1',
  mediaUsage: 'SELECT coalesce(sum(size), 0)::bigint AS n FROM media WHERE owner_id = $1',
  mediaInsert: `INSERT INTO media (id, owner_id, kind, blob, mime, size, file_name, width, height, duration_ms, thumbhash, animated, variants, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
  mediaRefs: 'SELECT conversation_id, seq FROM media_refs WHERE media_id = $1 LIMIT $2',
  mediaRefInsert: 'INSERT INTO media_refs (media_id, conversation_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  roomPerson: 'SELECT * FROM room_people WHERE conversation_id = $1 AND user_id = $2',
  roomPeople: 'SELECT * FROM room_people WHERE conversation_id = $1',
  roomPersonPut: `INSERT INTO room_people (conversation_id, user_id, role, muted_until) VALUES ($1, $2, $3, $4)
    ON CONFLICT (conversation_id, user_id) DO UPDATE SET role = excluded.role, muted_until = excluded.muted_until`,
  roomPersonDelete: 'DELETE FROM room_people WHERE conversation_id = $1 AND user_id = $2',
  flushMark: 'INSERT INTO flush_marks (node, at) VALUES ($1, $2) ON CONFLICT (node) DO UPDATE SET at = excluded.at',
  // The commit's version, drawn last and stamped on what the unit wrote (see
  // the file comment). One statement: the meta row is held for one round trip.
  stamp: `WITH v AS (UPDATE meta SET value = value + 1 WHERE key = 'version' RETURNING value),
    c AS (UPDATE conversations SET version = (SELECT value FROM v) WHERE id = ANY($1::text[])),
    m AS (UPDATE members SET version = (SELECT value FROM v) FROM unnest($2::text[], $3::text[]) AS t(cid, uid)
          WHERE members.conversation_id = t.cid AND members.user_id = t.uid),
    g AS (UPDATE messages SET version = (SELECT value FROM v) FROM unnest($4::text[], $5::bigint[]) AS t(cid, seq)
          WHERE messages.conversation_id = t.cid AND messages.seq = t.seq)
    SELECT value FROM v`,
} as const;

type StatementName = keyof typeof SQL;

/** Something that runs statements: the pool (outside units) or a unit's connection. */
interface Queryable {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * A unit's place in the queue for one conversation on this node
 * (WriteOptions.order): it starts (takes a connection, then the
 * conversation's lock) only once the unit before it committed or failed, so
 * the conversation's units commit in request order and units waiting their
 * turn hold no connection. When the one before failed with an error its
 * sender will retry (UNAVAILABLE: the database was out of reach, or too
 * slow), this unit fails the same way instead of taking the lock: committing
 * it first would put a device's later message before the earlier one it is
 * about to send again.
 */
interface Turn {
  /** Settles with how the unit before this one ended. */
  previous: Promise<TurnOutcome>;
  /** Lets the next unit in. The first call counts. */
  pass: (outcome: TurnOutcome) => void;
}

/** 'retry': the unit failed with a retryable error before committing. */
type TurnOutcome = 'done' | 'retry';

export class PostgresStore implements Store {
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly reader: PostgresReader;
  /** Per conversation id, the latest turn handed out (the queue's tail). */
  private readonly lockTails = new Map<string, Promise<TurnOutcome>>();

  private readonly flusher: WalFlusher;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly flushPool: pg.Pool,
    nodeId: string,
  ) {
    this.reader = new PostgresReader((name, values) => run(pool, name, values));
    this.flusher = new WalFlusher(flushPool, nodeId);
  }

  /** Connects, creates the schema and applies pending migrations. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = options.schema ?? 'parley';
    if (!SCHEMA_NAME.test(schema)) throw new ParleyError('INVALID_ARGUMENT', `schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME}`);
    const timeout = options.queryTimeoutMs ?? 10_000;
    const poolConfig: pg.PoolConfig = {
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: options.applicationName ?? 'parley',
      options: `-c search_path=${quoteIdentifier(schema)}`,
      types: TYPES,
    };
    const pool = new pg.Pool(poolConfig);
    // An idle connection that breaks is dropped by the pool; without a
    // listener the error would end the process.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect().catch((error: unknown) => {
        // For the operator starting the node: say what PostgreSQL (or the network) said.
        throw new ParleyError('UNAVAILABLE', `cannot connect to PostgreSQL: ${(error as Error | undefined)?.message ?? String(error)}`, { cause: error });
      });
      try {
        await migrate(client, schema);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    // The flushes have a connection of their own: they must never queue behind the units they make durable.
    const flushPool = new pg.Pool({ ...poolConfig, max: 1 });
    flushPool.on('error', () => undefined);
    return new PostgresStore(pool, flushPool, options.nodeId ?? options.applicationName ?? `node-${Math.random().toString(36).slice(2, 10)}`);
  }

  // ---- transactions ----

  write<T>(unit: (tx: StoreTx) => Promise<T>, options?: WriteOptions): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    // The turn is taken now, synchronously: request order is call order.
    const turn = options?.order === undefined ? undefined : this.takeTurn(options.order);
    const running = this.runUnit(unit, turn);
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  private takeTurn(conversationId: string): Turn {
    const previous = this.lockTails.get(conversationId) ?? Promise.resolve<TurnOutcome>('done');
    let pass!: (outcome: TurnOutcome) => void;
    const mine = new Promise<TurnOutcome>((resolve) => {
      pass = resolve;
    });
    this.lockTails.set(conversationId, mine);
    // The last turn forgets its queue once passed, so the map stays as small as the conversations being written.
    void mine.then(() => {
      if (this.lockTails.get(conversationId) === mine) this.lockTails.delete(conversationId);
    });
    return { previous, pass };
  }

  private async runUnit<T>(unit: (tx: StoreTx) => Promise<T>, turn: Turn | undefined): Promise<T> {
    let value: T;
    try {
      value = await this.commitUnit(unit, turn);
      turn?.pass('done');
    } catch (error) {
      turn?.pass(error instanceof ParleyError && error.retryable ? 'retry' : 'done');
      throw error;
    }
    // The connection is back in the pool by now: waiting for the disk holds none.
    await this.flusher.durable();
    return value;
  }

  /** Runs the unit in a transaction and commits it (not yet durable: see runUnit). */
  private async commitUnit<T>(unit: (tx: StoreTx) => Promise<T>, turn: Turn | undefined): Promise<T> {
    if (turn !== undefined && (await turn.previous) === 'retry') {
      throw new ParleyError('UNAVAILABLE', 'an earlier write to this conversation failed; send again');
    }
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect().catch((error: unknown) => {
        throw unavailable(error);
      });
      const tx = new PostgresTx(client);
      let broken: unknown;
      // A connection that breaks between statements reports it as an event;
      // the next statement fails with it anyway, so the event is only noted.
      const noteBreak = (error: unknown) => {
        broken ??= error;
      };
      client.on('error', noteBreak);
      try {
        // One round trip: the simple protocol takes both statements at once.
        await client.query('BEGIN; SET LOCAL synchronous_commit = off');
        const value = await unit(tx);
        tx.end();
        const written = tx.written;
        await run(client, 'stamp', [[...written.conversations], written.memberConversations, written.memberUsers, written.messageConversations, written.messageSeqs]);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        tx.end();
        if (isConnectionFailure(error)) broken = error;
        else await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
        if (attempt < MAX_ATTEMPTS && RETRYABLE_CODES.has(pgCode(error) ?? '')) continue;
        throw translate(error);
      } finally {
        client.off('error', noteBreak);
        // A connection in an unknown state is closed, never handed out again.
        client.release(broken === undefined ? undefined : toError(broken));
      }
    }
  }

  // ---- reads outside units: each sees what was committed when it ran ----

  private read<T>(fn: (reader: PostgresReader) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    return fn(this.reader).catch((error: unknown) => {
      throw translate(error);
    });
  }

  getUser(id: string) { return this.read((r) => r.getUser(id)); }
  getUsers(ids: readonly string[]) { return this.read((r) => r.getUsers(ids)); }
  searchUsers(search: UserSearch) { return this.read((r) => r.searchUsers(search)); }
  countUsers() { return this.read((r) => r.countUsers()); }
  getConversation(id: string) { return this.read((r) => r.getConversation(id)); }
  getMember(conversationId: string, userId: string) { return this.read((r) => r.getMember(conversationId, userId)); }
  activeMembers(conversationId: string) { return this.read((r) => r.activeMembers(conversationId)); }
  senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number) { return this.read((r) => r.senderIdsBetween(conversationId, fromSeq, toSeq, limit)); }
  textVersions(conversationId: string, seq: number) { return this.read((r) => r.textVersions(conversationId, seq)); }
  hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number) { return this.read((r) => r.hiddenSeqs(userId, conversationId, fromSeq, toSeq)); }
  reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string) { return this.read((r) => r.reactionsIn(conversationId, fromSeq, toSeq, readerId)); }
  countActiveMembers(conversationId: string) { return this.read((r) => r.countActiveMembers(conversationId)); }
  countPinned(userId: string) { return this.read((r) => r.countPinned(userId)); }
  membershipsOf(userId: string, query?: MembershipQuery) { return this.read((r) => r.membershipsOf(userId, query)); }
  messageByClientId(senderId: string, clientMsgId: string) { return this.read((r) => r.messageByClientId(senderId, clientMsgId)); }
  listMessages(query: MessageQuery) { return this.read((r) => r.listMessages(query)); }
  recentMessages(query: RecentQuery) { return this.read((r) => r.recentMessages(query)); }
  countMessages(filter: MessageFilter) { return this.read((r) => r.countMessages(filter)); }
  countFollowedReplies(filter: MessageFilter, followerId: string) { return this.read((r) => r.countFollowedReplies(filter, followerId)); }
  threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]) { return this.read((r) => r.threadFollows(conversationId, userId, rootSeqs)); }
  threadFollowers(conversationId: string, rootSeq: number, limit: number) { return this.read((r) => r.threadFollowers(conversationId, rootSeq, limit)); }
  syncVersion() { return this.read((r) => r.syncVersion()); }
  getPasswordHash(userId: string) { return this.read((r) => r.getPasswordHash(userId)); }
  getMedia(id: string) { return this.read((r) => r.getMedia(id)); }
  findOwnMedia(ownerId: string, blobKey: string, kind: MediaKind) { return this.read((r) => r.findOwnMedia(ownerId, blobKey, kind)); }
  mediaUsage(ownerId: string) { return this.read((r) => r.mediaUsage(ownerId)); }
  mediaReferences(mediaId: string, limit: number) { return this.read((r) => r.mediaReferences(mediaId, limit)); }
  roomPerson(conversationId: string, userId: string) { return this.read((r) => r.roomPerson(conversationId, userId)); }
  roomPeople(conversationId: string) { return this.read((r) => r.roomPeople(conversationId)); }

  /**
   * Only whole commits are ever visible: a unit's rows get their version in
   * one statement (`stamp`), and a version is visible only once every lower
   * one is (decision 95). A commit is visible a moment before the flush
   * that makes it durable, though, and the webhooks must not post a message
   * that a crash could still take back (its seq would go to another one):
   * rows come back only after a flush that started after they were read.
   */
  async messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]> {
    const messages = await this.read((r) => r.messageFeed(after, limit));
    if (messages.length > 0) await this.flusher.durable();
    return messages;
  }

  databaseId(): Promise<string> {
    return this.read(async () => databaseIdText((await run<{ value: number }>(this.pool, 'databaseId', [])).rows[0]?.value));
  }

  // ---- feed cursors ----
  // Single autocommit statements outside any unit, on a pool connection:
  // units lower synchronous_commit only with SET LOCAL, so these commit with
  // the server's setting (on, as the flush marks need too) and are durable
  // when they resolve. Not units: renewing a lease must not take a sync
  // version. Two claims at once are one upsert each: the second waits for
  // the first's row (or its insert) and then sees its holder and lease.

  claimFeedCursor(name: string, holder: string, now: number, leaseMs: number, start: FeedPosition): Promise<FeedCursor | undefined> {
    return this.read(async () => {
      const values = [name, start.version, start.conversationId, start.seq, holder, now + leaseMs, now];
      const row = (await run<{ version: number; conversation_id: string; seq: number }>(this.pool, 'feedCursorClaim', values)).rows[0];
      return row === undefined ? undefined : { position: { version: row.version, conversationId: row.conversation_id, seq: row.seq } };
    });
  }

  saveFeedCursor(name: string, holder: string, position: FeedPosition): Promise<boolean> {
    return this.read(async () => {
      const result = await run(this.pool, 'feedCursorSave', [name, holder, position.version, position.conversationId, position.seq]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  // ---- Web Push subscriptions and preferences ----
  // Autocommit statements on a pool connection, like the cursors (see
  // there): durable when they resolve, and no sync version taken, as they
  // change nothing a sync carries.

  putWebPushSubscription(row: WebPushSubscriptionRow): Promise<void> {
    return this.read(async () => {
      await run(this.pool, 'webPushPut', [row.endpoint, row.userId, row.p256dh, row.auth, row.createdAt]);
    });
  }

  deleteWebPushSubscription(endpoint: string, userId?: string): Promise<boolean> {
    return this.read(async () => ((await run(this.pool, 'webPushDelete', [endpoint, userId ?? null])).rowCount ?? 0) > 0);
  }

  webPushSubscriptionsOf(userId: string): Promise<WebPushSubscriptionRow[]> {
    return this.read(async () => {
      const rows = (await run<WebPushSubscriptionDbRow>(this.pool, 'webPushOf', [userId])).rows;
      return rows.map((row) => ({ endpoint: row.endpoint, userId: row.user_id, p256dh: row.p256dh, auth: row.auth, createdAt: row.created_at }));
    });
  }

  setPushPreview(userId: string, preview: PushPreviewSetting | undefined): Promise<void> {
    return this.read(async () => {
      if (preview === undefined) await run(this.pool, 'pushPreviewDelete', [userId]);
      else await run(this.pool, 'pushPreviewSet', [userId, preview]);
    });
  }

  pushPreviewOf(userId: string): Promise<PushPreviewSetting | undefined> {
    return this.read(async () => (await run<{ preview: PushPreviewSetting }>(this.pool, 'pushPreview', [userId])).rows[0]?.preview);
  }

  sharedMembersOf(userId: string, candidates: readonly string[]): Promise<string[]> {
    if (candidates.length === 0) return Promise.resolve([]);
    return this.read(async () => (await run<{ user_id: string }>(this.pool, 'sharedMembers', [userId, candidates])).rows.map((row) => row.user_id));
  }

  searchMessages(search: MessageSearch): Promise<StoredMessage[]> {
    const ranges = search.ranges.filter((range) => range.from <= range.through);
    if (search.phrases.length === 0 || ranges.length === 0 || search.limit <= 0) return Promise.resolve([]);
    return this.read(async () => {
      const values = [
        tsQuery(search.phrases),
        ranges.map((range) => range.conversationId),
        ranges.map((range) => range.from),
        ranges.map((range) => range.through),
        search.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(search.beforeId),
        search.type === undefined ? null : search.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
        search.visibleTo ?? null,
        search.limit,
        search.hiddenFor ?? null,
      ];
      // Unnamed, so planned for these words each time: a prepared plan,
      // made once for any words, would sort every match of a frequent one.
      return (await this.pool.query<MessageDbRow>({ text: SQL.messageSearch, values })).rows.map(toMessage);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Units already running still commit: their callers are waiting for an answer.
    await Promise.allSettled([...this.inFlight]);
    await this.pool.end();
    await this.flushPool.end();
  }
}

/**
 * The durability barrier: `durable()` resolves once a synchronous commit that
 * started after the call has finished, which flushes the WAL past every
 * commit made before the call. Calls that arrive while a flush runs share
 * the next one.
 */
class WalFlusher {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly nodeId: string,
  ) {}

  durable(): Promise<void> {
    if (this.running === undefined) return this.start();
    // The running flush may have begun before the caller's commit: wait for the next.
    this.queued ??= this.running.then(
      () => this.afterRunning(),
      () => this.afterRunning(),
    );
    return this.queued;
  }

  private afterRunning(): Promise<void> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const flush = run(this.pool, 'flushMark', [this.nodeId, Date.now()]).then(
      () => undefined,
      (error: unknown) => {
        throw unavailable(error);
      },
    );
    this.running = flush;
    const done = () => {
      if (this.running === flush) this.running = undefined;
    };
    flush.then(done, done);
    return flush;
  }
}

/** Runs a named statement. */
function run<R extends pg.QueryResultRow>(target: Queryable, name: StatementName, values: unknown[]): Promise<pg.QueryResult<R>> {
  return target.query<R>({ name, text: SQL[name], values });
}

/** The reads, over the pool or over a unit's connection. */
class PostgresReader implements StoreReader {
  constructor(protected readonly query: <R extends pg.QueryResultRow>(name: StatementName, values: unknown[]) => Promise<pg.QueryResult<R>>) {}

  async getUser(id: string): Promise<UserRow | undefined> {
    const row = (await this.query<UserDbRow>('userById', [id])).rows[0];
    return row === undefined ? undefined : toUser(row);
  }

  async getUsers(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return (await this.query<UserDbRow>('usersByIds', [[...new Set(ids)]])).rows.map(toUser);
  }

  async searchUsers(search: UserSearch): Promise<UserRow[]> {
    const pattern = `%${search.text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
    return (await this.query<UserDbRow>('userSearch', [search.afterId ?? '', pattern, search.limit])).rows.map(toUser);
  }

  async countUsers(): Promise<number> {
    return (await this.query<{ n: number }>('userCount', [])).rows[0]?.n ?? 0;
  }

  async getConversation(id: string): Promise<ConversationRow | undefined> {
    const row = (await this.query<ConversationDbRow>('conversationById', [id])).rows[0];
    return row === undefined ? undefined : toConversation(row);
  }

  async getMember(conversationId: string, userId: string): Promise<MemberRow | undefined> {
    const row = (await this.query<MemberDbRow>('member', [conversationId, userId])).rows[0];
    return row === undefined ? undefined : toMember(row);
  }

  async activeMembers(conversationId: string): Promise<MemberRow[]> {
    return (await this.query<MemberDbRow>('activeMembers', [conversationId])).rows.map(toMember);
  }

  async textVersions(conversationId: string, seq: number): Promise<TextVersion[]> {
    return (await this.query<{ text: string; written_at: number }>('textVersions', [conversationId, seq])).rows.map((row) => ({ text: row.text, at: row.written_at }));
  }

  async reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string): Promise<ReactionCount[]> {
    const rows = (await this.query<{ seq: number; emoji: string; n: number; mine: boolean }>('reactionsIn', [conversationId, fromSeq, toSeq, readerId])).rows;
    return rows.map((row) => ({ seq: row.seq, emoji: row.emoji, count: row.n, mine: row.mine }));
  }

  async hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number): Promise<number[]> {
    return (await this.query<{ seq: number }>('hiddenSeqs', [userId, conversationId, fromSeq, toSeq])).rows.map((row) => row.seq);
  }

  async senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<string[]> {
    return (await this.query<{ sender_id: string }>('sendersBetween', [conversationId, fromSeq, toSeq, TYPE_USER, limit])).rows.map((row) => row.sender_id);
  }

  async countActiveMembers(conversationId: string): Promise<number> {
    return (await this.query<{ n: number }>('activeMemberCount', [conversationId])).rows[0]?.n ?? 0;
  }

  async countPinned(userId: string): Promise<number> {
    return (await this.query<{ n: number }>('pinnedCount', [userId])).rows[0]?.n ?? 0;
  }

  async membershipsOf(userId: string, query: MembershipQuery = {}): Promise<Membership[]> {
    const rows = (await this.query<MemberDbRow & ConversationDbRow>('memberships', [userId, query.changedSince ?? null, query.behindOnly === true])).rows;
    return rows.map((row) => ({ member: toMember(row), conversation: toConversation(row) }));
  }

  async messageByClientId(senderId: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    const row = (await this.query<MessageDbRow>('messageByClientId', [senderId, clientMsgId])).rows[0];
    return row === undefined ? undefined : toMessage(row);
  }

  async listMessages(query: MessageQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0) return [];
    const descending = query.order === 'desc';
    const statement = query.mainOnly === true ? (descending ? 'mainDescending' : 'mainAscending') : descending ? 'messagesDescending' : 'messagesAscending';
    return (await this.query<MessageDbRow>(statement, [...filterValues(query), query.limit])).rows.map(toMessage);
  }

  async recentMessages(query: RecentQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0 || query.toSeq <= query.afterSeq) return [];
    const newestFirst = (await this.query<MessageDbRow>('messagesRecent', [query.conversationId, query.afterSeq, query.toSeq, query.limit])).rows;
    // Versions follow commit order and seqs are assigned under the
    // conversation's lock, so the rows stored after sinceVersion are a run at
    // the top: cut at the first older one.
    const since = query.sinceVersion ?? -1;
    let keep = 0;
    while (keep < newestFirst.length && (newestFirst[keep] as MessageDbRow).version > since) keep++;
    return newestFirst.slice(0, keep).reverse().map(toMessage);
  }

  async countMessages(filter: MessageFilter): Promise<number> {
    return (await this.query<{ n: number }>(filter.mainOnly === true ? 'mainCount' : 'messageCount', filterValues(filter))).rows[0]?.n ?? 0;
  }

  async countFollowedReplies(filter: MessageFilter, followerId: string): Promise<number> {
    return (await this.query<{ n: number }>('followedReplyCount', [...filterValues(filter), followerId])).rows[0]?.n ?? 0;
  }

  async threadFollowers(conversationId: string, rootSeq: number, limit: number): Promise<string[]> {
    return (await this.query<{ follower: string }>('threadFollowers', [conversationId, rootSeq, limit])).rows.map((row) => row.follower);
  }

  async threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]): Promise<Map<number, number>> {
    const wanted = rootSeqs === undefined ? undefined : new Set(rootSeqs);
    const follows = new Map<number, number>();
    for (const row of (await this.query<{ root: number; read_seq: number }>('threadFollows', [conversationId, userId])).rows) {
      if (wanted === undefined || wanted.has(row.root)) follows.set(row.root, row.read_seq);
    }
    return follows;
  }

  async syncVersion(): Promise<number> {
    return (await this.query<{ value: number }>('syncVersion', [])).rows[0]?.value ?? 0;
  }

  async getPasswordHash(userId: string): Promise<string | undefined> {
    return (await this.query<{ password_hash: string }>('passwordHash', [userId])).rows[0]?.password_hash;
  }

  async getMedia(id: string): Promise<MediaRow | undefined> {
    const row = (await this.query<MediaDbRow>('media', [id])).rows[0];
    return row === undefined ? undefined : toMedia(row);
  }

  async findOwnMedia(ownerId: string, blobKey: string, kind: MediaKind): Promise<MediaRow | undefined> {
    const row = (await this.query<MediaDbRow>('ownMedia', [ownerId, blobKey, kind])).rows[0];
    return row === undefined ? undefined : toMedia(row);
  }

  async mediaUsage(ownerId: string): Promise<number> {
    return (await this.query<{ n: number }>('mediaUsage', [ownerId])).rows[0]?.n ?? 0;
  }

  async mediaReferences(mediaId: string, limit: number): Promise<MediaReference[]> {
    const rows = (await this.query<{ conversation_id: string; seq: number }>('mediaRefs', [mediaId, limit])).rows;
    return rows.map((row) => ({ conversationId: row.conversation_id, seq: row.seq }));
  }

  async roomPerson(conversationId: string, userId: string): Promise<RoomPersonRow | undefined> {
    const row = (await this.query<RoomPersonDbRow>('roomPerson', [conversationId, userId])).rows[0];
    return row === undefined ? undefined : toRoomPerson(row);
  }

  async roomPeople(conversationId: string): Promise<RoomPersonRow[]> {
    return (await this.query<RoomPersonDbRow>('roomPeople', [conversationId])).rows.map(toRoomPerson);
  }

  async messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]> {
    if (limit <= 0) return [];
    const rows = (await this.query<MessageDbRow>('messageFeed', [after.version, after.conversationId, after.seq, limit])).rows;
    return rows.map((row) => ({ ...toMessage(row), version: row.version }));
  }
}

/** What a unit wrote, to be stamped with its commit's version. */
interface Written {
  conversations: Set<string>;
  memberConversations: string[];
  memberUsers: string[];
  messageConversations: string[];
  messageSeqs: number[];
}

/**
 * The `tx` a unit gets: reads and writes on the unit's connection. It stops
 * working when its unit ends, so a unit that leaks it cannot write into a
 * later transaction.
 */
class PostgresTx extends PostgresReader implements StoreTx {
  readonly written: Written = { conversations: new Set(), memberConversations: [], memberUsers: [], messageConversations: [], messageSeqs: [] };
  private readonly state: { live: boolean };

  constructor(client: pg.PoolClient) {
    const state = { live: true };
    super((name, values) => {
      if (!state.live) return Promise.reject(new ParleyError('INTERNAL', 'transaction already ended'));
      return run(client, name, values);
    });
    this.state = state;
  }

  end(): void {
    this.state.live = false;
  }

  private memberWritten(conversationId: string, userId: string): void {
    this.written.memberConversations.push(conversationId);
    this.written.memberUsers.push(userId);
  }

  async lockConversation(id: string): Promise<ConversationRow | undefined> {
    const row = (await this.query<ConversationDbRow>('conversationLock', [id])).rows[0];
    return row === undefined ? undefined : toConversation(row);
  }

  async insertUser(row: UserRow): Promise<void> {
    const result = await this.query('userInsert', [row.id, row.name, row.createdAt, row.tokensValidAfter]);
    if (result.rowCount === 0) throw new ParleyError('CONFLICT', `user ${row.id} exists`);
  }

  async updateUser(id: string, patch: UserPatch): Promise<void> {
    const result = await this.query('userUpdate', [
      id,
      patch.name ?? null,
      patch.tokensValidAfter ?? null,
      patch.readReceiptsOff ?? null,
      patch.hidePresence ?? null,
      patch.lastSeenAt ?? null,
      patch.hideMutedFromBadge ?? null,
    ]);
    if (result.rowCount === 0) throw new ParleyError('NOT_FOUND', `unknown user ${id}`);
  }

  async insertConversation(row: ConversationRow): Promise<boolean> {
    const values = [row.id, KIND_TO_INT[row.kind], row.name, row.subject, row.peerIds?.[0] ?? null, row.peerIds?.[1] ?? null, row.lastSeq, row.memberCount, row.createdAt, row.updatedAt];
    const inserted = (await this.query('conversationInsert', values).catch(notFoundOnMissingReference)).rowCount === 1;
    if (inserted) this.written.conversations.add(row.id);
    return inserted;
  }

  async updateConversation(id: string, patch: ConversationPatch): Promise<void> {
    const attributes = patch.attributes === undefined ? null : JSON.stringify(patch.attributes);
    const values = [id, patch.name ?? null, patch.lastSeq ?? null, patch.updatedAt ?? null, patch.memberCount ?? null, patch.closedAt ?? null, attributes, patch.recalls ?? null];
    const result = await this.query('conversationUpdate', values);
    if (result.rowCount === 0) throw new ParleyError('NOT_FOUND', `unknown conversation ${id}`);
    this.written.conversations.add(id);
  }

  async putRoomPerson(row: RoomPersonRow): Promise<void> {
    if (row.role === 'member' && row.mutedUntil === 0) await this.query('roomPersonDelete', [row.conversationId, row.userId]);
    else await this.query('roomPersonPut', [row.conversationId, row.userId, ROLE_TO_INT[row.role], row.mutedUntil]).catch(notFoundOnMissingReference);
  }

  async putMember(row: MemberRow): Promise<void> {
    const absences = row.absences === undefined || row.absences.length === 0 ? null : JSON.stringify(row.absences.map((range) => [range.from, range.through]));
    const values = [row.userId, row.conversationId, ROLE_TO_INT[row.role], row.firstSeq, row.leftSeq ?? null, row.readSeq, row.joinedAt, absences];
    await this.query('memberPut', values).catch(notFoundOnMissingReference);
    this.memberWritten(row.conversationId, row.userId);
  }

  async updateMember(conversationId: string, userId: string, patch: MemberPatch): Promise<void> {
    const role = patch.role === undefined ? null : ROLE_TO_INT[patch.role];
    const values = [conversationId, userId, role, patch.leftSeq ?? null, patch.mutedUntil ?? null, patch.pinnedAt ?? null, patch.draft ?? null, patch.hiddenCount ?? null];
    const result = await this.query('memberUpdate', values);
    if (result.rowCount !== 0) this.memberWritten(conversationId, userId);
  }

  async recallMessage(conversationId: string, seq: number, at: number): Promise<boolean> {
    const changed = ((await this.query('messageRecall', [conversationId, seq, at])).rowCount ?? 0) > 0;
    if (changed) {
      await this.query('textVersionsDrop', [conversationId, seq]);
      await this.query('reactionsDrop', [conversationId, seq]);
    }
    return changed;
  }

  async editMessage(conversationId: string, seq: number, text: string, at: number, searchWords?: string): Promise<boolean> {
    await this.query('textVersionKeep', [conversationId, seq]);
    const words = searchWords === undefined || searchWords === '' ? null : searchWords;
    return ((await this.query('messageEdit', [conversationId, seq, text, at, words])).rowCount ?? 0) > 0;
  }

  async setReaction(conversationId: string, seq: number, userId: string, emoji: string, add: boolean, at: number): Promise<boolean> {
    const result = add ? await this.query('reactionInsert', [conversationId, seq, userId, emoji, at]) : await this.query('reactionDelete', [conversationId, seq, userId, emoji]);
    return (result.rowCount ?? 0) > 0;
  }

  async hideMessage(userId: string, conversationId: string, seq: number): Promise<boolean> {
    return ((await this.query('hiddenInsert', [userId, conversationId, seq]).catch(notFoundOnMissingReference)).rowCount ?? 0) > 0;
  }

  async raiseDeliveredSeq(conversationId: string, userId: string, seq: number): Promise<void> {
    // No version stamp (memberWritten): no device's view of its conversations shows it.
    await this.query('memberRaiseDelivered', [conversationId, userId, seq]);
  }

  async addThreadReply(conversationId: string, rootSeq: number, replySeq: number, at: number): Promise<void> {
    await this.query('threadReplyAdd', [conversationId, rootSeq, replySeq, at]);
  }

  async followThread(conversationId: string, rootSeq: number, userId: string, readSeq: number): Promise<boolean> {
    const result = await this.query('threadFollow', [conversationId, userId, rootSeq, readSeq]);
    if ((result.rowCount ?? 0) === 0) return false;
    await this.query('threadFollowCounted', [conversationId, userId]);
    this.memberWritten(conversationId, userId);
    return true;
  }

  async raiseThreadRead(conversationId: string, rootSeq: number, userId: string, seq: number): Promise<boolean> {
    const result = await this.query('threadReadRaise', [conversationId, userId, rootSeq, seq]);
    if ((result.rowCount ?? 0) === 0) return false;
    this.memberWritten(conversationId, userId);
    return true;
  }

  async raiseReadSeq(conversationId: string, userId: string, seq: number): Promise<void> {
    const result = await this.query('memberRaiseRead', [conversationId, userId, seq]);
    if (result.rowCount !== 0) this.memberWritten(conversationId, userId);
  }

  async insertMessage(message: NewMessage): Promise<StoredMessage> {
    const values = [
      message.conversationId,
      message.seq,
      message.senderId,
      message.clientMsgId,
      message.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
      message.text ?? null,
      message.data === undefined ? null : toBuffer(message.data),
      message.visibleTo ?? null,
      message.createdAt,
      message.content === undefined ? null : Buffer.from(MessageContent.encode(message.content).finish()),
      message.searchWords === undefined || message.searchWords === '' ? null : message.searchWords,
    ];
    const result = await this.query<{ id: number }>('messageInsert', values).catch(notFoundOnMissingReference);
    const id = result.rows[0]?.id;
    if (id === undefined) {
      const seqTaken = ((await this.query('messageSeqTaken', [message.conversationId, message.seq])).rowCount ?? 0) > 0;
      throw new ParleyError('CONFLICT', seqTaken ? `seq ${message.seq} is taken` : 'clientMsgId was already used');
    }
    this.written.messageConversations.push(message.conversationId);
    this.written.messageSeqs.push(message.seq);
    const stored: StoredMessage = {
      id: String(id),
      conversationId: message.conversationId,
      seq: message.seq,
      senderId: message.senderId,
      clientMsgId: message.clientMsgId,
      type: message.type,
      createdAt: message.createdAt,
    };
    // Absent fields stay absent, exactly as a later read returns them.
    if (message.text !== undefined) stored.text = message.text;
    if (message.data !== undefined) stored.data = message.data;
    if (message.visibleTo !== undefined) stored.visibleTo = message.visibleTo;
    if (message.content !== undefined) stored.content = message.content;
    if (message.mentions !== undefined || message.mentionAll === true || message.replyTo !== undefined || message.threadRoot !== undefined) {
      const mentions = message.mentions === undefined ? null : JSON.stringify(message.mentions);
      const extras = [message.conversationId, message.seq, mentions, message.mentionAll === true ? true : null, message.replyTo ?? null, message.threadRoot ?? null];
      await this.query('messageExtras', extras);
      const mentioned = [...(message.mentions ?? []), ...(message.mentionAll === true ? [''] : [])];
      if (mentioned.length > 0) await this.query('mentionsInsert', [message.conversationId, message.seq, mentioned]);
      if (message.mentions !== undefined) stored.mentions = message.mentions;
      if (message.mentionAll === true) stored.mentionAll = true;
      if (message.replyTo !== undefined) stored.replyTo = message.replyTo;
      if (message.threadRoot !== undefined) stored.threadRoot = message.threadRoot;
    }
    return stored;
  }

  async insertPasswordHash(userId: string, passwordHash: string, createdAt: number): Promise<void> {
    const result = await this.query('passwordInsert', [userId, passwordHash, createdAt]).catch(notFoundOnMissingReference);
    if (result.rowCount === 0) throw new ParleyError('CONFLICT', `${userId} already has a password`);
  }

  async replacePasswordHash(userId: string, passwordHash: string, createdAt: number): Promise<void> {
    await this.query('passwordReplace', [userId, passwordHash, createdAt]).catch(notFoundOnMissingReference);
  }

  async insertMedia(row: MediaRow): Promise<void> {
    const values = [
      row.id,
      row.ownerId,
      row.kind,
      row.blobKey,
      row.mimeType,
      row.size,
      row.fileName,
      row.width,
      row.height,
      row.durationMs,
      row.thumbhash === undefined ? null : toBuffer(row.thumbhash),
      row.animated,
      row.variants,
      row.createdAt,
    ];
    const result = await this.query('mediaInsert', values).catch(notFoundOnMissingReference);
    if (result.rowCount === 0) throw new ParleyError('CONFLICT', `media ${row.id} exists`);
  }

  async insertMediaReference(mediaId: string, reference: MediaReference): Promise<void> {
    await this.query('mediaRefInsert', [mediaId, reference.conversationId, reference.seq]);
  }
}

// ---- row mapping ----

function filterValues(filter: MessageFilter): unknown[] {
  return [
    filter.conversationId,
    filter.fromSeq,
    filter.toSeq,
    filter.type === undefined ? null : filter.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
    filter.excludeSender ?? null,
    filter.visibleTo ?? null,
    filter.unrecalledOnly === true,
    filter.hiddenFor ?? null,
    filter.mentioning ?? null,
    filter.threadRoot ?? null,
    filter.mainOnly === true,
  ];
}

function toUser(row: UserDbRow): UserRow {
  const user: UserRow = { id: row.id, name: row.name, createdAt: row.created_at, tokensValidAfter: row.tokens_valid_after };
  if (row.read_receipts_off) user.readReceiptsOff = true;
  if (row.hide_presence) user.hidePresence = true;
  if (row.hide_muted_from_badge) user.hideMutedFromBadge = true;
  if (row.last_seen_at !== null) user.lastSeenAt = row.last_seen_at;
  return user;
}

function toConversation(row: ConversationDbRow): ConversationRow {
  const conversation: ConversationRow = {
    id: row.id,
    kind: kindFromInt(row.kind),
    name: row.name,
    subject: row.subject,
    lastSeq: row.last_seq,
    memberCount: row.member_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.closed_at !== null) conversation.closedAt = row.closed_at;
  if (row.recalls > 0) conversation.recalls = row.recalls;
  if (row.peer_a !== null && row.peer_b !== null) conversation.peerIds = [row.peer_a, row.peer_b];
  if (row.attributes !== null) conversation.attributes = row.attributes;
  return conversation;
}

function toMember(row: MemberDbRow): MemberRow {
  const member: MemberRow = {
    conversationId: row.conversation_id,
    userId: row.user_id,
    role: roleFromInt(row.role),
    firstSeq: row.first_seq,
    readSeq: row.read_seq,
    joinedAt: row.joined_at,
  };
  if (row.left_seq !== null) member.leftSeq = row.left_seq;
  if (row.absences !== null) member.absences = row.absences.map(([from, through]) => ({ from, through }));
  // 0 and '' mean unset: left out, so a row without settings reads as it did before they existed.
  if (row.muted_until > 0) member.mutedUntil = row.muted_until;
  if (row.pinned_at > 0) member.pinnedAt = row.pinned_at;
  if (row.draft !== '') member.draft = row.draft;
  if (row.delivered_seq > 0) member.deliveredSeq = row.delivered_seq;
  if (row.hidden_count > 0) member.hiddenCount = row.hidden_count;
  if (row.threads_followed > 0) member.threadsFollowed = row.threads_followed;
  return member;
}

/** A bytea as read (a Buffer) seen as the plain bytes the rows hold; no copy. */
function bytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Bytes to write as a bytea parameter (pg wants a Buffer); no copy. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A tsquery for the phrases: each word quoted (so nothing in it is query
 * syntax), a phrase's words side by side, all phrases required, the last
 * word a prefix.
 */
function tsQuery(phrases: MessageSearch['phrases']): string {
  const quote = (word: string) => `'${word.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  const last = phrases.length - 1;
  return phrases
    .map((words, index) => `(${words.map((word, at) => quote(word) + (index === last && at === words.length - 1 ? ':*' : '')).join(' <-> ')})`)
    .join(' & ');
}

function toMessage(row: MessageDbRow): StoredMessage {
  const message: StoredMessage = {
    id: String(row.id),
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    type: row.type === TYPE_SYSTEM ? 'system' : 'user',
    createdAt: row.created_at,
  };
  if (row.text !== null) message.text = row.text;
  if (row.data !== null) message.data = bytes(row.data);
  if (row.visible_to !== null) message.visibleTo = row.visible_to;
  if (row.content !== null) message.content = MessageContent.decode(row.content);
  if (row.recalled_at !== null) message.recalledAt = row.recalled_at;
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  if (row.mentions !== null) message.mentions = row.mentions;
  if (row.mention_all === true) message.mentionAll = true;
  if (row.reply_to !== null) message.replyTo = row.reply_to;
  if (row.thread_root !== null) message.threadRoot = row.thread_root;
  if (row.thread_replies !== null) message.thread = { replies: row.thread_replies, lastSeq: row.thread_last_seq ?? 0, lastAt: row.thread_last_at ?? 0 };
  return message;
}

function toMedia(row: MediaDbRow): MediaRow {
  const media: MediaRow = {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind as MediaKind,
    blobKey: row.blob,
    mimeType: row.mime,
    size: row.size,
    fileName: row.file_name,
    width: row.width,
    height: row.height,
    durationMs: row.duration_ms,
    animated: row.animated,
    variants: row.variants,
    createdAt: row.created_at,
  };
  if (row.thumbhash !== null) media.thumbhash = bytes(row.thumbhash);
  return media;
}

function toRoomPerson(row: RoomPersonDbRow): RoomPersonRow {
  return { conversationId: row.conversation_id, userId: row.user_id, role: roleFromInt(row.role), mutedUntil: row.muted_until };
}

// ---- errors ----

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A row refers to a user or conversation that does not exist (foreign key). */
function notFoundOnMissingReference(error: unknown): never {
  if (pgCode(error) === '23503') {
    const detail = (error as { detail?: string }).detail ?? '';
    throw new ParleyError('NOT_FOUND', detail.includes('users') ? 'unknown user' : 'unknown conversation', { cause: error });
  }
  throw error;
}

/**
 * The database could not be reached, the connection broke or the server gave
 * up waiting: class 08 (connection exception), 57P0x (shutdown, cannot
 * connect now), 53300 (too many connections), the server's timeouts, socket
 * errors, and pg's own "terminated" and client-side timeout errors.
 */
function isConnectionFailure(error: unknown): boolean {
  if (error instanceof ParleyError) return false;
  const code = pgCode(error) ?? '';
  // 57014: a statement timeout; 55P03: a lock timeout; 25P03: an idle-in-transaction timeout.
  if (code.startsWith('08') || code.startsWith('57P') || ['53300', '57014', '55P03', '25P03'].includes(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true;
  const message = String((error as Error | undefined)?.message ?? '');
  return /Connection terminated|timeout|Client has encountered a connection error|not queryable/i.test(message);
}

function unavailable(error: unknown): ParleyError {
  return new ParleyError('UNAVAILABLE', 'the database is unreachable; try again', { cause: error });
}

function translate(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  if (isConnectionFailure(error)) return unavailable(error);
  if (RETRYABLE_CODES.has(pgCode(error) ?? '')) return new ParleyError('UNAVAILABLE', 'the database was too busy; try again', { cause: error });
  return new ParleyError('INTERNAL', 'storage failed', { cause: error });
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
