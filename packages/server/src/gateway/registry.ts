/**
 * Which sessions this node holds: all of them (for deadline sweeps) and the
 * authenticated ones by user (for routing pushes to every device of a user).
 */
import { ParleyError } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import { setMostRecent } from '../util/recent-map.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Session } from './session.js';

/** Per-user send buckets outlive connections (reconnecting must not refill them); this many are kept. */
const MAX_TRACKED_USERS = 100_000;

export class SessionRegistry {
  private readonly all = new Set<Session>();
  private readonly byUser = new Map<string, Set<Session>>();
  private readonly sendBuckets = new Map<string, TokenBucket>();

  constructor(private readonly limits: Pick<ServerLimits, 'sendsPerSecondPerUser' | 'sendBurstPerUser' | 'maxConnectionsPerUser'>) {}

  add(session: Session): void {
    this.all.add(session);
  }

  /** Registers an authenticated session under its user; refuses one connection too many. */
  bindUser(session: Session): void {
    const userId = session.userId as string;
    let sessions = this.byUser.get(userId);
    if (sessions === undefined) {
      sessions = new Set();
      this.byUser.set(userId, sessions);
    }
    if (sessions.size >= this.limits.maxConnectionsPerUser) {
      throw new ParleyError('LIMIT_EXCEEDED', `at most ${this.limits.maxConnectionsPerUser} connections per user`);
    }
    sessions.add(session);
  }

  /** The send-rate bucket shared by all connections of a user. */
  sendBucketOf(userId: string): TokenBucket {
    let bucket = this.sendBuckets.get(userId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limits.sendsPerSecondPerUser, this.limits.sendBurstPerUser);
      setMostRecent(this.sendBuckets, userId, bucket, MAX_TRACKED_USERS);
    }
    return bucket;
  }

  remove(session: Session): void {
    this.all.delete(session);
    if (session.userId === undefined) return;
    const sessions = this.byUser.get(session.userId);
    if (sessions === undefined) return;
    sessions.delete(session);
    if (sessions.size === 0) this.byUser.delete(session.userId);
  }

  sessionsOf(userId: string): ReadonlySet<Session> | undefined {
    return this.byUser.get(userId);
  }

  /** Closes every connection of a user (tokens revoked). */
  closeUser(userId: string): void {
    for (const session of [...(this.byUser.get(userId) ?? [])]) {
      session.fail(new ParleyError('UNAUTHENTICATED', 'token revoked'));
    }
  }

  sessions(): IterableIterator<Session> {
    return this.all.values();
  }

  get size(): number {
    return this.all.size;
  }

  get userCount(): number {
    return this.byUser.size;
  }
}
