/**
 * The embedded Store adapter: SQLite through better-sqlite3, in WAL mode.
 * Persistence only; the rules are the services'.
 *
 * Group commit: every `write` unit requested in one event-loop turn runs in
 * one transaction, one after another in request order, each inside its own
 * savepoint so that a unit that throws is undone alone. The batch commits
 * once, then (durability 'full') the WAL is flushed off the event loop, and
 * only then do the units' promises resolve, so an acknowledged send is on
 * disk. better-sqlite3 is synchronous: a unit awaiting its `tx` completes
 * within microtasks, so a batch holds the connection only for the CPU time of
 * its statements. Reads that arrive while a batch is open wait for it to end,
 * so nobody sees a unit that may still be undone.
 *
 * Keys are small integers (users.uid, conversations.cid) so that the message
 * indexes stay compact and append-friendly; string ids live once, in the users
 * and conversations tables, and are cached in memory (a cache only: an entry
 * added by a unit that is undone is dropped again).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type MediaKind, MessageContent, ParleyError } from '@parley/protocol';
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
  MembershipQuery,
  Membership,
  MessageFilter,
  MessageQuery,
  MessageSearch,
  ReactionCount,
  RecentQuery,
  RoomPersonRow,
  NewMessage,
  PushPreviewSetting,
  Store,
  StoreTx,
  StoredMessage,
  TextVersion,
  UserPatch,
  UserRow,
  UserSearch,
  WebPushSubscriptionRow,
  WriteOptions,
} from '../store.js';
import { databaseIdText } from '../store.js';
import type { MemberRole } from '../../services/rules.js';
import { migrate } from './migrations.js';
import { CheckpointWorker } from './checkpoint-worker.js';
import { WalSync } from './wal-sync.js';

export interface SqliteStoreOptions {
  /** Database file path. */
  path: string;
  /**
   * 'full' (default): a commit is fsynced before it is acknowledged, so it
   * survives power loss. 'normal': survives a process crash (kill -9) but the
   * last commits may be lost on power loss; cheaper per commit.
   */
  durability?: 'full' | 'normal';
  /** Run WAL checkpoints on a worker thread instead of inside writes. Default true. */
  backgroundCheckpoints?: boolean;
}

interface MessageDbRow {
  mid: number;
  cid: number;
  seq: number;
  sender: number;
  client_msg_id: string;
  type: number;
  text: string | null;
  data: Buffer | null;
  visible_to: number | null;
  created_at: number;
  content: Buffer | null;
  version: number | null;
  recalled_at: number | null;
  edited_at: number | null;
  mentions: string | null;
  mention_all: number | null;
  reply_to: number | null;
  thread_root: number | null;
  thread_replies: number | null;
  thread_last_seq: number | null;
  thread_last_at: number | null;
}

interface MediaDbRow {
  id: string;
  owner: number;
  kind: string;
  blob: string;
  mime: string;
  size: number;
  file_name: string;
  width: number;
  height: number;
  duration_ms: number;
  thumbhash: Buffer | null;
  animated: number;
  variants: string;
  created_at: number;
}

interface ConversationDbRow {
  cid: number;
  id: string;
  kind: number;
  name: string;
  subject: string;
  peer_a: number | null;
  peer_b: number | null;
  last_seq: number;
  member_count: number;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  attributes: string | null;
  recalls: number;
}

interface WebPushSubscriptionDbRow {
  endpoint: string;
  user_id: string;
  p256dh: string;
  auth: string;
  created_at: number;
}

interface RoomPersonDbRow {
  cid: number;
  uid: number;
  role: number;
  muted_until: number;
}

interface MemberDbRow {
  cid: number;
  uid: number;
  role: number;
  first_seq: number;
  left_seq: number | null;
  read_seq: number;
  joined_at: number;
  absences: string | null;
  muted_until: number;
  pinned_at: number;
  draft: string;
  delivered_seq: number;
  hidden_count: number;
  threads_followed: number;
}

interface UserDbRow {
  uid: number;
  id: string;
  name: string;
  created_at: number;
  tokens_valid_after: number;
  read_receipts_off: number;
  hide_presence: number;
  hide_muted_from_badge: number;
  last_seen_at: number | null;
}

interface WriteUnit {
  run: (tx: StoreTx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const KIND_DIRECT = 1;
const KIND_GROUP = 2;
const KIND_ROOM = 3;
const KIND_TO_INT: Record<ConversationKindName, number> = { direct: KIND_DIRECT, group: KIND_GROUP, room: KIND_ROOM };
const kindFromInt = (value: number): ConversationKindName => (value === KIND_DIRECT ? 'direct' : value === KIND_ROOM ? 'room' : 'group');
const TYPE_USER = 1;
const TYPE_SYSTEM = 2;
/** Matches no row: stands in for an unknown user id in filters. */
const NO_ROW = -1;

const ROLE_TO_INT: Record<MemberRole, number> = { member: 1, admin: 2, owner: 3 };
const roleFromInt = (value: number): MemberRole => (value === 3 ? 'owner' : value === 2 ? 'admin' : 'member');

const MEMBERSHIP_COLUMNS = `m.cid, m.uid, m.role, m.first_seq, m.left_seq, m.read_seq, m.joined_at, m.absences, m.muted_until, m.pinned_at, m.draft, m.delivered_seq, m.hidden_count, m.threads_followed,
  c.id, c.kind, c.name, c.subject, c.peer_a, c.peer_b, c.last_seq, c.member_count, c.created_at, c.updated_at, c.closed_at, c.attributes, c.recalls`;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly userUid = new Map<string, number>();
  private readonly uidUser = new Map<number, string>();
  private readonly conversationCid = new Map<string, number>();
  private readonly cidConversation = new Map<number, string>();
  private queue: WriteUnit[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Set while a batch transaction is open; reads outside it wait for this. */
  private batch: Promise<void> | undefined;
  /** The sync version the open batch stamps on rows. */
  private batchVersion = 0;
  /** Cache entries added by the running unit, dropped again if it is undone. */
  private unitCacheLog: Array<() => void> | undefined;
  private readonly checkpointer: CheckpointWorker | undefined;
  /** Set with durability 'full': flushes each committed batch before it is acknowledged. */
  private readonly walSync: WalSync | undefined;

  constructor(options: SqliteStoreOptions) {
    mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in both modes: for 'full', WalSync flushes the WAL off the event
    // loop before any commit is acknowledged (see wal-sync.ts).
    this.db.pragma('synchronous = NORMAL');
    this.walSync = options.durability === 'normal' ? undefined : new WalSync(`${options.path}-wal`);
    this.db.pragma('foreign_keys = OFF');
    this.db.pragma('cache_size = -65536');
    // Keeps the WAL file from staying at its high-water mark after checkpoints.
    this.db.pragma('journal_size_limit = 67108864');
    try {
      migrate(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
    const db = this.db;
    this.statements = {
      // Transaction control as prepared statements: exec() parses its SQL on
      // every call, which cost as much as the message insert itself.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      savepoint: db.prepare('SAVEPOINT unit'),
      release: db.prepare('RELEASE unit'),
      rollbackToSavepoint: db.prepare('ROLLBACK TO unit'),
      metaGet: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      metaSet: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      userById: db.prepare<[string], UserDbRow>('SELECT uid, id, name, created_at, tokens_valid_after, read_receipts_off, hide_presence, hide_muted_from_badge, last_seen_at FROM users WHERE id = ?'),
      // LIKE ignores ASCII case in SQLite; the backslash escapes the query's own % and _.
      userSearch: db.prepare<[string, string, string, number], UserDbRow>(
        "SELECT uid, id, name, created_at, tokens_valid_after, read_receipts_off, hide_presence, hide_muted_from_badge, last_seen_at FROM users WHERE id > ? AND (id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\') ORDER BY id LIMIT ?",
      ),
      userByUid: db.prepare<[number], { id: string }>('SELECT id FROM users WHERE uid = ?'),
      userCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users'),
      userInsert: db.prepare('INSERT INTO users(id, name, created_at, tokens_valid_after) VALUES (?, ?, ?, ?)'),
      userUpdate: db.prepare(
        `UPDATE users SET name = coalesce(?, name), tokens_valid_after = coalesce(?, tokens_valid_after), read_receipts_off = coalesce(?, read_receipts_off),
         hide_presence = coalesce(?, hide_presence), hide_muted_from_badge = coalesce(?, hide_muted_from_badge), last_seen_at = coalesce(?, last_seen_at) WHERE uid = ?`,
      ),
      // Driven by the caller's memberships (the primary key's prefix), probing each candidate's row by the same key.
      sharedMembers: db.prepare<[number, string], { uid: number }>(
        `SELECT DISTINCT theirs.uid FROM members mine JOIN members theirs ON theirs.cid = mine.cid
         WHERE mine.uid = ? AND mine.left_seq IS NULL AND theirs.left_seq IS NULL AND theirs.uid IN (SELECT value FROM json_each(?))`,
      ),
      conversationById: db.prepare<[string], ConversationDbRow>('SELECT * FROM conversations WHERE id = ?'),
      conversationByCid: db.prepare<[number], { id: string }>('SELECT id FROM conversations WHERE cid = ?'),
      conversationInsert: db.prepare(
        `INSERT INTO conversations(id, kind, name, subject, peer_a, peer_b, last_seq, member_count, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      conversationUpdate: db.prepare(
        `UPDATE conversations SET name = coalesce(?, name), last_seq = coalesce(?, last_seq), updated_at = coalesce(?, updated_at),
         member_count = coalesce(?, member_count), closed_at = coalesce(?, closed_at), attributes = coalesce(?, attributes),
         recalls = coalesce(?, recalls), version = ? WHERE cid = ?`,
      ),
      // Within a commit, conversations by their text id compared bytewise
      // (BINARY, as PostgreSQL's COLLATE "C"), so a position means the same
      // in both adapters. The index walks the versions from the position on
      // (`version >= ?` also rules out rows from before message versions);
      // only the rows of each version are sorted by id, and the scan stops
      // after the version that fills the page.
      messageFeed: db.prepare<{ version: number; conversationId: string; seq: number; limit: number }, MessageDbRow>(
        `SELECT m.* FROM messages m JOIN conversations c ON c.cid = m.cid
         WHERE m.version >= @version AND (m.version, c.id, m.seq) > (@version, @conversationId, @seq)
         ORDER BY m.version, c.id, m.seq LIMIT @limit`,
      ),
      feedCursorClaim: db.prepare<[string, number, string, number, string, number, number], { version: number; conversation_id: string; seq: number }>(
        `INSERT INTO feed_cursors AS f (name, version, conversation_id, seq, holder, lease_until) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
           WHERE f.holder = excluded.holder OR f.lease_until < ?
         RETURNING version, conversation_id, seq`,
      ),
      feedCursorSave: db.prepare('UPDATE feed_cursors SET version = ?, conversation_id = ?, seq = ? WHERE name = ? AND holder = ?'),
      webPushPut: db.prepare(
        `INSERT INTO web_push_subscriptions(endpoint, user_id, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at`,
      ),
      // A null user id switches the holder check off.
      webPushDelete: db.prepare<{ endpoint: string; userId: string | null }>(
        'DELETE FROM web_push_subscriptions WHERE endpoint = @endpoint AND (@userId IS NULL OR user_id = @userId)',
      ),
      webPushOf: db.prepare<[string], WebPushSubscriptionDbRow>(
        'SELECT endpoint, user_id, p256dh, auth, created_at FROM web_push_subscriptions WHERE user_id = ? ORDER BY created_at, endpoint',
      ),
      pushPreview: db.prepare<[string], { preview: string }>('SELECT preview FROM push_preferences WHERE user_id = ?'),
      pushPreviewSet: db.prepare('INSERT INTO push_preferences(user_id, preview) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET preview = excluded.preview'),
      pushPreviewDelete: db.prepare('DELETE FROM push_preferences WHERE user_id = ?'),
      roomPerson: db.prepare<[number, number], RoomPersonDbRow>('SELECT * FROM room_people WHERE cid = ? AND uid = ?'),
      roomPeople: db.prepare<[number], RoomPersonDbRow>('SELECT * FROM room_people WHERE cid = ?'),
      roomPersonPut: db.prepare(
        `INSERT INTO room_people(cid, uid, role, muted_until) VALUES (?, ?, ?, ?)
         ON CONFLICT(cid, uid) DO UPDATE SET role = excluded.role, muted_until = excluded.muted_until`,
      ),
      roomPersonDelete: db.prepare('DELETE FROM room_people WHERE cid = ? AND uid = ?'),
      member: db.prepare<[number, number], MemberDbRow>('SELECT * FROM members WHERE uid = ? AND cid = ?'),
      // The member's own settings are left out: a fresh membership has none,
      // and a rejoin keeps what the member chose before.
      memberPut: db.prepare(
        `INSERT INTO members(uid, cid, role, first_seq, left_seq, read_seq, joined_at, absences, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(uid, cid) DO UPDATE SET role = excluded.role, first_seq = excluded.first_seq, left_seq = excluded.left_seq,
           read_seq = excluded.read_seq, joined_at = excluded.joined_at, absences = excluded.absences, version = excluded.version`,
      ),
      memberUpdate: db.prepare(
        `UPDATE members SET role = coalesce(?, role), left_seq = coalesce(?, left_seq), muted_until = coalesce(?, muted_until),
         pinned_at = coalesce(?, pinned_at), draft = coalesce(?, draft), hidden_count = coalesce(?, hidden_count), version = ? WHERE uid = ? AND cid = ?`,
      ),
      memberRaiseRead: db.prepare('UPDATE members SET read_seq = ?, version = ? WHERE uid = ? AND cid = ? AND read_seq < ?'),
      // No version stamp: the member's own devices do not show it, and others ask for receipts.
      memberRaiseDelivered: db.prepare('UPDATE members SET delivered_seq = ? WHERE uid = ? AND cid = ? AND delivered_seq < ? AND left_seq IS NULL'),
      sendersBetween: db.prepare<[number, number, number, number, number], { sender: number }>(
        'SELECT DISTINCT sender FROM messages WHERE cid = ? AND seq BETWEEN ? AND ? AND type = ? AND sender <> 0 LIMIT ?',
      ),
      activeMembers: db.prepare<[number], MemberDbRow>('SELECT * FROM members WHERE cid = ? AND left_seq IS NULL'),
      activeMemberCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM members WHERE cid = ? AND left_seq IS NULL'),
      pinnedCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM members WHERE uid = ? AND left_seq IS NULL AND pinned_at > 0'),
      memberships: db.prepare<{ uid: number; since: number | null; behind: number }, MemberDbRow & ConversationDbRow>(
        `SELECT ${MEMBERSHIP_COLUMNS} FROM members m JOIN conversations c ON c.cid = m.cid
         WHERE m.uid = @uid AND (@since IS NULL OR c.version > @since OR m.version > @since)
           AND (@behind = 0 OR coalesce(m.left_seq, c.last_seq) > m.read_seq OR m.threads_followed > 0)`,
      ),
      messageByClientId: db.prepare<[number, string], MessageDbRow>('SELECT * FROM messages WHERE sender = ? AND client_msg_id = ?'),
      messageInsert: db.prepare(
        `INSERT INTO messages(cid, seq, sender, client_msg_id, type, text, data, visible_to, created_at, version, content)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      searchInsert: db.prepare('INSERT INTO message_search(rowid, words) VALUES (?, ?)'),
      searchDelete: db.prepare('DELETE FROM message_search WHERE rowid = (SELECT mid FROM messages WHERE cid = ? AND seq = ?)'),
      searchReplace: db.prepare('INSERT INTO message_search(rowid, words) SELECT mid, ? FROM messages WHERE cid = ? AND seq = ?'),
      // FTS5 hands the matches out newest first (by rowid, the mid) and stops
      // once the page is full; each is checked against the readable ranges
      // beside the match, so a page is never short while more readable
      // matches exist. The conversation test (an IN list, looked up in a
      // B-tree built once) turns away matches in other conversations before
      // the ranges are scanned.
      messageSearch: db.prepare<SearchParameters, MessageDbRow>(
        `WITH readable(cid, low, high) AS MATERIALIZED (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(@ranges))
         SELECT m.* FROM message_search s JOIN messages m ON m.mid = s.rowid
         WHERE s.words MATCH @match AND s.rowid < @before
           AND m.cid IN (SELECT cid FROM readable)
           AND (@type IS NULL OR m.type = @type)
           AND (@visible IS NULL OR m.visible_to IS NULL OR m.visible_to = @visible)
           AND (@hidden IS NULL OR NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.uid = @hidden AND h.cid = m.cid AND h.seq = m.seq))
           AND EXISTS (SELECT 1 FROM readable r WHERE r.cid = m.cid AND m.seq BETWEEN r.low AND r.high)
         ORDER BY s.rowid DESC LIMIT @limit`,
      ),
      media: db.prepare<[string], MediaDbRow>('SELECT * FROM media WHERE id = ?'),
      ownMedia: db.prepare<[number, string, string], MediaDbRow>('SELECT * FROM media WHERE owner = ? AND blob = ? AND kind = ? LIMIT 1'),
      mediaUsage: db.prepare<[number], { n: number | null }>('SELECT sum(size) AS n FROM media WHERE owner = ?'),
      mediaInsert: db.prepare(
        `INSERT INTO media(id, owner, kind, blob, mime, size, file_name, width, height, duration_ms, thumbhash, animated, variants, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      mediaRefs: db.prepare<[string, number], { cid: number; seq: number }>('SELECT cid, seq FROM media_refs WHERE media_id = ? LIMIT ?'),
      mediaRefInsert: db.prepare('INSERT OR IGNORE INTO media_refs(media_id, cid, seq) VALUES (?, ?, ?)'),
      messagesAscending: db.prepare<MessageParameters & { limit: number }, MessageDbRow>(
        `SELECT * FROM messages WHERE ${MESSAGE_FILTER} ORDER BY seq LIMIT @limit`,
      ),
      messagesDescending: db.prepare<MessageParameters & { limit: number }, MessageDbRow>(
        `SELECT * FROM messages WHERE ${MESSAGE_FILTER} ORDER BY seq DESC LIMIT @limit`,
      ),
      // mainOnly: the same filter, walked on the main timeline's own index
      // (a parameter cannot select a partial index), so thread replies are
      // never stepped over.
      mainAscending: db.prepare<MessageParameters & { limit: number }, MessageDbRow>(
        `SELECT * FROM messages INDEXED BY messages_main WHERE thread_root IS NULL AND ${MESSAGE_FILTER} ORDER BY seq LIMIT @limit`,
      ),
      mainDescending: db.prepare<MessageParameters & { limit: number }, MessageDbRow>(
        `SELECT * FROM messages INDEXED BY messages_main WHERE thread_root IS NULL AND ${MESSAGE_FILTER} ORDER BY seq DESC LIMIT @limit`,
      ),
      // The newest rows of the range; readRecentMessages cuts at the version,
      // so the scan is bounded by the limit even when few (or none) are new.
      messagesRecent: db.prepare<[number, number, number, number], MessageDbRow & { version: number | null }>(
        'SELECT * FROM messages WHERE cid = ? AND seq > ? AND seq <= ? ORDER BY seq DESC LIMIT ?',
      ),
      messageCount: db.prepare<MessageParameters, { n: number }>(`SELECT count(*) AS n FROM messages WHERE ${MESSAGE_FILTER}`),
      mainCount: db.prepare<MessageParameters, { n: number }>(`SELECT count(*) AS n FROM messages INDEXED BY messages_main WHERE thread_root IS NULL AND ${MESSAGE_FILTER}`),
      messageRecall: db.prepare('UPDATE messages SET text = NULL, data = NULL, content = NULL, recalled_at = ? WHERE cid = ? AND seq = ? AND recalled_at IS NULL'),
      messageEdit: db.prepare('UPDATE messages SET text = ?, edited_at = ? WHERE cid = ? AND seq = ? AND recalled_at IS NULL'),
      // The text being replaced, stamped with when it was written.
      textVersionKeep: db.prepare(
        'INSERT INTO message_edits(cid, seq, text, written_at) SELECT cid, seq, text, coalesce(edited_at, created_at) FROM messages WHERE cid = ? AND seq = ? AND text IS NOT NULL',
      ),
      textVersionsDrop: db.prepare('DELETE FROM message_edits WHERE cid = ? AND seq = ?'),
      textVersions: db.prepare<[number, number], { text: string; written_at: number }>('SELECT text, written_at FROM message_edits WHERE cid = ? AND seq = ? ORDER BY written_at, rowid'),
      hiddenInsert: db.prepare('INSERT OR IGNORE INTO hidden_messages(uid, cid, seq) VALUES (?, ?, ?)'),
      reactionInsert: db.prepare('INSERT OR IGNORE INTO reactions(cid, seq, uid, emoji, at) VALUES (?, ?, ?, ?, ?)'),
      reactionDelete: db.prepare('DELETE FROM reactions WHERE cid = ? AND seq = ? AND uid = ? AND emoji = ?'),
      reactionsDrop: db.prepare('DELETE FROM reactions WHERE cid = ? AND seq = ?'),
      messageExtras: db.prepare('UPDATE messages SET mentions = ?, mention_all = ?, reply_to = ?, thread_root = ? WHERE cid = ? AND seq = ?'),
      threadReplyAdd: db.prepare('UPDATE messages SET thread_replies = coalesce(thread_replies, 0) + 1, thread_last_seq = max(coalesce(thread_last_seq, 0), ?), thread_last_at = ? WHERE cid = ? AND seq = ?'),
      threadFollow: db.prepare('INSERT OR IGNORE INTO thread_follows(conv, follower, root, read_seq) VALUES (?, ?, ?, ?)'),
      threadFollowCounted: db.prepare('UPDATE members SET threads_followed = threads_followed + 1, version = ? WHERE uid = ? AND cid = ?'),
      threadReadRaise: db.prepare('UPDATE thread_follows SET read_seq = ? WHERE conv = ? AND follower = ? AND root = ? AND read_seq < ?'),
      memberStamp: db.prepare('UPDATE members SET version = ? WHERE uid = ? AND cid = ?'),
      threadFollowers: db.prepare<[number, number, number], { follower: number }>('SELECT follower FROM thread_follows WHERE conv = ? AND root = ? ORDER BY read_seq DESC, follower LIMIT ?'),
      threadFollows: db.prepare<[number, number], { root: number; read_seq: number }>('SELECT root, read_seq FROM thread_follows WHERE conv = ? AND follower = ?'),
      followedReplyCount: db.prepare<MessageParameters & { follower: number }, { n: number }>(
        // The follows first (CROSS JOIN fixes the order), then each thread's
        // replies after its read position: never the conversation's whole
        // range. One lower bound only, or SQLite may seek by the filter's.
        `SELECT count(*) AS n FROM thread_follows f CROSS JOIN messages INDEXED BY messages_by_thread
           ON messages.cid = f.conv AND messages.thread_root = f.root AND messages.seq > max(f.read_seq, @from - 1)
         WHERE f.conv = @cid AND f.follower = @follower AND messages.seq <= @to AND ${MESSAGE_CONDITIONS}`,
      ),
      mentionInsert: db.prepare('INSERT OR IGNORE INTO message_mentions(cid, seq, uid) VALUES (?, ?, ?)'),
      reactionsIn: db.prepare<[number, number, number, number], { seq: number; emoji: string; n: number; mine: number }>(
        `SELECT seq, emoji, count(*) AS n, max(uid = ?) AS mine FROM reactions WHERE cid = ? AND seq BETWEEN ? AND ?
         GROUP BY seq, emoji ORDER BY seq, n DESC, min(at), emoji`,
      ),
      hiddenSeqs: db.prepare<[number, number, number, number], { seq: number }>('SELECT seq FROM hidden_messages WHERE uid = ? AND cid = ? AND seq BETWEEN ? AND ? ORDER BY seq'),
      passwordHash: db.prepare<[number], { password_hash: string }>('SELECT password_hash FROM dev_credentials WHERE uid = ?'),
      passwordInsert: db.prepare('INSERT INTO dev_credentials(uid, password_hash, created_at) VALUES (?, ?, ?)'),
      passwordReplace: db.prepare(
        'INSERT INTO dev_credentials(uid, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT(uid) DO UPDATE SET password_hash = excluded.password_hash, created_at = excluded.created_at',
      ),
    };
    if (options.backgroundCheckpoints !== false) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new CheckpointWorker(options.path, () => {
        // SQLite's own checkpoints (its default of every 1000 pages) instead of the worker's.
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
      });
    }
  }

  // ---- transactions ----

  /** Units run one after another in request order, so `options.order` holds without further work. */
  write<T>(unit: (tx: StoreTx) => Promise<T>, _options?: WriteOptions): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: unit, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.batch !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.runBatch();
    });
  }

  /** Commits every queued unit in one transaction; resolves once committed (not yet flushed). */
  private runBatch(): Promise<void> {
    const units = this.queue;
    this.queue = [];
    if (units.length === 0 || this.batch !== undefined) return this.batch ?? Promise.resolve();
    const batch = this.commit(units).finally(() => {
      this.batch = undefined;
      if (this.queue.length > 0) this.scheduleFlush();
    });
    this.batch = batch;
    return batch;
  }

  private async commit(units: WriteUnit[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      this.statements.begin.run();
      this.batchVersion = (this.statements.metaGet.get('version')?.value ?? 0) + 1;
      for (const unit of units) outcomes.push(await this.runUnit(unit));
      // One version per commit: every row the batch changed carries it.
      this.statements.metaSet.run('version', this.batchVersion);
      this.statements.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.forgetCaches();
      const failure = new ParleyError('INTERNAL', 'storage commit failed', { cause: error });
      for (const unit of units) unit.reject(failure);
      return;
    }
    if (this.walSync === undefined) {
      settle(units, outcomes);
      return;
    }
    this.walSync.sync().then(
      () => settle(units, outcomes),
      (error: unknown) => {
        // Committed but not known to be on disk: refuse to acknowledge. A
        // retry with the same clientMsgId returns the stored message.
        const failure = new ParleyError('INTERNAL', 'storage flush failed', { cause: error });
        for (const unit of units) unit.reject(failure);
      },
    );
  }

  private async runUnit(unit: WriteUnit): Promise<Outcome> {
    this.statements.savepoint.run();
    this.unitCacheLog = [];
    const tx = new SqliteTx(this);
    try {
      const value = await unit.run(tx);
      this.statements.release.run();
      return { ok: true, value };
    } catch (error) {
      // A failed statement may have ended the whole transaction (disk full):
      // then ROLLBACK TO throws and the batch fails as a whole.
      this.statements.rollbackToSavepoint.run();
      this.statements.release.run();
      for (const undo of this.unitCacheLog) undo();
      return { ok: false, error: error instanceof ParleyError ? error : new ParleyError('INTERNAL', 'storage write failed', { cause: error }) };
    } finally {
      tx.end();
      this.unitCacheLog = undefined;
    }
  }

  /** Reads outside a unit wait for the open batch, so they never see a unit that may be undone. */
  private async settled(): Promise<void> {
    while (this.batch !== undefined) await this.batch;
    if (!this.db.open) throw new ParleyError('UNAVAILABLE', 'store is closed');
  }

  // ---- id caches ----

  private remember(userId: string | undefined, uid: number | undefined, conversationId: string | undefined, cid: number | undefined): void {
    if (userId !== undefined && uid !== undefined) {
      this.userUid.set(userId, uid);
      this.uidUser.set(uid, userId);
      this.unitCacheLog?.push(() => {
        this.userUid.delete(userId);
        this.uidUser.delete(uid);
      });
    }
    if (conversationId !== undefined && cid !== undefined) {
      this.conversationCid.set(conversationId, cid);
      this.cidConversation.set(cid, conversationId);
      this.unitCacheLog?.push(() => {
        this.conversationCid.delete(conversationId);
        this.cidConversation.delete(cid);
      });
    }
  }

  private forgetCaches(): void {
    this.userUid.clear();
    this.uidUser.clear();
    this.conversationCid.clear();
    this.cidConversation.clear();
  }

  private findUid(userId: string): number | undefined {
    const cached = this.userUid.get(userId);
    if (cached !== undefined) return cached;
    const row = this.statements.userById.get(userId);
    if (row !== undefined) this.remember(userId, row.uid, undefined, undefined);
    return row?.uid;
  }

  private uidOf(userId: string): number {
    const uid = this.findUid(userId);
    if (uid === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
    return uid;
  }

  private userOf(uid: number): string {
    const cached = this.uidUser.get(uid);
    if (cached !== undefined) return cached;
    const id = this.statements.userByUid.get(uid)?.id;
    if (id === undefined) return '';
    this.remember(id, uid, undefined, undefined);
    return id;
  }

  private findCid(conversationId: string): number | undefined {
    const cached = this.conversationCid.get(conversationId);
    if (cached !== undefined) return cached;
    const row = this.statements.conversationById.get(conversationId);
    if (row !== undefined) this.remember(undefined, undefined, conversationId, row.cid);
    return row?.cid;
  }

  private cidOf(conversationId: string): number {
    const cid = this.findCid(conversationId);
    if (cid === undefined) throw new ParleyError('NOT_FOUND', `unknown conversation ${conversationId}`);
    return cid;
  }

  private conversationIdOf(cid: number): string {
    const cached = this.cidConversation.get(cid);
    if (cached !== undefined) return cached;
    const id = this.statements.conversationByCid.get(cid)?.id ?? '';
    if (id !== '') this.remember(undefined, undefined, id, cid);
    return id;
  }

  // ---- row mapping ----

  private toUser(row: UserDbRow): UserRow {
    const user: UserRow = { id: row.id, name: row.name, createdAt: row.created_at, tokensValidAfter: row.tokens_valid_after };
    if (row.read_receipts_off === 1) user.readReceiptsOff = true;
    if (row.hide_presence === 1) user.hidePresence = true;
    if (row.hide_muted_from_badge === 1) user.hideMutedFromBadge = true;
    if (row.last_seen_at !== null) user.lastSeenAt = row.last_seen_at;
    return user;
  }

  private toConversation(row: ConversationDbRow): ConversationRow {
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
    if (row.peer_a !== null && row.peer_b !== null) conversation.peerIds = [this.userOf(row.peer_a), this.userOf(row.peer_b)];
    if (row.attributes !== null) conversation.attributes = JSON.parse(row.attributes) as Record<string, string>;
    return conversation;
  }

  private toMember(row: MemberDbRow): MemberRow {
    const member: MemberRow = {
      conversationId: this.conversationIdOf(row.cid),
      userId: this.userOf(row.uid),
      role: roleFromInt(row.role),
      firstSeq: row.first_seq,
      readSeq: row.read_seq,
      joinedAt: row.joined_at,
    };
    if (row.left_seq !== null) member.leftSeq = row.left_seq;
    if (row.absences !== null) member.absences = (JSON.parse(row.absences) as Array<[number, number]>).map(([from, through]) => ({ from, through }));
    // 0 and '' mean unset: left out, so a row without settings reads as it did before they existed.
    if (row.muted_until > 0) member.mutedUntil = row.muted_until;
    if (row.pinned_at > 0) member.pinnedAt = row.pinned_at;
    if (row.draft !== '') member.draft = row.draft;
    if (row.delivered_seq > 0) member.deliveredSeq = row.delivered_seq;
    if (row.hidden_count > 0) member.hiddenCount = row.hidden_count;
    if (row.threads_followed > 0) member.threadsFollowed = row.threads_followed;
    return member;
  }

  private toMessage(row: MessageDbRow): StoredMessage {
    const message: StoredMessage = {
      id: String(row.mid),
      conversationId: this.conversationIdOf(row.cid),
      seq: row.seq,
      senderId: this.userOf(row.sender),
      clientMsgId: row.client_msg_id,
      type: row.type === TYPE_SYSTEM ? 'system' : 'user',
      createdAt: row.created_at,
    };
    if (row.text !== null) message.text = row.text;
    if (row.data !== null) message.data = new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength);
    if (row.visible_to !== null) message.visibleTo = this.userOf(row.visible_to);
    if (row.content !== null) message.content = MessageContent.decode(row.content);
    if (row.recalled_at !== null) message.recalledAt = row.recalled_at;
    if (row.edited_at !== null) message.editedAt = row.edited_at;
    if (row.mentions !== null) message.mentions = JSON.parse(row.mentions) as string[];
    if (row.mention_all === 1) message.mentionAll = true;
    if (row.reply_to !== null) message.replyTo = row.reply_to;
    if (row.thread_root !== null) message.threadRoot = row.thread_root;
    if (row.thread_replies !== null) message.thread = { replies: row.thread_replies, lastSeq: row.thread_last_seq ?? 0, lastAt: row.thread_last_at ?? 0 };
    return message;
  }

  private toMedia(row: MediaDbRow): MediaRow {
    const media: MediaRow = {
      id: row.id,
      ownerId: this.userOf(row.owner),
      kind: row.kind as MediaKind,
      blobKey: row.blob,
      mimeType: row.mime,
      size: row.size,
      fileName: row.file_name,
      width: row.width,
      height: row.height,
      durationMs: row.duration_ms,
      animated: row.animated === 1,
      variants: row.variants === '' ? [] : row.variants.split(','),
      createdAt: row.created_at,
    };
    if (row.thumbhash !== null) media.thumbhash = new Uint8Array(row.thumbhash.buffer, row.thumbhash.byteOffset, row.thumbhash.byteLength);
    return media;
  }

  /** @internal */
  readMedia(id: string): MediaRow | undefined {
    const row = this.statements.media.get(id);
    return row === undefined ? undefined : this.toMedia(row);
  }

  /** @internal */
  readOwnMedia(ownerId: string, blobKey: string, kind: MediaKind): MediaRow | undefined {
    const uid = this.findUid(ownerId);
    const row = uid === undefined ? undefined : this.statements.ownMedia.get(uid, blobKey, kind);
    return row === undefined ? undefined : this.toMedia(row);
  }

  /** @internal */
  readMediaUsage(ownerId: string): number {
    const uid = this.findUid(ownerId);
    return uid === undefined ? 0 : (this.statements.mediaUsage.get(uid)?.n ?? 0);
  }

  /** @internal */
  readMediaReferences(mediaId: string, limit: number): MediaReference[] {
    return this.statements.mediaRefs.all(mediaId, limit).map((row) => ({ conversationId: this.conversationIdOf(row.cid), seq: row.seq }));
  }

  /** @internal */
  readRoomPerson(conversationId: string, userId: string): RoomPersonRow | undefined {
    const cid = this.findCid(conversationId);
    const uid = this.findUid(userId);
    if (cid === undefined || uid === undefined) return undefined;
    const row = this.statements.roomPerson.get(cid, uid);
    return row === undefined ? undefined : this.toRoomPerson(row);
  }

  /** @internal */
  readMessageFeed(after: FeedPosition, limit: number): FeedMessage[] {
    if (limit <= 0) return [];
    const rows = this.statements.messageFeed.all({ version: after.version, conversationId: after.conversationId, seq: after.seq, limit });
    return rows.map((row) => ({ ...this.toMessage(row), version: row.version as number }));
  }

  /** @internal */
  readRoomPeople(conversationId: string): RoomPersonRow[] {
    const cid = this.findCid(conversationId);
    return cid === undefined ? [] : this.statements.roomPeople.all(cid).map((row) => this.toRoomPerson(row));
  }

  private toRoomPerson(row: RoomPersonDbRow): RoomPersonRow {
    return { conversationId: this.conversationIdOf(row.cid), userId: this.userOf(row.uid), role: roleFromInt(row.role), mutedUntil: row.muted_until };
  }

  /** @internal */
  doPutRoomPerson(row: RoomPersonRow): void {
    const cid = this.cidOf(row.conversationId);
    const uid = this.uidOf(row.userId);
    if (row.role === 'member' && row.mutedUntil === 0) this.statements.roomPersonDelete.run(cid, uid);
    else this.statements.roomPersonPut.run(cid, uid, ROLE_TO_INT[row.role], row.mutedUntil);
  }

  /** @internal */
  doInsertMedia(row: MediaRow): void {
    try {
      this.statements.mediaInsert.run(
        row.id,
        this.uidOf(row.ownerId),
        row.kind,
        row.blobKey,
        row.mimeType,
        row.size,
        row.fileName,
        row.width,
        row.height,
        row.durationMs,
        row.thumbhash ?? null,
        row.animated ? 1 : 0,
        row.variants.join(','),
        row.createdAt,
      );
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') === true) throw new ParleyError('CONFLICT', `media ${row.id} exists`, { cause: error });
      throw error;
    }
  }

  /** @internal */
  doInsertMediaReference(mediaId: string, reference: MediaReference): void {
    this.statements.mediaRefInsert.run(mediaId, this.cidOf(reference.conversationId), reference.seq);
  }

  private messageParameters(filter: MessageFilter, cid: number): MessageParameters {
    return {
      cid,
      from: filter.fromSeq,
      to: filter.toSeq,
      type: filter.type === undefined ? null : filter.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
      exclude: filter.excludeSender === undefined ? null : (this.findUid(filter.excludeSender) ?? NO_ROW),
      visible: filter.visibleTo === undefined ? null : (this.findUid(filter.visibleTo) ?? NO_ROW),
      unrecalled: filter.unrecalledOnly === true ? 1 : null,
      hidden: filter.hiddenFor === undefined ? null : (this.findUid(filter.hiddenFor) ?? NO_ROW),
      mentioning: filter.mentioning === undefined ? null : (this.findUid(filter.mentioning) ?? NO_ROW),
      thread: filter.threadRoot ?? null,
      main: filter.mainOnly === true ? 1 : null,
    };
  }

  // ---- reads (shared by Store and SqliteTx; synchronous underneath) ----

  /** @internal */
  readUser(id: string): UserRow | undefined {
    const row = this.statements.userById.get(id);
    return row === undefined ? undefined : this.toUser(row);
  }

  /** @internal */
  readUsers(ids: readonly string[]): UserRow[] {
    const users: UserRow[] = [];
    for (const id of new Set(ids)) {
      const user = this.readUser(id);
      if (user !== undefined) users.push(user);
    }
    return users;
  }

  /** @internal */
  readUserSearch(search: UserSearch): UserRow[] {
    const pattern = `%${search.text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
    return this.statements.userSearch.all(search.afterId ?? '', pattern, pattern, search.limit).map((row) => this.toUser(row));
  }

  /** @internal */
  readUserCount(): number {
    return this.statements.userCount.get()?.n ?? 0;
  }

  /** @internal */
  readConversation(id: string): ConversationRow | undefined {
    const row = this.statements.conversationById.get(id);
    return row === undefined ? undefined : this.toConversation(row);
  }

  /** @internal */
  readMember(conversationId: string, userId: string): MemberRow | undefined {
    const cid = this.findCid(conversationId);
    const uid = this.findUid(userId);
    if (cid === undefined || uid === undefined) return undefined;
    const row = this.statements.member.get(uid, cid);
    return row === undefined ? undefined : this.toMember(row);
  }

  /** @internal */
  readActiveMembers(conversationId: string): MemberRow[] {
    const cid = this.findCid(conversationId);
    return cid === undefined ? [] : this.statements.activeMembers.all(cid).map((row) => this.toMember(row));
  }

  /** @internal */
  readActiveMemberCount(conversationId: string): number {
    const cid = this.findCid(conversationId);
    return cid === undefined ? 0 : (this.statements.activeMemberCount.get(cid)?.n ?? 0);
  }

  /** @internal */
  readPinnedCount(userId: string): number {
    const uid = this.findUid(userId);
    return uid === undefined ? 0 : (this.statements.pinnedCount.get(uid)?.n ?? 0);
  }

  /** @internal */
  readMemberships(userId: string, query: MembershipQuery = {}): Membership[] {
    const uid = this.findUid(userId);
    if (uid === undefined) return [];
    const rows = this.statements.memberships.all({ uid, since: query.changedSince ?? null, behind: query.behindOnly ? 1 : 0 });
    return rows.map((row) => ({ member: this.toMember(row), conversation: this.toConversation(row) }));
  }

  /** @internal */
  readMessageByClientId(senderId: string, clientMsgId: string): StoredMessage | undefined {
    const uid = this.findUid(senderId);
    if (uid === undefined) return undefined;
    const row = this.statements.messageByClientId.get(uid, clientMsgId);
    return row === undefined ? undefined : this.toMessage(row);
  }

  /** @internal */
  readMessages(query: MessageQuery): StoredMessage[] {
    const cid = this.findCid(query.conversationId);
    if (cid === undefined || query.limit <= 0) return [];
    const parameters = { ...this.messageParameters(query, cid), limit: query.limit };
    const { mainDescending, mainAscending, messagesDescending, messagesAscending } = this.statements;
    const descending = query.order === 'desc';
    const statement = query.mainOnly === true ? (descending ? mainDescending : mainAscending) : descending ? messagesDescending : messagesAscending;
    return statement.all(parameters).map((row) => this.toMessage(row));
  }

  /** @internal */
  readMessageSearch(search: MessageSearch): StoredMessage[] {
    const ranges: Array<[number, number, number]> = [];
    for (const range of search.ranges) {
      const cid = this.findCid(range.conversationId);
      if (cid !== undefined && range.from <= range.through) ranges.push([cid, range.from, range.through]);
    }
    if (search.phrases.length === 0 || ranges.length === 0 || search.limit <= 0) return [];
    const visible = search.visibleTo === undefined ? null : (this.findUid(search.visibleTo) ?? NO_ROW);
    return this.statements.messageSearch
      .all({
        match: ftsMatch(search.phrases),
        ranges: JSON.stringify(ranges),
        before: search.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(search.beforeId),
        type: search.type === undefined ? null : search.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
        visible,
        hidden: search.hiddenFor === undefined ? null : (this.findUid(search.hiddenFor) ?? NO_ROW),
        limit: search.limit,
      })
      .map((row) => this.toMessage(row));
  }

  /** @internal */
  readRecentMessages(query: RecentQuery): StoredMessage[] {
    const cid = this.findCid(query.conversationId);
    if (cid === undefined || query.limit <= 0 || query.toSeq <= query.afterSeq) return [];
    const newestFirst = this.statements.messagesRecent.all(cid, query.afterSeq, query.toSeq, query.limit);
    // Versions only grow with seq: the rows stored after sinceVersion are a
    // run at the top. Rows from before messages had versions count as 0.
    const since = query.sinceVersion ?? -1;
    const messages: StoredMessage[] = [];
    for (let index = newestFirst.length - 1; index >= 0; index--) {
      const row = newestFirst[index] as MessageDbRow & { version: number | null };
      if ((row.version ?? 0) > since) messages.push(this.toMessage(row));
    }
    return messages;
  }

  /** @internal */
  readMessageCount(filter: MessageFilter): number {
    const cid = this.findCid(filter.conversationId);
    if (cid === undefined) return 0;
    const statement = filter.mainOnly === true ? this.statements.mainCount : this.statements.messageCount;
    return statement.get(this.messageParameters(filter, cid))?.n ?? 0;
  }

  /** @internal */
  readFollowedReplyCount(filter: MessageFilter, followerId: string): number {
    const cid = this.findCid(filter.conversationId);
    const follower = this.findUid(followerId);
    if (cid === undefined || follower === undefined) return 0;
    return this.statements.followedReplyCount.get({ ...this.messageParameters(filter, cid), follower })?.n ?? 0;
  }

  /** @internal */
  readThreadFollowers(conversationId: string, rootSeq: number, limit: number): string[] {
    const cid = this.findCid(conversationId);
    if (cid === undefined) return [];
    return this.statements.threadFollowers.all(cid, rootSeq, limit).map((row) => this.userOf(row.follower));
  }

  /** @internal */
  readThreadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]): Map<number, number> {
    const cid = this.findCid(conversationId);
    const uid = this.findUid(userId);
    const follows = new Map<number, number>();
    if (cid === undefined || uid === undefined) return follows;
    const wanted = rootSeqs === undefined ? undefined : new Set(rootSeqs);
    for (const row of this.statements.threadFollows.all(cid, uid)) if (wanted === undefined || wanted.has(row.root)) follows.set(row.root, row.read_seq);
    return follows;
  }

  /** @internal */
  doAddThreadReply(conversationId: string, rootSeq: number, replySeq: number, at: number): void {
    this.statements.threadReplyAdd.run(replySeq, at, this.cidOf(conversationId), rootSeq);
  }

  /** @internal */
  doFollowThread(conversationId: string, rootSeq: number, userId: string, readSeq: number): boolean {
    const cid = this.cidOf(conversationId);
    const uid = this.uidOf(userId);
    if (this.statements.threadFollow.run(cid, uid, rootSeq, readSeq).changes === 0) return false;
    this.statements.threadFollowCounted.run(this.batchVersion, uid, cid);
    return true;
  }

  /** @internal */
  doRaiseThreadRead(conversationId: string, rootSeq: number, userId: string, seq: number): boolean {
    const cid = this.cidOf(conversationId);
    const uid = this.uidOf(userId);
    if (this.statements.threadReadRaise.run(seq, cid, uid, rootSeq, seq).changes === 0) return false;
    this.statements.memberStamp.run(this.batchVersion, uid, cid);
    return true;
  }

  /** @internal */
  readSyncVersion(): number {
    return this.statements.metaGet.get('version')?.value ?? 0;
  }

  /** @internal */
  readPasswordHash(userId: string): string | undefined {
    const uid = this.findUid(userId);
    return uid === undefined ? undefined : this.statements.passwordHash.get(uid)?.password_hash;
  }

  async getUser(id: string): Promise<UserRow | undefined> {
    await this.settled();
    return this.readUser(id);
  }

  async getUsers(ids: readonly string[]): Promise<UserRow[]> {
    await this.settled();
    return this.readUsers(ids);
  }

  async searchUsers(search: UserSearch): Promise<UserRow[]> {
    await this.settled();
    return this.readUserSearch(search);
  }

  async countUsers(): Promise<number> {
    await this.settled();
    return this.readUserCount();
  }

  async getConversation(id: string): Promise<ConversationRow | undefined> {
    await this.settled();
    return this.readConversation(id);
  }

  async getMember(conversationId: string, userId: string): Promise<MemberRow | undefined> {
    await this.settled();
    return this.readMember(conversationId, userId);
  }

  async activeMembers(conversationId: string): Promise<MemberRow[]> {
    await this.settled();
    return this.readActiveMembers(conversationId);
  }

  async senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<string[]> {
    await this.settled();
    return this.readSendersBetween(conversationId, fromSeq, toSeq, limit);
  }

  async textVersions(conversationId: string, seq: number): Promise<TextVersion[]> {
    await this.settled();
    return this.readTextVersions(conversationId, seq);
  }

  async reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string): Promise<ReactionCount[]> {
    await this.settled();
    return this.readReactionsIn(conversationId, fromSeq, toSeq, readerId);
  }

  async hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number): Promise<number[]> {
    await this.settled();
    return this.readHiddenSeqs(userId, conversationId, fromSeq, toSeq);
  }

  async countActiveMembers(conversationId: string): Promise<number> {
    await this.settled();
    return this.readActiveMemberCount(conversationId);
  }

  async countPinned(userId: string): Promise<number> {
    await this.settled();
    return this.readPinnedCount(userId);
  }

  async membershipsOf(userId: string, query?: MembershipQuery): Promise<Membership[]> {
    await this.settled();
    return this.readMemberships(userId, query);
  }

  async messageByClientId(senderId: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    await this.settled();
    return this.readMessageByClientId(senderId, clientMsgId);
  }

  async listMessages(query: MessageQuery): Promise<StoredMessage[]> {
    await this.settled();
    return this.readMessages(query);
  }

  async recentMessages(query: RecentQuery): Promise<StoredMessage[]> {
    await this.settled();
    return this.readRecentMessages(query);
  }

  async searchMessages(search: MessageSearch): Promise<StoredMessage[]> {
    await this.settled();
    return this.readMessageSearch(search);
  }

  async countMessages(filter: MessageFilter): Promise<number> {
    await this.settled();
    return this.readMessageCount(filter);
  }

  async countFollowedReplies(filter: MessageFilter, followerId: string): Promise<number> {
    await this.settled();
    return this.readFollowedReplyCount(filter, followerId);
  }

  async threadFollowers(conversationId: string, rootSeq: number, limit: number): Promise<string[]> {
    await this.settled();
    return this.readThreadFollowers(conversationId, rootSeq, limit);
  }

  async threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]): Promise<Map<number, number>> {
    await this.settled();
    return this.readThreadFollows(conversationId, userId, rootSeqs);
  }

  async syncVersion(): Promise<number> {
    await this.settled();
    return this.readSyncVersion();
  }

  async getPasswordHash(userId: string): Promise<string | undefined> {
    await this.settled();
    return this.readPasswordHash(userId);
  }

  async getMedia(id: string): Promise<MediaRow | undefined> {
    await this.settled();
    return this.readMedia(id);
  }

  async findOwnMedia(ownerId: string, blobKey: string, kind: MediaKind): Promise<MediaRow | undefined> {
    await this.settled();
    return this.readOwnMedia(ownerId, blobKey, kind);
  }

  async mediaUsage(ownerId: string): Promise<number> {
    await this.settled();
    return this.readMediaUsage(ownerId);
  }

  async mediaReferences(mediaId: string, limit: number): Promise<MediaReference[]> {
    await this.settled();
    return this.readMediaReferences(mediaId, limit);
  }

  async roomPerson(conversationId: string, userId: string): Promise<RoomPersonRow | undefined> {
    await this.settled();
    return this.readRoomPerson(conversationId, userId);
  }

  async roomPeople(conversationId: string): Promise<RoomPersonRow[]> {
    await this.settled();
    return this.readRoomPeople(conversationId);
  }

  async messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]> {
    await this.settled();
    const messages = this.readMessageFeed(after, limit);
    // A batch is visible from its commit, a moment before its WAL flush: the
    // webhooks must not post a message that power loss could still take
    // back (and whose seq would then go to another message).
    if (messages.length > 0) await this.walSync?.sync();
    return messages;
  }

  // ---- feed cursors ----
  // One statement each, outside the batches (they must not bump the sync
  // version every time an idle dispatcher renews its lease), made durable
  // like a batch. One connection runs one statement at a time, so two
  // claims at once are taken one after the other: the second sees the
  // first's holder and lease.

  async databaseId(): Promise<string> {
    return databaseIdText(this.statements.metaGet.get('database_id')?.value);
  }

  async claimFeedCursor(name: string, holder: string, now: number, leaseMs: number, start: FeedPosition): Promise<FeedCursor | undefined> {
    const row = await this.outsideBatch(() =>
      this.statements.feedCursorClaim.get(name, start.version, start.conversationId, start.seq, holder, now + leaseMs, now),
    );
    return row === undefined ? undefined : { position: { version: row.version, conversationId: row.conversation_id, seq: row.seq } };
  }

  async saveFeedCursor(name: string, holder: string, position: FeedPosition): Promise<boolean> {
    return this.outsideBatch(() => this.statements.feedCursorSave.run(position.version, position.conversationId, position.seq, name, holder).changes > 0);
  }

  // ---- Web Push subscriptions and preferences ----
  // Outside the batches, like the cursors: they change nothing a sync
  // carries, so they must not take a sync version. Durable when they resolve.

  async putWebPushSubscription(row: WebPushSubscriptionRow): Promise<void> {
    await this.outsideBatch(() => this.statements.webPushPut.run(row.endpoint, row.userId, row.p256dh, row.auth, row.createdAt));
  }

  async deleteWebPushSubscription(endpoint: string, userId?: string): Promise<boolean> {
    return this.outsideBatch(() => this.statements.webPushDelete.run({ endpoint, userId: userId ?? null }).changes > 0);
  }

  async webPushSubscriptionsOf(userId: string): Promise<WebPushSubscriptionRow[]> {
    await this.settled();
    return this.statements.webPushOf
      .all(userId)
      .map((row) => ({ endpoint: row.endpoint, userId: row.user_id, p256dh: row.p256dh, auth: row.auth, createdAt: row.created_at }));
  }

  async setPushPreview(userId: string, preview: PushPreviewSetting | undefined): Promise<void> {
    await this.outsideBatch(() =>
      preview === undefined ? this.statements.pushPreviewDelete.run(userId) : this.statements.pushPreviewSet.run(userId, preview),
    );
  }

  async pushPreviewOf(userId: string): Promise<PushPreviewSetting | undefined> {
    await this.settled();
    return this.statements.pushPreview.get(userId)?.preview as PushPreviewSetting | undefined;
  }

  async sharedMembersOf(userId: string, candidates: readonly string[]): Promise<string[]> {
    await this.settled();
    const uid = this.findUid(userId);
    const uids = candidates.map((id) => this.findUid(id)).filter((found) => found !== undefined);
    if (uid === undefined || uids.length === 0) return [];
    return this.statements.sharedMembers.all(uid, JSON.stringify(uids)).map((row) => this.userOf(row.uid));
  }

  /**
   * Runs `statement` as a transaction of its own, never inside a batch (a
   * batch may still be undone), and resolves once it is on disk: after the
   * same WAL flush that batches wait for (durability 'full').
   */
  private async outsideBatch<T>(statement: () => T): Promise<T> {
    // Checked again right before the statement: close() may open a batch in
    // the microtasks between settled() returning and this line.
    do {
      await this.settled();
    } while (this.batch !== undefined);
    const result = statement();
    await this.walSync?.sync();
    return result;
  }

  // ---- writes (only inside a unit, through SqliteTx) ----

  /** @internal */
  doInsertUser(row: UserRow): void {
    if (this.findUid(row.id) !== undefined) throw new ParleyError('CONFLICT', `user ${row.id} exists`);
    const info = this.statements.userInsert.run(row.id, row.name, row.createdAt, row.tokensValidAfter);
    this.remember(row.id, Number(info.lastInsertRowid), undefined, undefined);
  }

  /** @internal */
  doUpdateUser(id: string, patch: UserPatch): void {
    const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0);
    this.statements.userUpdate.run(
      patch.name ?? null,
      patch.tokensValidAfter ?? null,
      flag(patch.readReceiptsOff),
      flag(patch.hidePresence),
      flag(patch.hideMutedFromBadge),
      patch.lastSeenAt ?? null,
      this.uidOf(id),
    );
  }

  /** @internal */
  doInsertConversation(row: ConversationRow): boolean {
    if (this.findCid(row.id) !== undefined) return false;
    const peers = row.peerIds?.map((id) => this.uidOf(id)) ?? [null, null];
    const info = this.statements.conversationInsert.run(
      row.id,
      KIND_TO_INT[row.kind],
      row.name,
      row.subject,
      peers[0] ?? null,
      peers[1] ?? null,
      row.lastSeq,
      row.memberCount,
      row.createdAt,
      row.updatedAt,
      this.batchVersion,
    );
    this.remember(undefined, undefined, row.id, Number(info.lastInsertRowid));
    return true;
  }

  /** @internal */
  doUpdateConversation(id: string, patch: ConversationPatch): void {
    this.statements.conversationUpdate.run(
      patch.name ?? null,
      patch.lastSeq ?? null,
      patch.updatedAt ?? null,
      patch.memberCount ?? null,
      patch.closedAt ?? null,
      patch.attributes === undefined ? null : JSON.stringify(patch.attributes),
      patch.recalls ?? null,
      this.batchVersion,
      this.cidOf(id),
    );
  }

  /** @internal */
  doPutMember(row: MemberRow): void {
    this.statements.memberPut.run(
      this.uidOf(row.userId),
      this.cidOf(row.conversationId),
      ROLE_TO_INT[row.role],
      row.firstSeq,
      row.leftSeq ?? null,
      row.readSeq,
      row.joinedAt,
      row.absences === undefined || row.absences.length === 0 ? null : JSON.stringify(row.absences.map((range) => [range.from, range.through])),
      this.batchVersion,
    );
  }

  /** @internal */
  doUpdateMember(conversationId: string, userId: string, patch: MemberPatch): void {
    this.statements.memberUpdate.run(
      patch.role === undefined ? null : ROLE_TO_INT[patch.role],
      patch.leftSeq ?? null,
      patch.mutedUntil ?? null,
      patch.pinnedAt ?? null,
      patch.draft ?? null,
      patch.hiddenCount ?? null,
      this.batchVersion,
      this.uidOf(userId),
      this.cidOf(conversationId),
    );
  }

  /** @internal */
  doRecallMessage(conversationId: string, seq: number, at: number): boolean {
    const cid = this.cidOf(conversationId);
    const changed = this.statements.messageRecall.run(at, cid, seq).changes > 0;
    if (changed) {
      this.statements.textVersionsDrop.run(cid, seq);
      this.statements.reactionsDrop.run(cid, seq);
      this.statements.searchDelete.run(cid, seq);
    }
    return changed;
  }

  /** @internal */
  doEditMessage(conversationId: string, seq: number, text: string, at: number, searchWords?: string): boolean {
    const cid = this.cidOf(conversationId);
    this.statements.textVersionKeep.run(cid, seq);
    if (this.statements.messageEdit.run(text, at, cid, seq).changes === 0) return false;
    this.statements.searchDelete.run(cid, seq);
    if (searchWords !== undefined && searchWords !== '') this.statements.searchReplace.run(searchWords, cid, seq);
    return true;
  }

  /** @internal */
  doHideMessage(userId: string, conversationId: string, seq: number): boolean {
    return this.statements.hiddenInsert.run(this.uidOf(userId), this.cidOf(conversationId), seq).changes > 0;
  }

  /** @internal */
  doSetReaction(conversationId: string, seq: number, userId: string, emoji: string, add: boolean, at: number): boolean {
    const cid = this.cidOf(conversationId);
    const uid = this.uidOf(userId);
    return (add ? this.statements.reactionInsert.run(cid, seq, uid, emoji, at) : this.statements.reactionDelete.run(cid, seq, uid, emoji)).changes > 0;
  }

  /** @internal */
  readReactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string): ReactionCount[] {
    const cid = this.findCid(conversationId);
    if (cid === undefined) return [];
    const reader = this.findUid(readerId) ?? NO_ROW;
    return this.statements.reactionsIn.all(reader, cid, fromSeq, toSeq).map((row) => ({ seq: row.seq, emoji: row.emoji, count: row.n, mine: row.mine === 1 }));
  }

  /** @internal */
  readTextVersions(conversationId: string, seq: number): TextVersion[] {
    const cid = this.findCid(conversationId);
    if (cid === undefined) return [];
    return this.statements.textVersions.all(cid, seq).map((row) => ({ text: row.text, at: row.written_at }));
  }

  /** @internal */
  readHiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number): number[] {
    const uid = this.findUid(userId);
    const cid = this.findCid(conversationId);
    if (uid === undefined || cid === undefined) return [];
    return this.statements.hiddenSeqs.all(uid, cid, fromSeq, toSeq).map((row) => row.seq);
  }

  /** @internal */
  doRaiseDeliveredSeq(conversationId: string, userId: string, seq: number): void {
    const uid = this.findUid(userId);
    const cid = this.findCid(conversationId);
    if (uid !== undefined && cid !== undefined) this.statements.memberRaiseDelivered.run(seq, uid, cid, seq);
  }

  /** @internal */
  readSendersBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number): string[] {
    const cid = this.findCid(conversationId);
    if (cid === undefined) return [];
    return this.statements.sendersBetween.all(cid, fromSeq, toSeq, TYPE_USER, limit).map((row) => this.userOf(row.sender));
  }

  /** @internal */
  doRaiseReadSeq(conversationId: string, userId: string, seq: number): void {
    this.statements.memberRaiseRead.run(seq, this.batchVersion, this.uidOf(userId), this.cidOf(conversationId), seq);
  }

  /** @internal */
  doInsertMessage(message: NewMessage): StoredMessage {
    const cid = this.cidOf(message.conversationId);
    const sender = message.senderId === '' ? 0 : this.uidOf(message.senderId);
    const visibleTo = message.visibleTo === undefined ? null : this.uidOf(message.visibleTo);
    let info: Database.RunResult;
    try {
      info = this.statements.messageInsert.run(
        cid,
        message.seq,
        sender,
        message.clientMsgId,
        message.type === 'system' ? TYPE_SYSTEM : TYPE_USER,
        message.text ?? null,
        message.data ?? null,
        visibleTo,
        message.createdAt,
        this.batchVersion,
        message.content === undefined ? null : MessageContent.encode(message.content).finish(),
      );
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      const what = String((error as Error).message).includes('client_msg_id') ? 'clientMsgId was already used' : `seq ${message.seq} is taken`;
      throw new ParleyError('CONFLICT', what, { cause: error });
    }
    if (message.searchWords !== undefined && message.searchWords !== '') this.statements.searchInsert.run(info.lastInsertRowid, message.searchWords);
    const stored: StoredMessage = {
      id: String(info.lastInsertRowid),
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
      this.statements.messageExtras.run(
        message.mentions === undefined ? null : JSON.stringify(message.mentions),
        message.mentionAll === true ? 1 : null,
        message.replyTo ?? null,
        message.threadRoot ?? null,
        cid,
        message.seq,
      );
      for (const userId of message.mentions ?? []) this.statements.mentionInsert.run(cid, message.seq, this.uidOf(userId));
      // uid 0 is no user: it stands for everyone.
      if (message.mentionAll === true) this.statements.mentionInsert.run(cid, message.seq, 0);
      if (message.mentions !== undefined) stored.mentions = message.mentions;
      if (message.mentionAll === true) stored.mentionAll = true;
      if (message.replyTo !== undefined) stored.replyTo = message.replyTo;
      if (message.threadRoot !== undefined) stored.threadRoot = message.threadRoot;
    }
    return stored;
  }

  /** @internal */
  doInsertPasswordHash(userId: string, passwordHash: string, createdAt: number): void {
    const uid = this.uidOf(userId);
    if (this.statements.passwordHash.get(uid) !== undefined) throw new ParleyError('CONFLICT', `${userId} already has a password`);
    this.statements.passwordInsert.run(uid, passwordHash, createdAt);
  }

  /** @internal */
  doReplacePasswordHash(userId: string, passwordHash: string, createdAt: number): void {
    this.statements.passwordReplace.run(this.uidOf(userId), passwordHash, createdAt);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Units already queued still commit: their callers are waiting for an answer.
    while (this.batch !== undefined || this.queue.length > 0) await (this.batch ?? this.runBatch());
    if (this.walSync !== undefined) await this.walSync.sync().catch(() => undefined);
    this.walSync?.close();
    await this.checkpointer?.close();
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A checkpoint is housekeeping: the WAL is replayed on next open anyway.
    }
    this.db.close();
  }
}

/** SQL of a MessageFilter but its seq range; null parameters switch a condition off. */
const MESSAGE_CONDITIONS = `(@type IS NULL OR type = @type)
  AND (@exclude IS NULL OR sender <> @exclude)
  AND (@visible IS NULL OR visible_to IS NULL OR visible_to = @visible)
  AND (@unrecalled IS NULL OR recalled_at IS NULL)
  AND (@hidden IS NULL OR NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.uid = @hidden AND h.cid = messages.cid AND h.seq = messages.seq))
  AND (@mentioning IS NULL OR EXISTS (SELECT 1 FROM message_mentions mm WHERE mm.cid = messages.cid AND mm.seq = messages.seq AND mm.uid IN (@mentioning, 0)))
  AND (@thread IS NULL OR thread_root = @thread)
  AND (@main IS NULL OR thread_root IS NULL)`;

/** SQL of a MessageFilter. */
const MESSAGE_FILTER = `cid = @cid AND seq >= @from AND seq <= @to AND ${MESSAGE_CONDITIONS}`;

interface SearchParameters {
  match: string;
  /** JSON [[cid, from, through], ...]. */
  ranges: string;
  before: number;
  type: number | null;
  visible: number | null;
  hidden: number | null;
  limit: number;
}

/**
 * An FTS5 query for the phrases: each one quoted (so nothing in it is query
 * syntax), all required, the last word a prefix.
 */
function ftsMatch(phrases: MessageSearch['phrases']): string {
  return `${phrases.map((words) => `"${words.join(' ').replaceAll('"', '""')}"`).join(' AND ')}*`;
}

interface MessageParameters {
  cid: number;
  from: number;
  to: number;
  type: number | null;
  exclude: number | null;
  visible: number | null;
  unrecalled: number | null;
  hidden: number | null;
  mentioning: number | null;
  thread: number | null;
  main: number | null;
}

/**
 * The `tx` a unit gets. It stops working when its unit ends, so a unit that
 * leaks it cannot write into a later transaction.
 */
class SqliteTx implements StoreTx {
  private live = true;

  constructor(private readonly store: SqliteStore) {}

  end(): void {
    this.live = false;
  }

  private get s(): SqliteStore {
    if (!this.live) throw new ParleyError('INTERNAL', 'transaction already ended');
    return this.store;
  }

  async getUser(id: string) { return this.s.readUser(id); }
  async getUsers(ids: readonly string[]) { return this.s.readUsers(ids); }
  async searchUsers(search: UserSearch) { return this.s.readUserSearch(search); }
  async countUsers() { return this.s.readUserCount(); }
  async getConversation(id: string) { return this.s.readConversation(id); }
  /** One writer at a time already: the row needs no extra lock in SQLite. */
  async lockConversation(id: string) { return this.s.readConversation(id); }
  async getMember(conversationId: string, userId: string) { return this.s.readMember(conversationId, userId); }
  async activeMembers(conversationId: string) { return this.s.readActiveMembers(conversationId); }
  async countActiveMembers(conversationId: string) { return this.s.readActiveMemberCount(conversationId); }
  async countPinned(userId: string) { return this.s.readPinnedCount(userId); }
  async senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number) { return this.s.readSendersBetween(conversationId, fromSeq, toSeq, limit); }
  async membershipsOf(userId: string, query?: MembershipQuery) { return this.s.readMemberships(userId, query); }
  async messageByClientId(senderId: string, clientMsgId: string) { return this.s.readMessageByClientId(senderId, clientMsgId); }
  async listMessages(query: MessageQuery) { return this.s.readMessages(query); }
  async recentMessages(query: RecentQuery) { return this.s.readRecentMessages(query); }
  async countMessages(filter: MessageFilter) { return this.s.readMessageCount(filter); }
  async countFollowedReplies(filter: MessageFilter, followerId: string) { return this.s.readFollowedReplyCount(filter, followerId); }
  async threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]) { return this.s.readThreadFollows(conversationId, userId, rootSeqs); }
  async threadFollowers(conversationId: string, rootSeq: number, limit: number) { return this.s.readThreadFollowers(conversationId, rootSeq, limit); }
  async addThreadReply(conversationId: string, rootSeq: number, replySeq: number, at: number) { this.s.doAddThreadReply(conversationId, rootSeq, replySeq, at); }
  async followThread(conversationId: string, rootSeq: number, userId: string, readSeq: number) { return this.s.doFollowThread(conversationId, rootSeq, userId, readSeq); }
  async raiseThreadRead(conversationId: string, rootSeq: number, userId: string, seq: number) { return this.s.doRaiseThreadRead(conversationId, rootSeq, userId, seq); }
  async syncVersion() { return this.s.readSyncVersion(); }
  async getPasswordHash(userId: string) { return this.s.readPasswordHash(userId); }
  async getMedia(id: string) { return this.s.readMedia(id); }
  async findOwnMedia(ownerId: string, blobKey: string, kind: MediaKind) { return this.s.readOwnMedia(ownerId, blobKey, kind); }
  async mediaUsage(ownerId: string) { return this.s.readMediaUsage(ownerId); }
  async mediaReferences(mediaId: string, limit: number) { return this.s.readMediaReferences(mediaId, limit); }
  async insertMedia(row: MediaRow) { this.s.doInsertMedia(row); }
  async roomPerson(conversationId: string, userId: string) { return this.s.readRoomPerson(conversationId, userId); }
  async roomPeople(conversationId: string) { return this.s.readRoomPeople(conversationId); }
  async messageFeed(after: FeedPosition, limit: number) { return this.s.readMessageFeed(after, limit); }
  async putRoomPerson(row: RoomPersonRow) { this.s.doPutRoomPerson(row); }
  async insertMediaReference(mediaId: string, reference: MediaReference) { this.s.doInsertMediaReference(mediaId, reference); }
  async insertUser(row: UserRow) { this.s.doInsertUser(row); }
  async updateUser(id: string, patch: UserPatch) { this.s.doUpdateUser(id, patch); }
  async insertConversation(row: ConversationRow) { return this.s.doInsertConversation(row); }
  async updateConversation(id: string, patch: ConversationPatch) {
    this.s.doUpdateConversation(id, patch);
  }
  async putMember(row: MemberRow) { this.s.doPutMember(row); }
  async updateMember(conversationId: string, userId: string, patch: MemberPatch) {
    this.s.doUpdateMember(conversationId, userId, patch);
  }
  async raiseReadSeq(conversationId: string, userId: string, seq: number) { this.s.doRaiseReadSeq(conversationId, userId, seq); }
  async raiseDeliveredSeq(conversationId: string, userId: string, seq: number) { this.s.doRaiseDeliveredSeq(conversationId, userId, seq); }
  async recallMessage(conversationId: string, seq: number, at: number) { return this.s.doRecallMessage(conversationId, seq, at); }
  async editMessage(conversationId: string, seq: number, text: string, at: number, searchWords?: string) {
    return this.s.doEditMessage(conversationId, seq, text, at, searchWords);
  }
  async hideMessage(userId: string, conversationId: string, seq: number) { return this.s.doHideMessage(userId, conversationId, seq); }
  async setReaction(conversationId: string, seq: number, userId: string, emoji: string, add: boolean, at: number) {
    return this.s.doSetReaction(conversationId, seq, userId, emoji, add, at);
  }
  async reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string) { return this.s.readReactionsIn(conversationId, fromSeq, toSeq, readerId); }
  async textVersions(conversationId: string, seq: number) { return this.s.readTextVersions(conversationId, seq); }
  async hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number) { return this.s.readHiddenSeqs(userId, conversationId, fromSeq, toSeq); }
  async insertMessage(message: NewMessage) { return this.s.doInsertMessage(message); }
  async insertPasswordHash(userId: string, passwordHash: string, createdAt: number) { this.s.doInsertPasswordHash(userId, passwordHash, createdAt); }
  async replacePasswordHash(userId: string, passwordHash: string, createdAt: number) { this.s.doReplacePasswordHash(userId, passwordHash, createdAt); }
}

/** Resolves each unit with its outcome, in request order. */
function settle(units: WriteUnit[], outcomes: Outcome[]): void {
  units.forEach((unit, index) => {
    const outcome = outcomes[index] as Outcome;
    if (outcome.ok) unit.resolve(outcome.value);
    else unit.reject(outcome.error);
  });
}
