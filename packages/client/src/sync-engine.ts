/**
 * Per-conversation sequence tracking (docs/protocol.md, "Receiving: push plus
 * pull with gap detection"). Pure: no I/O, no timers, no clock. The client
 * feeds it pushed, acknowledged and pulled messages; it answers with the
 * messages to apply, in seq order, and says which seq range to pull next.
 *
 * Everything rests on `synced`, the highest seq held contiguously: a message at
 * or below it is a duplicate, the one right after it is applied, anything
 * further is buffered until a pull fills the gap. That is what makes each
 * message come out exactly once and in order, across reconnects too.
 */

/** What the engine needs to know about a message. */
export interface SequencedMessage {
  readonly seq: number;
  /** A placeholder for a message addressed to someone else: applied, never shown. */
  readonly hidden: boolean;
}

/** An inclusive seq range to pull, ascending. */
export interface PullRange {
  fromSeq: number;
  toSeq: number;
}

/** The outcome of feeding the engine. */
export interface SyncStep<M> {
  /** Messages to show, in seq order. Hidden placeholders are applied but never listed. */
  messages: M[];
  /** Highest seq applied by this step, placeholders included; 0 when nothing was applied. */
  lastAppliedSeq: number;
  /** True when `synced` moved forward, so the new position should be reported as delivered. */
  advanced: boolean;
}

export interface ReceiveResult<M> extends SyncStep<M> {
  /**
   * The conversation is not tracked yet. The message is held until track(),
   * which needs the conversation's summary: the client should sync.
   */
  untracked: boolean;
}

/** An ascending pull answer. */
export interface PulledRange<M> {
  messages: readonly M[];
  /** Every seq in coveredFrom..coveredTo is in `messages` or unreadable by this user. */
  coveredFrom: number;
  coveredTo: number;
  /** The conversation's newest seq as the pull saw it (already capped to what this user may read). */
  lastSeq?: number;
}

export interface SyncEngineLimits {
  /** Out-of-order messages held per conversation; past that they are dropped and pulled instead. Default 10000. */
  maxBufferedPerConversation?: number;
  /** Conversations for which messages are held before their summary is known. Default 1000. */
  maxUntrackedConversations?: number;
}

/** Where a conversation's position starts when this client sees it for the first time. */
export interface FirstSight {
  firstSeq: number;
  readSeq: number;
  lastSeq: number;
}

/**
 * How a conversation came into view. 'login': it was already in the user's
 * list when this client synced for the first time; what the user already read
 * there is history. 'live': the client had synced before, so the conversation
 * was born or joined since (while connected, or while away); everything in it
 * is news to this device.
 */
export type FirstSightMode = 'login' | 'live';

/**
 * The initial `synced` for a conversation this client never tracked, before
 * messages already held for it are taken into account (track() lowers it to
 * emit those). Never before the user joined (firstSeq), and at most
 * `initialBacklog` messages. On 'login' also nothing already read, so that
 * unread messages arrive as events while older ones stay available through
 * history. On 'live' the read position does not count: the user's own sends
 * from another device move it, and skipping them would leave holes in what
 * this device shows of a conversation it met mid-stream.
 */
export function initialSyncedSeq(summary: FirstSight, initialBacklog: number, mode: FirstSightMode = 'login'): number {
  const backlogStart = summary.lastSeq - Math.max(0, initialBacklog);
  const readStart = mode === 'login' ? summary.readSeq : 0;
  return Math.max(0, summary.firstSeq - 1, readStart, backlogStart);
}

interface ConversationPosition<M> {
  synced: number;
  /** Highest seq known to exist and be readable; pulls continue until synced reaches it. */
  knownLastSeq: number;
  /** Messages above synced + 1, waiting for the gap below them to fill. */
  buffered: Map<number, M>;
  /** The pull in flight, if any: one at a time, so a range is never pulled twice concurrently. */
  pulling: PullRange | undefined;
  /**
   * Set when a pull failed or made no progress; no further pull is proposed
   * until new information arrives (a message, catchUp, resume). Without it a
   * server that cannot serve a range would be asked for it in a tight loop.
   */
  stalled: boolean;
}

export class SyncEngine<M extends SequencedMessage> {
  private readonly positions = new Map<string, ConversationPosition<M>>();
  private readonly untracked = new Map<string, Map<number, M>>();
  private readonly maxBuffered: number;
  private readonly maxUntracked: number;

  constructor(limits: SyncEngineLimits = {}) {
    this.maxBuffered = limits.maxBufferedPerConversation ?? 10_000;
    this.maxUntracked = limits.maxUntrackedConversations ?? 1_000;
  }

  isTracked(conversationId: string): boolean {
    return this.positions.has(conversationId);
  }

  /** The highest seq held contiguously, or undefined for an untracked conversation. */
  syncedSeq(conversationId: string): number | undefined {
    return this.positions.get(conversationId)?.synced;
  }

  /**
   * Starts tracking at `initialSynced` (see initialSyncedSeq), lowered to just
   * below the first message this client already received for the
   * conversation: every message that reached this client is emitted, and the
   * ones between are pulled, so what this device shows of the conversation is
   * one contiguous run from the start. Tracking an already tracked
   * conversation only raises its known last seq.
   */
  track(conversationId: string, initialSynced: number, knownLastSeq: number): SyncStep<M> {
    if (this.positions.has(conversationId)) {
      this.catchUp(conversationId, knownLastSeq);
      return emptyStep();
    }
    const held = this.untracked.get(conversationId);
    this.untracked.delete(conversationId);
    const heldSeqs = held === undefined ? [] : [...held.keys()].sort(ascending);
    const firstHeld = heldSeqs[0];
    const start = firstHeld === undefined ? initialSynced : Math.min(initialSynced, firstHeld - 1);
    const position: ConversationPosition<M> = {
      synced: Math.max(0, start),
      knownLastSeq: Math.max(0, knownLastSeq, heldSeqs[heldSeqs.length - 1] ?? 0),
      buffered: new Map(),
      pulling: undefined,
      stalled: false,
    };
    this.positions.set(conversationId, position);
    for (const seq of heldSeqs) position.buffered.set(seq, held?.get(seq) as M);
    const before = position.synced;
    const applied = this.drain(position, 0);
    return toStep(applied, position.synced > before);
  }

  /** Records that the conversation reaches at least `lastSeq` (from a summary), so pulls continue up to it. */
  catchUp(conversationId: string, lastSeq: number): void {
    const position = this.positions.get(conversationId);
    if (position === undefined) return;
    position.knownLastSeq = Math.max(position.knownLastSeq, lastSeq);
    position.stalled = false;
  }

  /** A pushed message, or this device's own acknowledged send. */
  receive(conversationId: string, message: M): ReceiveResult<M> {
    const position = this.positions.get(conversationId);
    if (position === undefined) {
      this.hold(conversationId, message);
      return { ...emptyStep(), untracked: true };
    }
    if (message.seq <= position.synced) return { ...emptyStep(), untracked: false };
    if (message.seq === position.synced + 1) {
      position.synced = message.seq;
      const applied = [message, ...this.drain(position, 0)];
      return { ...toStep(applied, true), untracked: false };
    }
    // A gap: keep the message and let pulls fill synced + 1 .. seq - 1.
    position.knownLastSeq = Math.max(position.knownLastSeq, message.seq);
    position.stalled = false;
    if (!position.buffered.has(message.seq)) {
      if (position.buffered.size >= this.maxBuffered) position.buffered.clear();
      else position.buffered.set(message.seq, message);
    }
    return { ...emptyStep(), untracked: false };
  }

  /** True when the conversation has a gap or is behind its known last seq, and no pull is in flight. */
  wantsPull(conversationId: string): boolean {
    const position = this.positions.get(conversationId);
    if (position === undefined || position.pulling !== undefined || position.stalled) return false;
    return position.synced < position.knownLastSeq || position.buffered.size > 0;
  }

  /** Tracked conversations for which wantsPull() is true. */
  conversationsWantingPull(): string[] {
    return [...this.positions.keys()].filter((conversationId) => this.wantsPull(conversationId));
  }

  /**
   * The next range to pull, marked in flight until applyPull or pullFailed: up to
   * the first buffered message when there is a gap, else up to the known last seq.
   * The server may answer with less (its pull limit); the next call continues.
   */
  startPull(conversationId: string): PullRange | undefined {
    if (!this.wantsPull(conversationId)) return undefined;
    const position = this.positions.get(conversationId) as ConversationPosition<M>;
    const fromSeq = position.synced + 1;
    const toSeq = position.buffered.size > 0 ? Math.min(...position.buffered.keys()) - 1 : position.knownLastSeq;
    if (toSeq < fromSeq) return undefined;
    position.pulling = { fromSeq, toSeq };
    return { fromSeq, toSeq };
  }

  /** Applies an ascending pull answer for the pull in flight. */
  applyPull(conversationId: string, pulled: PulledRange<M>): SyncStep<M> {
    const position = this.positions.get(conversationId);
    if (position === undefined) return emptyStep();
    position.pulling = undefined;
    for (const message of pulled.messages) {
      if (message.seq > position.synced && !position.buffered.has(message.seq)) {
        position.buffered.set(message.seq, message);
      }
    }
    // Everything up to coveredTo is accounted for, also when the range came
    // back empty (coveredFrom > coveredTo): seqs below the user's first_seq are
    // unreadable, so a member added back to a group pulls across the time it
    // was out and lands on its new first seq. Only ever forward (drain).
    const before = position.synced;
    const applied = this.drain(position, pulled.coveredTo);
    if (pulled.lastSeq !== undefined) position.knownLastSeq = Math.max(position.knownLastSeq, pulled.lastSeq);
    if (position.synced === before) position.stalled = true;
    return toStep(applied, position.synced > before);
  }

  /**
   * A contiguous run that came with a sync answer (every seq in
   * coveredFrom..coveredTo present, placeholders included). When it reaches
   * down to synced + 1 it is applied like a pull; otherwise it is held like
   * pushes beyond a gap, and pulls fill synced + 1 .. coveredFrom - 1.
   */
  applyRun(conversationId: string, run: PulledRange<M>): SyncStep<M> {
    const position = this.positions.get(conversationId);
    if (position === undefined || run.messages.length === 0) return emptyStep();
    position.knownLastSeq = Math.max(position.knownLastSeq, run.coveredTo);
    position.stalled = false;
    const reachesSynced = run.coveredFrom <= position.synced + 1;
    for (const message of run.messages) {
      if (message.seq <= position.synced || position.buffered.has(message.seq)) continue;
      if (!reachesSynced && position.buffered.size >= this.maxBuffered) break; // pulled instead
      position.buffered.set(message.seq, message);
    }
    if (!reachesSynced) return emptyStep();
    const before = position.synced;
    const applied = this.drain(position, run.coveredTo);
    return toStep(applied, position.synced > before);
  }

  /** The pull in flight failed; no new pull is proposed until resume() or new information. */
  pullFailed(conversationId: string): void {
    const position = this.positions.get(conversationId);
    if (position === undefined) return;
    position.pulling = undefined;
    position.stalled = true;
  }

  /** Allows pulls again after a failure (the client retries later). */
  resume(conversationId: string): void {
    const position = this.positions.get(conversationId);
    if (position !== undefined) position.stalled = false;
  }

  /** Forgets every conversation and held message: the next track() starts afresh. */
  clear(): void {
    this.positions.clear();
    this.untracked.clear();
  }

  /** Forgets every pull in flight: their answers are lost with the connection. */
  abortPulls(): void {
    for (const position of this.positions.values()) {
      position.pulling = undefined;
      position.stalled = false;
    }
  }

  private hold(conversationId: string, message: M): void {
    let held = this.untracked.get(conversationId);
    if (held === undefined) {
      if (this.untracked.size >= this.maxUntracked) return; // pulled after track() instead
      held = new Map();
      this.untracked.set(conversationId, held);
    }
    if (held.size < this.maxBuffered) held.set(message.seq, message);
  }

  /**
   * Applies buffered messages that now follow `synced`. Up to `accountedThrough`
   * (a pull's covered_to) the server vouches that the range is complete, so
   * buffered messages there apply even across missing seqs, and synced then
   * reaches accountedThrough.
   */
  private drain(position: ConversationPosition<M>, accountedThrough: number): M[] {
    const applied: M[] = [];
    if (accountedThrough > position.synced) {
      const accounted = [...position.buffered.keys()].filter((seq) => seq <= accountedThrough).sort(ascending);
      for (const seq of accounted) {
        const message = position.buffered.get(seq) as M;
        position.buffered.delete(seq);
        if (seq > position.synced) {
          applied.push(message);
          position.synced = seq;
        }
      }
      position.synced = accountedThrough;
    }
    for (let next = position.buffered.get(position.synced + 1); next !== undefined; next = position.buffered.get(position.synced + 1)) {
      position.buffered.delete(next.seq);
      applied.push(next);
      position.synced = next.seq;
    }
    return applied;
  }
}

function toStep<M extends SequencedMessage>(applied: M[], advanced: boolean): SyncStep<M> {
  const last = applied[applied.length - 1];
  return {
    messages: applied.filter((message) => !message.hidden),
    lastAppliedSeq: last === undefined ? 0 : last.seq,
    advanced,
  };
}

function emptyStep<M>(): SyncStep<M> {
  return { messages: [], lastAppliedSeq: 0, advanced: false };
}

function ascending(a: number, b: number): number {
  return a - b;
}
