/**
 * Messaging: send, pull, sync and read positions. Validates input, lets the
 * store commit (the store enforces membership inside the committing
 * transaction), then publishes what was committed on the bus.
 */
import type { ServerLimits } from '../config.js';
import type { Bus } from '../bus/bus.js';
import type { AppendResult, ChangesResult, ConversationView, ReadRangeResult, Store } from '../store/store.js';
import { checkContent, requireClientMsgId, requireConversationId, requireId } from './validate.js';

export interface SendInput {
  conversationId: string;
  clientMsgId: string;
  text?: string;
  data?: Uint8Array;
  visibleTo?: string;
}

export class MessagingService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
  ) {}

  /**
   * Stores a message and routes it. Resolves after the commit. `origin` is the
   * connection that sent it: it gets the message in its ack instead of a push,
   * and `onCommitted` queues that ack before the message is published, so that
   * on the sending connection an ack never trails pushes of later messages.
   */
  async send(senderId: string, input: SendInput, origin?: { sessionId: string; onCommitted(result: AppendResult): void }): Promise<AppendResult> {
    const conversationId = requireConversationId(input.conversationId);
    const clientMsgId = requireClientMsgId(input.clientMsgId);
    checkContent(input.text, input.data, this.limits);
    const visibleTo = input.visibleTo === undefined || input.visibleTo === '' ? undefined : requireId(input.visibleTo, 'visibleTo');
    const result = await this.store.append({ conversationId, senderId, clientMsgId, text: input.text, data: input.data, visibleTo });
    origin?.onCommitted(result);
    if (!result.duplicate) this.bus.publish({ type: 'message', message: result.message, originSessionId: origin?.sessionId });
    return result;
  }

  pull(userId: string, conversationId: string, fromSeq: number, toSeq: number, limit: number, descending: boolean): Promise<ReadRangeResult> {
    const cappedLimit = Math.max(1, Math.min(limit || this.limits.maxPullLimit, this.limits.maxPullLimit));
    return this.store.readRange({
      conversationId: requireConversationId(conversationId),
      userId,
      fromSeq: Math.max(0, fromSeq),
      toSeq: Math.max(0, toSeq),
      limit: cappedLimit,
      descending,
    });
  }

  sync(userId: string, sinceVersion: number): Promise<ChangesResult> {
    return this.store.changedConversations(userId, Math.max(0, sinceVersion));
  }

  async markRead(userId: string, conversationId: string, seq: number, originSessionId?: string): Promise<{ view: ConversationView; totalUnread: number }> {
    const result = await this.store.markRead(userId, requireConversationId(conversationId), Math.max(0, seq));
    this.bus.publish({ type: 'summary', userId, summary: result.view, totalUnread: result.totalUnread, originSessionId });
    return result;
  }
}
