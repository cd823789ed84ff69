/**
 * The operator's overview of the whole cluster (under /v1, admin key
 * required, registered by admin-api.ts): `GET /v1/admin/overview` answers
 * from the snapshots every node publishes of itself (gateway/node-stats.ts),
 * so any node answers for all of them without asking the others. The web
 * app's dashboard (#/admin) polls it; docs/admin-dashboard.md says where each
 * figure comes from.
 */
import type { Clock } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';
import type { NodeSnapshot, NodeStats } from '../gateway/node-stats.js';
import type { ConversationService } from '../services/conversations.js';
import { requireId } from '../services/validate.js';

export interface OverviewApiDeps {
  nodeStats: Pick<NodeStats, 'nodes'>;
  /** Names and kinds of the busiest conversations and rooms. */
  conversations: Pick<ConversationService, 'labels'>;
  clock: Clock;
  /** Users with a connection to any node, each counted once (gateway/cluster-presence.ts). */
  usersOnline(): number;
  /** Where a user is connected across the cluster. */
  presenceOf(userId: string): { connections: number; nodes: string[] };
}

/** Entries in the cluster-wide busiest lists. */
const TOP = 10;

export function registerOverviewApi(v1: FastifyInstance, deps: OverviewApiDeps): void {
  v1.get<{ Params: { id: string } }>('/users/:id/presence', { schema: { summary: "Where a user's connections are, across the cluster", tags: ['users'] } }, async (request) => {
    const userId = requireId(request.params.id, 'id');
    const { connections, nodes } = deps.presenceOf(userId);
    return { userId, online: connections > 0, connections, nodes };
  });

  v1.get('/admin/overview', { schema: { summary: 'The whole cluster: nodes, totals, busiest conversations and rooms', tags: ['overview'] } }, async () => {
    const nodes = deps.nodeStats.nodes();
    const sends = sumBy(nodes.flatMap((node) => node.busiest.map((entry) => [entry.conversationId, entry.sends] as const)));
    const viewers = sumBy(nodes.flatMap((node) => node.topRooms.map((entry) => [entry.roomId, entry.viewers] as const)));
    const labels = new Map((await deps.conversations.labels([...sends.keys(), ...viewers.keys()])).map((label) => [label.id, label]));
    return {
      generatedAt: deps.clock.now(),
      nodes: nodes.map(nodeJson),
      totals: {
        nodes: nodes.length,
        connections: sum(nodes, (node) => node.connections.ws + node.connections.tcp),
        // Each user once, however many nodes hold their connections.
        usersOnline: deps.usersOnline(),
        messagesIn: sum(nodes, (node) => node.messagesIn),
        messagesOut: sum(nodes, (node) => node.messagesOut),
        roomViewers: sum(nodes, (node) => node.roomViewers),
      },
      busiestConversations: [...sends].map(([id, count]) => {
        const label = labels.get(id);
        return { id, kind: label?.kind ?? 'unknown', name: label?.name ?? '', memberCount: label?.memberCount ?? 0, sendsLastMinute: count };
      }),
      busiestRooms: [...viewers].map(([id, count]) => {
        const label = labels.get(id);
        return { id, name: label?.name ?? '', closed: label?.closed ?? false, viewers: count };
      }),
    };
  });
}

function nodeJson(node: NodeSnapshot) {
  return {
    nodeId: node.nodeId,
    startedAt: node.startedAt,
    at: node.at,
    connections: { ws: node.connections.ws, tcp: node.connections.tcp, total: node.connections.ws + node.connections.tcp },
    usersOnline: node.users,
    messagesIn: node.messagesIn,
    messagesOut: node.messagesOut,
    rooms: node.rooms,
    roomViewers: node.roomViewers,
    topRooms: node.topRooms.map((entry) => ({ id: entry.roomId, viewers: entry.viewers })),
    busiestConversations: node.busiest.map((entry) => ({ id: entry.conversationId, sendsLastMinute: entry.sends })),
    rssBytes: node.rssBytes,
    eventLoopDelayMs: node.eventLoopDelayMs,
  };
}

/** Sums the counts of each key over every node's list; the top TOP, most first (ties by id). */
function sumBy(entries: ReadonlyArray<readonly [string, number]>): Map<string, number> {
  const totals = new Map<string, number>();
  for (const [key, count] of entries) totals.set(key, (totals.get(key) ?? 0) + count);
  return new Map([...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP));
}

function sum(nodes: readonly NodeSnapshot[], figure: (node: NodeSnapshot) => number): number {
  let total = 0;
  for (const node of nodes) total += figure(node);
  return total;
}
