/**
 * The embedded Store adapter: SQLite through better-sqlite3, in WAL mode.
 *
 * All writes go through one queue and are committed together, one transaction
 * per event-loop turn (group commit), in the order they were requested. A
 * promise resolves only after its transaction committed, which is what lets the
 * server acknowledge a send only once it is durable.
 *
 * Keys are small integers (users.uid, conversations.cid) so that the message
 * indexes stay compact and append-friendly; string ids live once, in the users
 * and conversations tables, and are cached in memory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ParleyError } from '@parley/protocol';
import type {
  AppendInput,
  AppendResult,
  ChangesResult,
  ConversationView,
  CreateGroupInput,
  MemberInfo,
  MembershipChange,
  ReadRangeInput,
  ReadRangeResult,
  Store,
  StoredMessage,
  UpdateMembersInput,
  UserRecord,
} from '../store.js';
import {
  type ActorMembership,
  type MemberRole,
  checkCanAdd,
  checkCanRemove,
  checkCanRename,
  checkCanSetRole,
  roleFromInt,
  roleToInt,
} from '../rules.js';
import { type StoredSystemEvent, encodeStoredSystemEvent } from '../../system-events.js';
import { directConversationId } from '../ids.js';
import { SCHEMA } from './schema.js';
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

interface MessageRow {
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
}

interface ConversationRow {
  cid: number;
  id: string;
  kind: number;
  name: string;
  subject: string;
  peer_a: number | null;
  peer_b: number | null;
  last_seq: number;
  member_count: number;
  updated_at: number;
  version: number;
}

interface MemberRow {
  cid: number;
  uid: number;
  role: number;
  first_seq: number;
  left_seq: number | null;
  read_seq: number;
  joined_at: number;
  version: number;
}

interface WriteTask {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Runs inside a savepoint so that a failure undoes only this task. */
  isolated: boolean;
}

const KIND_DIRECT = 1;
const KIND_GROUP = 2;
const TYPE_USER = 1;
const TYPE_SYSTEM = 2;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly userUid = new Map<string, number>();
  private readonly uidUser = new Map<number, string>();
  private readonly conversationCid = new Map<string, { cid: number; kind: number }>();
  private readonly cidConversation = new Map<number, string>();
  private version: number;
  private queue: WriteTask[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly checkpointer: CheckpointWorker | undefined;
  /** Set with durability 'full': flushes each committed batch before it is acknowledged. */
  private readonly walSync: WalSync | undefined;
  private readonly commitBatch: (tasks: WriteTask[]) => unknown[];

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
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      metaGet: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      metaSet: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      userById: db.prepare<[string], { uid: number; id: string; name: string; created_at: number; tokens_valid_after: number }>(
        'SELECT uid, id, name, created_at, tokens_valid_after FROM users WHERE id = ?',
      ),
      userByUid: db.prepare<[number], { id: string; name: string }>('SELECT id, name FROM users WHERE uid = ?'),
      userInsert: db.prepare('INSERT INTO users(id, name, created_at, tokens_valid_after) VALUES (?, ?, ?, 0)'),
      userRename: db.prepare('UPDATE users SET name = ? WHERE uid = ?'),
      userRevoke: db.prepare('UPDATE users SET tokens_valid_after = ? WHERE uid = ?'),
      conversationById: db.prepare<[string], ConversationRow>('SELECT * FROM conversations WHERE id = ?'),
      conversationByCid: db.prepare<[number], ConversationRow>('SELECT * FROM conversations WHERE cid = ?'),
      conversationInsert: db.prepare(
        `INSERT INTO conversations(id, kind, name, subject, peer_a, peer_b, last_seq, member_count, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
      ),
      conversationLastSeq: db.prepare<[number], { last_seq: number }>('SELECT last_seq FROM conversations WHERE cid = ?'),
      conversationTouch: db.prepare('UPDATE conversations SET last_seq = ?, updated_at = ?, version = ? WHERE cid = ?'),
      conversationRename: db.prepare('UPDATE conversations SET name = ?, version = ? WHERE cid = ?'),
      conversationCount: db.prepare('UPDATE conversations SET member_count = ?, version = ? WHERE cid = ?'),
      member: db.prepare<[number, number], MemberRow>('SELECT * FROM members WHERE uid = ? AND cid = ?'),
      memberInsert: db.prepare(
        `INSERT INTO members(uid, cid, role, first_seq, left_seq, read_seq, joined_at, version) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT(uid, cid) DO UPDATE SET role = excluded.role, first_seq = excluded.first_seq, left_seq = NULL,
           read_seq = excluded.read_seq, joined_at = excluded.joined_at, version = excluded.version`,
      ),
      memberLeave: db.prepare('UPDATE members SET left_seq = ?, version = ? WHERE uid = ? AND cid = ?'),
      memberRole: db.prepare('UPDATE members SET role = ?, version = ? WHERE uid = ? AND cid = ?'),
      memberRead: db.prepare('UPDATE members SET read_seq = ?, version = ? WHERE uid = ? AND cid = ? AND read_seq < ?'),
      activeMembers: db.prepare<[number], { uid: number; role: number; joined_at: number }>(
        'SELECT uid, role, joined_at FROM members WHERE cid = ? AND left_seq IS NULL',
      ),
      activeMembersWithNames: db.prepare<[number], { uid: number; id: string; name: string; role: number; joined_at: number }>(
        'SELECT m.uid, u.id, u.name, m.role, m.joined_at FROM members m JOIN users u ON u.uid = m.uid WHERE m.cid = ? AND m.left_seq IS NULL',
      ),
      activeMemberCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM members WHERE cid = ? AND left_seq IS NULL'),
      messageByClientId: db.prepare<[number, string], MessageRow>('SELECT * FROM messages WHERE sender = ? AND client_msg_id = ?'),
      messageInsert: db.prepare(
        `INSERT INTO messages(cid, seq, sender, client_msg_id, type, text, data, visible_to, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      rangeAscending: db.prepare<[number, number, number, number], MessageRow>(
        'SELECT * FROM messages WHERE cid = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?',
      ),
      rangeDescendingVisible: db.prepare<[number, number, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE cid = ? AND seq >= ? AND seq <= ? AND (visible_to IS NULL OR visible_to = ?)
         ORDER BY seq DESC LIMIT ?`,
      ),
      lastVisible: db.prepare<[number, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE cid = ? AND seq >= ? AND seq <= ? AND (visible_to IS NULL OR visible_to = ?)
         ORDER BY seq DESC LIMIT 1`,
      ),
      unreadCount: db.prepare<[number, number, number, number, number], { n: number }>(
        `SELECT count(*) AS n FROM messages WHERE cid = ? AND seq > ? AND seq <= ? AND type = ${TYPE_USER}
         AND sender <> ? AND (visible_to IS NULL OR visible_to = ?)`,
      ),
      membershipsChanged: db.prepare<[number, number, number], MemberRow & { c_version: number }>(
        `SELECT m.*, c.version AS c_version FROM members m JOIN conversations c ON c.cid = m.cid
         WHERE m.uid = ? AND (c.version > ? OR m.version > ?)`,
      ),
      membershipsWithUnread: db.prepare<[number], MemberRow & { last_seq: number }>(
        `SELECT m.*, c.last_seq FROM members m JOIN conversations c ON c.cid = m.cid
         WHERE m.uid = ? AND coalesce(m.left_seq, c.last_seq) > m.read_seq`,
      ),
    };
    this.version = this.statements.metaGet.get('version')?.value ?? 0;
    this.commitBatch = this.db.transaction((tasks: WriteTask[]) => this.runTasks(tasks));
    if (options.backgroundCheckpoints !== false) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new CheckpointWorker(options.path);
    }
  }

  // ---- write queue ----

  private enqueue<T>(run: () => T, isolated = true): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject, isolated });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const tasks = this.queue;
    this.queue = [];
    if (tasks.length === 0) return;
    let outcomes: unknown[];
    try {
      outcomes = this.commitBatch(tasks);
    } catch (error) {
      const failure = new ParleyError('INTERNAL', 'storage commit failed', { cause: error });
      for (const task of tasks) task.reject(failure);
      return;
    }
    if (this.walSync === undefined) {
      settle(tasks, outcomes);
      return;
    }
    this.walSync.sync().then(
      () => settle(tasks, outcomes),
      (error: unknown) => {
        // Committed but not known to be on disk: refuse to acknowledge. A
        // retry with the same clientMsgId returns the stored message.
        const failure = new ParleyError('INTERNAL', 'storage flush failed', { cause: error });
        for (const task of tasks) task.reject(failure);
      },
    );
  }

  private runTasks(tasks: WriteTask[]): unknown[] {
    const outcomes: unknown[] = [];
    // One version per batch: every row the batch changes is stamped with it.
    this.pendingVersion = this.version + 1;
    for (const task of tasks) {
      try {
        outcomes.push(task.isolated ? this.db.transaction(task.run)() : task.run());
      } catch (error) {
        if (!(error instanceof ParleyError)) throw error;
        outcomes.push(new TaskFailure(error));
      }
    }
    this.statements.metaSet.run('version', this.pendingVersion);
    this.version = this.pendingVersion;
    return outcomes;
  }

  /** The version stamped on rows changed by the batch being committed. */
  private pendingVersion = 0;

  // ---- id caches ----

  private uidOf(userId: string): number {
    const cached = this.userUid.get(userId);
    if (cached !== undefined) return cached;
    const row = this.statements.userById.get(userId);
    if (row === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
    this.userUid.set(userId, row.uid);
    this.uidUser.set(row.uid, userId);
    return row.uid;
  }

  private userOf(uid: number): string {
    const cached = this.uidUser.get(uid);
    if (cached !== undefined) return cached;
    const row = this.statements.userByUid.get(uid);
    const id = row?.id ?? '';
    this.uidUser.set(uid, id);
    return id;
  }

  private conversationOf(conversationId: string): { cid: number; kind: number } {
    const cached = this.conversationCid.get(conversationId);
    if (cached !== undefined) return cached;
    const row = this.statements.conversationById.get(conversationId);
    if (row === undefined) throw new ParleyError('NOT_FOUND', `unknown conversation ${conversationId}`);
    const entry = { cid: row.cid, kind: row.kind };
    this.conversationCid.set(conversationId, entry);
    this.cidConversation.set(row.cid, conversationId);
    return entry;
  }

  private conversationIdOf(cid: number): string {
    const cached = this.cidConversation.get(cid);
    if (cached !== undefined) return cached;
    const id = this.statements.conversationByCid.get(cid)?.id ?? '';
    this.cidConversation.set(cid, id);
    return id;
  }

  private membership(uid: number, cid: number): ActorMembership | undefined {
    const row = this.statements.member.get(uid, cid);
    if (row === undefined) return undefined;
    return { role: roleFromInt(row.role), active: row.left_seq === null };
  }

  // ---- users ----

  putUser(input: { id: string; name: string }): Promise<{ user: UserRecord; created: boolean }> {
    return this.enqueue(() => {
      const existing = this.statements.userById.get(input.id);
      if (existing !== undefined) {
        if (existing.name !== input.name) this.statements.userRename.run(input.name, existing.uid);
        return { user: { id: existing.id, name: input.name, createdAt: existing.created_at, tokensValidAfter: existing.tokens_valid_after }, created: false };
      }
      const now = Date.now();
      this.statements.userInsert.run(input.id, input.name, now);
      return { user: { id: input.id, name: input.name, createdAt: now, tokensValidAfter: 0 }, created: true };
    });
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.userById.get(id);
    if (row === undefined) return undefined;
    return { id: row.id, name: row.name, createdAt: row.created_at, tokensValidAfter: row.tokens_valid_after };
  }

  revokeTokens(userId: string, at: number): Promise<void> {
    return this.enqueue(() => {
      this.statements.userRevoke.run(at, this.uidOf(userId));
    });
  }

  // ---- conversations ----

  openDirect(userId: string, peerId: string, subject: string): Promise<ConversationView> {
    return this.enqueue(() => {
      if (userId === peerId) throw new ParleyError('INVALID_ARGUMENT', 'a direct conversation needs two different users');
      const uid = this.uidOf(userId);
      const peer = this.uidOf(peerId);
      const id = directConversationId(userId, peerId, subject);
      let row = this.statements.conversationById.get(id);
      if (row === undefined) {
        const now = Date.now();
        const [a, b] = uid < peer ? [uid, peer] : [peer, uid];
        const version = this.pendingVersion;
        this.statements.conversationInsert.run(id, KIND_DIRECT, '', subject, a, b, 2, now, now, version);
        row = this.statements.conversationById.get(id) as ConversationRow;
        for (const member of [a, b]) this.statements.memberInsert.run(member, row.cid, roleToInt('member'), 1, 0, now, version);
      }
      return this.view(uid, row.cid) as ConversationView;
    });
  }

  createGroup(input: CreateGroupInput): Promise<{ view: ConversationView; change: MembershipChange }> {
    return this.enqueue(() => {
      const owner = this.uidOf(input.ownerId);
      const memberIds = [...new Set([input.ownerId, ...input.memberIds])];
      if (memberIds.length > input.maxMembers) {
        throw new ParleyError('LIMIT_EXCEEDED', `a group holds at most ${input.maxMembers} members`);
      }
      const memberUids = memberIds.map((id) => this.uidOf(id));
      if (this.statements.conversationById.get(input.id) !== undefined) {
        throw new ParleyError('CONFLICT', `conversation ${input.id} already exists`);
      }
      const now = Date.now();
      const version = this.pendingVersion;
      this.statements.conversationInsert.run(input.id, KIND_GROUP, input.name, '', null, null, memberUids.length, now, now, version);
      const cid = (this.statements.conversationById.get(input.id) as ConversationRow).cid;
      for (const uid of memberUids) {
        this.statements.memberInsert.run(uid, cid, roleToInt(uid === owner ? 'owner' : 'member'), 1, 0, now, version);
      }
      const message = this.appendSystem(cid, owner, { event: 'group_created', actorId: input.ownerId, name: input.name, userIds: memberIds });
      return {
        view: this.view(owner, cid) as ConversationView,
        change: { conversationId: input.id, messages: [message], added: memberIds, removed: [] },
      };
    });
  }

  updateMembers(input: UpdateMembersInput): Promise<MembershipChange> {
    return this.enqueue(() => {
      const { cid, kind } = this.conversationOf(input.conversationId);
      if (kind !== KIND_GROUP) throw new ParleyError('INVALID_ARGUMENT', 'members can only change in groups');
      const actorUid = input.asAdmin ? 0 : this.uidOf(input.actorId);
      const actor: ActorMembership | undefined = input.asAdmin ? { role: 'owner', active: true } : this.membership(actorUid, cid);
      const change: MembershipChange = { conversationId: input.conversationId, messages: [], added: [], removed: [] };
      const now = Date.now();
      const version = this.pendingVersion;

      if (input.add.length > 0) checkCanAdd(actor);
      const toAdd = [...new Set(input.add)].filter((id) => !this.membership(this.uidOf(id), cid)?.active);
      if (toAdd.length > 0) {
        const count = this.statements.activeMemberCount.get(cid)?.n ?? 0;
        if (count + toAdd.length > input.maxMembers) {
          throw new ParleyError('LIMIT_EXCEEDED', `a group holds at most ${input.maxMembers} members`);
        }
        const message = this.appendSystem(cid, actorUid, { event: 'members_added', actorId: input.actorId, userIds: toAdd });
        for (const id of toAdd) {
          this.statements.memberInsert.run(this.uidOf(id), cid, roleToInt('member'), message.seq, message.seq - 1, now, version);
        }
        change.added = toAdd;
        change.messages.push(message);
      }
      for (const id of new Set(input.remove)) {
        const targetUid = this.uidOf(id);
        checkCanRemove(input.actorId, actor, id, this.membership(targetUid, cid));
        const event = id === input.actorId ? 'member_left' : 'member_removed';
        const message = this.appendSystem(cid, actorUid, { event, actorId: input.actorId, userIds: [id] });
        this.statements.memberLeave.run(message.seq, version, targetUid, cid);
        change.removed.push(id);
        change.messages.push(message);
      }
      if (change.added.length + change.removed.length > 0) {
        const count = this.statements.activeMemberCount.get(cid)?.n ?? 0;
        this.statements.conversationCount.run(count, version, cid);
      }
      return change;
    });
  }

  rename(input: { conversationId: string; actorId: string; name: string; asAdmin?: boolean }): Promise<MembershipChange> {
    return this.enqueue(() => {
      const { cid, kind } = this.conversationOf(input.conversationId);
      if (kind !== KIND_GROUP) throw new ParleyError('INVALID_ARGUMENT', 'only groups have names');
      const actorUid = input.asAdmin ? 0 : this.uidOf(input.actorId);
      if (!input.asAdmin) checkCanRename(this.membership(actorUid, cid));
      this.statements.conversationRename.run(input.name, this.pendingVersion, cid);
      const message = this.appendSystem(cid, actorUid, { event: 'renamed', actorId: input.actorId, name: input.name });
      return { conversationId: input.conversationId, messages: [message], added: [], removed: [] };
    });
  }

  setRole(input: { conversationId: string; actorId: string; userId: string; role: MemberRole }): Promise<MembershipChange> {
    return this.enqueue(() => {
      const { cid, kind } = this.conversationOf(input.conversationId);
      if (kind !== KIND_GROUP) throw new ParleyError('INVALID_ARGUMENT', 'roles exist only in groups');
      const actorUid = this.uidOf(input.actorId);
      const targetUid = this.uidOf(input.userId);
      checkCanSetRole(this.membership(actorUid, cid), this.membership(targetUid, cid), input.userId);
      const version = this.pendingVersion;
      if (input.role === 'owner' && targetUid !== actorUid) {
        // One owner per group: handing ownership over makes the old owner an admin.
        this.statements.memberRole.run(roleToInt('admin'), version, actorUid, cid);
      }
      if (targetUid === actorUid && input.role !== 'owner') {
        throw new ParleyError('INVALID_ARGUMENT', 'the owner hands over ownership by making another member owner');
      }
      this.statements.memberRole.run(roleToInt(input.role), version, targetUid, cid);
      const message = this.appendSystem(cid, actorUid, { event: 'role_changed', actorId: input.actorId, userIds: [input.userId], role: input.role });
      return { conversationId: input.conversationId, messages: [message], added: [], removed: [] };
    });
  }

  async listMembers(conversationId: string, requesterId: string | undefined): Promise<MemberInfo[]> {
    const { cid } = this.conversationOf(conversationId);
    if (requesterId !== undefined) {
      const requester = this.membership(this.uidOf(requesterId), cid);
      if (requester === undefined || !requester.active) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
    }
    return this.statements.activeMembersWithNames.all(cid).map((row) => ({
      userId: row.id,
      name: row.name,
      role: roleFromInt(row.role),
      joinedAt: row.joined_at,
    }));
  }

  async activeMemberIds(conversationId: string): Promise<string[]> {
    const { cid } = this.conversationOf(conversationId);
    return this.statements.activeMembers.all(cid).map((row) => this.userOf(row.uid));
  }

  // ---- messages ----

  append(input: AppendInput): Promise<AppendResult> {
    // Not isolated: every check happens before the first write, so a failing
    // send leaves nothing behind and needs no savepoint.
    return this.enqueue(() => {
      const sender = this.uidOf(input.senderId);
      const { cid } = this.conversationOf(input.conversationId);
      const existing = this.statements.messageByClientId.get(sender, input.clientMsgId);
      if (existing !== undefined) {
        if (existing.cid !== cid) throw new ParleyError('CONFLICT', 'clientMsgId was already used in another conversation');
        return { message: this.toMessage(existing), duplicate: true };
      }
      const member = this.statements.member.get(sender, cid);
      if (member === undefined || member.left_seq !== null) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
      let visibleTo: number | null = null;
      if (input.visibleTo !== undefined && input.visibleTo !== '') {
        visibleTo = this.uidOf(input.visibleTo);
        const target = this.statements.member.get(visibleTo, cid);
        if (target === undefined || target.left_seq !== null) throw new ParleyError('INVALID_ARGUMENT', 'visibleTo must be an active member');
      }
      const message = this.insertMessage(cid, sender, input.clientMsgId, TYPE_USER, input.text ?? null, input.data ?? null, visibleTo);
      this.statements.memberRead.run(message.seq, this.pendingVersion, sender, cid, message.seq);
      return { message, duplicate: false };
    }, false);
  }

  private appendSystem(cid: number, actorUid: number, event: StoredSystemEvent): StoredMessage {
    const clientMsgId = `sys-${randomBytes(9).toString('base64url')}`;
    const data = encodeStoredSystemEvent(event);
    return this.insertMessage(cid, actorUid, clientMsgId, TYPE_SYSTEM, null, data, null);
  }

  private insertMessage(
    cid: number,
    sender: number,
    clientMsgId: string,
    type: number,
    text: string | null,
    data: Uint8Array | null,
    visibleTo: number | null,
  ): StoredMessage {
    const seq = (this.statements.conversationLastSeq.get(cid)?.last_seq ?? 0) + 1;
    const now = Date.now();
    const info = this.statements.messageInsert.run(cid, seq, sender, clientMsgId, type, text, data, visibleTo, now);
    this.statements.conversationTouch.run(seq, now, this.pendingVersion, cid);
    const message: StoredMessage = {
      id: String(info.lastInsertRowid),
      conversationId: this.conversationIdOf(cid),
      seq,
      senderId: this.userOf(sender),
      clientMsgId,
      type: type === TYPE_SYSTEM ? 'system' : 'user',
      createdAt: now,
    };
    if (text !== null) message.text = text;
    if (data !== null) message.data = data;
    if (visibleTo !== null) message.visibleTo = this.userOf(visibleTo);
    return message;
  }

  private toMessage(row: MessageRow): StoredMessage {
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
    return message;
  }

  async readRange(input: ReadRangeInput): Promise<ReadRangeResult> {
    const { cid } = this.conversationOf(input.conversationId);
    const uid = this.uidOf(input.userId);
    const member = this.statements.member.get(uid, cid);
    if (member === undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
    const lastSeq = this.statements.conversationLastSeq.get(cid)?.last_seq ?? 0;
    const cap = member.left_seq ?? lastSeq;
    const low = Math.max(input.fromSeq, member.first_seq, 1);
    const high = input.toSeq === 0 ? cap : Math.min(input.toSeq, cap);
    if (low > high) return { messages: [], coveredFrom: low, coveredTo: high, lastSeq: cap };
    if (!input.descending) {
      const rows = this.statements.rangeAscending.all(cid, low, high, input.limit);
      const messages = rows.map((row) => (row.visible_to !== null && row.visible_to !== uid ? placeholder(input.conversationId, row.seq) : this.toMessage(row)));
      const coveredTo = rows.length === input.limit ? (rows[rows.length - 1] as MessageRow).seq : high;
      return { messages, coveredFrom: low, coveredTo, lastSeq: cap };
    }
    const rows = this.statements.rangeDescendingVisible.all(cid, low, high, uid, input.limit);
    rows.reverse();
    const coveredFrom = rows.length === input.limit ? (rows[0] as MessageRow).seq : low;
    return { messages: rows.map((row) => this.toMessage(row)), coveredFrom, coveredTo: high, lastSeq: cap };
  }

  // ---- per-user state ----

  private view(uid: number, cid: number): ConversationView | undefined {
    const member = this.statements.member.get(uid, cid);
    const conversation = this.statements.conversationByCid.get(cid);
    if (member === undefined || conversation === undefined) return undefined;
    return this.buildView(member, conversation);
  }

  private buildView(member: MemberRow, conversation: ConversationRow): ConversationView {
    const uid = member.uid;
    const cap = member.left_seq ?? conversation.last_seq;
    const last = this.statements.lastVisible.get(conversation.cid, member.first_seq, cap, uid);
    const unread = cap > member.read_seq ? this.unreadOf(member, cap) : 0;
    let name = conversation.name;
    let peerId = '';
    if (conversation.kind === KIND_DIRECT) {
      const peerUid = conversation.peer_a === uid ? conversation.peer_b : conversation.peer_a;
      peerId = peerUid === null ? '' : this.userOf(peerUid);
      name = peerUid === null ? '' : (this.statements.userByUid.get(peerUid)?.name ?? peerId);
    }
    const view: ConversationView = {
      id: conversation.id,
      kind: conversation.kind === KIND_DIRECT ? 'direct' : 'group',
      name,
      subject: conversation.subject,
      peerId,
      lastSeq: cap,
      readSeq: member.read_seq,
      unread,
      role: roleFromInt(member.role),
      firstSeq: member.first_seq,
      leftSeq: member.left_seq ?? 0,
      active: member.left_seq === null,
      updatedAt: last?.created_at ?? conversation.updated_at,
      memberCount: conversation.member_count,
    };
    if (last !== undefined) view.lastMessage = this.toMessage(last);
    return view;
  }

  private unreadOf(member: MemberRow, cap: number): number {
    return this.statements.unreadCount.get(member.cid, member.read_seq, cap, member.uid, member.uid)?.n ?? 0;
  }

  private totalUnreadOf(uid: number): number {
    let total = 0;
    for (const row of this.statements.membershipsWithUnread.all(uid)) {
      total += this.unreadOf(row, row.left_seq ?? row.last_seq);
    }
    return total;
  }

  async changedConversations(userId: string, sinceVersion: number): Promise<ChangesResult> {
    const uid = this.uidOf(userId);
    const version = this.version;
    const conversations: ConversationView[] = [];
    for (const member of this.statements.membershipsChanged.all(uid, sinceVersion, sinceVersion)) {
      const conversation = this.statements.conversationByCid.get(member.cid);
      if (conversation !== undefined) conversations.push(this.buildView(member, conversation));
    }
    conversations.sort((a, b) => b.updatedAt - a.updatedAt || a.id.localeCompare(b.id));
    return { version, conversations, totalUnread: this.totalUnreadOf(uid) };
  }

  async conversationView(userId: string, conversationId: string): Promise<ConversationView | undefined> {
    return this.view(this.uidOf(userId), this.conversationOf(conversationId).cid);
  }

  markRead(userId: string, conversationId: string, seq: number): Promise<{ view: ConversationView; totalUnread: number }> {
    return this.enqueue(() => {
      const uid = this.uidOf(userId);
      const { cid } = this.conversationOf(conversationId);
      const member = this.statements.member.get(uid, cid);
      if (member === undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
      const cap = member.left_seq ?? this.statements.conversationLastSeq.get(cid)?.last_seq ?? 0;
      const target = seq === 0 ? cap : Math.min(seq, cap);
      if (target > member.read_seq) this.statements.memberRead.run(target, this.pendingVersion, uid, cid, target);
      return { view: this.view(uid, cid) as ConversationView, totalUnread: this.totalUnreadOf(uid) };
    });
  }

  async totalUnread(userId: string): Promise<number> {
    return this.totalUnreadOf(this.uidOf(userId));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.queue.length > 0) this.flush();
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

/** Resolves each task with its outcome, in request order. */
function settle(tasks: WriteTask[], outcomes: unknown[]): void {
  tasks.forEach((task, index) => {
    const outcome = outcomes[index];
    if (outcome instanceof TaskFailure) task.reject(outcome.error);
    else task.resolve(outcome);
  });
}

class TaskFailure {
  constructor(readonly error: ParleyError) {}
}

function placeholder(conversationId: string, seq: number): StoredMessage {
  return { id: '', conversationId, seq, senderId: '', clientMsgId: '', type: 'user', createdAt: 0, hidden: true };
}
