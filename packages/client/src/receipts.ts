/**
 * Receipts on the client: the other members' delivered and read positions
 * per conversation, and what they mean for one message (sent, delivered,
 * read; "read by 12 of 40"). Positions come from a receipts request and then
 * from pushes; each only ever rises here, whatever order answers and pushes
 * arrive in, so a tick never goes back.
 */
import type { Message } from './types.js';

/** One member's positions (docs/protocol.md, "Receipts"). */
export interface MemberReceipt {
  userId: string;
  /** Every message up to here reached one of the member's devices. */
  deliveredSeq: number;
  /** The member read up to here; 0 when they (or you) turned read receipts off. */
  readSeq: number;
  /** The member joined at this seq: earlier messages do not count for them. */
  firstSeq: number;
}

/**
 * A message of yours as far as the other members got: `sent` (stored, not
 * yet on any of their devices), `delivered` (on a device of every member it
 * is for), `read` (read by every one of them).
 */
export type MessageStatus = 'sent' | 'delivered' | 'read';

export interface MessageReceipts {
  status: MessageStatus;
  /** The members the message is for: everyone else who was in the conversation then (or the one it is addressed to). */
  total: number;
  /** Who has it on a device (readers included), and who read it, by user id. */
  deliveredTo: string[];
  readBy: string[];
}

export class ReceiptBook {
  private readonly members = new Map<string, Map<string, MemberReceipt>>();

  /** Positions from an answer or a push; each field is raised, never lowered. Returns whether anything rose. */
  apply(conversationId: string, receipts: readonly MemberReceipt[], selfId: string | undefined): boolean {
    let book = this.members.get(conversationId);
    if (book === undefined) {
      book = new Map();
      this.members.set(conversationId, book);
    }
    let changed = false;
    for (const receipt of receipts) {
      if (receipt.userId === selfId) continue;
      const held = book.get(receipt.userId);
      if (held === undefined) {
        book.set(receipt.userId, { ...receipt, deliveredSeq: Math.max(receipt.deliveredSeq, receipt.readSeq) });
        changed = true;
        continue;
      }
      const readSeq = Math.max(held.readSeq, receipt.readSeq);
      const deliveredSeq = Math.max(held.deliveredSeq, receipt.deliveredSeq, readSeq);
      if (readSeq !== held.readSeq || deliveredSeq !== held.deliveredSeq || receipt.firstSeq !== held.firstSeq) {
        book.set(receipt.userId, { userId: receipt.userId, deliveredSeq, readSeq, firstSeq: receipt.firstSeq });
        changed = true;
      }
    }
    return changed;
  }

  /** After a receipts answer listing every member: those it no longer lists have left and no longer count. */
  keepOnly(conversationId: string, userIds: ReadonlySet<string>): void {
    const book = this.members.get(conversationId);
    if (book === undefined) return;
    for (const userId of book.keys()) if (!userIds.has(userId)) book.delete(userId);
  }

  has(conversationId: string): boolean {
    return this.members.has(conversationId);
  }

  /** The positions held for a conversation (undefined until a receipts answer or push brought some). */
  of(conversationId: string): MemberReceipt[] | undefined {
    const book = this.members.get(conversationId);
    return book === undefined ? undefined : [...book.values()];
  }

  /**
   * What the other members did with a message (meant for the user's own
   * messages). Undefined while no positions are held for its conversation.
   */
  receiptsOf(message: Pick<Message, 'conversationId' | 'seq' | 'senderId' | 'visibleTo'>): MessageReceipts | undefined {
    const book = this.members.get(message.conversationId);
    if (book === undefined) return undefined;
    const deliveredTo: string[] = [];
    const readBy: string[] = [];
    let total = 0;
    for (const member of book.values()) {
      if (member.userId === message.senderId || member.firstSeq > message.seq) continue;
      if (message.visibleTo !== undefined && message.visibleTo !== member.userId) continue;
      total += 1;
      if (member.deliveredSeq >= message.seq) deliveredTo.push(member.userId);
      if (member.readSeq >= message.seq) readBy.push(member.userId);
    }
    const status: MessageStatus = total > 0 && readBy.length === total ? 'read' : total > 0 && deliveredTo.length === total ? 'delivered' : 'sent';
    return { status, total, deliveredTo, readBy };
  }

  forget(conversationId: string): void {
    this.members.delete(conversationId);
  }

  clear(): void {
    this.members.clear();
  }
}
