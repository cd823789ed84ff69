/**
 * A conversation's history, page by page, for integrations (the admin API's
 * `GET /v1/conversations/:id/messages`): either everything (the operator's
 * view) or exactly what one member may read — their access window, minus
 * the times they were out of the group, minus messages addressed to others.
 * Pages come oldest first with cursors both ways, so a caller can walk back
 * from the newest message or forward from one it already has.
 */
import { ParleyError } from '@parley/protocol';
import type { SeqRange, StoreReader, StoredMessage } from '../store/store.js';
import { requireConversation, requireMembership } from './access.js';
import { requireConversationId } from './validate.js';
import { readableEnd, readableRanges } from './views.js';

export const HISTORY_PAGE = { defaultLimit: 50, maxLimit: 200 } as const;

export interface HistoryQuery {
  conversationId: string;
  /** Only messages with a lower seq: the page before a cursor. */
  before?: number;
  /** Only messages with a higher seq: the page after a cursor (oldest first from there). */
  after?: number;
  /** 1..HISTORY_PAGE.maxLimit; absent means the default. */
  limit?: number;
  /** Read as this member reads; absent: every message, as the operator sees it. */
  asUserId?: string;
}

export interface HistoryPage {
  /** Ascending by seq. */
  messages: StoredMessage[];
  /** Pass as `before` for the page of older messages; null when there is none. */
  nextBefore: number | null;
  /** Pass as `after` for the page of newer messages; null when there is none yet. */
  nextAfter: number | null;
  /** The last seq the reader may read (the conversation's last, or where a past membership ended). */
  lastSeq: number;
}

/**
 * Without `after`, the page holds the newest messages below `before` (or the
 * newest of all); with `after`, the oldest above it (and below `before`, if
 * given too).
 */
export async function readHistory(reader: StoreReader, query: HistoryQuery): Promise<HistoryPage> {
  const id = requireConversationId(query.conversationId);
  const limit = query.limit ?? HISTORY_PAGE.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_PAGE.maxLimit) {
    throw new ParleyError('INVALID_ARGUMENT', `limit must be between 1 and ${HISTORY_PAGE.maxLimit}`);
  }
  const conversation = await requireConversation(reader, id);
  let lastSeq = conversation.lastSeq;
  let readable = (low: number, high: number): SeqRange[] => (low <= high ? [{ from: low, through: high }] : []);
  if (query.asUserId !== undefined) {
    const member = await requireMembership(reader, id, query.asUserId);
    lastSeq = readableEnd(member, conversation);
    readable = (low, high) => readableRanges(member, Math.max(low, member.firstSeq), high);
  }
  const visibleTo = query.asUserId;
  const low = Math.max(1, (query.after ?? 0) + 1);
  const high = Math.min(lastSeq, (query.before ?? Number.MAX_SAFE_INTEGER) - 1);

  const forward = query.after !== undefined;
  const rows = await readAcross(reader, id, readable(low, high), { visibleTo, limit: limit + 1, order: forward ? 'asc' : 'desc' });
  const more = rows.length > limit;
  const messages = forward ? rows.slice(0, limit) : rows.slice(-limit);
  const first = messages[0]?.seq;
  const last = messages[messages.length - 1]?.seq;

  // Is there anything on the far side of the page? One row is enough to know.
  const olderBelow = first ?? (forward ? low : high + 1);
  const newerAbove = last ?? (forward ? low - 1 : high);
  const any = async (from: number, through: number, order: 'asc' | 'desc') => (await readAcross(reader, id, readable(from, through), { visibleTo, limit: 1, order })).length > 0;
  // The page's own direction knows from its extra row; the other side (and
  // beyond a `before` bound) needs a probe.
  const hasOlder = (!forward && more) || (await any(1, olderBelow - 1, 'desc'));
  const hasNewer = (forward && more) || (await any(newerAbove + 1, lastSeq, 'asc'));
  return {
    messages,
    nextBefore: hasOlder ? olderBelow : null,
    nextAfter: hasNewer ? newerAbove : null,
    lastSeq,
  };
}

/**
 * Up to `limit` messages over several seq ranges, nearest first in the given
 * order: 'asc' from the lowest range up, 'desc' from the highest down. The
 * result is ascending either way.
 */
export async function readAcross(
  reader: StoreReader,
  conversationId: string,
  ranges: readonly SeqRange[],
  options: { visibleTo?: string; hiddenFor?: string; limit: number; order: 'asc' | 'desc' },
): Promise<StoredMessage[]> {
  const rows: StoredMessage[] = [];
  const ordered = options.order === 'asc' ? ranges : [...ranges].reverse();
  for (const range of ordered) {
    if (rows.length >= options.limit) break;
    const page = await reader.listMessages({
      conversationId,
      fromSeq: range.from,
      toSeq: range.through,
      visibleTo: options.visibleTo,
      hiddenFor: options.hiddenFor,
      limit: options.limit - rows.length,
      order: options.order,
    });
    rows.push(...page);
  }
  return options.order === 'asc' ? rows : rows.reverse();
}
