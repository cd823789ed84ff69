/**
 * A PushSender for browsers: each notification goes to every browser the
 * user registered (web-push-subscriptions.ts), encrypted for that browser
 * (RFC 8291, aes128gcm) and signed with the server's VAPID key (RFC 8292)
 * by the `web-push` package; the browser's service worker shows it.
 *
 * - The Topic header is the conversation's, so a push service holding
 *   notifications for a browser that is off keeps only the latest of each
 *   conversation, and the TTL lets a stale one expire there.
 * - A subscription the push service calls gone (404, 410) is forgotten.
 * - Overloaded or failing push services (429, 5xx, network) are retried a
 *   few times with backoff, honouring Retry-After; a notification that is
 *   still late after that is worth little and is dropped (counted, logged).
 */
import { createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import type { Logger } from 'pino';
import webpush from 'web-push';
import type { WebPushSubscriptionRow } from '../store/store.js';
import { WorkQueue } from '../util/work-queue.js';
import type { PushNotification, PushSender } from './push-sender.js';

export interface VapidKeys {
  /** base64url, an uncompressed P-256 point: what browsers take as `applicationServerKey`. */
  publicKey: string;
  privateKey: string;
}

export interface WebPushSenderOptions {
  vapid: VapidKeys;
  /** Who runs this server, for push services that need to reach the operator: a mailto: or https: URL. */
  subject: string;
  subscriptionsOf(userId: string): Promise<readonly WebPushSubscriptionRow[]>;
  /** A subscription the push service reported gone. */
  forget(endpoint: string): Promise<void>;
  /** How long a push service keeps a notification for a browser that is off. */
  ttlSeconds?: number;
  attempts?: number;
  firstRetryMs?: number;
  timeoutMs?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Deliveries waiting, at most; past it new ones are dropped (counted). */
  maxQueued?: number;
  /** For push services behind a private CA (and the tests' local one). */
  agent?: Agent;
}

/** What a service worker receives (decrypted): docs/push.md documents it for other clients. */
export interface WebPushPayload {
  v: 1;
  title: string;
  body: string;
  conversationId: string;
  seq: number;
  count: number;
  badge: number;
}

/** A push service waits at most this long for Retry-After. */
const MAX_RETRY_AFTER_MS = 60_000;

interface Delivery {
  subscription: WebPushSubscriptionRow;
  payload: string;
  topic: string;
}

export class WebPushSender implements PushSender {
  private readonly options: Required<Omit<WebPushSenderOptions, 'agent'>> & { agent?: Agent };
  private readonly queue: WorkQueue<Delivery>;
  private closed = false;
  /** Per browser: delivered, given up on (after retries or for a full queue), and subscriptions forgotten as gone. */
  readonly counts = { delivered: 0, failed: 0, gone: 0 };

  constructor(
    options: WebPushSenderOptions,
    private readonly log: Logger,
  ) {
    this.options = { ttlSeconds: 24 * 60 * 60, attempts: 4, firstRetryMs: 1000, timeoutMs: 10_000, concurrency: 16, maxQueued: 20_000, ...options };
    this.queue = new WorkQueue((delivery) => this.deliver(delivery), this.options.concurrency, this.options.maxQueued);
  }

  /** Users without a registered browser are skipped before a notification is composed for them. */
  async reaches(userId: string): Promise<boolean> {
    return (await this.options.subscriptionsOf(userId)).length > 0;
  }

  async send(notifications: readonly PushNotification[]): Promise<void> {
    for (const notification of notifications) {
      if (this.closed) return;
      const subscriptions = await this.options.subscriptionsOf(notification.userId);
      const payload: WebPushPayload = {
        v: 1,
        title: notification.title,
        body: notification.body,
        conversationId: notification.conversationId,
        seq: notification.seq,
        count: notification.count,
        badge: notification.badge,
      };
      const text = JSON.stringify(payload);
      const topic = topicOf(notification.conversationId);
      for (const subscription of subscriptions) if (!this.queue.add({ subscription, payload: text, topic })) this.counts.failed += 1;
    }
  }

  /** Waits for requests in flight; what is queued is dropped (a stopping server has no time for retries). */
  async close(): Promise<void> {
    this.closed = true;
    this.counts.failed += this.queue.drain().length;
    await this.queue.whenIdle();
  }

  private async deliver({ subscription, payload, topic }: Delivery): Promise<void> {
    let delay = this.options.firstRetryMs;
    let failure = '';
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      try {
        await webpush.sendNotification({ endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } }, payload, {
          vapidDetails: { subject: this.options.subject, publicKey: this.options.vapid.publicKey, privateKey: this.options.vapid.privateKey },
          TTL: this.options.ttlSeconds,
          urgency: 'high',
          topic,
          timeout: this.options.timeoutMs,
          ...(this.options.agent === undefined ? {} : { agent: this.options.agent }),
        });
        this.counts.delivered += 1;
        return;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 404 || status === 410) {
          this.counts.gone += 1;
          await this.options.forget(subscription.endpoint).catch((cause: unknown) => this.log.warn({ err: cause }, 'a gone Web Push subscription was not forgotten'));
          return;
        }
        failure = status === undefined ? (error as Error).message : `HTTP ${status}`;
        // 4xx other than 429 is the request's fault (a key the push service refuses, a payload too large): retrying changes nothing.
        const retryable = status === undefined || status === 429 || status >= 500;
        if (!retryable || this.closed || attempt === this.options.attempts) break;
        const retryAfter = retryAfterMs((error as { headers?: Record<string, string | undefined> }).headers?.['retry-after']);
        await new Promise((resolve) => setTimeout(resolve, Math.max(delay, retryAfter)));
        delay *= 2;
      }
    }
    this.counts.failed += 1;
    this.log.warn({ endpointHost: hostOf(subscription.endpoint), userId: subscription.userId, failure }, 'Web Push notification not delivered');
  }
}

/** A conversation's Topic: base64url, at most 32 characters (RFC 8030), the same for every notification of it. */
function topicOf(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 32);
}

function retryAfterMs(header: string | undefined): number {
  if (header === undefined) return 0;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : 0;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '';
  }
}

/** A fresh VAPID key pair. */
export function generateVapidKeys(): VapidKeys {
  return webpush.generateVAPIDKeys();
}
