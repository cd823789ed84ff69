/**
 * Catching up after the bus was out of reach. While a node is cut off from
 * NATS, events the other nodes publish never arrive: nothing stored is lost
 * (it is in the database), but the node's connected devices would learn of
 * a missed message only when a later one revealed the gap, and its caches
 * (member lists, presence, room state) would be stale. So when the bus is
 * back, the node:
 *
 * - forgets its cached member lists (a membership change may have passed);
 * - sends its presence list again and asks the others for theirs;
 * - brings each live room it serves up to date from the store (viewers get
 *   the missed reliable messages in the next batch);
 * - pushes `conversation_changed` to every connected user for each
 *   conversation changed since a version read before the outage, so each
 *   device pulls what it missed, as after any lost push.
 *
 * The version is sampled every few seconds while the bus is up, and the
 * sample before the last is used: it predates any event lost in flight when
 * the outage began.
 */
import { encodeFrameEntry } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { MessagingService } from '../services/messaging.js';
import type { SessionRegistry } from './registry.js';
import { toWireSummary } from './wire.js';

export interface BusRecoveryDeps {
  bus: Bus;
  messaging: Pick<MessagingService, 'sync' | 'syncVersion'>;
  registry: Pick<SessionRegistry, 'userCounts' | 'sessionsOf'>;
  forgetMembers(): void;
  resyncPresence(): void;
  catchUpRooms(): Promise<void>;
  log: Logger;
  /** How often the version is sampled. Default 5,000 ms. */
  sampleMs?: number;
}

/** Users caught up at once. */
const CONCURRENCY = 8;

export class BusRecovery {
  /** The two latest version samples, older first. */
  private samples: [number, number] = [0, 0];
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: BusRecoveryDeps) {
    // An adapter that never loses events needs none of this.
    if (deps.bus.onReconnect === undefined) return;
    this.unsubscribe = deps.bus.onReconnect(() => void this.recover());
    this.timer = setInterval(() => void this.sample(), deps.sampleMs ?? 5000);
    this.timer.unref();
    void this.sample();
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  private async sample(): Promise<void> {
    // Frozen while the bus is down: the samples must predate the outage.
    if (this.deps.bus.ready?.() === false) return;
    try {
      const version = await this.deps.messaging.syncVersion();
      this.samples = [this.samples[1], version];
    } catch {
      // The store is out of reach too: keep the older samples.
    }
  }

  private async recover(): Promise<void> {
    const since = this.samples[0];
    this.deps.forgetMembers();
    this.deps.resyncPresence();
    const rooms = this.deps.catchUpRooms().catch((error: unknown) => this.deps.log.error({ err: error }, 'rooms could not catch up after the bus came back'));
    const users = [...this.deps.registry.userCounts()].map(([userId]) => userId);
    let pushed = 0;
    const next = async (): Promise<void> => {
      for (let userId = users.pop(); userId !== undefined; userId = users.pop()) {
        try {
          pushed += await this.catchUpUser(userId, since);
        } catch (error) {
          this.deps.log.error({ err: error, userId }, 'a user could not catch up after the bus came back');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, next));
    await rooms;
    this.deps.log.info({ since, pushed }, 'caught up after the bus came back');
  }

  /** Pushes the user's conversations changed since `since` to each of their connections here; returns how many. */
  private async catchUpUser(userId: string, since: number): Promise<number> {
    if (this.deps.registry.sessionsOf(userId) === undefined) return 0;
    const changes = await this.deps.messaging.sync(userId, since);
    const sessions = this.deps.registry.sessionsOf(userId);
    if (sessions === undefined) return 0;
    for (const view of changes.conversations) {
      const entry = encodeFrameEntry({ requestId: 0, body: { $case: 'conversationChanged', value: { summary: toWireSummary(view), totalUnread: changes.totalUnread } } });
      for (const session of sessions) session.enqueue(entry);
    }
    return changes.conversations.length;
  }
}
