/**
 * The Store port: everything the services need from durable storage. Adapters
 * (SQLite by default, PostgreSQL for clusters) implement it; services never see
 * SQL. Every method is async so that a networked database fits behind it.
 *
 * Invariants every adapter keeps (the store contract tests check them):
 * - a message is stored once per conversation, whatever the member count;
 * - seq is dense per conversation and assigned at commit;
 * - (sender, clientMsgId) is unique: a repeat returns the original message;
 * - writes that assign seqs (messages, membership and naming events) are applied
 *   in the order they were requested, and a promise resolves only after commit;
 * - access windows: a member reads seqs firstSeq..(leftSeq ?? lastSeq); sending
 *   requires an active membership, checked inside the committing transaction.
 */
import type { MemberRole } from './rules.js';

export interface UserRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Tokens issued before this instant (ms) are rejected. */
  tokensValidAfter: number;
}

export type MessageKind = 'user' | 'system';

export interface StoredMessage {
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
  /** A placeholder for a seq the reader may not see: only conversationId and seq are set. */
  hidden?: boolean;
}

export type ConversationKindName = 'direct' | 'group';

/** One conversation as one user sees it. */
export interface ConversationView {
  id: string;
  kind: ConversationKindName;
  name: string;
  subject: string;
  peerId: string;
  lastSeq: number;
  lastMessage?: StoredMessage;
  readSeq: number;
  unread: number;
  role: MemberRole;
  firstSeq: number;
  leftSeq: number;
  active: boolean;
  updatedAt: number;
  memberCount: number;
}

export interface MemberInfo {
  userId: string;
  /** Display name. */
  name: string;
  role: MemberRole;
  joinedAt: number;
}

export interface AppendInput {
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  text?: string;
  data?: Uint8Array;
  visibleTo?: string;
}

export interface AppendResult {
  message: StoredMessage;
  duplicate: boolean;
}

export interface ReadRangeInput {
  conversationId: string;
  userId: string;
  fromSeq: number;
  /** 0 = latest. */
  toSeq: number;
  limit: number;
  descending: boolean;
}

export interface ReadRangeResult {
  messages: StoredMessage[];
  coveredFrom: number;
  coveredTo: number;
  lastSeq: number;
}

export interface ChangesResult {
  version: number;
  conversations: ConversationView[];
  totalUnread: number;
}

export interface CreateGroupInput {
  id: string;
  name: string;
  ownerId: string;
  memberIds: string[];
  maxMembers: number;
}

export interface UpdateMembersInput {
  conversationId: string;
  actorId: string;
  add: string[];
  remove: string[];
  maxMembers: number;
  /** Admin API calls act with full rights. */
  asAdmin?: boolean;
}

/** What a membership-changing write did, for routing and cache invalidation. */
export interface MembershipChange {
  conversationId: string;
  messages: StoredMessage[];
  added: string[];
  removed: string[];
}

export interface Store {
  /** Creates a user, or updates the name of an existing one. */
  putUser(input: { id: string; name: string }): Promise<{ user: UserRecord; created: boolean }>;
  getUser(id: string): Promise<UserRecord | undefined>;
  /** Rejects every token issued before `at` (ms). */
  revokeTokens(userId: string, at: number): Promise<void>;

  /** Returns (creating if needed) the direct conversation, as `userId` sees it. */
  openDirect(userId: string, peerId: string, subject: string): Promise<ConversationView>;
  createGroup(input: CreateGroupInput): Promise<{ view: ConversationView; change: MembershipChange }>;
  updateMembers(input: UpdateMembersInput): Promise<MembershipChange>;
  rename(input: { conversationId: string; actorId: string; name: string; asAdmin?: boolean }): Promise<MembershipChange>;
  setRole(input: { conversationId: string; actorId: string; userId: string; role: MemberRole }): Promise<MembershipChange>;
  /** Members of a conversation; the requester must be an active member (unless undefined = admin). */
  listMembers(conversationId: string, requesterId: string | undefined): Promise<MemberInfo[]>;
  /** Active member ids, for routing. */
  activeMemberIds(conversationId: string): Promise<string[]>;

  append(input: AppendInput): Promise<AppendResult>;
  readRange(input: ReadRangeInput): Promise<ReadRangeResult>;

  changedConversations(userId: string, sinceVersion: number): Promise<ChangesResult>;
  conversationView(userId: string, conversationId: string): Promise<ConversationView | undefined>;
  markRead(userId: string, conversationId: string, seq: number): Promise<{ view: ConversationView; totalUnread: number }>;
  totalUnread(userId: string): Promise<number>;

  close(): Promise<void>;
}
