/**
 * The Store port: persistence and a transaction boundary, nothing else.
 *
 * It holds rows (users, conversations, members, messages, development
 * passwords) and hands out a sync version per commit. It knows no rule: who
 * may do what, which seq comes next, what a system event says, what counts as
 * unread, what a member may read and how a conversation is named are decided
 * by the services (the domain layer), which read and write rows through a
 * `StoreTx` inside `write`. A new adapter (PostgreSQL) implements these
 * primitives and passes the store contract suite
 * (test/contract/store-contract.ts) without re-implementing any rule.
 *
 * What every adapter guarantees:
 * - `write(unit)` runs `unit` atomically and isolated from other units: either
 *   everything it wrote commits or nothing does (a unit that throws leaves no
 *   trace), and its promise resolves only once the commit is durable;
 * - `lockConversation` serialises units that touch the same conversation
 *   (SQLite: one writer at a time; PostgreSQL: `SELECT … FOR UPDATE`), so a
 *   seq read from the locked row and written back stays dense under
 *   concurrent writers, also on different nodes;
 * - (senderId, clientMsgId) is unique across all messages: `insertMessage`
 *   throws CONFLICT for a second row with the same pair;
 * - every conversation and member row a commit writes is stamped with that
 *   commit's sync version; versions grow with commit order, survive restarts
 *   and are shared by every node using the same database.
 */
import type { MediaKind, MessageContent } from '@parley/protocol';
import type { MemberRole } from '../services/rules.js';

export interface UserRow {
  id: string;
  name: string;
  createdAt: number;
  /** Tokens issued before this instant (ms) are rejected. */
  tokensValidAfter: number;
}

export type MessageKind = 'user' | 'system';

export interface StoredMessage {
  /** Assigned by the store on insert. */
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  type: MessageKind;
  text?: string;
  data?: Uint8Array;
  createdAt: number;
  /** When set, only this user may read the message. */
  visibleTo?: string;
  /** Typed content (a photo, a file, a location...), as the domain completed it; `text` is then its fallback line. */
  content?: MessageContent;
  /** A placeholder for a seq the reader may not see: only conversationId and seq are set. Never stored. */
  hidden?: boolean;
}

export type NewMessage = Omit<StoredMessage, 'id' | 'hidden'>;

export type ConversationKindName = 'direct' | 'group' | 'room';

export interface ConversationRow {
  id: string;
  kind: ConversationKindName;
  /** Group name; empty for direct conversations (their name is the peer's). */
  name: string;
  subject: string;
  /** The two users of a direct conversation. */
  peerIds?: [string, string];
  lastSeq: number;
  memberCount: number;
  createdAt: number;
  updatedAt: number;
  /** When a room was closed (ms); undefined while it is open, and for other kinds. */
  closedAt?: number;
  /** The host's key/values for the conversation (ConversationService.setAttributes); undefined or {} when none. */
  attributes?: Record<string, string>;
}

/**
 * Someone a room knows by name: its host and admins, and viewers muted in it.
 * Rooms have no member rows (their audience is connections), so these few
 * rows are all a room stores about people.
 */
export interface RoomPersonRow {
  conversationId: string;
  userId: string;
  /** 'owner' is the host; 'member' is a plain viewer (kept while muted). */
  role: MemberRole;
  /** Events from this user are refused until then (ms); 0 when not muted. */
  mutedUntil: number;
}

export interface MemberRow {
  conversationId: string;
  userId: string;
  role: MemberRole;
  /** First seq this member may read. */
  firstSeq: number;
  /** Seq of the event that ended the membership; undefined while active. */
  leftSeq?: number;
  /**
   * Seq ranges inside the window this member may not read: the times it was
   * out of the group before being added back. Ascending, disjoint; absent
   * when there are none.
   */
  absences?: readonly SeqRange[];
  readSeq: number;
  joinedAt: number;
  // The member's own settings, synced to their devices like the read position.
  /** Notifications muted until this time (ms since the epoch; a far-future value: until unmuted); absent: not muted. */
  mutedUntil?: number;
  /** When the member pinned the conversation (ms since the epoch); absent: not pinned. */
  pinnedAt?: number;
  /** Text the member left unsent in the composer; absent: none. */
  draft?: string;
}

/** A stored upload: what was sniffed and made from its bytes, and whose it is. */
export interface MediaRow {
  /** Random, chosen by the domain. */
  id: string;
  ownerId: string;
  /** The kind it was uploaded as. */
  kind: MediaKind;
  /** Where its bytes are in the MediaStore: the SHA-256 of the uploaded bytes, hex. Shared by every upload of the same bytes. */
  blobKey: string;
  mimeType: string;
  /** Bytes of the original as stored. */
  size: number;
  fileName: string;
  width: number;
  height: number;
  durationMs: number;
  thumbhash?: Uint8Array;
  animated: boolean;
  /** The stored sizes besides the original ("medium", "poster"). */
  variants: string[];
  createdAt: number;
}

/** A message that carries a media item: who may read that message may fetch it. */
export interface MediaReference {
  conversationId: string;
  seq: number;
}

/** An inclusive range of seqs. */
export interface SeqRange {
  from: number;
  through: number;
}

export interface Membership {
  member: MemberRow;
  conversation: ConversationRow;
}

/**
 * Which messages of one conversation a read or count covers. The domain
 * builds these (the unread rule, what a member may see); the store only
 * evaluates them.
 */
export interface MessageFilter {
  conversationId: string;
  /** Inclusive bounds. */
  fromSeq: number;
  toSeq: number;
  /** Only messages of this kind. */
  type?: MessageKind;
  /** Leave out messages sent by this user. */
  excludeSender?: string;
  /** Only messages every member may see or addressed to this user. */
  visibleTo?: string;
}

export interface MessageQuery extends MessageFilter {
  limit: number;
  /** 'asc' (default): from fromSeq upward; 'desc': from toSeq downward (results still come highest first). */
  order?: 'asc' | 'desc';
}

export interface RecentQuery {
  conversationId: string;
  afterSeq: number;
  toSeq: number;
  sinceVersion?: number;
  limit: number;
}

/** A page of the user directory: users whose id or name contains `text`, ignoring case, ordered by id. */
export interface UserSearch {
  /** Matched literally (no wildcards); empty lists every user. */
  text: string;
  limit: number;
  /** Only ids after this one (the previous page's last id). */
  afterId?: string;
}

export interface MembershipQuery {
  /** Only memberships whose member or conversation row changed in a commit after this version. */
  changedSince?: number;
  /** Only memberships with a read position below their readable end (leftSeq, else the conversation's lastSeq). */
  behindOnly?: boolean;
}

/**
 * A place in the feed of stored messages (Store.messageFeed): after the
 * messages of commits up to `version`, and within that commit after the
 * message `seq` of `conversationId` (conversations in an order the adapter
 * fixes; '' is before all of them).
 */
export interface FeedPosition {
  version: number;
  conversationId: string;
  seq: number;
}

/** A message in the feed, with the version of the commit that stored it. */
export type FeedMessage = StoredMessage & { version: number };

/**
 * A named reader of the feed (one per webhook): where it is, and which node
 * holds it. One node at a time holds a cursor, for `leaseMs` from its last
 * claim; another takes it over once that lapsed.
 */
export interface FeedCursor {
  position: FeedPosition;
}

/**
 * A browser's Web Push subscription (the W3C PushSubscription's endpoint and
 * keys), held for the user who registered it. One endpoint is one browser
 * profile, so it belongs to one user at a time: the last to register it.
 */
export interface WebPushSubscriptionRow {
  /** The push service's URL for this browser; the row's key. */
  endpoint: string;
  userId: string;
  /** The browser's P-256 public key, base64url (65 bytes uncompressed). */
  p256dh: string;
  /** The browser's auth secret, base64url (16 bytes). */
  auth: string;
  createdAt: number;
}

/** How much of a message a user's notifications show (overrides the deployment's setting). */
export type PushPreviewSetting = 'full' | 'sender' | 'hidden';

/** Reads, inside a transaction or outside one (then they see committed data). */
export interface StoreReader {
  getUser(id: string): Promise<UserRow | undefined>;
  /** The users among `ids` that exist, in no particular order. */
  getUsers(ids: readonly string[]): Promise<UserRow[]>;
  searchUsers(search: UserSearch): Promise<UserRow[]>;
  /** How many users exist (for health reports; not on any hot path). */
  countUsers(): Promise<number>;
  getConversation(id: string): Promise<ConversationRow | undefined>;
  getMember(conversationId: string, userId: string): Promise<MemberRow | undefined>;
  /** Members whose membership is active (no leftSeq). */
  activeMembers(conversationId: string): Promise<MemberRow[]>;
  countActiveMembers(conversationId: string): Promise<number>;
  /** The user's active memberships with the conversation pinned. */
  countPinned(userId: string): Promise<number>;
  /** A user's memberships (active and past) with their conversations. */
  membershipsOf(userId: string, query?: MembershipQuery): Promise<Membership[]>;
  messageByClientId(senderId: string, clientMsgId: string): Promise<StoredMessage | undefined>;
  listMessages(query: MessageQuery): Promise<StoredMessage[]>;
  /**
   * The newest `limit` messages with seq in afterSeq + 1 .. toSeq, ascending,
   * and of those only the ones stored in a commit after `sinceVersion` when
   * it is given (a commit's version is what syncVersion() returns after it).
   * Every seq in the range is a row, so the answer is a contiguous run
   * ending at toSeq, or empty.
   */
  recentMessages(query: RecentQuery): Promise<StoredMessage[]>;
  countMessages(filter: MessageFilter): Promise<number>;
  /** The version of the latest commit; rows stamped up to it are visible to this read. */
  syncVersion(): Promise<number>;
  /** A development account's argon2id hash. */
  getPasswordHash(userId: string): Promise<string | undefined>;
  getMedia(id: string): Promise<MediaRow | undefined>;
  /** The owner's earlier upload of the same bytes as the same kind, if any (dedupe). */
  findOwnMedia(ownerId: string, blobKey: string, kind: MediaKind): Promise<MediaRow | undefined>;
  /** Bytes of all media the owner uploaded (each upload counted once, however often sent). */
  mediaUsage(ownerId: string): Promise<number>;
  /** Up to `limit` messages that carry the media, in no particular order. */
  mediaReferences(mediaId: string, limit: number): Promise<MediaReference[]>;
  roomPerson(conversationId: string, userId: string): Promise<RoomPersonRow | undefined>;
  /** Every person row of a room (host, admins, muted viewers). */
  roomPeople(conversationId: string): Promise<RoomPersonRow[]>;
  /**
   * Up to `limit` messages of every conversation, in the order their commits
   * were stored and, within one commit, by conversation (in an order the
   * adapter fixes) and seq: those after `after`, which names a message the
   * feed returned (or a conversation id '' for the start of a commit). Messages stored before message versions
   * existed (version null) are never in it. The webhooks read it.
   */
  messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]>;
}

/** Reads and writes inside one `write` unit. */
export interface StoreTx extends StoreReader {
  /**
   * Reads a conversation and holds it against other writers until commit.
   * Every unit that assigns seqs or changes members locks first.
   */
  lockConversation(id: string): Promise<ConversationRow | undefined>;
  insertUser(row: UserRow): Promise<void>;
  updateUser(id: string, patch: Partial<Pick<UserRow, 'name' | 'tokensValidAfter'>>): Promise<void>;
  /**
   * Inserts the conversation unless its id exists; returns whether it did
   * (`INSERT … ON CONFLICT DO NOTHING`), so two nodes opening the same direct
   * conversation at once both succeed without aborting a transaction.
   */
  insertConversation(row: ConversationRow): Promise<boolean>;
  updateConversation(id: string, patch: Partial<Pick<ConversationRow, 'name' | 'lastSeq' | 'updatedAt' | 'memberCount' | 'closedAt' | 'attributes'>>): Promise<void>;
  /** Inserts or replaces a room's person row; a plain viewer that is not muted (role 'member', mutedUntil 0) is deleted instead. */
  putRoomPerson(row: RoomPersonRow): Promise<void>;
  /** Inserts a membership, or replaces a past one (a rejoin starts a new access window). */
  putMember(row: MemberRow): Promise<void>;
  /**
   * Read positions move only through raiseReadSeq; a membership ends once
   * (rejoining is `putMember`). For mutedUntil, pinnedAt and draft, 0 and ''
   * clear the setting (reads then leave the field out).
   */
  updateMember(conversationId: string, userId: string, patch: Partial<Pick<MemberRow, 'role' | 'leftSeq' | 'mutedUntil' | 'pinnedAt' | 'draft'>>): Promise<void>;
  /**
   * Sets readSeq to `seq` if it is lower, as one atomic step: two devices
   * reading at once on different nodes must not move it back.
   */
  raiseReadSeq(conversationId: string, userId: string, seq: number): Promise<void>;
  /** Stores a message with the seq the domain assigned; throws CONFLICT on a repeated (senderId, clientMsgId). */
  insertMessage(message: NewMessage): Promise<StoredMessage>;
  insertPasswordHash(userId: string, passwordHash: string, createdAt: number): Promise<void>;
  insertMedia(row: MediaRow): Promise<void>;
  /** Records that the message at (conversationId, seq) carries the media; repeating one is a no-op. */
  insertMediaReference(mediaId: string, reference: MediaReference): Promise<void>;
  /** Sets a user's password hash, replacing any earlier one. */
  replacePasswordHash(userId: string, passwordHash: string, createdAt: number): Promise<void>;
}

export interface WriteOptions {
  /**
   * A conversation id: units given the same one commit in the order `write`
   * was called on this node, so two sends of one device get seqs in the order
   * it sent them even when the adapter runs units side by side; and when one
   * fails with a retryable error, those queued behind it on this node fail
   * too, so the device's retry cannot land after its later sends. Units
   * without it may overtake each other.
   */
  order?: string;
}

export interface Store extends StoreReader {
  /**
   * Runs `unit` in a transaction and resolves with its result once the commit
   * is durable; rejects with the unit's error (nothing of it is kept) or with
   * INTERNAL / UNAVAILABLE when the commit itself fails. A unit must only await
   * the `tx` it is given: it holds the transaction while it runs.
   */
  write<T>(unit: (tx: StoreTx) => Promise<T>, options?: WriteOptions): Promise<T>;
  /**
   * Takes or renews the cursor `name` for `holder` until `now + leaseMs`,
   * creating it at `start` if it does not exist. Returns its position, or
   * undefined while another holder's lease has not lapsed. Durable when it
   * resolves.
   */
  claimFeedCursor(name: string, holder: string, now: number, leaseMs: number, start: FeedPosition): Promise<FeedCursor | undefined>;
  /** Moves the cursor on, if `holder` still holds it; returns whether it did. Durable when it resolves. */
  saveFeedCursor(name: string, holder: string, position: FeedPosition): Promise<boolean>;
  /** Stores a Web Push subscription under `row.userId`, replacing any row with the same endpoint (whoever held it). Durable when it resolves. */
  putWebPushSubscription(row: WebPushSubscriptionRow): Promise<void>;
  /** Removes a subscription; with `userId`, only if that user holds it. Returns whether a row went. Durable when it resolves. */
  deleteWebPushSubscription(endpoint: string, userId?: string): Promise<boolean>;
  /** A user's Web Push subscriptions, oldest first. */
  webPushSubscriptionsOf(userId: string): Promise<WebPushSubscriptionRow[]>;
  /** Sets a user's preview setting for notifications; undefined removes it (the deployment's applies). Durable when it resolves. */
  setPushPreview(userId: string, preview: PushPreviewSetting | undefined): Promise<void>;
  /** A user's own preview setting, if they chose one. */
  pushPreviewOf(userId: string): Promise<PushPreviewSetting | undefined>;
  close(): Promise<void>;
}
