/**
 * Messaging: send, pull, sync and read positions. Validates input, applies
 * the rules (membership, dedupe, seq, access windows, unread) inside one
 * store unit, then publishes what was committed on the bus.
 */
import { type Clock, type MessageContent, ParleyError, systemClock } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import type { Bus } from '../bus/bus.js';
import type { ConversationRow, MemberRow, Store, StoreTx } from '../store/store.js';
import { requireRoomSender } from './rooms.js';
import type { OutgoingMessage } from '../moderation/before-send.js';
import type { Moderation } from '../moderation/moderation.js';
import { routedRecipients } from './recipients.js';
import { lockConversation, requireActiveMembership, requireConversation, requireMembership, requireUsers } from './access.js';
import type { AppendResult, ChangesResult, ConversationView, ReadRangeResult, StoredMessage } from './model.js';
import { type HistoryPage, type HistoryQuery, readAcross, readHistory } from './history.js';
import type { CompletedContent, MediaService } from './media.js';
import { type TimelineEntry, appendToTimeline } from './timeline.js';
import { FollowerTeller } from './follower-teller.js';
import { type ThreadPage, readThread, readableThreadRoot, recordReply, requireThreadRoot } from './threads.js';
import { UnreadCache, UnreadTotals } from './unread-cache.js';
import { type SyncOptions, readChanges } from './sync.js';
import { buildView, countWithin, hiddenIn, inAbsence, isVisibleTo, placeholder, readableEnd, readableRanges, unmutedUnread, userMessageInWindow, withReactions } from './views.js';
import { checkContent, requireClientMsgId, requireConversationId, requireId, requireIdList } from './validate.js';

export interface SendInput {
  conversationId: string;
  clientMsgId: string;
  text?: string;
  data?: Uint8Array;
  visibleTo?: string;
  /** A typed message (media.ts completes it; `text` becomes its fallback line). */
  content?: MessageContent;
  /** Members mentioned (@name); those who are not active members are left out. */
  mentions?: readonly string[];
  /** Everyone mentioned (@all); groups only. */
  mentionAll?: boolean;
  /** The seq of the message this one answers; one the sender may read. */
  replyTo?: number;
  /** The seq of the thread's root when this is a reply in a thread (threads.ts). */
  threadRoot?: number;
}

/** Members one message may mention by name. */
export const MAX_MENTIONS = 50;
/** Followers of a thread told their new summary after replies (tellFollowers), those who read it last first. */
const MAX_TOLD_FOLLOWERS = 200;

/** The connection a send came from: it gets the message in its ack (see MessagingService.send). */
export interface SendOrigin {
  sessionId: string;
  onCommitted(result: AppendResult): void;
}

/** Any user reading a room: the whole timeline, nothing read. */
function roomReader(conversationId: string, userId: string): MemberRow {
  return { conversationId, userId, role: 'member', firstSeq: 1, readSeq: 0, joinedAt: 0 };
}

/** How long a sender refused for overload is asked to wait. */
const OVERLOADED_RETRY_MS = 250;

export class MessagingService {
  /** Unread counts extended rather than recounted, for reads outside write units. */
  private readonly unread = new UnreadCache();
  /** Users' totals carried forward from the memberships that changed. */
  private readonly totals = new UnreadTotals(this.unread);
  /** Sends accepted and not yet settled (see ServerLimits.maxPendingSends). */
  private pendingSends = 0;
  /** Called once the pending sends fell to half the bound (see onceDrained). */
  private drainWaiters: Array<() => void> = [];
  private readonly storedListeners: Array<(message: StoredMessage, recipients: readonly string[] | undefined) => void> = [];
  private readonly readListeners: Array<(conversationId: string, userId: string, fromSeq: number) => void> = [];
  /** Tells threads' followers of replies, coalesced and paced (follower-teller.ts). */
  private readonly followerTeller: FollowerTeller;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
    private readonly clock: Clock = systemClock,
    /** Completes typed content; without it, typed sends are refused. */
    private readonly media?: MediaService,
    /** Checks what users send (the word filter, the before-send hook); none: everything is stored as sent. */
    private readonly moderation?: Moderation,
  ) {
    this.followerTeller = new FollowerTeller((conversationId, rootSeq) => this.tellFollowers(conversationId, rootSeq), clock);
  }

  /** Stops planning work of its own (telling followers); sends and reads still work. */
  close(): void {
    this.followerTeller.close();
  }

  /**
   * Calls `listener` for every message a send stored (not for repeats of a
   * stored one, nor for live-room messages), on the node that stored it,
   * after it was published: offline push starts here. `recipients`: the
   * conversation's members when the send read them (small conversations).
   */
  onStored(listener: (message: StoredMessage, recipients: readonly string[] | undefined) => void): void {
    this.storedListeners.push(listener);
  }

  /**
   * Calls `listener` after a commit moved a member's read position forward
   * from `fromSeq`, by reading or by sending (sending reads up to the
   * message sent), on the node that committed it: read receipts start here.
   */
  onReadMoved(listener: (conversationId: string, userId: string, fromSeq: number) => void): void {
    this.readListeners.push(listener);
  }

  /**
   * Stores a message and routes it. Resolves after the commit. `origin` is the
   * connection that sent it: it gets the message in its ack instead of a push,
   * and `onCommitted` queues that ack before the message is published, so that
   * on the sending connection an ack never trails pushes of later messages.
   * Refused with a retryable UNAVAILABLE past twice maxPendingSends sends
   * waiting for their commit (see busy and overloaded).
   */
  async send(senderId: string, input: SendInput, origin?: SendOrigin, sentBy: 'user' | 'operator' = 'user'): Promise<AppendResult> {
    if (this.overloaded) throw overloadedError();
    this.pendingSends += 1;
    try {
      return await this.commitSend(senderId, input, origin, sentBy === 'operator');
    } finally {
      this.pendingSends -= 1;
      if (this.drainWaiters.length > 0 && this.pendingSends <= this.limits.maxPendingSends / 2) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const waiter of waiters) waiter();
      }
    }
  }

  /**
   * True while maxPendingSends sends wait for their commit: connections that
   * add more are no longer read from (backpressure) until onceDrained.
   */
  get busy(): boolean {
    return this.pendingSends >= this.limits.maxPendingSends;
  }

  /**
   * True past twice the bound (sends already read before their connections
   * were paused): further sends are refused with a retryable UNAVAILABLE.
   */
  get overloaded(): boolean {
    return this.pendingSends >= 2 * this.limits.maxPendingSends;
  }

  /** Calls `waiter` once the pending sends have fallen to half the bound. */
  onceDrained(waiter: () => void): void {
    if (this.pendingSends <= this.limits.maxPendingSends / 2) waiter();
    else this.drainWaiters.push(waiter);
  }

  private async commitSend(senderId: string, input: SendInput, origin: SendOrigin | undefined, operator: boolean): Promise<AppendResult> {
    const conversationId = requireConversationId(input.conversationId);
    const clientMsgId = requireClientMsgId(input.clientMsgId);
    let typed: CompletedContent | undefined;
    if (input.content !== undefined) {
      if (this.media === undefined) throw new ParleyError('INVALID_ARGUMENT', 'this server takes no typed content');
      if (input.data !== undefined && input.data.length > 0) throw new ParleyError('INVALID_ARGUMENT', 'a typed message carries no data');
      typed = await this.media.completeContent(senderId, input.content, input.text, this.limits.maxDataBytes);
    }
    let text = typed?.text ?? input.text;
    checkContent(text, input.data, this.limits);
    const visibleTo = input.visibleTo === undefined || input.visibleTo === '' ? undefined : requireId(input.visibleTo, 'visibleTo');
    if (!operator && this.moderation !== undefined) {
      text = await this.moderate(this.moderation, { conversationId, senderId, clientMsgId, text, contentType: contentTypeOf(typed?.content), visibleTo });
      // A rewrite is held to the same limits as what the sender wrote.
      checkContent(text, input.data, this.limits);
    }
    let room = false;
    let recipients: string[] | undefined;
    let readBefore: number | undefined;
    let extras: SendExtras = {};
    let root: StoredMessage | undefined;
    const result = await this.store.write(async (tx): Promise<AppendResult> => {
      // Locked before the dedupe check: a retry racing its original on another
      // node waits here and then finds it.
      const conversation = await lockConversation(tx, conversationId);
      room = conversation.kind === 'room';
      recipients = room ? undefined : await routedRecipients(tx, conversation);
      const existing = await tx.messageByClientId(senderId, clientMsgId);
      if (existing !== undefined) {
        if (existing.conversationId !== conversationId) throw new ParleyError('CONFLICT', 'clientMsgId was already used in another conversation');
        return { message: existing, duplicate: true };
      }
      if (room) {
        // A room's reliable message: no members, no read positions (rooms.ts); visibleTo is refused there.
        await requireRoomSender(tx, conversation, senderId, operator, visibleTo);
        if (input.threadRoot !== undefined && input.threadRoot !== 0) throw new ParleyError('INVALID_ARGUMENT', 'rooms have no threads');
      } else {
        // An unknown sender has no membership: NOT_FOUND from here.
        const sender = await requireActiveMembership(tx, conversationId, senderId);
        readBefore = sender.readSeq;
        extras = await sendExtras(tx, conversation, sender, input);
        if (input.threadRoot !== undefined && input.threadRoot !== 0) {
          if (visibleTo !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'a reply in a thread is for every member: no visibleTo');
          root = await requireThreadRoot(tx, conversation, sender, input.threadRoot);
          extras.threadRoot = root.seq;
        }
        if (visibleTo !== undefined) {
          const target = await tx.getMember(conversationId, visibleTo);
          if (target === undefined) await requireUsers(tx, [visibleTo]);
          if (target === undefined || target.leftSeq !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'visibleTo must be an active member');
        }
      }
      const message = await appendToTimeline(
        tx,
        conversation,
        { senderId, clientMsgId, type: 'user', text, data: input.data, visibleTo, content: typed?.content, ...extras },
        this.clock.now(),
      );
      if (typed !== undefined && typed.mediaIds.length > 0) await this.media?.recordReferences(tx, typed.mediaIds, { conversationId, seq: message.seq });
      // Your own messages are never unread: sending reads up to them (a
      // reply, the thread: the timeline may hold news the sender has not seen).
      if (root !== undefined) await recordReply(tx, root, message);
      else if (!room) await tx.raiseReadSeq(conversationId, senderId, message.seq);
      return { message, duplicate: false };
    }, { order: conversationId });
    origin?.onCommitted(result);
    // A repeat is published again too: the first attempt may have been
    // committed and then refused (its flush failed or timed out), and was
    // then never published. Devices drop a seq they hold.
    if (room) this.bus.publish({ type: 'roomMessage', message: result.message });
    else this.bus.publish({ type: 'message', message: result.message, originSessionId: origin?.sessionId, recipients });
    if (!room && !result.duplicate) for (const listener of this.storedListeners) listener(result.message, recipients);
    if (root !== undefined && !result.duplicate) this.followerTeller.replied(conversationId, root.seq);
    if (!result.duplicate && root === undefined && readBefore !== undefined && readBefore < result.message.seq - 1) this.readMoved(conversationId, senderId, readBefore);
    return result;
  }

  /**
   * Replies changed their thread's followers' unread replies: each gets their
   * summary, as after a read, so the count is exact on every device without
   * a sync. Past MAX_TOLD_FOLLOWERS (those who read the thread longest ago)
   * the rest learn it at their next sync. Paced by the FollowerTeller.
   */
  private async tellFollowers(conversationId: string, rootSeq: number): Promise<void> {
    for (const userId of await this.store.threadFollowers(conversationId, rootSeq, MAX_TOLD_FOLLOWERS)) {
      const view = await this.conversationView(userId, conversationId);
      if (view === undefined || !view.active) continue;
      this.bus.publish({ type: 'summary', userId, summary: view, totalUnread: await this.totalUnread(userId) });
      // An embedded store answers without ever leaving the microtask queue:
      // without this, a round of 200 followers would hold every socket for
      // its whole length.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The text to store after moderation (moderation/moderation.ts). A send
   * repeated after its original was stored is not put to the hook again:
   * the unit finds the original, and a hook that now refused it would
   * refuse a message its recipients may already have.
   */
  private async moderate(moderation: Moderation, message: OutgoingMessage): Promise<string | undefined> {
    if (moderation.asksHook) {
      const stored = await this.store.messageByClientId(message.senderId, message.clientMsgId);
      if (stored !== undefined) return message.text;
    }
    return moderation.check(message);
  }

  /**
   * A range of the conversation inside the member's access window. Ascending
   * pulls return every seq (placeholders for messages addressed to others) so
   * the client can prove it has no gap; descending pulls (history pages)
   * return visible messages only.
   */
  async pull(userId: string, conversationId: string, fromSeq: number, toSeq: number, limit: number, descending: boolean): Promise<ReadRangeResult> {
    const id = requireConversationId(conversationId);
    const cappedLimit = Math.max(1, Math.min(limit || this.limits.maxPullLimit, this.limits.maxPullLimit));
    const conversation = await requireConversation(this.store, id);
    // A room's reliable messages are public to every signed-in user: rooms have no members.
    const member = conversation.kind === 'room' ? roomReader(id, userId) : await requireMembership(this.store, id, userId);
    const end = readableEnd(member, conversation);
    const low = Math.max(fromSeq, member.firstSeq, 1);
    const high = toSeq <= 0 ? end : Math.min(toSeq, end);
    if (low > high) return { messages: [], coveredFrom: low, coveredTo: high, lastSeq: end };
    if (!descending) {
      const read = await this.store.listMessages({ conversationId: id, fromSeq: low, toSeq: high, limit: cappedLimit });
      // Messages addressed to someone else, those from a time the member
      // was out of the group, and those the member deleted for themselves
      // keep their seq as placeholders.
      const hidden = await hiddenIn(this.store, member, read);
      const all = read.map((message) =>
        isVisibleTo(message, userId) && !inAbsence(member, message.seq) && !hidden.has(message.seq) ? message : placeholder(id, message.seq),
      );
      const messages = all.slice(0, countWithin(all, this.limits.maxPullBytes, 'start', true).count);
      const cut = messages.length < read.length || read.length === cappedLimit;
      const coveredTo = cut ? (messages[messages.length - 1]?.seq ?? high) : high;
      return { messages: conversation.kind === 'room' ? messages : await withReactions(this.store, userId, messages), coveredFrom: low, coveredTo, lastSeq: end };
    }
    // Newest first over the readable parts of the range (absences skipped).
    const hiddenFor = member.hiddenCount === undefined ? undefined : userId;
    const read = await readAcross(this.store, id, readableRanges(member, low, high), { visibleTo: userId, hiddenFor, limit: cappedLimit, order: 'desc' });
    const rows = read.slice(read.length - countWithin(read, this.limits.maxPullBytes, 'end', true).count);
    const coveredFrom = rows.length < read.length || read.length === cappedLimit ? (rows[0]?.seq ?? low) : low;
    return { messages: conversation.kind === 'room' ? rows : await withReactions(this.store, userId, rows), coveredFrom, coveredTo: high, lastSeq: end };
  }

  private readMoved(conversationId: string, userId: string, fromSeq: number): void {
    for (const listener of this.readListeners) listener(conversationId, userId, fromSeq);
  }

  /** A page of history for integrations: everything, or what one member may read (history.ts). */
  history(query: HistoryQuery): Promise<HistoryPage> {
    return readHistory(this.store, query);
  }

  /**
   * The user's conversations changed after `sinceVersion`, with unread counts
   * and, when asked, their newest messages (sync.ts).
   */
  async sync(userId: string, sinceVersion: number, options: SyncOptions = {}): Promise<ChangesResult> {
    if ((options.positions?.size ?? 0) > this.limits.maxSyncPositions) {
      throw new ParleyError('TOO_LARGE', `at most ${this.limits.maxSyncPositions} positions per sync`);
    }
    return readChanges(this.store, userId, sinceVersion, options, this.limits, { counts: this.unread, totals: this.totals });
  }

  /** Moves the read position forward (never back), up to what the member may read; 0 = everything. */
  async markRead(userId: string, conversationId: string, seq: number, originSessionId?: string): Promise<{ view: ConversationView; totalUnread: number }> {
    const id = requireConversationId(conversationId);
    const target = Math.max(0, seq);
    let readFrom: number | undefined;
    const view = await this.store.write(async (tx) => {
      const conversation = await requireConversation(tx, id);
      if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'rooms have no read positions');
      const member = await requireMembership(tx, id, userId);
      const end = readableEnd(member, conversation);
      const readSeq = target === 0 ? end : Math.min(target, end);
      let current = member;
      if (readSeq > member.readSeq) {
        await tx.raiseReadSeq(id, userId, readSeq);
        current = (await tx.getMember(id, userId)) ?? member;
        readFrom = member.readSeq;
      }
      return buildView(tx, current, conversation);
    });
    if (readFrom !== undefined) this.readMoved(id, userId, readFrom);
    // After the commit, not inside the unit: counting every conversation a
    // user is behind in there held the whole write batch (every sender's
    // commit) for as long; outside, the total is carried forward.
    const total = await this.totalUnread(userId);
    this.bus.publish({ type: 'summary', userId, summary: view, totalUnread: total, originSessionId });
    return { view, totalUnread: total };
  }

  /** A page of a thread: its root and the replies after `afterSeq` (threads.ts). */
  async thread(userId: string, conversationId: string, rootSeq: number, afterSeq: number, limit: number): Promise<ThreadPage> {
    const id = requireConversationId(conversationId);
    const conversation = await requireConversation(this.store, id);
    if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'rooms have no threads');
    const member = await requireMembership(this.store, id, userId);
    return readThread(this.store, member, conversation, rootSeq, Math.max(0, afterSeq), limit);
  }

  /**
   * Moves the user's read position in a thread they follow forward (never
   * back) to `seq`, 0: its newest reply. Nothing is kept for a thread they do
   * not follow. Their devices get the summary, like markRead.
   */
  async markThreadRead(userId: string, conversationId: string, rootSeq: number, seq: number, originSessionId?: string): Promise<{ view: ConversationView; totalUnread: number }> {
    const id = requireConversationId(conversationId);
    let moved = false;
    const view = await this.store.write(async (tx) => {
      const conversation = await requireConversation(tx, id);
      if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'rooms have no threads');
      const member = await requireMembership(tx, id, userId);
      const root = await readableThreadRoot(tx, member, conversation, rootSeq);
      const newest = root.thread?.lastSeq ?? rootSeq;
      // Raises only a follower's position, and only forward.
      moved = await tx.raiseThreadRead(id, rootSeq, userId, seq <= 0 ? newest : Math.min(seq, newest));
      return buildView(tx, (await tx.getMember(id, userId)) ?? member, conversation);
    });
    const total = await this.totalUnread(userId);
    if (moved) this.bus.publish({ type: 'summary', userId, summary: view, totalUnread: total, originSessionId });
    return { view, totalUnread: total };
  }

  /** One conversation as the user sees it now; undefined if they never were a member. */
  async conversationView(userId: string, conversationId: string): Promise<ConversationView | undefined> {
    const member = await this.store.getMember(conversationId, userId);
    const conversation = member === undefined ? undefined : await this.store.getConversation(conversationId);
    return member === undefined || conversation === undefined ? undefined : buildView(this.store, member, conversation, this.unread);
  }

  async totalUnread(userId: string): Promise<number> {
    return this.totals.total(this.store, userId, await this.store.syncVersion());
  }

  /** The number on the user's badge: the total, without muted conversations when the user chose so. */
  async badgeCount(userId: string): Promise<number> {
    const user = await this.store.getUser(userId);
    if (user?.hideMutedFromBadge !== true) return this.totalUnread(userId);
    return unmutedUnread(this.store, userId, this.clock.now(), this.unread);
  }

  /** The store's sync version now: a sync from it later returns what changed after this moment. */
  syncVersion(): Promise<number> {
    return this.store.syncVersion();
  }
}

type SendExtras = Pick<TimelineEntry, 'mentions' | 'mentionAll' | 'replyTo' | 'threadRoot'>;

/**
 * A send's mentions, kept to the conversation's active members (in a direct
 * chat: the peer; @all in groups only), and the message it answers, which
 * must be one the sender may read.
 */
async function sendExtras(tx: StoreTx, conversation: ConversationRow, sender: MemberRow, input: SendInput): Promise<SendExtras> {
  const extras: SendExtras = {};
  if (input.mentions !== undefined && input.mentions.length > 0) {
    const ids = requireIdList(input.mentions, 'mentions', MAX_MENTIONS);
    const mentioned: string[] = [];
    for (const id of new Set(ids)) {
      if (id === sender.userId) continue;
      const member = await tx.getMember(conversation.id, id);
      if (member !== undefined && member.leftSeq === undefined) mentioned.push(id);
    }
    if (mentioned.length > 0) extras.mentions = mentioned;
  }
  if (input.mentionAll === true && conversation.kind === 'group') extras.mentionAll = true;
  if (input.replyTo !== undefined && input.replyTo !== 0) {
    const target = await userMessageInWindow(tx, sender, conversation, input.replyTo);
    if (target === undefined || !isVisibleTo(target, sender.userId)) throw new ParleyError('INVALID_ARGUMENT', 'replyTo must be a message you can read');
    extras.replyTo = target.seq;
  }
  return extras;
}

/** A send refused because the server is overloaded: retryable, after a pause. */
export function overloadedError(): ParleyError {
  return new ParleyError('UNAVAILABLE', 'the server is busy; send again shortly', { retryAfterMs: OVERLOADED_RETRY_MS });
}

/** The type the before-send hook is told of: the content's kind, a custom type as "custom:<type>". */
function contentTypeOf(content: MessageContent | undefined): string | undefined {
  const kind = content?.kind;
  if (kind === undefined) return undefined;
  return kind.$case === 'custom' ? `custom:${kind.value.type}` : kind.$case;
}
