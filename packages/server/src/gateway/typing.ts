/**
 * Typing indicators: a member says they are typing in a conversation (or
 * stopped), and the other members' connected devices are told. Nothing is
 * stored, nothing is answered: a lost indicator is replaced by the next one
 * within seconds, and clients let an indicator lapse on their own (6 s).
 *
 * The node that receives it checks the sender is an active member (the
 * member-list cache, no store read once cached) and that the connection is
 * within its rate; what fails either is dropped and counted. Small groups
 * and direct chats go to each member's user route, larger ones to every
 * node, which picks its own members' connections; above
 * MAX_TYPING_MEMBERS nobody is told, since "someone in a crowd is typing"
 * is noise that would cost a push per member per keystroke burst.
 */
import { type Clock, encodeFrameEntry } from '@parley/protocol';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { MemberLists } from '../services/member-lists.js';
import { ROUTED_MEMBERS_MAX } from '../services/recipients.js';
import { BucketPerKey } from '../util/token-bucket.js';
import type { Session } from './session.js';

/** Conversations larger than this carry no typing indicators. */
export const MAX_TYPING_MEMBERS = 500;
/** Per connection: a client sends one every 3 s per conversation it types in; bursts cover switching between a few. */
const TYPING_PER_SECOND = 4;
const TYPING_BURST = 8;

export type TypingBusEvent = Extract<BusEvent, { type: 'typing' }>;

export interface TypingDeps {
  bus: Bus;
  memberLists: Pick<MemberLists, 'of'>;
  /** This node's connections of a user. */
  sessionsOf(userId: string): Iterable<Session> | undefined;
  clock: Clock;
}

export class TypingRelay {
  private readonly buckets = new BucketPerKey<Session>(TYPING_PER_SECOND, TYPING_BURST);
  private readonly unsubscribe: () => void;
  /** Indicators relayed, and dropped (over the rate, not a member, too large a group), since start. */
  readonly counts = { relayed: 0, dropped: 0 };

  constructor(private readonly deps: TypingDeps) {
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'typing') void this.deliver(event);
    });
  }

  /** From a session: its user is typing (or stopped) in a conversation. */
  async relay(session: Session, userId: string, conversationId: string, typing: boolean): Promise<void> {
    if (this.buckets.take(session, this.deps.clock.now()) > 0) {
      this.counts.dropped += 1;
      return;
    }
    let members: Awaited<ReturnType<MemberLists['of']>>;
    try {
      members = await this.deps.memberLists.of(conversationId);
    } catch {
      this.counts.dropped += 1;
      return;
    }
    if (!members.has(userId) || members.ids.length > MAX_TYPING_MEMBERS) {
      this.counts.dropped += 1;
      return;
    }
    this.counts.relayed += 1;
    const recipients = members.ids.length <= ROUTED_MEMBERS_MAX ? members.ids.filter((id) => id !== userId) : undefined;
    this.deps.bus.publish({ type: 'typing', conversationId, userId, typing, recipients });
  }

  close(): void {
    this.unsubscribe();
  }

  /** To this node's connections of the members the event is for (the sender's own devices excepted). */
  private async deliver(event: TypingBusEvent): Promise<void> {
    let targets: readonly string[];
    if (event.recipients !== undefined) targets = event.recipients;
    else {
      try {
        targets = (await this.deps.memberLists.of(event.conversationId)).ids;
      } catch {
        return;
      }
    }
    let entry: Uint8Array | undefined;
    for (const userId of targets) {
      if (userId === event.userId) continue;
      const sessions = this.deps.sessionsOf(userId);
      if (sessions === undefined) continue;
      entry ??= encodeFrameEntry({ requestId: 0, body: { $case: 'typingEvent', value: { conversationId: event.conversationId, userId: event.userId, typing: event.typing } } });
      for (const session of sessions) session.enqueue(entry);
    }
  }
}
