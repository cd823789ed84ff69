/**
 * The domain's result types: what services return to the gateway, the HTTP
 * API and the bus. Rows come from the Store port; views are built here.
 */
import type { StoredMessage } from '../store/store.js';
import type { MemberRole } from './rules.js';

export type { StoredMessage, MessageKind, ConversationKindName, UserRow as UserRecord, MediaRow } from '../store/store.js';
export type { MemberRole } from './rules.js';

/** One conversation as one user sees it. */
export interface ConversationView {
  id: string;
  kind: 'direct' | 'group' | 'room';
  /** Group name, or for a direct conversation the peer's display name. */
  name: string;
  subject: string;
  peerId: string;
  /** The end of what this member may read: leftSeq for a past member, else the conversation's last seq. */
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
  /** Set by the host's backend (ConversationService.setAttributes); empty when none. */
  attributes: Record<string, string>;
  /** The member's own settings (ConversationService.updateSettings): 0 and '' when not set. */
  mutedUntil: number;
  pinnedAt: number;
  draft: string;
  /** Of the unread messages, those that mention the member (or everyone). */
  mentions: number;
  /** Unread replies in the threads the member follows (threads.ts); not part of `unread`. */
  threadUnread: number;
}

export interface MemberInfo {
  userId: string;
  /** Display name. */
  name: string;
  role: MemberRole;
  joinedAt: number;
}

export interface AppendResult {
  message: StoredMessage;
  duplicate: boolean;
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
  /** The newest messages of listed conversations, when the sync asked for them (sync.ts). */
  recent: MessageRun[];
}

/** A contiguous run of one conversation, ending at its readable end; placeholders for what the reader may not see. */
export interface MessageRun {
  conversationId: string;
  messages: StoredMessage[];
  coveredFrom: number;
  coveredTo: number;
}

/** What a membership-changing write did, for routing and cache invalidation. */
export interface MembershipChange {
  conversationId: string;
  messages: StoredMessage[];
  added: string[];
  removed: string[];
}
