/**
 * Threads: a reply chain under one message (its root), with its own unread
 * count (docs/protocol.md, "Threads"; decision 119).
 *
 * - A reply is an ordinary message of the conversation with `threadRoot`
 *   set: it takes the conversation's next seq and reaches every device by
 *   push, pull, sync and gap detection like any other, so a thread needs no
 *   delivery path of its own and cannot lose what the conversation would
 *   not. Clients show replies under their root instead of in the timeline.
 * - Replies are never unread in the conversation's own count, nor its last
 *   message: the timeline does not show them. Each member who *follows* a
 *   thread has a read position in it, and the summary's `threadUnread` sums
 *   the replies after it over the threads they follow. Followers are the
 *   root's sender, everyone who replied and everyone a reply mentioned by
 *   name: a row each, written by the send that made them one, never a row
 *   per reply per member.
 * - Replying reads the thread up to one's own reply, and leaves the
 *   conversation's read position where it was.
 * - The root keeps its reply count and newest reply (stored on its row), so
 *   "3 replies" comes with every page of messages without a query.
 */
import { ParleyError } from '@parley/protocol';
import type { ConversationRow, MemberRow, MessageFilter, StoreReader, StoreTx, StoredMessage } from '../store/store.js';
import { inAbsence, isVisibleTo, readableEnd, userMessageInWindow } from './views.js';

/** Replies one thread page returns at most. */
export const MAX_THREAD_PAGE = 100;

/**
 * The root a reply may go under: a user message the sender may read, not
 * recalled, and not itself a reply (threads do not nest). Throws
 * INVALID_ARGUMENT otherwise.
 */
export async function requireThreadRoot(tx: StoreTx, conversation: ConversationRow, sender: MemberRow, seq: number): Promise<StoredMessage> {
  const root = await userMessageInWindow(tx, sender, conversation, seq);
  if (root === undefined || !isVisibleTo(root, sender.userId) || root.recalledAt !== undefined) {
    throw new ParleyError('INVALID_ARGUMENT', 'threadRoot must be a message you can read');
  }
  if (root.threadRoot !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'threadRoot must not be a reply in a thread');
  if (root.visibleTo !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'a message addressed to one member has no thread');
  return root;
}

/**
 * What a stored reply changes, in the unit that stored it: the root's count,
 * and who follows the thread from now on. The sender has read it up to
 * their reply; the root's sender and the members it mentions by name follow
 * it with everything after their last read unread (a new follower: from
 * just before this reply, so only what mentions them on is theirs).
 */
export async function recordReply(tx: StoreTx, root: StoredMessage, reply: StoredMessage): Promise<void> {
  const { conversationId } = reply;
  await tx.addThreadReply(conversationId, root.seq, reply.seq, reply.createdAt);
  if (!(await tx.followThread(conversationId, root.seq, reply.senderId, reply.seq))) {
    await tx.raiseThreadRead(conversationId, root.seq, reply.senderId, reply.seq);
  }
  const others = new Map<string, number>();
  // The root's sender has not seen any reply yet when the first comes.
  if (root.senderId !== '' && root.senderId !== reply.senderId) others.set(root.senderId, root.seq);
  for (const userId of reply.mentions ?? []) if (userId !== reply.senderId && !others.has(userId)) others.set(userId, reply.seq - 1);
  for (const [userId, readSeq] of others) {
    const member = await tx.getMember(conversationId, userId);
    // Only a member who may read the root can open the thread (one added after it, without history, cannot).
    const canRead = member !== undefined && member.leftSeq === undefined && root.seq >= member.firstSeq && !inAbsence(member, root.seq);
    if (canRead) await tx.followThread(conversationId, root.seq, userId, readSeq);
  }
}

/** The rule a reply counts as unread by: the unread rule (views.ts unreadFilter) over replies. */
function threadReplyFilter(member: MemberRow, fromSeq: number, toSeq: number): MessageFilter {
  return {
    conversationId: member.conversationId,
    fromSeq: Math.max(fromSeq, member.firstSeq),
    toSeq,
    type: 'user',
    excludeSender: member.userId,
    visibleTo: member.userId,
    unrecalledOnly: true,
    hiddenFor: member.userId,
  };
}

/** The unread replies over every thread of the conversation the member follows. */
export async function threadUnreadCount(reader: StoreReader, member: MemberRow, conversation: ConversationRow): Promise<number> {
  if (member.threadsFollowed === undefined) return 0;
  const end = readableEnd(member, conversation);
  return reader.countFollowedReplies(threadReplyFilter(member, member.firstSeq, end), member.userId);
}

/** The reader's part of a thread: they follow it, read up to readSeq, with `unread` replies after that. */
interface ReaderThreadState {
  following: boolean;
  readSeq: number;
  unread: number;
}

/** The reader's state in each of the threads under `roots` that they follow: one query for the follows, a count per thread with news. */
async function threadStates(reader: StoreReader, readerId: string, roots: readonly StoredMessage[]): Promise<Map<number, ReaderThreadState>> {
  const states = new Map<number, ReaderThreadState>();
  const first = roots[0];
  if (first === undefined) return states;
  const follows = await reader.threadFollows(first.conversationId, readerId, roots.map((root) => root.seq));
  const member: MemberRow = { conversationId: first.conversationId, userId: readerId, role: 'member', firstSeq: 0, readSeq: 0, joinedAt: 0 };
  for (const root of roots) {
    const readSeq = follows.get(root.seq);
    if (readSeq === undefined) continue;
    const lastSeq = root.thread?.lastSeq ?? 0;
    const unread = readSeq >= lastSeq ? 0 : await reader.countMessages({ ...threadReplyFilter(member, readSeq + 1, lastSeq), threadRoot: root.seq });
    states.set(root.seq, { following: true, readSeq, unread });
  }
  return states;
}

/**
 * The roots among `messages` with the reader's part filled in: whether they
 * follow the thread and how many of its replies they have not read.
 */
export async function withThreadState(reader: StoreReader, readerId: string, messages: StoredMessage[]): Promise<StoredMessage[]> {
  const states = await threadStates(reader, readerId, messages.filter((message) => message.thread !== undefined && message.hidden !== true));
  if (states.size === 0) return messages;
  return messages.map((message) => {
    const state = states.get(message.seq);
    return state === undefined || message.thread === undefined ? message : { ...message, thread: { ...message.thread, following: true, unread: state.unread } };
  });
}

export interface ThreadPage extends ReaderThreadState {
  root: StoredMessage;
  /** Ascending, visible replies only. */
  replies: StoredMessage[];
  /** More replies follow the last one returned. */
  hasMore: boolean;
}

/** The root of a thread the member may open: a user message they may read that is not itself a reply; NOT_FOUND otherwise. */
export async function readableThreadRoot(reader: StoreReader, member: MemberRow, conversation: ConversationRow, rootSeq: number): Promise<StoredMessage> {
  const root = await userMessageInWindow(reader, member, conversation, rootSeq);
  if (root === undefined || !isVisibleTo(root, member.userId) || root.threadRoot !== undefined) {
    throw new ParleyError('NOT_FOUND', 'no such thread');
  }
  return root;
}

/** A page of a thread for a member: the root, and replies after `afterSeq`. */
export async function readThread(reader: StoreReader, member: MemberRow, conversation: ConversationRow, rootSeq: number, afterSeq: number, limit: number): Promise<ThreadPage> {
  const root = await readableThreadRoot(reader, member, conversation, rootSeq);
  const pageSize = Math.max(1, Math.min(limit || MAX_THREAD_PAGE, MAX_THREAD_PAGE));
  const rows = await reader.listMessages({
    conversationId: conversation.id,
    fromSeq: Math.max(afterSeq + 1, rootSeq + 1, member.firstSeq),
    toSeq: readableEnd(member, conversation),
    threadRoot: rootSeq,
    visibleTo: member.userId,
    hiddenFor: member.hiddenCount === undefined ? undefined : member.userId,
    limit: pageSize + 1,
  });
  const replies = rows.slice(0, pageSize).filter((reply) => !inAbsence(member, reply.seq));
  const state = (await threadStates(reader, member.userId, [root])).get(rootSeq) ?? { following: false, readSeq: 0, unread: 0 };
  const shownRoot = state.following && root.thread !== undefined ? { ...root, thread: { ...root.thread, following: true, unread: state.unread } } : root;
  return { root: shownRoot, replies, hasMore: rows.length > pageSize, ...state };
}
