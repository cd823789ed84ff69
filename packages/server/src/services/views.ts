/**
 * What one member sees of a conversation: the access window, the unread rule,
 * the last visible message, the name, and placeholders for messages addressed
 * to someone else. Works over any StoreReader (inside or outside a unit).
 */
import { AMENDMENT_EVENTS, type MessageContent } from '@parley/protocol';
import type { ConversationRow, MemberRow, MessageFilter, SeqRange, StoreReader, StoredMessage } from '../store/store.js';
import type { ConversationView } from './model.js';
import { readSystemEvent } from './system-events.js';
import { threadUnreadCount, withThreadState } from './threads.js';
import type { UnreadCache } from './unread-cache.js';

/** The last seq a member may read: up to the event that ended a past membership, else everything. */
export function readableEnd(member: MemberRow, conversation: ConversationRow): number {
  return member.leftSeq ?? conversation.lastSeq;
}

/** The seqs among an ascending run of rows the member deleted for themselves (no query for a member who never did). */
export async function hiddenIn(reader: StoreReader, member: MemberRow, rows: readonly StoredMessage[]): Promise<ReadonlySet<number>> {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (member.hiddenCount === undefined || first === undefined || last === undefined) return new Set();
  return new Set(await reader.hiddenSeqs(member.userId, member.conversationId, first.seq, last.seq));
}

/**
 * The messages with their reactions as `readerId` sees them (one query for
 * the run's range), and on thread roots the reader's part (threads.ts);
 * placeholders and messages without any are returned as they are.
 */
export async function withReactions(reader: StoreReader, readerId: string, messages: readonly StoredMessage[]): Promise<StoredMessage[]> {
  const first = messages[0];
  const last = messages[messages.length - 1];
  if (first === undefined || last === undefined) return [...messages];
  const reactions = await reader.reactionsIn(first.conversationId, first.seq, last.seq, readerId);
  const bySeq = new Map<number, Array<{ emoji: string; count: number; mine: boolean }>>();
  for (const { seq, ...reaction } of reactions) {
    const list = bySeq.get(seq) ?? [];
    list.push(reaction);
    bySeq.set(seq, list);
  }
  const withCounts =
    bySeq.size === 0
      ? [...messages]
      : messages.map((message) => {
          const found = message.hidden === true ? undefined : bySeq.get(message.seq);
          return found === undefined ? message : { ...message, reactions: found };
        });
  return withThreadState(reader, readerId, withCounts);
}

/** True when `seq` falls in a time the member was out of the group (before being added back). */
export function inAbsence(member: MemberRow, seq: number): boolean {
  return member.absences?.some((range) => seq >= range.from && seq <= range.through) ?? false;
}

/** The parts of `low..high` the member may read: the range minus its absences, ascending. */
export function readableRanges(member: MemberRow, low: number, high: number): SeqRange[] {
  const ranges: SeqRange[] = [];
  let from = low;
  for (const absence of member.absences ?? []) {
    if (absence.through < from) continue;
    if (absence.from > high) break;
    if (absence.from > from) ranges.push({ from, through: Math.min(high, absence.from - 1) });
    from = absence.through + 1;
  }
  if (from <= high) ranges.push({ from, through: high });
  return ranges;
}

/**
 * The unread rule: user messages after the read position and inside the
 * member's access window, not the member's own, and visible to them (a
 * message addressed to someone else never counts), neither recalled nor
 * deleted by the member for themselves. System messages never count, nor
 * do replies in threads (they have their own count, threads.ts).
 */
export function unreadFilter(member: MemberRow, conversation: ConversationRow, end: number): MessageFilter {
  return {
    conversationId: member.conversationId,
    fromSeq: Math.max(member.readSeq + 1, member.firstSeq),
    toSeq: end,
    type: 'user',
    excludeSender: member.userId,
    visibleTo: member.userId,
    unrecalledOnly: true,
    hiddenFor: member.userId,
    mainOnly: true,
    revision: `${conversation.recalls ?? 0}.${member.hiddenCount ?? 0}`,
  };
}

/** A system message that changes an earlier one (amendments.ts): never unread, never a conversation's last message. */
export function isAmendment(message: StoredMessage): boolean {
  if (message.type !== 'system') return false;
  const event = readSystemEvent(message.data);
  return event !== undefined && AMENDMENT_EVENTS.has(event.type);
}

/** `cache`: only for reads outside write units (see UnreadCache). */
export async function unreadCount(reader: StoreReader, member: MemberRow, conversation: ConversationRow, cache?: UnreadCache): Promise<number> {
  const end = readableEnd(member, conversation);
  if (end <= member.readSeq) return 0;
  const filter = unreadFilter(member, conversation, end);
  return cache === undefined ? reader.countMessages(filter) : cache.count(reader, filter);
}

/** What a conversation adds to the user's total: its unread messages and the unread replies of the threads they follow. */
export async function memberUnread(reader: StoreReader, member: MemberRow, conversation: ConversationRow, cache?: UnreadCache): Promise<number> {
  return (await unreadCount(reader, member, conversation, cache)) + (await threadUnreadCount(reader, member, conversation));
}

/** The non-zero unread count (memberUnread) of each conversation the user is behind in, by conversation id. */
export async function unreadCounts(reader: StoreReader, userId: string, cache?: UnreadCache): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { member, conversation } of await reader.membershipsOf(userId, { behindOnly: true })) {
    const count = await memberUnread(reader, member, conversation, cache);
    if (count > 0) counts.set(conversation.id, count);
  }
  return counts;
}

/**
 * The badge of a user who leaves muted conversations out of it (their
 * setting): the total over the conversations not muted at `now`.
 */
export async function unmutedUnread(reader: StoreReader, userId: string, now: number, cache?: UnreadCache): Promise<number> {
  let total = 0;
  for (const { member, conversation } of await reader.membershipsOf(userId, { behindOnly: true })) {
    if ((member.mutedUntil ?? 0) > now) continue;
    total += await memberUnread(reader, member, conversation, cache);
  }
  return total;
}

/** The total is the sum of the same per-conversation counts, so the two never disagree. */
export async function totalUnread(reader: StoreReader, userId: string, cache?: UnreadCache): Promise<number> {
  return sum((await unreadCounts(reader, userId, cache)).values());
}

export function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** A direct conversation is named after the peer, as each side sees it. */
export function peerOf(conversation: ConversationRow, userId: string): string {
  if (conversation.peerIds === undefined) return '';
  const [first, second] = conversation.peerIds;
  return first === userId ? second : first;
}

/**
 * `recent`: messages of the conversation already read for this view (an
 * ascending run ending at the readable end, as raw rows). When they reach far
 * enough back they answer the last message and the unread count without a
 * query of their own.
 */
export async function buildView(
  reader: StoreReader,
  member: MemberRow,
  conversation: ConversationRow,
  cache?: UnreadCache,
  recent: readonly StoredMessage[] = [],
): Promise<ConversationView> {
  const end = readableEnd(member, conversation);
  // Rows read for the view cannot show what the member deleted for themselves.
  const run = member.hiddenCount === undefined ? recent : [];
  const last = lastVisibleIn(run, member.userId) ?? (await lastVisible(reader, member, end));
  let name = conversation.name;
  let peerId = '';
  if (conversation.kind === 'direct') {
    peerId = peerOf(conversation, member.userId);
    name = peerId === '' ? '' : ((await reader.getUser(peerId))?.name ?? peerId);
  }
  const unread = unreadIn(run, member, conversation, end, cache) ?? (await unreadCount(reader, member, conversation, cache));
  const view: ConversationView = {
    id: conversation.id,
    kind: conversation.kind,
    name,
    subject: conversation.subject,
    peerId,
    lastSeq: end,
    readSeq: member.readSeq,
    unread,
    mentions: unread === 0 ? 0 : await reader.countMessages({ ...unreadFilter(member, conversation, end), mentioning: member.userId }),
    threadUnread: await threadUnreadCount(reader, member, conversation),
    role: member.role,
    firstSeq: member.firstSeq,
    leftSeq: member.leftSeq ?? 0,
    active: member.leftSeq === undefined,
    updatedAt: last?.createdAt ?? conversation.updatedAt,
    memberCount: conversation.memberCount,
    attributes: conversation.attributes ?? {},
    mutedUntil: member.mutedUntil ?? 0,
    pinnedAt: member.pinnedAt ?? 0,
    draft: member.draft ?? '',
  };
  if (last !== undefined) view.lastMessage = last;
  return view;
}

/** Amendments are rare: a page this long almost always reaches the message they follow. */
const LAST_VISIBLE_PAGE = 8;

/** The newest message the member may see that is not an amendment, nor a reply in a thread, nor deleted by them for themselves. */
async function lastVisible(reader: StoreReader, member: MemberRow, end: number): Promise<StoredMessage | undefined> {
  let toSeq = end;
  while (toSeq >= member.firstSeq) {
    const page = await reader.listMessages({
      conversationId: member.conversationId,
      fromSeq: member.firstSeq,
      toSeq,
      visibleTo: member.userId,
      hiddenFor: member.hiddenCount === undefined ? undefined : member.userId,
      mainOnly: true,
      limit: LAST_VISIBLE_PAGE,
      order: 'desc',
    });
    const found = page.find((message) => !isAmendment(message));
    if (found !== undefined || page.length < LAST_VISIBLE_PAGE) return found;
    toSeq = (page[page.length - 1] as StoredMessage).seq - 1;
  }
  return undefined;
}

/** The newest message of an ascending run the member may see (the rule lastVisible queries for). */
function lastVisibleIn(run: readonly StoredMessage[], userId: string): StoredMessage | undefined {
  for (let index = run.length - 1; index >= 0; index--) {
    const message = run[index] as StoredMessage;
    if (isVisibleTo(message, userId) && !isAmendment(message) && message.threadRoot === undefined) return message;
  }
  return undefined;
}

/**
 * The unread count from a run that covers the whole unread range (undefined
 * when it does not reach back far enough), by the rule countMessages applies
 * to unreadFilter. The count is remembered in `cache` for later extension.
 */
function unreadIn(run: readonly StoredMessage[], member: MemberRow, conversation: ConversationRow, end: number, cache?: UnreadCache): number | undefined {
  const first = run[0];
  if (end <= member.readSeq) return 0;
  const filter = unreadFilter(member, conversation, end);
  if (first === undefined || first.seq > filter.fromSeq || run[run.length - 1]?.seq !== end) return undefined;
  let count = 0;
  for (const message of run) if (message.seq >= filter.fromSeq && matchesFilter(message, filter)) count += 1;
  cache?.remember(filter, count);
  return count;
}

/** True when a stored message is one countMessages(filter) counts (the seq range aside). */
function matchesFilter(message: StoredMessage, filter: MessageFilter): boolean {
  if (filter.type !== undefined && message.type !== filter.type) return false;
  if (filter.excludeSender !== undefined && message.senderId === filter.excludeSender) return false;
  if (filter.visibleTo !== undefined && message.visibleTo !== undefined && message.visibleTo !== filter.visibleTo) return false;
  if (filter.unrecalledOnly === true && message.recalledAt !== undefined) return false;
  if (filter.mainOnly === true && message.threadRoot !== undefined) return false;
  return true;
}

/** What a member gets in place of a message addressed to someone else: the seq stays dense. */
export function placeholder(conversationId: string, seq: number): StoredMessage {
  return { id: '', conversationId, seq, senderId: '', clientMsgId: '', type: 'user', createdAt: 0, hidden: true };
}

/**
 * About the bytes a message takes on the wire, for the size budgets of sync
 * and pull answers: its content and ids plus a fixed allowance for seqs,
 * times and field tags. Text is counted in UTF-16 units (exact for ASCII,
 * an undercount of at most 3× otherwise); the budgets are soft.
 */
function approximateWireSize(message: StoredMessage): number {
  return (
    24 +
    message.id.length +
    message.conversationId.length +
    message.senderId.length +
    message.clientMsgId.length +
    (message.text?.length ?? 0) +
    (message.data?.byteLength ?? 0) +
    (message.content === undefined ? 0 : approximateContentSize(message.content))
  );
}

/** Typed content's strings and bytes (a custom kind's JSON can be as large as `data`). */
function approximateContentSize(content: MessageContent): number {
  const kind = content.kind;
  if (kind === undefined) return 0;
  const media = 'media' in kind.value ? kind.value.media : undefined;
  const mediaSize = media === undefined ? 0 : 16 + media.mediaId.length + media.mimeType.length + media.fileName.length;
  switch (kind.$case) {
    case 'image':
      return 16 + mediaSize + kind.value.thumbhash.length + kind.value.caption.length;
    case 'file':
      return 8 + mediaSize + kind.value.caption.length;
    case 'voice':
      return 8 + mediaSize + kind.value.waveform.length;
    case 'video':
      return 24 + mediaSize + kind.value.posterMediaId.length + kind.value.thumbhash.length + kind.value.caption.length;
    case 'location':
      return 24 + kind.value.name.length + kind.value.address.length;
    case 'custom':
      return 8 + kind.value.type.length + kind.value.json.length;
  }
}

/**
 * How many of `messages`, counted from the oldest ('start') or the newest
 * ('end'), fit in `budget` bytes by approximateWireSize, and their size.
 * `atLeastOne`: the first one counted is taken whatever its size, so that a
 * single large message still makes progress.
 */
export function countWithin(messages: readonly StoredMessage[], budget: number, from: 'start' | 'end', atLeastOne: boolean): { count: number; bytes: number } {
  let bytes = 0;
  let count = 0;
  while (count < messages.length) {
    const message = messages[from === 'start' ? count : messages.length - 1 - count] as StoredMessage;
    const size = approximateWireSize(message);
    if (bytes + size > budget && !(atLeastOne && count === 0)) break;
    bytes += size;
    count += 1;
  }
  return { count, bytes };
}

/**
 * The user message at `seq` when it lies inside the member's access window
 * (not in an absence); undefined otherwise, also for a system message.
 * Whom it is addressed to is the caller's rule (isVisibleTo, or the sender's own).
 */
export async function userMessageInWindow(reader: StoreReader, member: MemberRow, conversation: ConversationRow, seq: number): Promise<StoredMessage | undefined> {
  if (!Number.isSafeInteger(seq) || seq < member.firstSeq || seq > readableEnd(member, conversation) || inAbsence(member, seq)) return undefined;
  const [message] = await reader.listMessages({ conversationId: conversation.id, fromSeq: seq, toSeq: seq, limit: 1 });
  return message?.type === 'user' ? message : undefined;
}

export function isVisibleTo(message: StoredMessage, userId: string): boolean {
  return message.visibleTo === undefined || message.visibleTo === userId;
}
