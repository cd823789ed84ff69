/**
 * The webhook dispatcher: posts every stored message's event to the host's
 * endpoint, in feed order (so in order per conversation), in batches, signed
 * like the before-send hook, retried with backoff for as long as the
 * endpoint fails. It never blocks a send: it reads what was committed,
 * after the fact, from the store.
 *
 * One node of a cluster dispatches at a time: the one holding the store's
 * feed cursor (a lease renewed with every batch). Its position is saved
 * after each batch the endpoint accepted, so a restart or a failover
 * resumes there; a batch accepted but not yet saved is sent again, so
 * delivery is at least once and receivers drop repeated event ids.
 *
 * Live events (user.online, user.offline, room.opened) are not in the feed:
 * the dispatching node sends those it saw, ahead of the next page of it.
 */
import type { Logger } from 'pino';
import { postSigned } from '../util/signed-post.js';
import type { FeedCursor, FeedMessage, FeedPosition } from '../store/store.js';
import { FEED_START, type LiveWebhookEvent, type WebhookEvent, type WebhookEventType, eventOf, positionOf } from './events.js';

/** What the dispatcher needs of the store. */
export interface FeedStore {
  messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]>;
  claimFeedCursor(name: string, holder: string, now: number, leaseMs: number, start: FeedPosition): Promise<FeedCursor | undefined>;
  saveFeedCursor(name: string, holder: string, position: FeedPosition): Promise<boolean>;
  syncVersion(): Promise<number>;
}

export interface WebhookDispatcherOptions {
  url: string;
  secret: string;
  /** Types to send; others are passed over (the cursor still moves). Undefined: all. */
  events?: ReadonlySet<WebhookEventType>;
  /** This node's id: the cursor's holder. */
  nodeId: string;
  /** Events per POST. */
  batchSize?: number;
  /** How long a node holds the cursor after its last claim. */
  leaseMs?: number;
  /** How long one POST may take. */
  timeoutMs?: number;
  /** Retry delays double from the first up to the longest. */
  firstRetryMs?: number;
  longestRetryMs?: number;
  /** How often an idle dispatcher looks for new messages when nothing woke it. */
  idlePollMs?: number;
  /** Where the live events wait (live-events.ts). */
  live?: { take(max: number): LiveWebhookEvent[]; clear(): void };
}

/** The cursor's name in the store: one webhook endpoint, one cursor. */
const CURSOR = 'webhook';

/** What the operations view and the admin API show of the dispatcher. */
export interface WebhookStatus {
  url: string;
  /** True while this node holds the cursor (it is the one dispatching). */
  dispatching: boolean;
  /** Events the endpoint accepted from this node since start. */
  delivered: number;
  /** Failed attempts since start, and the latest failure. */
  failures: number;
  lastError?: string;
  /** Since when the current batch has been failing (ms), if it is. */
  failingSince?: number;
}

export class WebhookDispatcher {
  private readonly options: Required<Omit<WebhookDispatcherOptions, 'events' | 'live'>> & Pick<WebhookDispatcherOptions, 'events' | 'live'>;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  readonly status: WebhookStatus;

  constructor(
    private readonly store: FeedStore,
    options: WebhookDispatcherOptions,
    private readonly log: Logger,
  ) {
    this.options = {
      batchSize: 100,
      leaseMs: 15_000,
      timeoutMs: 5000,
      firstRetryMs: 500,
      longestRetryMs: 60_000,
      idlePollMs: 1000,
      ...options,
    };
    this.status = { url: options.url, dispatching: false, delivered: 0, failures: 0 };
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Something was stored (a bus event): look now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.wakeUp?.();
    await this.running;
    if (this.status.dispatching) {
      // Hand the cursor over now rather than after the lease: a lease that ended a moment ago lets the next node in.
      await this.store.claimFeedCursor(CURSOR, this.options.nodeId, Date.now() - 1, 0, FEED_START).catch(() => undefined);
      this.status.dispatching = false;
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.step();
      } catch (error) {
        // The store is unreachable (or closing): try again after a pause.
        if (this.closed) return;
        this.log.warn({ err: error }, 'webhook dispatcher step failed');
        await this.pause(this.options.idlePollMs);
      }
    }
  }

  /** Claims the cursor, reads one page after it, delivers it, moves the cursor. */
  private async step(): Promise<void> {
    const { nodeId, leaseMs, batchSize } = this.options;
    this.woken = false;
    // A new cursor starts at the present: enabling webhooks does not replay all history (the replay endpoint can).
    const start = { ...FEED_START, version: await this.store.syncVersion() };
    const cursor = await this.store.claimFeedCursor(CURSOR, nodeId, Date.now(), leaseMs, start);
    this.status.dispatching = cursor !== undefined;
    if (cursor === undefined) {
      this.options.live?.clear();
      // Another node dispatches: look again later, not at every message (each look is a store write).
      await this.pause(leaseMs / 3, false);
      return;
    }
    const live = this.options.live?.take(batchSize) ?? [];
    if (live.length > 0) {
      if (await this.deliver(live)) this.status.delivered += live.length;
      return;
    }
    const page = await this.store.messageFeed(cursor.position, batchSize);
    if (page.length === 0) {
      await this.pause(this.options.idlePollMs);
      return;
    }
    const events = page.map(eventOf).filter((event) => this.options.events === undefined || this.options.events.has(event.type));
    if (events.length > 0 && !(await this.deliver(events))) return;
    const last = page[page.length - 1] as FeedMessage;
    if (!(await this.store.saveFeedCursor(CURSOR, nodeId, positionOf(last)))) {
      this.log.warn('webhook cursor taken over by another node; this batch may be delivered twice');
      return;
    }
    this.status.delivered += events.length;
  }

  /**
   * POSTs the batch until the endpoint accepts it (2xx), waiting longer
   * after each failure. Returns false when it stopped trying: the node is
   * closing, or it lost the cursor while waiting (another node goes on).
   */
  private async deliver(events: WebhookEvent[]): Promise<boolean> {
    const body = JSON.stringify({ events });
    let delay = this.options.firstRetryMs;
    for (let attempt = 1; !this.closed; attempt++) {
      const failure = await postSigned(this.options.url, this.options.secret, body, { timeoutMs: this.options.timeoutMs, signal: this.abort.signal });
      if (failure === undefined) {
        this.status.failingSince = undefined;
        return true;
      }
      this.status.failures += 1;
      this.status.lastError = failure;
      this.status.failingSince ??= Date.now();
      this.log.warn({ attempt, error: failure, events: events.length, first: events[0]?.id }, 'webhook delivery failed; retrying');
      await this.pause(delay, false);
      delay = Math.min(this.options.longestRetryMs, delay * 2);
      // Keep the lease while retrying; if it lapsed, another node has it now.
      const renewed = await this.store.claimFeedCursor(CURSOR, this.options.nodeId, Date.now(), this.options.leaseMs, FEED_START).catch(() => undefined);
      if (renewed === undefined) {
        this.status.dispatching = false;
        return false;
      }
    }
    return false;
  }

  /** Waits `ms`, or less when woken (new messages) unless `wakeable` is false. */
  private pause(ms: number, wakeable = true): Promise<void> {
    if (this.closed || (wakeable && this.woken)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = () => {
        if (wakeable || this.closed) done();
      };
    });
  }
}
