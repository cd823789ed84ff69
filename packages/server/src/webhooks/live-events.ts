/**
 * The webhook events that are not in the store's feed, because what they
 * report is not stored as a message (decision 110), waiting for the
 * dispatcher: bounded, live, and a node that takes the dispatcher over
 * starts from what it sees from then on.
 *
 * - user.online and user.offline: a user's first connection anywhere in the
 *   cluster opened, their last one closed (ClusterPresence tells every
 *   node). A phone on a weak network drops and reconnects all the time, so
 *   an offline waits a grace period: a user back within it never went
 *   offline, and nothing is sent.
 * - room.opened: a live room was created (a bus event every node hears).
 */
import { randomUUID } from 'node:crypto';
import type { LiveWebhookEvent, RoomOpenedWebhookEvent, UserEventType } from './events.js';

export interface LiveEventsOptions {
  /** How long a user must stay away before user.offline. Default 5,000 ms. */
  offlineGraceMs?: number;
  /** Events waiting, at most; past it the oldest are dropped (counted). Default 10,000. */
  maxQueued?: number;
  /** The types asked for; others are not queued. */
  types: ReadonlySet<string>;
  /** An event is waiting. */
  onEvent(): void;
}

export class LiveEvents {
  private readonly queue: LiveWebhookEvent[] = [];
  /** Users who left, by the time they left, until their grace ends. */
  private readonly leaving = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();
  private readonly graceMs: number;
  private readonly maxQueued: number;
  /** Events dropped for the bound since start. */
  dropped = 0;

  constructor(private readonly options: LiveEventsOptions) {
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

  /** A live room was created (on any node). */
  roomOpened(room: { id: string; name: string; hostId: string; createdAt: number }): void {
    if (!this.options.types.has('room.opened')) return;
    const event: RoomOpenedWebhookEvent = { id: `r_${randomUUID()}`, type: 'room.opened', conversationId: room.id, at: room.createdAt, room: { id: room.id, name: room.name, hostId: room.hostId } };
    this.enqueue(event);
  }

  /** Up to `max` waiting events, oldest first, taken out of the queue. */
  take(max: number): LiveWebhookEvent[] {
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
    if (this.options.types.has(type)) this.enqueue({ id: `u_${randomUUID()}`, type, userId, at });
  }

  private enqueue(event: LiveWebhookEvent): void {
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(event);
    this.options.onEvent();
  }
}
