/**
 * The local conversation list and its unread bookkeeping. Pure: no I/O.
 *
 * A server summary accounts for every message up to its lastSeq. Messages the
 * client applies beyond that are counted locally with the server's rules
 * (docs/protocol.md, "Conversation list and unread counts"). Summaries are
 * immutable: every change replaces the object, so a changed summary can be
 * handed to listeners and compared by reference.
 */
import type { ConversationSummary, Message } from './types.js';

/**
 * Seqs of locally counted unread messages kept per conversation, to rebuild the
 * count when an older server summary arrives. Past this many, the local count
 * is kept as it is instead.
 */
const MAX_LOCALLY_COUNTED = 10_000;

interface Entry {
  summary: ConversationSummary;
  /**
   * Seqs of messages applied locally above the last server summary's lastSeq
   * that counted as unread. A server summary that is older than the local state
   * (stale) cannot know them; these let its unread be completed exactly.
   */
  countedSinceServer: number[];
  /** countedSinceServer overflowed and is incomplete. */
  countOverflowed: boolean;
  /** Of countedSinceServer, the seqs of messages that mention the user. */
  mentionedSinceServer: number[];
  /** The highest lastSeq of a server summary applied so far. */
  serverLastSeq: number;
}

/** Whether the user's notifications for a conversation are muted at `now` (a mute ends at its time, with no message saying so). */
export function isMuted(summary: Pick<ConversationSummary, 'mutedUntil'>, now: number = Date.now()): boolean {
  return summary.mutedUntil !== undefined && summary.mutedUntil > now;
}

export class ConversationList {
  private readonly entries = new Map<string, Entry>();
  private sortedCache: ConversationSummary[] | undefined;

  get(conversationId: string): ConversationSummary | undefined {
    return this.entries.get(conversationId)?.summary;
  }

  /** Pinned first (the latest pinned on top), then newest activity first (updatedAt descending, then id). A fresh array each call. */
  list(): ConversationSummary[] {
    if (this.sortedCache === undefined) {
      this.sortedCache = [...this.entries.values()]
        .map((entry) => entry.summary)
        .sort((a, b) => (b.pinnedAt ?? 0) - (a.pinnedAt ?? 0) || b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return [...this.sortedCache];
  }

  /** Forgets every conversation (state restored from a cache that turned out not to hold). */
  clear(): void {
    this.entries.clear();
    this.sortedCache = undefined;
  }

  /** Derived from the summaries every time, so it cannot disagree with them: unread messages and unread replies of followed threads. */
  get totalUnread(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.summary.unread + (entry.summary.threadUnread ?? 0);
    return total;
  }

  /**
   * Merges a summary from the server (sync, conversation_changed,
   * conversation_result). It replaces the local one, unless it is older than
   * what was applied locally (lower lastSeq): then the local lastSeq,
   * lastMessage and updatedAt stay, and unread is the server's count plus the
   * messages counted locally since. Read positions never move back.
   * Returns the new summary, or undefined when nothing changed.
   */
  applyServerSummary(server: ConversationSummary): ConversationSummary | undefined {
    const entry = this.entries.get(server.id);
    if (entry === undefined) {
      this.entries.set(server.id, { summary: server, countedSinceServer: [], countOverflowed: false, mentionedSinceServer: [], serverLastSeq: server.lastSeq });
      this.sortedCache = undefined;
      return server;
    }
    const local = entry.summary;
    // Older than a summary already applied (a read's answer and another
    // device's change travel apart and may cross): its count misses messages
    // the newer one covered, which countedSinceServer no longer holds. It
    // says nothing new unless it carries a read position beyond the local one.
    // Its settings (mute, pin, draft) are still the latest the server sent: they
    // change by themselves, without moving lastSeq.
    // The same holds for one at the newest lastSeq heard of whose read
    // position is behind the local one: a read (this device's, or its
    // answer) came after the server counted it, so its unread counts
    // messages read since.
    const staleRead = server.readSeq < local.readSeq;
    if ((server.lastSeq < entry.serverLastSeq && server.readSeq <= local.readSeq) || (server.lastSeq === entry.serverLastSeq && staleRead)) {
      return this.replace(entry, withSettingsOf(local, server));
    }
    // Unread replies grow only with a new reply, which is a new seq. One
    // more at a lastSeq already heard of is a summary read before a thread
    // read it crossed (the read's answer came first): the lower count stands.
    const threadUnread = server.lastSeq <= entry.serverLastSeq ? Math.min(server.threadUnread ?? 0, local.threadUnread ?? 0) : (server.threadUnread ?? 0);
    entry.serverLastSeq = Math.max(entry.serverLastSeq, server.lastSeq);
    const readSeq = Math.max(local.readSeq, server.readSeq);
    // The server's unread is stale when a later local read covers its whole
    // range, and too high when it covers part of it: then it is at most the
    // local count plus the messages this summary is the first to tell of.
    const serverUnread =
      readSeq > server.readSeq && readSeq >= server.lastSeq
        ? 0
        : staleRead
          ? Math.min(server.unread, local.unread + Math.max(0, server.lastSeq - local.lastSeq))
          : server.unread;

    let next: ConversationSummary;
    if (server.lastSeq >= local.lastSeq) {
      next = { ...server, readSeq, unread: serverUnread };
      if (serverUnread === 0) delete next.mentions;
      entry.countedSinceServer = [];
      entry.countOverflowed = false;
      entry.mentionedSinceServer = [];
    } else {
      next = { ...server, lastSeq: local.lastSeq, updatedAt: Math.max(local.updatedAt, server.updatedAt), readSeq };
      setOptional(next, 'lastMessage', local.lastMessage);
      entry.countedSinceServer = entry.countedSinceServer.filter((seq) => seq > server.lastSeq && seq > readSeq);
      entry.mentionedSinceServer = entry.mentionedSinceServer.filter((seq) => seq > server.lastSeq && seq > readSeq);
      next.unread = entry.countOverflowed ? local.unread : serverUnread + entry.countedSinceServer.length;
      setOptional(next, 'mentions', positive((serverUnread === 0 ? 0 : (server.mentions ?? 0)) + entry.mentionedSinceServer.length));
    }
    setOptional(next, 'threadUnread', positive(threadUnread));
    // Whatever crossed what: no more unread than messages after the read position.
    next.unread = Math.min(next.unread, Math.max(0, next.lastSeq - next.readSeq));
    if (next.unread === 0) delete next.mentions;
    return this.replace(entry, next);
  }

  /**
   * Applies a visible message the sync engine released in seq order. Only a
   * message beyond the summary's lastSeq changes it; anything at or below is
   * already accounted for by the summary.
   */
  applyMessage(message: Message, selfId: string | undefined): ConversationSummary | undefined {
    const entry = this.entries.get(message.conversationId);
    if (entry === undefined) return undefined;
    const local = entry.summary;
    if (message.seq <= local.lastSeq) return undefined;
    // A reply in a thread is not in the timeline: neither its last message
    // nor unread. Its followers' threadUnread comes from the server (a
    // summary after every reply).
    if (message.threadRoot !== undefined) return this.replace(entry, { ...local, lastSeq: message.seq });
    const next: ConversationSummary = {
      ...local,
      lastSeq: message.seq,
      lastMessage: message,
      updatedAt: Math.max(local.updatedAt, message.createdAt),
    };
    if (message.senderId === selfId) {
      // The server marks the sender read up to its own message.
      next.readSeq = Math.max(local.readSeq, message.seq);
      next.unread = 0;
      delete next.mentions;
      entry.countedSinceServer = [];
      entry.countOverflowed = false;
      entry.mentionedSinceServer = [];
    } else if (message.type === 'user' && message.seq > local.readSeq) {
      next.unread = local.unread + 1;
      if (entry.countedSinceServer.length < MAX_LOCALLY_COUNTED) entry.countedSinceServer.push(message.seq);
      else entry.countOverflowed = true;
      if (message.mentionAll === true || (selfId !== undefined && message.mentions?.includes(selfId) === true)) {
        next.mentions = (local.mentions ?? 0) + 1;
        if (entry.mentionedSinceServer.length < MAX_LOCALLY_COUNTED) entry.mentionedSinceServer.push(message.seq);
      }
    }
    return this.replace(entry, next);
  }

  /** A hidden placeholder was applied: the sequence moved, nothing to show or count. */
  advanceLastSeq(conversationId: string, seq: number): ConversationSummary | undefined {
    const entry = this.entries.get(conversationId);
    if (entry === undefined || seq <= entry.summary.lastSeq) return undefined;
    return this.replace(entry, { ...entry.summary, lastSeq: seq });
  }

  /**
   * Optimistic local read before the server answers: readSeq moves forward;
   * reading up to lastSeq clears unread, a partial read removes the locally
   * counted messages it covers (read_result then gives the exact count).
   */
  markReadLocally(conversationId: string, seq: number): ConversationSummary | undefined {
    const entry = this.entries.get(conversationId);
    if (entry === undefined || seq <= entry.summary.readSeq) return undefined;
    const local = entry.summary;
    let unread: number;
    let mentions = local.mentions ?? 0;
    if (seq >= local.lastSeq) {
      unread = 0;
      mentions = 0;
      entry.countedSinceServer = [];
      entry.countOverflowed = false;
      entry.mentionedSinceServer = [];
    } else {
      const covered = entry.countedSinceServer.filter((counted) => counted <= seq).length;
      entry.countedSinceServer = entry.countedSinceServer.filter((counted) => counted > seq);
      unread = Math.max(0, local.unread - covered);
      const mentionsCovered = entry.mentionedSinceServer.filter((counted) => counted <= seq).length;
      entry.mentionedSinceServer = entry.mentionedSinceServer.filter((counted) => counted > seq);
      mentions = Math.max(0, mentions - mentionsCovered);
    }
    const next = { ...local, readSeq: seq, unread };
    setOptional(next, 'mentions', positive(mentions));
    return this.replace(entry, next);
  }

  /** The server's answer to mark_read: authoritative read position and unread count. */
  applyReadResult(conversationId: string, readSeq: number, unread: number): ConversationSummary | undefined {
    const entry = this.entries.get(conversationId);
    if (entry === undefined) return undefined;
    const local = entry.summary;
    const nextReadSeq = Math.max(local.readSeq, readSeq);
    entry.countedSinceServer = entry.countedSinceServer.filter((counted) => counted > nextReadSeq);
    const nextUnread = nextReadSeq >= local.lastSeq ? 0 : nextReadSeq > readSeq ? Math.min(unread, local.unread) : unread;
    const next = { ...local, readSeq: nextReadSeq, unread: nextUnread };
    if (nextUnread === 0) delete next.mentions;
    return this.replace(entry, next);
  }

  private replace(entry: Entry, next: ConversationSummary): ConversationSummary | undefined {
    if (sameSummary(entry.summary, next)) return undefined;
    entry.summary = next;
    this.sortedCache = undefined;
    return next;
  }
}

/** `summary` with the user's own settings as `from` has them. */
function withSettingsOf(summary: ConversationSummary, from: ConversationSummary): ConversationSummary {
  const next = { ...summary };
  setOptional(next, 'mutedUntil', from.mutedUntil);
  setOptional(next, 'pinnedAt', from.pinnedAt);
  setOptional(next, 'draft', from.draft);
  return next;
}

/** A count as an optional field holds it: absent when 0. */
function positive(count: number): number | undefined {
  return count > 0 ? count : undefined;
}

function setOptional<K extends keyof ConversationSummary>(target: ConversationSummary, key: K, value: ConversationSummary[K]): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}

function sameSummary(a: ConversationSummary, b: ConversationSummary): boolean {
  return (
    a.id === b.id &&
    a.kind === b.kind &&
    a.name === b.name &&
    a.subject === b.subject &&
    a.peerId === b.peerId &&
    a.lastSeq === b.lastSeq &&
    sameMessage(a.lastMessage, b.lastMessage) &&
    a.readSeq === b.readSeq &&
    a.unread === b.unread &&
    a.role === b.role &&
    a.firstSeq === b.firstSeq &&
    a.leftSeq === b.leftSeq &&
    a.active === b.active &&
    a.updatedAt === b.updatedAt &&
    a.memberCount === b.memberCount &&
    a.mutedUntil === b.mutedUntil &&
    a.pinnedAt === b.pinnedAt &&
    a.draft === b.draft &&
    a.mentions === b.mentions &&
    a.threadUnread === b.threadUnread &&
    sameAttributes(a.attributes, b.attributes)
  );
}

function sameAttributes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function sameMessage(a: Message | undefined, b: Message | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  // Recalls and edits change a message in place.
  return a.id === b.id && a.seq === b.seq && a.recalledAt === b.recalledAt && a.editedAt === b.editedAt && a.text === b.text;
}
