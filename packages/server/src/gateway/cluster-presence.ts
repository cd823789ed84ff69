/**
 * Which users have a connection anywhere in the cluster, and how many: each
 * node tells the others when a user's count of connections to it changes,
 * and keeps what the others told it. Nothing is stored; a node that starts
 * asks the others for their full lists, and every node repeats its full list
 * now and then so that a change lost on the bus heals.
 *
 * Each count carries how many of those connections are away (their app in
 * the background): a user is online while any connection is active, away
 * when every one is away (stateOf).
 *
 * What reads it: the per-user connection limit (counted over the cluster),
 * the per-user send rate (each node allows its share), anyone asking
 * whether a user is online (the admin API, push, webhooks), and the users'
 * presence as their contacts see it (presence-hub.ts). It is eventually consistent: a
 * change reaches the other nodes within the bus's delay (milliseconds), so
 * two connections opened at the same instant on two nodes may both pass a
 * limit of one.
 *
 * A node that stops without saying so (kill -9) is forgotten once it has
 * been silent for `silentAfterMs`: nodes send a heartbeat (an empty change
 * list) every `heartbeatMs`. Liveness is pacing, not protocol time: it runs
 * on the system clock, whatever clock the server's protocol runs on.
 */
import type { Bus, BusEvent } from '../bus/bus.js';
import { type PresenceStateName, presenceOf } from '../services/presence.js';

export type PresenceEvent = Extract<BusEvent, { type: 'presence' }>;

/** Where a change of counts came from: this node's connections, another node's news, or a silent node forgotten. */
export type CountsOrigin = 'local' | 'remote' | 'silent';

/** After a start, the other nodes' lists arrive within this long (they answer within 200 ms): what they say is not news. */
const DEFAULT_WARM_UP_MS = 1000;

/** This node's own connections, as its session registry counts them. */
export interface LocalConnections {
  /** Per user with a connection here, how many. */
  userCounts(): Iterable<[string, number]>;
  connectionsOf(userId: string): number;
  /** Of the user's connections here, those that are away; absent: none ever is. */
  awayOf?(userId: string): number;
  /** Users with a connection here. */
  readonly userCount: number;
}

export interface ClusterPresenceOptions {
  bus: Bus;
  nodeId: string;
  local: LocalConnections;
  /** Changes are gathered for this long and sent together. Default 20 ms. */
  coalesceMs?: number;
  /** Default 5,000 ms. */
  heartbeatMs?: number;
  /** A full list this often (repairs lost changes). Default 60,000 ms. */
  fullListMs?: number;
  /** Another node silent this long is forgotten. Default 15,000 ms. */
  silentAfterMs?: number;
  /** How long after its start the node learns the others' lists without telling onUserChanged listeners. Default 1,000 ms. */
  warmUpMs?: number;
}

interface RemoteNode {
  heardAt: number;
  counts: Map<string, number>;
  /** Of those, the away ones (users with none away are left out). */
  away: Map<string, number>;
}

export class ClusterPresence {
  private readonly remote = new Map<string, RemoteNode>();
  /** Per user, the nodes other than this one that hold connections of theirs. */
  private readonly nodesByUser = new Map<string, Set<string>>();
  private pending = new Map<string, [connections: number, away: number]>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private lastFullAt = 0;
  private closed = false;
  /** Users online anywhere as last told to the listeners; kept only while there are listeners. */
  private readonly announced = new Set<string>();
  private readonly listeners = new Set<(userId: string, online: boolean) => void>();
  private readonly countListeners = new Set<(userId: string, origin: CountsOrigin) => void>();
  /** Until then the node is learning the others' lists: no transitions are told. */
  private quietUntil = 0;

  constructor(private readonly options: ClusterPresenceOptions) {
    this.quietUntil = Date.now() + (options.warmUpMs ?? DEFAULT_WARM_UP_MS);
    this.unsubscribe = options.bus.subscribe((event) => {
      if (event.type === 'presence' && event.nodeId !== options.nodeId) this.apply(event);
    });
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs ?? 5000);
    this.heartbeat.unref();
    // Tell the others this node starts afresh, and ask for their lists.
    this.publishFull(true);
  }

  /**
   * Calls `listener` when a user's first connection anywhere in the cluster
   * opens (online) and when their last one closes (offline), as this node
   * learns it. What was online when the listener came is taken as known,
   * not told; so is what the node learns in the second after it started.
   */
  onUserChanged(listener: (userId: string, online: boolean) => void): () => void {
    if (this.listeners.size === 0) {
      for (const [userId] of this.options.local.userCounts()) this.announced.add(userId);
      for (const userId of this.nodesByUser.keys()) this.announced.add(userId);
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.announced.clear();
    };
  }

  /**
   * Calls `listener` whenever a user's counts change anywhere (a connection
   * opened, closed, went away or came back), at once and without any grace;
   * the listener reads stateOf. Nothing is told while the node warms up.
   */
  onCountsChanged(listener: (userId: string, origin: CountsOrigin) => void): () => void {
    this.countListeners.add(listener);
    return () => this.countListeners.delete(listener);
  }

  /** This node's count of a user's connections, or of the away ones among them, changed. */
  localChanged(userId: string, connections: number, away = 0): void {
    if (this.closed) return;
    this.review(userId, 'local');
    this.pending.set(userId, [connections, away]);
    this.flushTimer ??= setTimeout(() => this.flush(), this.options.coalesceMs ?? 20);
  }

  /** Sends this node's full list again and asks the others for theirs (after the bus was out of reach). */
  resync(): void {
    if (!this.closed) this.publishFull(true);
  }

  /** Users with a connection to any node, each counted once however many nodes hold them. */
  usersOnline(): number {
    let users = this.options.local.userCount;
    for (const userId of this.nodesByUser.keys()) if (this.options.local.connectionsOf(userId) === 0) users += 1;
    return users;
  }

  /** Whether the user has a connection to any node; allocates nothing (asked per member of every group message by push). */
  isOnline(userId: string): boolean {
    return this.options.local.connectionsOf(userId) > 0 || this.nodesByUser.has(userId);
  }

  /** Online while any of the user's connections anywhere is active, away when all are away, else offline. */
  stateOf(userId: string): PresenceStateName {
    const connections = this.options.local.connectionsOf(userId) + this.remoteConnections(userId);
    return connections === 0 ? 'offline' : presenceOf(connections, this.awayConnections(userId));
  }

  /** The user's away connections on every node. */
  awayConnections(userId: string): number {
    let total = this.options.local.awayOf?.(userId) ?? 0;
    for (const nodeId of this.nodesByUser.get(userId) ?? []) total += this.remote.get(nodeId)?.away.get(userId) ?? 0;
    return total;
  }

  /** The user's connections on every node, and the nodes that hold them (this one first). */
  connectionsOf(userId: string): { connections: number; nodes: string[] } {
    const local = this.options.local.connectionsOf(userId);
    const nodes = [...(local > 0 ? [this.options.nodeId] : []), ...this.remoteNodesOf(userId)];
    return { connections: local + this.remoteConnections(userId), nodes };
  }

  /** The user's connections to other nodes. */
  remoteConnections(userId: string): number {
    let total = 0;
    for (const nodeId of this.nodesByUser.get(userId) ?? []) total += this.remote.get(nodeId)?.counts.get(userId) ?? 0;
    return total;
  }

  /** The other nodes that hold connections of the user. */
  remoteNodesOf(userId: string): ReadonlySet<string> {
    return this.nodesByUser.get(userId) ?? EMPTY;
  }

  /** Nodes heard from recently, besides this one. */
  remoteNodes(): string[] {
    this.forgetSilent();
    return [...this.remote.keys()];
  }

  /** The other nodes as known now, silent ones not forgotten yet (safe to call from a listener). */
  knownNodes(): IterableIterator<string> {
    return this.remote.keys();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    // Tell the others this node's users are gone (a graceful stop).
    this.options.bus.publish({ type: 'presence', nodeId: this.options.nodeId, changes: [], full: true });
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const changes = [...this.pending].map(([userId, [connections, away]]) => changeOf(userId, connections, away));
    this.pending = new Map();
    this.options.bus.publish({ type: 'presence', nodeId: this.options.nodeId, changes });
  }

  private beat(): void {
    this.forgetSilent();
    const now = Date.now();
    if (now - this.lastFullAt >= (this.options.fullListMs ?? 60_000)) this.publishFull(false);
    else if (this.pending.size === 0) this.options.bus.publish({ type: 'presence', nodeId: this.options.nodeId, changes: [] });
  }

  private publishFull(ask: boolean): void {
    // Changes waiting to go out are part of the full list.
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = new Map();
    this.lastFullAt = Date.now();
    const changes = [...this.options.local.userCounts()]
      .filter(([, count]) => count > 0)
      .map(([userId, count]) => changeOf(userId, count, this.options.local.awayOf?.(userId) ?? 0));
    this.options.bus.publish({ type: 'presence', nodeId: this.options.nodeId, changes, full: true, ask });
  }

  private apply(event: PresenceEvent): void {
    let node = this.remote.get(event.nodeId);
    if (node === undefined) {
      node = { heardAt: 0, counts: new Map(), away: new Map() };
      this.remote.set(event.nodeId, node);
    }
    node.heardAt = Date.now();
    if (event.full === true) {
      const listed = new Set(event.changes.map(([userId]) => userId));
      for (const userId of [...node.counts.keys()]) if (!listed.has(userId)) this.set(event.nodeId, node, userId, 0, 0, 'remote');
    }
    for (const [userId, count, away] of event.changes) this.set(event.nodeId, node, userId, count, away ?? 0, 'remote');
    // A node that starts asks for everyone's list: answered soon, not all at the same instant.
    if (event.ask === true) {
      setTimeout(() => {
        if (!this.closed) this.publishFull(false);
      }, Math.random() * 200).unref();
    }
  }

  private set(nodeId: string, node: RemoteNode, userId: string, count: number, away: number, origin: CountsOrigin): void {
    if (count > 0 && away > 0) node.away.set(userId, away);
    else node.away.delete(userId);
    if (count > 0) {
      node.counts.set(userId, count);
      let nodes = this.nodesByUser.get(userId);
      if (nodes === undefined) {
        nodes = new Set();
        this.nodesByUser.set(userId, nodes);
      }
      nodes.add(nodeId);
    } else {
      node.counts.delete(userId);
      const nodes = this.nodesByUser.get(userId);
      nodes?.delete(nodeId);
      if (nodes?.size === 0) this.nodesByUser.delete(userId);
    }
    this.review(userId, origin);
  }

  /** Tells the listeners when the user crossed between no connection anywhere and some, and that their counts changed. */
  private review(userId: string, origin: CountsOrigin): void {
    if (this.countListeners.size > 0 && Date.now() >= this.quietUntil) for (const listener of this.countListeners) listener(userId, origin);
    if (this.listeners.size === 0) return;
    const online = this.isOnline(userId);
    if (online === this.announced.has(userId)) return;
    if (online) this.announced.add(userId);
    else this.announced.delete(userId);
    if (Date.now() < this.quietUntil) return;
    for (const listener of this.listeners) listener(userId, online);
  }

  private forgetSilent(): void {
    const oldest = Date.now() - (this.options.silentAfterMs ?? 15_000);
    for (const [nodeId, node] of this.remote) {
      if (node.heardAt >= oldest) continue;
      // Gone before its users are: listeners asking which nodes remain do not count it.
      this.remote.delete(nodeId);
      for (const userId of [...node.counts.keys()]) this.set(nodeId, node, userId, 0, 0, 'silent');
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** One user's entry in a presence event; the away count only when there is one (most users are active). */
function changeOf(userId: string, connections: number, away: number): [string, number, number?] {
  return away > 0 ? [userId, connections, away] : [userId, connections];
}
