/**
 * Which sessions this node holds: all of them (for deadline sweeps) and the
 * authenticated ones by user (for routing pushes to every device of a user).
 * With a cluster view attached (ClusterPresence), the per-user limits count
 * the user's connections on every node: the connection limit is checked
 * against the cluster's total, and the send rate is shared out between the
 * nodes that hold the user's connections. It also counts, per user, the
 * connections that said they are away (set_presence), which the cluster
 * view carries beside the connection counts.
 */
import { ParleyError } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import { setMostRecent } from '../util/recent-map.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Session } from './session.js';

/** What this node knows of a user's connections to the other nodes. */
export interface ClusterView {
  remoteConnections(userId: string): number;
  remoteNodesOf(userId: string): ReadonlySet<string>;
  /** This node's count of the user's connections, or of the away ones among them, changed. */
  localChanged(userId: string, connections: number, away: number): void;
}

/** Per-user send buckets outlive connections (reconnecting must not refill them); this many are kept. */
const MAX_TRACKED_USERS = 100_000;

export class SessionRegistry {
  private readonly all = new Set<Session>();
  private readonly byUser = new Map<string, Set<Session>>();
  /** Authenticated sessions that are away, and how many per user. */
  private readonly awaySessions = new Set<Session>();
  private readonly awayByUser = new Map<string, number>();
  private readonly sendBuckets = new Map<string, { bucket: TokenBucket; nodes: number }>();
  private cluster: ClusterView | undefined;

  constructor(private readonly limits: Pick<ServerLimits, 'sendsPerSecondPerUser' | 'sendBurstPerUser' | 'maxConnectionsPerUser'>) {}

  attachCluster(view: ClusterView): void {
    this.cluster = view;
  }

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
    if (sessions.size + (this.cluster?.remoteConnections(userId) ?? 0) >= this.limits.maxConnectionsPerUser) {
      if (sessions.size === 0) this.byUser.delete(userId);
      throw new ParleyError('LIMIT_EXCEEDED', `at most ${this.limits.maxConnectionsPerUser} connections per user`);
    }
    sessions.add(session);
    this.cluster?.localChanged(userId, sessions.size, this.awayOf(userId));
  }

  /** The session's user put it in the background (away) or brought it back; returns whether that changed anything. */
  setAway(session: Session, away: boolean): boolean {
    const userId = session.userId;
    const sessions = userId === undefined ? undefined : this.byUser.get(userId);
    if (userId === undefined || sessions === undefined || !sessions.has(session) || this.awaySessions.has(session) === away) return false;
    if (away) this.awaySessions.add(session);
    else this.awaySessions.delete(session);
    this.countAway(userId, away ? 1 : -1);
    this.cluster?.localChanged(userId, sessions.size, this.awayOf(userId));
    return true;
  }

  /** Of the user's connections to this node, those that are away. */
  awayOf(userId: string): number {
    return this.awayByUser.get(userId) ?? 0;
  }

  private countAway(userId: string, delta: number): void {
    const count = (this.awayByUser.get(userId) ?? 0) + delta;
    if (count > 0) this.awayByUser.set(userId, count);
    else this.awayByUser.delete(userId);
  }

  /**
   * The send-rate bucket shared by all connections of a user on this node.
   * When other nodes hold connections of the user too, each node allows an
   * equal share of the rate and burst, so the user's total stays the limit.
   */
  sendBucketOf(userId: string, now: number): TokenBucket {
    const nodes = 1 + (this.cluster?.remoteNodesOf(userId).size ?? 0);
    const rate = this.limits.sendsPerSecondPerUser / nodes;
    const burst = Math.max(1, this.limits.sendBurstPerUser / nodes);
    let entry = this.sendBuckets.get(userId);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(rate, burst), nodes };
      setMostRecent(this.sendBuckets, userId, entry, MAX_TRACKED_USERS);
    } else if (entry.nodes !== nodes) {
      entry.bucket.resize(rate, burst, now);
      entry.nodes = nodes;
    }
    return entry.bucket;
  }

  remove(session: Session): void {
    this.all.delete(session);
    if (session.userId === undefined) return;
    const sessions = this.byUser.get(session.userId);
    if (sessions === undefined) return;
    if (!sessions.delete(session)) return;
    if (this.awaySessions.delete(session)) this.countAway(session.userId, -1);
    if (sessions.size === 0) this.byUser.delete(session.userId);
    this.cluster?.localChanged(session.userId, sessions.size, this.awayOf(session.userId));
  }

  /** This node's connection count per user (for the cluster's presence lists). */
  *userCounts(): IterableIterator<[string, number]> {
    for (const [userId, sessions] of this.byUser) yield [userId, sessions.size];
  }

  sessionsOf(userId: string): ReadonlySet<Session> | undefined {
    return this.byUser.get(userId);
  }

  /** The user's connections to this node. */
  connectionsOf(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
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
