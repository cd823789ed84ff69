/**
 * Delivery: turns committed events from the bus into pushes on this node's
 * connections. Each message is encoded once; the same bytes are queued on
 * every recipient connection (and coalesced with other frames per write).
 *
 * Member lists come from the conversation service and are cached per conversation. While a
 * conversation's list loads, its messages wait in arrival order, so pushes of
 * one conversation never overtake each other.
 */
import { encodeFrameEntry } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { ConversationService } from '../services/conversations.js';
import type { MessagingService } from '../services/messaging.js';
import type { StoredMessage } from '../services/model.js';
import type { SessionRegistry } from './registry.js';
import { hiddenWireMessage, toWireMessage, toWireSummary } from './wire.js';

type MessageEvent = Extract<BusEvent, { type: 'message' }>;

interface MemberEntry {
  members?: readonly string[];
  waiting: MessageEvent[];
}

const MAX_CACHED_CONVERSATIONS = 20_000;

export class Delivery {
  private readonly memberCache = new Map<string, MemberEntry>();
  private readonly unsubscribe: () => void;

  constructor(
    bus: Bus,
    private readonly services: {
      conversations: Pick<ConversationService, 'activeMemberIds'>;
      messaging: Pick<MessagingService, 'conversationView' | 'totalUnread'>;
    },
    private readonly registry: SessionRegistry,
    private readonly log: Logger,
  ) {
    this.unsubscribe = bus.subscribe((event) => this.onEvent(event));
  }

  close(): void {
    this.unsubscribe();
  }

  private onEvent(event: BusEvent): void {
    switch (event.type) {
      case 'message':
        this.onMessage(event);
        break;
      case 'members':
        this.invalidate(event.conversationId);
        break;
      case 'membership':
        void this.pushMembership(event.conversationId, event.userIds);
        break;
      case 'summary': {
        const sessions = this.registry.sessionsOf(event.userId);
        if (sessions === undefined) return;
        const entry = encodeFrameEntry({
          requestId: 0,
          body: { $case: 'conversationChanged', value: { summary: toWireSummary(event.summary), totalUnread: event.totalUnread } },
        });
        for (const session of sessions) if (session.id !== event.originSessionId) session.enqueue(entry);
        break;
      }
      case 'revoked':
        this.registry.closeUser(event.userId);
        break;
    }
  }

  /**
   * Pushes `conversation_changed` to the connected devices of users whose own
   * membership changed. Views are loaded only for users connected to this
   * node, so a change to a large group costs what its online members cost.
   */
  private async pushMembership(conversationId: string, userIds: readonly string[]): Promise<void> {
    for (const userId of new Set(userIds)) {
      if (this.registry.sessionsOf(userId) === undefined) continue;
      let entry: Uint8Array;
      try {
        const [summary, totalUnread] = await Promise.all([
          this.services.messaging.conversationView(userId, conversationId),
          this.services.messaging.totalUnread(userId),
        ]);
        if (summary === undefined) continue;
        entry = encodeFrameEntry({ requestId: 0, body: { $case: 'conversationChanged', value: { summary: toWireSummary(summary), totalUnread } } });
      } catch (error) {
        // The system message already told the user's devices to sync.
        this.log.error({ err: error, conversationId, userId }, 'membership view failed; push skipped');
        continue;
      }
      for (const session of this.registry.sessionsOf(userId) ?? []) session.enqueue(entry);
    }
  }

  private invalidate(conversationId: string): void {
    const entry = this.memberCache.get(conversationId);
    // A load in flight keeps its waiting messages; it will be refreshed below.
    if (entry !== undefined && entry.waiting.length === 0) this.memberCache.delete(conversationId);
    else if (entry !== undefined) entry.members = undefined;
  }

  private onMessage(event: MessageEvent): void {
    const conversationId = event.message.conversationId;
    let entry = this.memberCache.get(conversationId);
    if (entry?.members !== undefined && entry.waiting.length === 0) {
      this.push(event, entry.members);
      return;
    }
    if (entry === undefined) {
      entry = { waiting: [] };
      this.remember(conversationId, entry);
    }
    entry.waiting.push(event);
    if (entry.waiting.length === 1) void this.load(conversationId, entry);
  }

  private async load(conversationId: string, entry: MemberEntry): Promise<void> {
    while (entry.waiting.length > 0) {
      if (entry.members === undefined) {
        try {
          entry.members = await this.services.conversations.activeMemberIds(conversationId);
        } catch (error) {
          // Recipients resume by sync; dropping a push loses nothing stored.
          this.log.error({ err: error, conversationId }, 'member lookup failed; pushes skipped');
          entry.waiting = [];
          this.memberCache.delete(conversationId);
          return;
        }
      }
      const batch = entry.waiting.splice(0);
      for (const event of batch) this.push(event, entry.members);
    }
  }

  private remember(conversationId: string, entry: MemberEntry): void {
    if (this.memberCache.size >= MAX_CACHED_CONVERSATIONS) {
      for (const [key, value] of this.memberCache) {
        if (value.waiting.length === 0) {
          this.memberCache.delete(key);
          break;
        }
      }
    }
    this.memberCache.set(conversationId, entry);
  }

  private push(event: MessageEvent, members: readonly string[]): void {
    const message = event.message;
    let full: Uint8Array | undefined;
    let hidden: Uint8Array | undefined;
    const bytesFor = (userId: string): Uint8Array => {
      if (message.visibleTo !== undefined && message.visibleTo !== userId) {
        hidden ??= entryOf(message, true);
        return hidden;
      }
      full ??= entryOf(message, false);
      return full;
    };
    const deliverTo = (userId: string): void => {
      const sessions = this.registry.sessionsOf(userId);
      if (sessions === undefined) return;
      for (const session of sessions) {
        if (session.id !== event.originSessionId) session.enqueue(bytesFor(userId));
      }
    };
    for (const userId of members) deliverTo(userId);
    if (event.alsoNotify !== undefined) for (const userId of event.alsoNotify) deliverTo(userId);
  }
}

function entryOf(message: StoredMessage, hidden: boolean): Uint8Array {
  return encodeFrameEntry({ requestId: 0, body: { $case: 'push', value: hidden ? hiddenWireMessage(message) : toWireMessage(message) } });
}
