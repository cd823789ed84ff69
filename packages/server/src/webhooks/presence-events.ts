/**
 * user.online and user.offline for the webhooks: when a user's first
 * connection anywhere in the cluster opens, and when their last one closes
 * (ClusterPresence tells every node). A phone on a weak network drops and
 * reconnects all the time, so an offline waits a grace period: a user back
 * within it never went offline, and nothing is sent. Events wait here,
 * bounded, for the dispatcher; they are live, not stored: a node that takes
 * the dispatcher over starts from what it sees from then on.
 */
import { randomUUID } from 'node:crypto';
import type { UserEventType, UserWebhookEvent } from './events.js';

export interface PresenceEventsOptions {
  /** How long a user must stay away before user.offline. Default 5,000 ms. */
  offlineGraceMs?: number;
  /** Events waiting, at most; past it the oldest are dropped (counted). Default 10,000. */
  maxQueued?: number;
  /** The types asked for; others are not queued. */
  types: ReadonlySet<string>;
  /** An event is waiting. */
  onEvent(): void;
}

export class PresenceEvents {
  private readonly queue: UserWebhookEvent[] = [];
  /** Users who left, by the time they left, until their grace ends. */
  private readonly leaving = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();
  private readonly graceMs: number;
  private readonly maxQueued: number;
  /** Events dropped for the bound since start. */
  dropped = 0;

  constructor(private readonly options: PresenceEventsOptions) {
    this.graceMs = options.offlineGraceMs ?? 5000;
    this.maxQueued = options.maxQueued ?? 10_000;
  }

  /** A user crossed between no connection anywhere and some (ClusterPresence.onUserChanged). */
  changed(userId: string, online: boolean, at: number = Date.now()): void {
    const left = this.leaving.get(userId);
    if (online) {
      if (left !== undefined) {
        // Back within the grace: as far as the receiver knows, never gone.
        clearTimeout(left.timer);
        this.leaving.delete(userId);
        return;
      }
      this.push('user.online', userId, at);
      return;
    }
    if (left !== undefined) return;
    const timer = setTimeout(() => {
      this.leaving.delete(userId);
      this.push('user.offline', userId, at);
    }, this.graceMs);
    timer.unref?.();
    this.leaving.set(userId, { at, timer });
  }

  /** Up to `max` waiting events, oldest first, taken out of the queue. */
  take(max: number): UserWebhookEvent[] {
    return this.queue.splice(0, max);
  }

  /** Another node dispatches: what waits here is not this node's to send. */
  clear(): void {
    this.queue.length = 0;
  }

  close(): void {
    for (const { timer } of this.leaving.values()) clearTimeout(timer);
    this.leaving.clear();
    this.queue.length = 0;
  }

  private push(type: UserEventType, userId: string, at: number): void {
    if (!this.options.types.has(type)) return;
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push({ id: `u_${randomUUID()}`, type, userId, at });
    this.options.onEvent();
  }
}
