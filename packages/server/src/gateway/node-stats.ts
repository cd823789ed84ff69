/**
 * NodeStats: what each node of a cluster knows about all of them, for the
 * admin overview (GET /v1/admin/overview). Every 2 s this node takes a small
 * snapshot of itself (connections, users, messages in and out, its rooms'
 * audiences, its busiest conversations of the last minute, memory, event-loop
 * delay) and publishes it on the bus; it keeps the latest snapshot of every
 * node it hears from, its own included, and forgets a node not heard from for
 * 10 s (stopped, or cut off from the bus).
 *
 * Figures are read from what the gateway, Delivery and the room hub count
 * anyway; the only cost on the message path is one map increment per stored
 * send, for the busiest conversations (noteSend).
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock } from '@parley/protocol';
import type { Bus, NodeSnapshot } from '../bus/bus.js';
import { RollingTop } from '../util/rolling-top.js';
import type { RoomHub } from './room-hub.js';
import type { SessionRegistry } from './registry.js';

export type { NodeSnapshot } from '../bus/bus.js';

/** Entries of a snapshot's top lists. */
export const SNAPSHOT_TOP = 10;

export interface NodeStatsDeps {
  bus: Bus;
  nodeId: string;
  /** Snapshot times and expiry; publishing itself is paced by a real timer. */
  clock: Clock;
  registry: Pick<SessionRegistry, 'sessions' | 'userCount'>;
  roomHub: Pick<RoomHub, 'roomSizes'>;
  /** Sends from this node's connections that were stored, since start (the gateway's counters). */
  messagesIn(): number;
  /** Messages pushed to this node's connections since start (Delivery.pushedMessages). */
  messagesOut(): number;
  /** How often a snapshot is published, ms. Default 2000. */
  intervalMs?: number;
  /** A node not heard from for this long is dropped, ms. Default 10 000. */
  forgetAfterMs?: number;
}

export class NodeStats {
  private readonly startedAt: number;
  private readonly sendsByConversation = new RollingTop({ windowMs: 60_000, slots: 6 });
  /** The latest snapshot of each node, with when it arrived here (this node's clock: nodes' clocks may differ). */
  private readonly latest = new Map<string, { snapshot: NodeSnapshot; receivedAt: number }>();
  private readonly loopDelay: IntervalHistogram;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private readonly forgetAfterMs: number;

  constructor(private readonly deps: NodeStatsDeps) {
    this.startedAt = deps.clock.now();
    this.forgetAfterMs = deps.forgetAfterMs ?? 10_000;
    this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.loopDelay.enable();
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'nodeStats') this.remember(event.snapshot);
    });
    this.timer = setInterval(() => this.publish(), deps.intervalMs ?? 2000);
    // Statistics alone must not keep a process alive.
    this.timer.unref();
    this.publish();
  }

  /** One send from a connection of this node was stored (called before its ack; a repeat of a stored send too). */
  noteSend(conversationId: string): void {
    this.sendsByConversation.add(conversationId, this.deps.clock.now());
  }

  /** The latest snapshot of every node heard from lately, this one included, by node id. */
  nodes(): NodeSnapshot[] {
    const now = this.deps.clock.now();
    for (const [nodeId, entry] of this.latest) {
      // This node is running, whatever its clock did since its last snapshot.
      if (nodeId !== this.deps.nodeId && now - entry.receivedAt > this.forgetAfterMs) this.latest.delete(nodeId);
    }
    return [...this.latest.values()].map((entry) => entry.snapshot).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe();
    this.loopDelay.disable();
  }

  private publish(): void {
    const snapshot = this.snapshot();
    // Kept at once: the bus may not hand a node its own events (or not yet).
    this.remember(snapshot);
    this.deps.bus.publish({ type: 'nodeStats', snapshot });
  }

  private remember(snapshot: NodeSnapshot): void {
    const known = this.latest.get(snapshot.nodeId);
    // The echo of this node's own publication, or a late one: keep the newest.
    if (known !== undefined && known.snapshot.at > snapshot.at) return;
    this.latest.set(snapshot.nodeId, { snapshot, receivedAt: this.deps.clock.now() });
  }

  private snapshot(): NodeSnapshot {
    const now = this.deps.clock.now();
    const connections = { ws: 0, tcp: 0 };
    for (const session of this.deps.registry.sessions()) connections[session.transport] += 1;
    const audiences = [...this.deps.roomHub.roomSizes()].filter(([, viewers]) => viewers > 0);
    let roomViewers = 0;
    for (const [, viewers] of audiences) roomViewers += viewers;
    const topRooms = audiences
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, SNAPSHOT_TOP)
      .map(([roomId, viewers]) => ({ roomId, viewers }));
    const busiest = this.sendsByConversation.top(SNAPSHOT_TOP, now).map(({ key, count }) => ({ conversationId: key, sends: count }));
    // No samples yet (the first snapshot, at start): the histogram reads NaN.
    const delay = this.loopDelay.count > 0 ? this.loopDelay : undefined;
    const eventLoopDelayMs = {
      mean: round(delay === undefined ? 0 : delay.mean / 1e6),
      p99: round(delay === undefined ? 0 : delay.percentile(99) / 1e6),
      max: round(delay === undefined ? 0 : delay.max / 1e6),
    };
    this.loopDelay.reset();
    return {
      nodeId: this.deps.nodeId,
      startedAt: this.startedAt,
      at: now,
      connections,
      users: this.deps.registry.userCount,
      messagesIn: this.deps.messagesIn(),
      messagesOut: this.deps.messagesOut(),
      rooms: audiences.length,
      roomViewers,
      topRooms,
      busiest,
      rssBytes: process.memoryUsage.rss(),
      eventLoopDelayMs,
    };
  }
}

/** Two decimals are plenty for a delay in ms. */
function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}
