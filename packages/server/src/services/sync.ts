/**
 * What a device gets when it syncs: the user's conversations changed since
 * its version, the total unread, and, when it asks, the newest messages of
 * those conversations, so that a reconnect usually needs no pull at all
 * (docs/protocol.md, "Conversation list and unread counts"; decision 71).
 *
 * Which messages are new to the device: those after its position in the
 * conversation when it sent one, else those stored after its version. A
 * device that held less than its version implies (a pull that never
 * finished) gets a run that starts above what it holds and pulls the gap,
 * as it would behind a push.
 */
import type { ServerLimits } from '../config.js';
import type { MemberRow, StoreReader, StoredMessage } from '../store/store.js';
import type { ChangesResult, ConversationView, MessageRun } from './model.js';
import type { UnreadCache, UnreadTotals } from './unread-cache.js';
import { buildView, countWithin, hiddenIn, inAbsence, isVisibleTo, placeholder, readableEnd, withReactions } from './views.js';

export interface SyncOptions {
  /** Newest messages per listed conversation to include; 0 (the default) = none. Capped by ServerLimits.maxSyncRecent. */
  recentLimit?: number;
  /** Per conversation id, the seq up to which the device holds it contiguously. */
  positions?: ReadonlyMap<string, number>;
}

type SyncLimits = Pick<ServerLimits, 'maxSyncRecent' | 'maxSyncRecentBytes'>;

export async function readChanges(
  reader: StoreReader,
  userId: string,
  sinceVersion: number,
  options: SyncOptions,
  limits: SyncLimits,
  unread: { counts: UnreadCache; totals: UnreadTotals },
): Promise<ChangesResult> {
  // Read before the rows: a commit landing in between is sent again next
  // time (harmless), never skipped.
  const version = await reader.syncVersion();
  const since = Math.max(0, sinceVersion);
  const perConversation = Math.min(Math.max(0, options.recentLimit ?? 0), limits.maxSyncRecent);
  let budget = perConversation > 0 ? limits.maxSyncRecentBytes : 0;
  const memberships = await reader.membershipsOf(userId, { changedSince: since });
  // Most recently active first, so that the byte budget goes to the
  // conversations a user looks at first.
  memberships.sort((a, b) => b.conversation.updatedAt - a.conversation.updatedAt);
  const conversations: ConversationView[] = [];
  const recent: MessageRun[] = [];
  for (const { member, conversation } of memberships) {
    const end = readableEnd(member, conversation);
    const position = options.positions?.get(conversation.id);
    const newest = budget > 0 ? await newestAfter(reader, member, end, since, position, perConversation) : [];
    // The newest that fit: still a run ending at the conversation's end.
    const { count, bytes } = countWithin(newest, budget, 'end', false);
    const rows = newest.slice(newest.length - count);
    budget -= bytes;
    conversations.push(await buildView(reader, member, conversation, unread.counts, rows));
    if (rows.length > 0) recent.push(toRun(member, await withReactions(reader, userId, rows), end, await hiddenIn(reader, member, rows)));
  }
  conversations.sort((a, b) => b.updatedAt - a.updatedAt || a.id.localeCompare(b.id));
  const total = await unread.totals.total(reader, userId, version, { since, memberships });
  return { version, conversations, totalUnread: total, recent };
}

/** The newest `limit` messages the device does not hold yet, ascending, as stored (no placeholders). */
function newestAfter(reader: StoreReader, member: MemberRow, end: number, since: number, position: number | undefined, limit: number): Promise<StoredMessage[]> {
  return reader.recentMessages({
    conversationId: member.conversationId,
    afterSeq: Math.max(member.firstSeq - 1, position ?? 0),
    toSeq: end,
    // A position says exactly what the device holds; without one, the
    // version does: everything stored before it was in an earlier answer.
    sinceVersion: position === undefined ? since : undefined,
    limit,
  });
}

/** The run as an ascending pull returns it: every seq, placeholders for what the member may not see. */
function toRun(member: MemberRow, rows: StoredMessage[], end: number, hidden: ReadonlySet<number>): MessageRun {
  const messages = rows.map((message) =>
    isVisibleTo(message, member.userId) && !inAbsence(member, message.seq) && !hidden.has(message.seq) ? message : placeholder(member.conversationId, message.seq),
  );
  return { conversationId: member.conversationId, messages, coveredFrom: (rows[0] as StoredMessage).seq, coveredTo: end };
}
