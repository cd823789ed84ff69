/**
 * A PushSender that POSTs notifications to the host product's own push
 * sender (which holds its APNs and FCM credentials and the users' device
 * tokens), signed like every request Parley makes to the host. A failed
 * delivery is retried with backoff a few times, quickly, because a late
 * notification is worth little; what still fails is written to a
 * dead-letter log (one JSON object per line) for the operator.
 */
import { appendFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { postSigned } from '../util/signed-post.js';
import { WorkQueue } from '../util/work-queue.js';
import type { PushNotification, PushSender } from './push-sender.js';

export interface WebhookPushOptions {
  url: string;
  secret: string;
  /** Where undeliverable notifications are kept (JSON lines). */
  deadLetterPath: string;
  /** Attempts per notification batch (the first included). */
  attempts?: number;
  firstRetryMs?: number;
  timeoutMs?: number;
  /** Requests in flight at once; further batches wait their turn. */
  concurrency?: number;
  /** Batches waiting, at most; past it a batch goes straight to the dead letters. */
  maxQueued?: number;
}

/** The dead-letter log stops growing past this size (the log line says so). */
const MAX_DEAD_LETTER_BYTES = 64 * 1024 * 1024;

export class WebhookPushSender implements PushSender {
  private readonly options: Required<WebhookPushOptions>;
  private readonly queue: WorkQueue<PushNotification[]>;
  private closed = false;
  private readonly abort = new AbortController();
  /** Notifications the endpoint accepted, and those written off to the dead letters, since start. */
  readonly counts = { delivered: 0, deadLettered: 0, failedAttempts: 0 };

  constructor(
    options: WebhookPushOptions,
    private readonly log: Logger,
  ) {
    this.options = { attempts: 5, firstRetryMs: 500, timeoutMs: 5000, concurrency: 8, maxQueued: 10_000, ...options };
    this.queue = new WorkQueue((batch) => this.deliver(batch), this.options.concurrency, this.options.maxQueued);
  }

  async send(notifications: readonly PushNotification[]): Promise<void> {
    if (notifications.length === 0) return;
    if (this.closed) await this.deadLetter(notifications, 'the server is stopping');
    else if (!this.queue.add([...notifications])) await this.deadLetter(notifications, 'too many notifications waiting');
  }

  /** Waits for the batches in flight (not for retries that would outlast a stop: those are dead-lettered). */
  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    for (const batch of this.queue.drain()) await this.deadLetter(batch, 'the server is stopping');
    await this.queue.whenIdle();
  }

  private async deliver(batch: PushNotification[]): Promise<void> {
    const body = JSON.stringify({ type: 'push', notifications: batch });
    let delay = this.options.firstRetryMs;
    let failure = '';
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      failure = (await postSigned(this.options.url, this.options.secret, body, { timeoutMs: this.options.timeoutMs, signal: this.abort.signal })) ?? '';
      if (failure === '') {
        this.counts.delivered += batch.length;
        return;
      }
      this.counts.failedAttempts += 1;
      if (this.closed || attempt === this.options.attempts) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
    await this.deadLetter(batch, failure);
  }

  private async deadLetter(batch: readonly PushNotification[], reason: string): Promise<void> {
    this.counts.deadLettered += batch.length;
    this.log.warn({ notifications: batch.length, reason }, 'push notifications not delivered; written to the dead letters');
    try {
      const size = await stat(this.options.deadLetterPath).then(
        (info) => info.size,
        () => 0,
      );
      if (size > MAX_DEAD_LETTER_BYTES) return;
      const at = Date.now();
      await appendFile(this.options.deadLetterPath, batch.map((notification) => `${JSON.stringify({ at, reason, notification })}\n`).join(''));
    } catch (error) {
      this.log.error({ err: error }, 'dead-letter log not written');
    }
  }
}
