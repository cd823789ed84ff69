/**
 * Full-text search over the messages a user may read (docs/search.md): what
 * a message is indexed by, who finds what, paging, and the snippet with its
 * highlights. The stores only match words (Store.searchMessages); every rule
 * is here, so SQLite and PostgreSQL answer alike.
 *
 * A user finds a message when they are or were a member of its conversation
 * and the message lies in their access window minus the times they were out
 * (the same windows pulls and history read, views.ts), it is a user message
 * (not a system event), it is addressed to everyone or to them, and the
 * conversation is not a live room.
 */
import { type MessageContent, ParleyError, searchIndexWords, searchSegments, searchableText } from '@parley/protocol';
import type { ConversationKindName, ConversationSeqRange, Membership, MessageSearch, Store, StoredMessage } from '../store/store.js';
import { requireConversation, requireMembership } from './access.js';
import { requireConversationId } from './validate.js';
import { readableEnd, readableRanges } from './views.js';

export const SEARCH_LIMITS = {
  /** Characters of a query, after trimming. */
  maxQueryChars: 128,
  /** Separate words (or runs of Chinese/Japanese characters) in a query. */
  maxQueryWords: 16,
  defaultLimit: 20,
  maxLimit: 50,
  /** Characters of a snippet, the ellipses included. */
  snippetChars: 160,
} as const;

/** Characters kept before the first match when a snippet has to be cut. */
const SNIPPET_LEAD = 40;

export interface SearchQuery {
  userId: string;
  /** What the user typed. */
  text: string;
  /** Only this conversation (the user must be or have been a member). */
  conversationId?: string;
  /** The previous page's nextCursor. */
  cursor?: string;
  /** 1..SEARCH_LIMITS.maxLimit; absent: the default. */
  limit?: number;
}

/** A part of a string, in UTF-16 code units (JavaScript string offsets); end exclusive. */
export interface TextRange {
  start: number;
  end: number;
}

export interface SearchHit {
  message: StoredMessage;
  /** Up to SEARCH_LIMITS.snippetChars of the text the message was found by, around the first match; "…" where it was cut. */
  snippet: string;
  /** Where the query's words are in `snippet`, ascending, not overlapping. */
  highlights: TextRange[];
}

export interface SearchPage {
  /** Newest first. */
  hits: SearchHit[];
  /** Pass as `cursor` for the next (older) page; null when there is none. */
  nextCursor: string | null;
}

/** What a message is in the search index by; undefined: not indexed (system events, live rooms, nothing to find it by). */
export function indexedWords(kind: ConversationKindName, message: { type: 'user' | 'system'; text?: string; content?: MessageContent }): string | undefined {
  if (message.type !== 'user' || kind === 'room') return undefined;
  const words = searchIndexWords(searchableText(message.text, message.content));
  return words === '' ? undefined : words;
}

export class SearchService {
  constructor(private readonly store: Store) {}

  async search(query: SearchQuery): Promise<SearchPage> {
    const phrases = parseQuery(query.text);
    const limit = query.limit ?? SEARCH_LIMITS.defaultLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > SEARCH_LIMITS.maxLimit) {
      throw new ParleyError('INVALID_ARGUMENT', `limit must be between 1 and ${SEARCH_LIMITS.maxLimit}`);
    }
    const beforeId = query.cursor === undefined ? undefined : readCursor(query.cursor);
    const memberships = await this.membershipsToSearch(query.userId, query.conversationId);
    if (phrases.length === 0) return { hits: [], nextCursor: null };

    const rows = await this.store.searchMessages({ phrases, ...searchScope(query.userId, memberships), beforeId, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      hits: page.map((message) => ({ message, ...highlight(searchableText(message.text, message.content), phrases) })),
      nextCursor: rows.length > limit && last !== undefined ? writeCursor(last.id) : null,
    };
  }

  /** Every membership of the user, or the one named; a stranger to that conversation is FORBIDDEN, as for pulls. */
  private async membershipsToSearch(userId: string, conversationId: string | undefined): Promise<Membership[]> {
    if (conversationId === undefined) return this.store.membershipsOf(userId);
    const id = requireConversationId(conversationId);
    const conversation = await requireConversation(this.store, id);
    if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'live rooms are not searchable');
    const member = await requireMembership(this.store, id, userId);
    return [{ member, conversation }];
  }
}

/**
 * Where a user's search may look, as the store evaluates it beside the match
 * (in SQL, so that every page is full while matches remain): per
 * conversation the seqs the member may read, user messages only, addressed
 * to everyone or to them; live rooms never.
 *
 * The one place for exclusions: messages this user deleted for themselves
 * are a field of this scope the store joins on (`hiddenFor`), never a
 * filter on the page afterwards, which would leave pages short.
 */
export function searchScope(userId: string, memberships: readonly Membership[]): Pick<MessageSearch, 'ranges' | 'type' | 'visibleTo' | 'hiddenFor'> {
  const ranges: ConversationSeqRange[] = [];
  for (const { member, conversation } of memberships) {
    if (conversation.kind === 'room') continue;
    for (const range of readableRanges(member, Math.max(1, member.firstSeq), readableEnd(member, conversation))) {
      ranges.push({ conversationId: conversation.id, from: range.from, through: range.through });
    }
  }
  // Recalled messages leave the index when recalled (the store drops their words).
  const scope: Pick<MessageSearch, 'ranges' | 'type' | 'visibleTo' | 'hiddenFor'> = { ranges, type: 'user', visibleTo: userId };
  if (memberships.some(({ member }) => member.hiddenCount !== undefined)) scope.hiddenFor = userId;
  return scope;
}

/**
 * The query's phrases: each run of letters and digits (folded as the index
 * is); a run of Chinese or Japanese characters is one phrase of one word per
 * character. Empty when the query has no letters or digits at all (then
 * nothing matches). Nothing a user types is query syntax: quotes, stars and
 * operators are separators like any punctuation.
 */
export function parseQuery(text: string): string[][] {
  const trimmed = text.trim();
  const length = [...trimmed].length;
  if (length === 0) throw new ParleyError('INVALID_ARGUMENT', 'q must not be empty');
  if (length > SEARCH_LIMITS.maxQueryChars) throw new ParleyError('INVALID_ARGUMENT', `q is longer than ${SEARCH_LIMITS.maxQueryChars} characters`);
  const phrases = searchSegments(trimmed).map((segment) => segment.map((token) => token.word));
  if (phrases.length > SEARCH_LIMITS.maxQueryWords) throw new ParleyError('INVALID_ARGUMENT', `q has more than ${SEARCH_LIMITS.maxQueryWords} words`);
  return phrases;
}

// Cursors are opaque to clients: a version tag and the id of the page's last message.
const CURSOR = /^s1\.([0-9]{1,18})$/;

function writeCursor(messageId: string): string {
  return Buffer.from(`s1.${messageId}`).toString('base64url');
}

function readCursor(cursor: string): string {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (match === null || Buffer.from(`s1.${match[1]}`).toString('base64url') !== cursor) throw new ParleyError('INVALID_ARGUMENT', 'cursor is not one this server gave out');
  return match[1] as string;
}

/**
 * The snippet of `text` around the first place the phrases match, and where
 * they match in it. Matching follows the index: folded words, a phrase's
 * words side by side, the last word of the last phrase as a prefix; a word
 * is highlighted whole even when only its start matched ("hel" marks
 * "Hello"). Computed here, once for both stores, on the text the message
 * was indexed by.
 */
export function highlight(text: string, phrases: readonly (readonly string[])[]): { snippet: string; highlights: TextRange[] } {
  const tokens = searchSegments(text).flat();
  const found: TextRange[] = [];
  phrases.forEach((words, index) => {
    const prefixAtEnd = index === phrases.length - 1;
    for (let at = 0; at + words.length <= tokens.length; at++) {
      const matches = words.every((word, offset) => {
        const token = (tokens[at + offset] as { word: string }).word;
        return prefixAtEnd && offset === words.length - 1 ? token.startsWith(word) : token === word;
      });
      if (!matches) continue;
      const first = tokens[at] as TextRange;
      const last = tokens[at + words.length - 1] as TextRange;
      found.push({ start: first.start, end: last.end });
    }
  });
  return cutSnippet(text.replace(/[\r\n\t]/g, ' '), mergeRanges(found));
}

function mergeRanges(ranges: TextRange[]): TextRange[] {
  const merged: TextRange[] = [];
  for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && range.start <= previous.end) previous.end = Math.max(previous.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
}

function cutSnippet(text: string, ranges: TextRange[]): { snippet: string; highlights: TextRange[] } {
  const max = SEARCH_LIMITS.snippetChars;
  if (text.length <= max) return { snippet: text, highlights: ranges };
  const firstMatch = ranges[0]?.start ?? 0;
  // Room for the two ellipses; start a little before the match, at a word if one begins near.
  let start = Math.max(0, firstMatch - SNIPPET_LEAD);
  if (start > 0) {
    const space = text.indexOf(' ', start);
    if (space !== -1 && space < firstMatch) start = space + 1;
  }
  let end = Math.min(text.length, start + max - (start > 0 ? 1 : 0) - 1);
  if (end === text.length && start > 0) start = Math.max(0, text.length - (max - 1));
  // Never half a surrogate pair at either edge.
  if (start > 0 && isLowSurrogate(text.charCodeAt(start))) start += 1;
  if (end < text.length && isLowSurrogate(text.charCodeAt(end))) end -= 1;
  const lead = start > 0 ? '…' : '';
  const tail = end < text.length ? '…' : '';
  const shift = lead.length - start;
  const highlights = ranges
    .filter((range) => range.end > start && range.start < end)
    .map((range) => ({ start: Math.max(range.start, start) + shift, end: Math.min(range.end, end) + shift }));
  return { snippet: lead + text.slice(start, end) + tail, highlights };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
