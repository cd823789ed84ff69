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
import { type MediaKind, type MessageContent, ParleyError } from '@parley/protocol';
import type { MemberRole } from '../services/rules.js';

export interface UserRow {
  id: string;
  name: string;
  createdAt: number;
  /** Tokens issued before this instant (ms) are rejected. */
  tokensValidAfter: number;
  /** The user turned read receipts off (services/receipts.ts); absent: on. */
  readReceiptsOff?: boolean;
  /** The user hides when they are online and were last seen (services/presence.ts); absent: shown. */
  hidePresence?: boolean;
  /** Muted conversations are left out of the user's badge. */
  hideMutedFromBadge?: boolean;
  /** When the user's last connection closed (ms), written once per time they go offline; absent: never seen. */
  lastSeenAt?: number;
}

/** What updateUser may change; fields left out keep their value. */
export type UserPatch = Partial<Pick<UserRow, 'name' | 'tokensValidAfter' | 'readReceiptsOff' | 'hidePresence' | 'hideMutedFromBadge' | 'lastSeenAt'>>;

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
  /** When it was recalled (ms); text, data and content are gone. */
  recalledAt?: number;
  /** When its text was last edited (ms). */
  editedAt?: number;
  /** Reactions, for answers to one reader (never stored on the row). */
  reactions?: Array<Omit<ReactionCount, 'seq'>>;
  /** Members the message mentions (@name), and whether it mentions everyone (@all). */
  mentions?: string[];
  mentionAll?: boolean;
  /** The seq of the message this one answers (a quote). */
  replyTo?: number;
  /** The seq of the thread's root when the message is a reply in a thread (services/threads.ts). */
  threadRoot?: number;
  /** On a thread's root: its replies so far; absent: none. */
  thread?: ThreadStats;
}

/** A thread's replies as stored on its root, and, for answers to one reader, how far they follow it. */
export interface ThreadStats {
  replies: number;
  /** The newest reply's seq and time (ms). */
  lastSeq: number;
  lastAt: number;
  /** For one reader (never stored): they follow the thread, and its replies they have not read. */
  following?: boolean;
  unread?: number;
}

/** One emoji's reactions to a message, as one reader sees them. */
export interface ReactionCount {
  seq: number;
  emoji: string;
  count: number;
  /** The reader gave it. */
  mine: boolean;
}

/** An earlier text of an edited message, and when it was written. */
export interface TextVersion {
  text: string;
  at: number;
}

export type NewMessage = Omit<StoredMessage, 'id' | 'hidden'> & {
  /**
   * The words the message is found by (services/search.ts): folded, space
   * separated; the adapter indexes them in the same transaction. Absent or
   * '': the message is not in the search index.
   */
  searchWords?: string;
};

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
  /** How many of its messages were recalled; absent: none. Cached unread counts are keyed on it. */
  recalls?: number;
}

export type ConversationPatch = Partial<Pick<ConversationRow, 'name' | 'lastSeq' | 'updatedAt' | 'memberCount' | 'closedAt' | 'attributes' | 'recalls'>>;

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
  /** Every message up to here reached one of the member's devices (their delivered acknowledgements); absent: none yet. */
  deliveredSeq?: number;
  joinedAt: number;
  // The member's own settings, synced to their devices like the read position.
  /** Notifications muted until this time (ms since the epoch; a far-future value: until unmuted); absent: not muted. */
  mutedUntil?: number;
  /** When the member pinned the conversation (ms since the epoch); absent: not pinned. */
  pinnedAt?: number;
  /** Text the member left unsent in the composer; absent: none. */
  draft?: string;
  /** How many messages the member deleted for themselves; absent: none. Cached unread counts are keyed on it. */
  hiddenCount?: number;
  /** How many of the conversation's threads the member follows; absent: none. */
  threadsFollowed?: number;
}

export type MemberPatch = Partial<Pick<MemberRow, 'role' | 'leftSeq' | 'mutedUntil' | 'pinnedAt' | 'draft' | 'hiddenCount'>>;

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
  /** Leave out recalled messages. */
  unrecalledOnly?: boolean;
  /** Leave out the messages this user deleted for themselves. */
  hiddenFor?: string;
  /** Only messages that mention this user, or everyone. */
  mentioning?: string;
  /** Only the replies in the thread under this root seq. */
  threadRoot?: number;
  /** Leave out replies in threads (the conversation's main timeline only). */
  mainOnly?: boolean;
  /**
   * Not a condition: it changes whenever messages of the range stop counting
   * (recalls, deletions for oneself), so a count cached under another
   * revision is never reused (UnreadCache).
   */
  revision?: string;
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

/** Messages of one conversation with seqs from..through (inclusive). */
export interface ConversationSeqRange {
  conversationId: string;
  from: number;
  through: number;
}

/**
 * A page of full-text search (Store.searchMessages). The domain builds it:
 * the words (folded and split as the index holds them) and exactly where the
 * reader may look. The ranges travel as data rather than as a join with the
 * members table because what a member may read (its window minus absences,
 * services/views.ts) is a rule of the domain; yet they must be applied in
 * SQL, beside the match, or a page could come back short and paging would
 * skip or stall.
 */
export interface MessageSearch {
  /**
   * Every phrase must occur in a message's indexed words (AND); a phrase's
   * words side by side, in order. The last word of the last phrase matches
   * as a prefix. Words hold letters and digits only.
   */
  phrases: readonly (readonly string[])[];
  /** Only messages inside one of these ranges. */
  ranges: readonly ConversationSeqRange[];
  /** Only messages of this kind. */
  type?: MessageKind;
  /** Only messages every member may see or addressed to this user. */
  visibleTo?: string;
  /** Leave out the messages this user deleted for themselves. */
  hiddenFor?: string;
  /** Only messages stored before this one (a message id from an earlier page). */
  beforeId?: string;
  limit: number;
}

export interface MembershipQuery {
  /** Only memberships whose member or conversation row changed in a commit after this version. */
  changedSince?: number;
  /**
   * Only memberships with a read position below their readable end (leftSeq,
   * else the conversation's lastSeq), or that follow a thread (whose replies
   * have read positions of their own).
   */
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
  /** The earlier texts of an edited message, oldest first (the current one is the message's own). */
  textVersions(conversationId: string, seq: number): Promise<TextVersion[]>;
  /** Reactions to the messages fromSeq..toSeq, by seq, then most given first (then first given); `mine` for `readerId`. */
  reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string): Promise<ReactionCount[]>;
  /** The seqs in fromSeq..toSeq the user deleted for themselves, ascending. */
  hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number): Promise<number[]>;
  /** The distinct senders of USER messages with seqs fromSeq..toSeq (inclusive), at most `limit` of them. */
  senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<string[]>;
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
  /**
   * The thread replies matching `filter` in the threads `followerId`
   * follows, each thread counted after the follower's read position in it.
   */
  countFollowedReplies(filter: MessageFilter, followerId: string): Promise<number>;
  /** Up to `limit` followers of the thread under `rootSeq`, those who read it furthest first (the likeliest to be looking). */
  threadFollowers(conversationId: string, rootSeq: number, limit: number): Promise<string[]>;
  /** The threads of the conversation the user follows, among `rootSeqs` (all when undefined): root seq → read position. */
  threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]): Promise<Map<number, number>>;
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
  updateUser(id: string, patch: UserPatch): Promise<void>;
  /**
   * Inserts the conversation unless its id exists; returns whether it did
   * (`INSERT … ON CONFLICT DO NOTHING`), so two nodes opening the same direct
   * conversation at once both succeed without aborting a transaction.
   */
  insertConversation(row: ConversationRow): Promise<boolean>;
  updateConversation(id: string, patch: ConversationPatch): Promise<void>;
  /** Inserts or replaces a room's person row; a plain viewer that is not muted (role 'member', mutedUntil 0) is deleted instead. */
  putRoomPerson(row: RoomPersonRow): Promise<void>;
  /** Inserts a membership, or replaces a past one (a rejoin starts a new access window). */
  putMember(row: MemberRow): Promise<void>;
  /**
   * Read positions move only through raiseReadSeq; a membership ends once
   * (rejoining is `putMember`). For mutedUntil, pinnedAt and draft, 0 and ''
   * clear the setting (reads then leave the field out).
   */
  updateMember(conversationId: string, userId: string, patch: MemberPatch): Promise<void>;
  /**
   * Sets readSeq to `seq` if it is lower, as one atomic step: two devices
   * reading at once on different nodes must not move it back.
   */
  raiseReadSeq(conversationId: string, userId: string, seq: number): Promise<void>;
  /**
   * Sets an active member's deliveredSeq to `seq` if it is lower; does
   * nothing for a past member or one that does not exist. Stamps no sync
   * version: no device's view of its conversations shows it.
   */
  raiseDeliveredSeq(conversationId: string, userId: string, seq: number): Promise<void>;
  /**
   * Recalls a message: its text, data and content are erased, recalledAt is
   * set, its earlier texts, reactions and search words are dropped. False
   * when it was recalled already (or does not exist).
   */
  recallMessage(conversationId: string, seq: number, at: number): Promise<boolean>;
  /**
   * Replaces a message's text, keeping the text it had as an earlier version,
   * and its search words with `searchWords` (none when undefined); false for
   * a recalled or missing message.
   */
  editMessage(conversationId: string, seq: number, text: string, at: number, searchWords?: string): Promise<boolean>;
  /** Records that the user deleted the message for themselves; false when they had already. */
  hideMessage(userId: string, conversationId: string, seq: number): Promise<boolean>;
  /** Adds (or, `add` false, removes) one user's reaction; false when there was nothing to change. */
  setReaction(conversationId: string, seq: number, userId: string, emoji: string, add: boolean, at: number): Promise<boolean>;
  /** Counts a reply on its thread's root: one more, the newest at `replySeq`, `at`. */
  addThreadReply(conversationId: string, rootSeq: number, replySeq: number, at: number): Promise<void>;
  /**
   * Makes the user a follower of the thread, read up to `readSeq`, unless
   * they follow it already; returns whether they did not. Stamps the member
   * with the commit's sync version (its summary's thread unread changes).
   */
  followThread(conversationId: string, rootSeq: number, userId: string, readSeq: number): Promise<boolean>;
  /** Raises a follower's read position in a thread to `seq` if it is lower (stamping the member); false when nothing moved or they do not follow it. */
  raiseThreadRead(conversationId: string, rootSeq: number, userId: string, seq: number): Promise<boolean>;
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
  /**
   * Of `candidates`, those who are active members of a conversation (direct
   * or group) in which `userId` is an active member too; in no order.
   */
  sharedMembersOf(userId: string, candidates: readonly string[]): Promise<string[]>;
  /**
   * Up to `limit` messages matching `search`, newest first: in the order they
   * were stored, highest id first (ids are integers as strings in every
   * adapter). The store folds nothing itself: words are compared exactly as
   * they were indexed (NewMessage.searchWords).
   */
  searchMessages(search: MessageSearch): Promise<StoredMessage[]>;
  /**
   * The database's identity: made when its schema was created, never
   * changed after, the same for every node that opens it, and different for
   * every other database. Clients compare it to tell a replaced database
   * from the one they synced with (Welcome.database_id).
   */
  databaseId(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Store.databaseId's text for the number both adapters keep in `meta`
 * (made by their migrations): 14 hex digits.
 */
export function databaseIdText(value: number | undefined): string {
  if (value === undefined) throw new ParleyError('INTERNAL', 'the database has no identity (meta.database_id)');
  return value.toString(16).padStart(14, '0');
}
