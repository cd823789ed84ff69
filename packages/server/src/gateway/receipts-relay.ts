/**
 * The connections' side of receipts (services/receipts.ts): delivered
 * acknowledgements in, within a rate per connection, and the `receipts` and
 * `userSettings` bus events out to this node's connections of the users they
 * are for. Each event is encoded once for every connection it reaches (twice
 * when some recipients see no reads).
 */
import { type Clock, encodeFrameEntry } from '@parley/protocol';
import type { Bus, BusEvent } from '../bus/bus.js';
import { blindedReceipts, type ReceiptService } from '../services/receipts.js';
import { BucketPerKey } from '../util/token-bucket.js';
import type { Session } from './session.js';

/**
 * Per connection. A client acknowledges each conversation at most a few
 * times a second; the burst covers a sync that brings many conversations at once.
 */
const ACKS_PER_SECOND = 50;
const ACK_BURST = 500;

type ReceiptsEvent = Extract<BusEvent, { type: 'receipts' }>;
type UserSettingsEvent = Extract<BusEvent, { type: 'userSettings' }>;

export interface ReceiptsRelayDeps {
  bus: Bus;
  receipts: Pick<ReceiptService, 'delivered'>;
  /** This node's connections of a user. */
  sessionsOf(userId: string): Iterable<Session> | undefined;
  clock: Clock;
}

export class ReceiptsRelay {
  private readonly buckets = new BucketPerKey<Session>(ACKS_PER_SECOND, ACK_BURST);
  private readonly unsubscribe: () => void;
  /** Acknowledgements over a connection's rate, dropped, since start. */
  readonly counts = { overRate: 0 };

  constructor(private readonly deps: ReceiptsRelayDeps) {
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'receipts') this.deliverReceipts(event);
      else if (event.type === 'userSettings') this.deliverSettings(event);
    });
  }

  /** From a session: its user's device holds the conversation up to `seq`. */
  delivered(session: Session, userId: string, conversationId: string, seq: number): void {
    if (this.buckets.take(session, this.deps.clock.now()) > 0) {
      this.counts.overRate += 1;
      return;
    }
    this.deps.receipts.delivered(userId, conversationId, seq);
  }

  close(): void {
    this.unsubscribe();
  }

  private deliverReceipts(event: ReceiptsEvent): void {
    let seeing: Uint8Array | undefined;
    let blind: Uint8Array | undefined;
    for (const userId of event.recipients) {
      const sessions = this.deps.sessionsOf(userId);
      if (sessions === undefined) continue;
      let entry: Uint8Array;
      if (event.blind.includes(userId)) {
        blind ??= receiptsEntry(event.conversationId, blindedReceipts(event.receipts));
        entry = blind;
      } else {
        seeing ??= receiptsEntry(event.conversationId, event.receipts);
        entry = seeing;
      }
      for (const session of sessions) session.enqueue(entry);
    }
  }

  private deliverSettings(event: UserSettingsEvent): void {
    const sessions = this.deps.sessionsOf(event.userId);
    if (sessions === undefined) return;
    const entry = encodeFrameEntry({ requestId: 0, body: { $case: 'userSettings', value: event.settings } });
    for (const session of sessions) if (session.id !== event.originSessionId) session.enqueue(entry);
  }
}

function receiptsEntry(conversationId: string, receipts: ReceiptsEvent['receipts']): Uint8Array {
  return encodeFrameEntry({ requestId: 0, body: { $case: 'receiptsChanged', value: { conversationId, members: receipts } } });
}
