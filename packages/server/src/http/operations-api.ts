/**
 * What the people running Parley look at: `/readyz` (the store and the bus
 * answer; for load balancers) and `/metrics` in Prometheus's text format
 * (prom-client), behind the admin key because the HTTP port faces the
 * internet. Figures are read when scraped, from what the gateway and the room
 * hub count anyway, so the message path pays nothing for them.
 */
import { ParleyError } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Bus } from '../bus/bus.js';
import type { Gateway } from '../gateway/gateway.js';
import type { RoomHub } from '../gateway/room-hub.js';
import type { AuthService } from '../services/auth.js';

export interface OperationsApiDeps {
  auth: AuthService;
  gateway: Gateway;
  roomHub: RoomHub;
  /** True when the store answers a read. */
  storeAnswers(): Promise<boolean>;
  bus: Bus;
  nodeId: string;
}

export const OPERATIONS_PATHS = ['/metrics', '/readyz'];

export function registerOperationsApi(app: FastifyInstance, deps: OperationsApiDeps): void {
  const registry = metricsRegistry(deps);
  // Process metrics (CPU, memory, event-loop lag, GC) watch the process from
  // the first scrape on: a server nobody scrapes (most tests) pays nothing.
  let processMetrics = false;

  app.get('/readyz', async (_request, reply) => {
    const checks = { store: await deps.storeAnswers(), bus: deps.bus.ready?.() ?? true };
    const ready = checks.store && checks.bus;
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'unavailable', node: deps.nodeId, ...checks };
  });

  app.get('/metrics', async (request, reply) => {
    const header = request.headers.authorization;
    if (!deps.auth.isAdminKey(header?.startsWith('Bearer ') ? header.slice(7) : undefined)) {
      throw new ParleyError('UNAUTHENTICATED', 'admin key required (Authorization: Bearer <key>)');
    }
    if (!processMetrics) {
      processMetrics = true;
      collectDefaultMetrics({ register: registry, prefix: 'parley_' });
    }
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}

/** One registry per server (several may run in one process), labelled with the node id. */
function metricsRegistry({ gateway, roomHub, nodeId }: OperationsApiDeps): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });

  new Gauge({
    name: 'parley_connections',
    help: 'Open client connections, by transport.',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const counts = { ws: 0, tcp: 0 };
      for (const session of gateway.registry.sessions()) counts[session.transport] += 1;
      for (const [transport, count] of Object.entries(counts)) this.set({ transport }, count);
    },
  });
  new Gauge({
    name: 'parley_connected_users',
    help: 'Users with at least one connection to this node.',
    registers: [registry],
    collect() {
      this.set(gateway.registry.userCount);
    },
  });
  new Counter({
    name: 'parley_requests_total',
    help: 'Client requests handled by this node since it started, by kind (send, pull, sync, join_room, ...).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, count] of gateway.requestCounts) this.inc({ kind }, count);
    },
  });
  const roomCounters = [
    ['parley_room_batches_total', 'Room batches written (one per room per tick with something to say).', 'batches'],
    ['parley_room_deliveries_total', 'Events and new reliable messages inside room batches, summed over viewers.', 'deliveries'],
    ['parley_room_lean_writes_total', 'Room batches a lagging viewer got without their ephemeral events.', 'leanWrites'],
    ['parley_room_events_over_budget_total', "Ephemeral events refused by a room's budget at this node.", 'overBudget'],
    ['parley_room_events_sampled_out_total', 'Ephemeral events sampled out of a batch.', 'sampledOut'],
  ] as const;
  for (const [name, help, field] of roomCounters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(roomHub.counters[field]);
      },
    });
  }
  new Gauge({
    name: 'parley_rooms',
    help: 'Live rooms this node serves viewers of.',
    registers: [registry],
    collect() {
      this.set([...roomHub.roomSizes().values()].filter((viewers) => viewers > 0).length);
    },
  });
  new Gauge({
    name: 'parley_room_viewers',
    help: "Connections in live rooms on this node (a connection in two rooms counts twice).",
    registers: [registry],
    collect() {
      let viewers = 0;
      for (const count of roomHub.roomSizes().values()) viewers += count;
      this.set(viewers);
    },
  });
  return registry;
}
