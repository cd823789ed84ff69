/**
 * Delivery and read receipts, derived from two positions per member rather
 * than stored per message per member: a member's devices acknowledge how far
 * they hold each conversation (delivered), and the read position moves as
 * the member reads. A message with seq S is delivered to, or read by, a
 * member whose position reached S (docs/protocol.md, "Receipts").
 *
 * Acknowledgements arrive for every message on every device, so they are
 * gathered in memory and written in one unit per quarter second; a position
 * only moves forward, so a node that dies loses nothing but a few moments of
 * progress that the devices' next acknowledgements bring back. Only after the
 * write commits are the senders of the messages a position moved over told
 * (a `receipts` bus event): a sender never sees a tick the store does not hold.
 *
 * A user may turn read receipts off: others then see their reads as
 * deliveries only, and they see nobody's reads either.
 */
import { type Clock, ParleyError, systemClock } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { ServerLimits } from '../config.js';
import type { ConversationRow, MemberRow, Store, UserRow } from '../store/store.js';
import { requireActiveMembership, requireConversation } from './access.js';
import { requireConversationId } from './validate.js';

/** One member's positions as another member may see them. */
export interface ReceiptRecord {
  userId: string;
  /** At least readSeq: reading counts as delivery. */
  deliveredSeq: number;
  /** 0 when the member turned read receipts off (or the reader did). */
  readSeq: number;
  firstSeq: number;
}

export interface UserSettingsRecord {
  readReceiptsOff: boolean;
  /** Others do not see when the user is online or was last seen (services/presence.ts). */
  hidePresence: boolean;
  /** Muted conversations are left out of the user's badge (views.ts badgeCount). */
  hideMutedFromBadge: boolean;
}


/** A user's settings as their row holds them (every one off for a user the store does not have). */
export function settingsOfUser(user: UserRow | undefined): UserSettingsRecord {
  return { readReceiptsOff: user?.readReceiptsOff === true, hidePresence: user?.hidePresence === true, hideMutedFromBadge: user?.hideMutedFromBadge === true };
}

/** How often gathered acknowledgements and read moves are written and announced. */
export const RECEIPT_FLUSH_MS = 250;
/** Members and conversations with positions waiting, on one node; more acknowledgements are dropped until the next flush. */
const MAX_PENDING = 100_000;
/** Senders told about one conversation's moves in one flush. */
const MAX_SENDERS = 1000;

/** What moved for one member since the last flush. */
interface PendingMove {
  /** The highest delivered seq acknowledged. */
  delivered?: number;
  /** The read position before the first read move (the range starts after it). */
  readFrom?: number;
}

export interface ReceiptCounts {
  /** Acknowledgements dropped: too many waiting, or not a position. */
  dropped: number;
  /** Flushes that failed (their moves are lost; the next acknowledgements bring them back). */
  failedFlushes: number;
}

export class ReceiptService {
  private pending = new Map<string, Map<string, PendingMove>>();
  private pendingCount = 0;
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly counts: ReceiptCounts = { dropped: 0, failedFlushes: 0 };

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: Pick<ServerLimits, 'maxReceiptMembers'>,
    private readonly clock: Clock = systemClock,
  ) {}

  /** A device of `userId` holds the conversation up to `seq`. Checked when written: a non-member's acknowledgement changes nothing. */
  delivered(userId: string, conversationId: string, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= 0 || conversationId.length === 0 || conversationId.length > 80) {
      this.counts.dropped += 1;
      return;
    }
    const move = this.moveOf(conversationId, userId);
    if (move === undefined) return;
    move.delivered = Math.max(move.delivered ?? 0, seq);
  }

  /** The member's read position moved from `fromSeq` to a higher one (already committed). */
  readMoved(conversationId: string, userId: string, fromSeq: number): void {
    const move = this.moveOf(conversationId, userId);
    if (move === undefined) return;
    move.readFrom = Math.min(move.readFrom ?? fromSeq, fromSeq);
  }

  /**
   * Every other active member's positions, as `userId` may see them. Members
   * only; conversations above maxReceiptMembers have none (LIMIT_EXCEEDED).
   */
  async receiptsOf(userId: string, conversationId: string): Promise<ReceiptRecord[]> {
    const id = requireConversationId(conversationId);
    const conversation = await requireConversation(this.store, id);
    if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'rooms have no receipts');
    await requireActiveMembership(this.store, id, userId);
    this.requireReceiptSize(conversation);
    const members = (await this.store.activeMembers(id)).filter((member) => member.userId !== userId);
    const hidden = await this.readsHidden([userId, ...members.map((member) => member.userId)]);
    const blind = hidden.has(userId);
    return members.map((member) => recordOf(member, conversation, blind || hidden.has(member.userId)));
  }

  async settingsOf(userId: string): Promise<UserSettingsRecord> {
    return settingsOfUser(await this.store.getUser(userId));
  }

  /** Changes the user's own settings; their other devices are told. */
  async updateSettings(userId: string, change: Partial<UserSettingsRecord>, originSessionId?: string): Promise<UserSettingsRecord> {
    if (change.readReceiptsOff !== undefined || change.hidePresence !== undefined || change.hideMutedFromBadge !== undefined) {
      const patch = { readReceiptsOff: change.readReceiptsOff, hidePresence: change.hidePresence, hideMutedFromBadge: change.hideMutedFromBadge };
      await this.store.write((tx) => tx.updateUser(userId, patch));
    }
    const settings = await this.settingsOf(userId);
    this.bus.publish({ type: 'userSettings', userId, settings, originSessionId });
    return settings;
  }

  /** Writes and announces what is waiting now; resolves once done (also when nothing waits). */
  flush(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.size > 0) {
      this.pending = new Map();
      this.pendingCount = 0;
      // One flush at a time, in order: a later one never overtakes an earlier one's announcement.
      this.flushing = this.flushing.then(() => this.write(batch));
    }
    return this.flushing;
  }

  /** Writes what is waiting; later acknowledgements are dropped. */
  async close(): Promise<void> {
    await this.flush();
    this.pendingCount = MAX_PENDING;
  }

  private moveOf(conversationId: string, userId: string): PendingMove | undefined {
    let moves = this.pending.get(conversationId);
    let move = moves?.get(userId);
    if (move !== undefined) return move;
    if (this.pendingCount >= MAX_PENDING) {
      this.counts.dropped += 1;
      return undefined;
    }
    if (moves === undefined) {
      moves = new Map();
      this.pending.set(conversationId, moves);
    }
    move = {};
    moves.set(userId, move);
    this.pendingCount += 1;
    this.timer ??= this.clock.setTimeout(() => void this.flush(), RECEIPT_FLUSH_MS);
    return move;
  }

  private requireReceiptSize(conversation: ConversationRow): void {
    if (conversation.memberCount > this.limits.maxReceiptMembers) {
      throw new ParleyError('LIMIT_EXCEEDED', `conversations of more than ${this.limits.maxReceiptMembers} members have no receipts`);
    }
  }

  private async write(batch: Map<string, Map<string, PendingMove>>): Promise<void> {
    let moved: MovedConversation[];
    try {
      moved = await this.store.write(async (tx) => {
        const out: MovedConversation[] = [];
        for (const [conversationId, moves] of batch) {
          const conversation = await tx.getConversation(conversationId);
          if (conversation === undefined || conversation.kind === 'room' || conversation.memberCount > this.limits.maxReceiptMembers) continue;
          const members = new Map((await tx.activeMembers(conversationId)).map((member) => [member.userId, member]));
          const changed: MemberRow[] = [];
          let fromSeq = Number.POSITIVE_INFINITY;
          let toSeq = 0;
          for (const [userId, move] of moves) {
            const member = members.get(userId);
            if (member === undefined) continue;
            const shownBefore = Math.max(member.deliveredSeq ?? 0, member.readSeq);
            let lowest = Number.POSITIVE_INFINITY;
            // A device cannot hold what was never committed: capped at the conversation's newest seq.
            const delivered = Math.min(move.delivered ?? 0, conversation.lastSeq);
            if (delivered > shownBefore) {
              await tx.raiseDeliveredSeq(conversationId, userId, delivered);
              member.deliveredSeq = delivered;
              lowest = shownBefore + 1;
            }
            if (move.readFrom !== undefined && move.readFrom < member.readSeq) lowest = Math.min(lowest, move.readFrom + 1);
            if (lowest === Number.POSITIVE_INFINITY) continue;
            changed.push(member);
            fromSeq = Math.min(fromSeq, lowest);
            toSeq = Math.max(toSeq, member.deliveredSeq ?? 0, member.readSeq);
          }
          if (changed.length > 0) out.push({ conversation, changed, fromSeq, toSeq });
        }
        return out;
      });
    } catch {
      this.counts.failedFlushes += 1;
      return;
    }
    for (const entry of moved) await this.announce(entry).catch(() => undefined);
  }

  /** Tells the senders of the messages the positions moved over (but not a member about their own move). */
  private async announce({ conversation, changed, fromSeq, toSeq }: MovedConversation): Promise<void> {
    const senders = await this.store.senderIdsBetween(conversation.id, fromSeq, toSeq, MAX_SENDERS);
    const onlyMover = changed.length === 1 ? changed[0]?.userId : undefined;
    const recipients = senders.filter((id) => id !== onlyMover);
    if (recipients.length === 0) return;
    const hidden = await this.readsHidden([...recipients, ...changed.map((member) => member.userId)]);
    this.bus.publish({
      type: 'receipts',
      conversationId: conversation.id,
      receipts: changed.map((member) => recordOf(member, conversation, hidden.has(member.userId))),
      recipients,
      blind: recipients.filter((id) => hidden.has(id)),
    });
  }

  /** Of these users, those who turned read receipts off. */
  private async readsHidden(userIds: readonly string[]): Promise<Set<string>> {
    const users = await this.store.getUsers([...new Set(userIds)]);
    return new Set(users.filter((user) => user.readReceiptsOff === true).map((user) => user.id));
  }
}

interface MovedConversation {
  conversation: ConversationRow;
  changed: MemberRow[];
  fromSeq: number;
  toSeq: number;
}

/** A member's positions as shown: reads count as deliveries; reads are left out when hidden. */
function recordOf(member: MemberRow, conversation: ConversationRow, hideRead: boolean): ReceiptRecord {
  const readSeq = Math.min(member.readSeq, conversation.lastSeq);
  return {
    userId: member.userId,
    deliveredSeq: Math.min(Math.max(member.deliveredSeq ?? 0, readSeq), conversation.lastSeq),
    readSeq: hideRead ? 0 : readSeq,
    firstSeq: member.firstSeq,
  };
}

/** Hides reads from a reader who turned read receipts off (they see nobody's). */
export function blindedReceipts(receipts: readonly ReceiptRecord[]): ReceiptRecord[] {
  return receipts.map((receipt) => ({ ...receipt, readSeq: 0 }));
}
