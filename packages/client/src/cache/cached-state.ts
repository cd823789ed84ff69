/**
 * What the local cache holds and how it is written and read back. Pure: no
 * I/O, no timers. It owns the schema (versioned: a text of another schema,
 * or one that does not parse or check out, is refused whole, so a client
 * never shows garbage) and the per-conversation runs of recent messages.
 *
 * The state is exact, not a best effort: `version` is the sync version the
 * state is complete for, `synced` is the sync engine's position per
 * conversation, and a run's messages are every shown message from `from`
 * up to `synced`. That is what lets a restarted client ask only for what
 * changed since (SyncRequest.since_version and positions) without losing or
 * repeating a message.
 */
import { applyAmendment } from '../amendments.js';
import type { AmendedMessage, ConversationSummary, Message } from '../types.js';

/** Bumped whenever the stored shape changes: older texts are then discarded, not migrated. */
export const CACHE_SCHEMA = 1;
/** Newest messages kept per conversation. */
export const MAX_CACHED_MESSAGES = 50;
/** Conversations whose messages are kept (the most recently active); the others keep their summary and position only. */
export const MAX_CACHED_RUNS = 100;
/**
 * Conversations whose summary is kept. Past it the version is not kept
 * either (a full sync on the next start), since a sync from the version
 * would not list the conversations left out.
 */
export const MAX_CACHED_CONVERSATIONS = 1_000;

/** Every shown message of a conversation with seq in from..synced, ascending. */
export interface MessageRun {
  from: number;
  synced: number;
  messages: Message[];
}

export interface CachedConversation {
  summary: ConversationSummary;
  /** The sync engine's synced seq: every message up to it was handed out. */
  synced: number;
  /** Absent for conversations beyond MAX_CACHED_RUNS. */
  run?: MessageRun;
}

export interface CachedState {
  /** The server database the state came from (Welcome.database_id); absent in states written before servers told it. */
  databaseId?: string;
  /** The sync version the state is complete for; 0: sync everything. */
  version: number;
  conversations: CachedConversation[];
  /** Read positions applied locally that the server has not confirmed yet: sent again once connected. */
  unconfirmedReads: Array<{ conversationId: string; seq: number }>;
}

/** Who the state belongs to: a text written for anyone else is refused. */
export interface CacheOwner {
  serverUrl: string;
  userId: string;
}

/** The key an owner's state is stored under: one per server and user, so two users of one device never share. */
export function cacheKey(owner: CacheOwner): string {
  return `parley:${CACHE_SCHEMA}:${owner.serverUrl}\n${owner.userId}`;
}

export function encodeState(owner: CacheOwner, state: CachedState): string {
  return JSON.stringify({ schema: CACHE_SCHEMA, ...owner, ...state }, (_key, value: unknown) =>
    value instanceof Uint8Array ? { $bytes: toBase64(value) } : value,
  );
}

/** The state in `text`, or the reason it is refused. */
export function decodeState(owner: CacheOwner, text: string): { state: CachedState } | { refused: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (_key, value: unknown) => (isBytes(value) ? fromBase64(value.$bytes) : value));
  } catch {
    return { refused: 'unreadable' };
  }
  if (!isRecord(parsed)) return { refused: 'unreadable' };
  if (parsed.schema !== CACHE_SCHEMA) return { refused: 'another schema' };
  if (parsed.serverUrl !== owner.serverUrl || parsed.userId !== owner.userId) return { refused: 'another owner' };
  const { databaseId, version, conversations, unconfirmedReads } = parsed;
  if (!isCount(version) || !Array.isArray(conversations) || !Array.isArray(unconfirmedReads)) return { refused: 'malformed' };
  if (databaseId !== undefined && typeof databaseId !== 'string') return { refused: 'malformed' };
  if (!conversations.every(isCachedConversation) || !unconfirmedReads.every(isReadPosition)) return { refused: 'malformed' };
  const ids = new Set(conversations.map((conversation) => conversation.summary.id));
  if (ids.size !== conversations.length) return { refused: 'malformed' };
  return { state: databaseId === undefined ? { version, conversations, unconfirmedReads } : { databaseId, version, conversations, unconfirmedReads } };
}

/**
 * The runs of recent messages, one per conversation, kept as the client
 * hands messages out. A run only ever grows at its end by the messages the
 * sync engine released between its old and new synced seq, so it stays
 * exactly what the client showed; anything that does not line up starts a
 * new run there.
 */
export class RecentRuns {
  private readonly runs = new Map<string, MessageRun>();

  get(conversationId: string): MessageRun | undefined {
    return this.runs.get(conversationId);
  }

  /** Takes a run back from the cache. */
  restore(conversationId: string, run: MessageRun): void {
    this.runs.set(conversationId, { from: run.from, synced: run.synced, messages: [...run.messages] });
  }

  /**
   * The sync engine moved synced forward to `synced`, releasing `shown`
   * (amendments and placeholders left out). Every move of synced comes with
   * its step, so a run continues where it ended; a conversation without a
   * run starts one at the first message shown.
   */
  advance(conversationId: string, synced: number, shown: readonly Message[]): void {
    const run = this.runs.get(conversationId);
    if (run !== undefined && synced <= run.synced) return;
    const held = run?.messages ?? [];
    const from = run?.from ?? shown[0]?.seq ?? synced + 1;
    const added = run === undefined ? shown : shown.filter((message) => message.seq > run.synced);
    this.runs.set(conversationId, bounded({ from, synced, messages: [...held, ...added] }));
  }

  /**
   * Older messages from history (every shown message from `coveredFrom` up to
   * at least the run's start): they extend the run downwards, within bounds.
   */
  prepend(conversationId: string, older: { coveredFrom: number; coveredTo: number; messages: readonly Message[] }, synced: number): void {
    const run = this.runs.get(conversationId) ?? { from: synced + 1, synced, messages: [] };
    // The page must reach the run (or the synced seq, for a conversation with no run yet) without a hole.
    if (older.coveredFrom >= run.from || older.coveredTo < run.from - 1 || run.synced !== synced) return;
    const below = older.messages.filter((message) => message.seq >= older.coveredFrom && message.seq < run.from);
    // Only the newest are kept: past the bound the page is dropped again and the run starts at its oldest kept message.
    this.runs.set(conversationId, bounded({ from: older.coveredFrom, synced, messages: [...below, ...run.messages] }));
  }

  /** An earlier message changed: the held copy reads as the app's does. */
  amend(amended: AmendedMessage, selfId: string | undefined): void {
    const run = this.runs.get(amended.conversationId);
    if (run === undefined) return;
    const messages = run.messages.flatMap((message) => {
      if (message.seq !== amended.seq) return [message];
      const changed = applyAmendment(message, amended, selfId);
      return changed === undefined ? [] : [changed];
    });
    this.runs.set(amended.conversationId, { ...run, messages });
  }

  forget(conversationId: string): void {
    this.runs.delete(conversationId);
  }

  clear(): void {
    this.runs.clear();
  }
}

/** The newest MAX_CACHED_MESSAGES; the run then starts at the oldest one kept. */
function bounded(run: MessageRun): MessageRun {
  if (run.messages.length <= MAX_CACHED_MESSAGES) return run;
  const messages = run.messages.slice(run.messages.length - MAX_CACHED_MESSAGES);
  return { from: (messages[0] as Message).seq, synced: run.synced, messages };
}

function isCachedConversation(value: unknown): value is CachedConversation {
  if (!isRecord(value) || !isSummary(value.summary) || !isCount(value.synced)) return false;
  if (value.run === undefined) return true;
  const run = value.run;
  if (!isRecord(run) || !isCount(run.from) || run.synced !== value.synced || !Array.isArray(run.messages)) return false;
  const conversationId = value.summary.id;
  let previous = run.from - 1;
  for (const message of run.messages) {
    if (!isMessage(message) || message.conversationId !== conversationId || message.seq <= previous || message.seq > value.synced) return false;
    previous = message.seq;
  }
  return true;
}

function isSummary(value: unknown): value is ConversationSummary {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    value.id !== '' &&
    (value.kind === 'direct' || value.kind === 'group') &&
    typeof value.name === 'string' &&
    isCount(value.lastSeq) &&
    isCount(value.readSeq) &&
    isCount(value.unread) &&
    isCount(value.firstSeq) &&
    (value.role === 'member' || value.role === 'admin' || value.role === 'owner') &&
    typeof value.active === 'boolean' &&
    typeof value.updatedAt === 'number' &&
    isCount(value.memberCount) &&
    isRecord(value.attributes) &&
    (value.lastMessage === undefined || isMessage(value.lastMessage))
  );
}

function isMessage(value: unknown): value is Message {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.conversationId === 'string' &&
    isCount(value.seq) &&
    typeof value.senderId === 'string' &&
    (value.type === 'user' || value.type === 'system') &&
    typeof value.createdAt === 'number'
  );
}

function isReadPosition(value: unknown): value is { conversationId: string; seq: number } {
  return isRecord(value) && typeof value.conversationId === 'string' && isCount(value.seq);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBytes(value: unknown): value is { $bytes: string } {
  return isRecord(value) && typeof value.$bytes === 'string' && Object.keys(value).length === 1;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** What the client holds now, for snapshotOf. */
export interface LiveState {
  databaseId: string | undefined;
  version: number;
  /** The conversation list in its display order (the first ones keep their messages). */
  summaries: readonly ConversationSummary[];
  syncedOf(conversationId: string): number | undefined;
  runs: RecentRuns;
  unconfirmedReads: ReadonlyMap<string, number>;
}

/** The bounded state to write. */
export function snapshotOf(live: LiveState): CachedState {
  const complete = live.summaries.length <= MAX_CACHED_CONVERSATIONS;
  const conversations: CachedConversation[] = [];
  for (const summary of live.summaries.slice(0, MAX_CACHED_CONVERSATIONS)) {
    const synced = live.syncedOf(summary.id);
    if (synced === undefined) continue;
    const run = conversations.length < MAX_CACHED_RUNS ? live.runs.get(summary.id) : undefined;
    conversations.push(run === undefined || run.synced !== synced ? { summary, synced } : { summary, synced, run });
  }
  const state: CachedState = {
    version: complete ? live.version : 0,
    conversations,
    unconfirmedReads: [...live.unconfirmedReads].map(([conversationId, seq]) => ({ conversationId, seq })),
  };
  if (live.databaseId !== undefined) state.databaseId = live.databaseId;
  return state;
}
