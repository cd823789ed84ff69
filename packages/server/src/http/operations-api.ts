/**
 * What the people running Parley look at: `/readyz` (the store and the bus
 * answer; for load balancers) and `/metrics` in Prometheus's text format
 * (prom-client), behind the admin key because the HTTP port faces the
 * internet. docs/operations-metrics.md lists every series.
 *
 * Counts and gauges are read when scraped, from what the gateway, Delivery,
 * the room hub and the timed store count anyway as plain numbers. Durations
 * are recorded where they happen into OperationsTimings, whose histograms
 * take an observation without allocating (util/duration-histogram.ts), and
 * are read when scraped too.
 */
import { ParleyError } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Metric, Registry, collectDefaultMetrics } from 'prom-client';
import type { Bus } from '../bus/bus.js';
import type { Gateway } from '../gateway/gateway.js';
import type { RoomHub } from '../gateway/room-hub.js';
import type { AuthService } from '../services/auth.js';
import { DurationHistogram, DurationHistograms } from '../util/duration-histogram.js';
import { PUBLIC } from './openapi.js';

/** Buckets from 1 ms to 10 s: what a user waits for (an ack, a push). */
const WAIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets from 0.1 ms to 10 s: one step of the server's work (a store read, a bus publish). */
const STEP_BUCKETS = [0.0001, 0.00025, 0.0005, ...WAIT_BUCKETS];

/**
 * The timings the server's parts report to, made before those parts (the
 * timed store and bus wrap the adapters first thing); /metrics reads them.
 */
export class OperationsTimings {
  /** From a send decoded to its ack written. */
  readonly sendAck = new DurationHistogram(WAIT_BUCKETS);
  /** From a message's commit to its push handed to a connection here, once per connection. */
  readonly sendDeliver = new DurationHistogram(WAIT_BUCKETS);
  readonly storeWrite = new DurationHistogram(STEP_BUCKETS);
  /** By read method. */
  readonly storeRead = new DurationHistograms(STEP_BUCKETS);
  /** By event type. */
  readonly busPublish = new DurationHistograms(STEP_BUCKETS);
  /** By event type. */
  readonly busTransit = new DurationHistograms(STEP_BUCKETS);
}

export interface OperationsApiDeps {
  auth: AuthService;
  gateway: Gateway;
  roomHub: RoomHub;
  /** True when the store answers a read. */
  storeAnswers(): Promise<boolean>;
  bus: Bus;
  nodeId: string;
  timings: OperationsTimings;
  /** Messages pushed to this node's connections since start, one per message per connection (Delivery). */
  messagesOut(): number;
  /** Store write units called and not settled (TimedStore). */
  pendingStoreWrites(): number;
  /** True once the node is stopping (ServerOptions.drainSeconds): /readyz fails while it still serves. */
  draining(): boolean;
  /** What moderation, webhooks and push did since start (zeros for what is not configured). */
  integrations(): IntegrationCounts;
}

/** Counts since start, by outcome; see docs/operations-metrics.md. */
export interface IntegrationCounts {
  moderation: Record<'masked' | 'refused' | 'hook_rejected' | 'hook_rewritten' | 'hook_failed', number>;
  webhooks: { delivered: number; failures: number; failingSeconds: number };
  push: Record<'notified' | 'skipped_online' | 'unreachable' | 'muted' | 'undelivered' | 'dropped' | 'delivered' | 'dead_lettered' | 'web_push_delivered' | 'web_push_failed' | 'web_push_gone', number>;
}

export const OPERATIONS_PATHS = ['/metrics', '/readyz'];

export function registerOperationsApi(app: FastifyInstance, deps: OperationsApiDeps): void {
  const registry = metricsRegistry(deps);
  // Process metrics (CPU, memory, event-loop lag, GC) watch the process from
  // the first scrape on: a server nobody scrapes (most tests) pays nothing.
  let processMetrics = false;

  app.get('/readyz', { schema: { summary: 'Readiness: the store and the bus answer, and the node is not stopping', tags: ['operations'], security: PUBLIC } }, async (_request, reply) => {
    const checks = { store: await deps.storeAnswers(), bus: deps.bus.ready?.() ?? true };
    const draining = deps.draining();
    const ready = checks.store && checks.bus && !draining;
    reply.code(ready ? 200 : 503);
    return { status: draining ? 'draining' : ready ? 'ready' : 'unavailable', node: deps.nodeId, ...checks };
  });

  app.get('/metrics', { schema: { summary: 'Metrics in the Prometheus text format', tags: ['operations'] } }, async (request, reply) => {
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
function metricsRegistry(deps: OperationsApiDeps): Registry {
  const { gateway, roomHub, nodeId, timings, messagesOut, pendingStoreWrites } = deps;
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

  new Counter({
    name: 'parley_moderation_total',
    help: 'Messages the word filter masked or refused, and the before-send hook refused, rewrote or could not be asked about, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(deps.integrations().moderation)) this.inc({ outcome }, count);
    },
  });
  new Counter({
    name: 'parley_webhook_events_total',
    help: 'Webhook events the endpoint accepted from this node (while it held the feed cursor).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(deps.integrations().webhooks.delivered);
    },
  });
  new Counter({
    name: 'parley_webhook_failures_total',
    help: 'Webhook deliveries from this node that failed (each retry counts).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(deps.integrations().webhooks.failures);
    },
  });
  new Gauge({
    name: 'parley_webhook_failing_seconds',
    help: 'How long the current webhook batch has been failing on this node; 0 while deliveries succeed.',
    registers: [registry],
    collect() {
      this.set(deps.integrations().webhooks.failingSeconds);
    },
  });
  new Counter({
    name: 'parley_push_notifications_total',
    help: 'Offline push on this node, by outcome: notified (composed and handed to the senders), skipped_online, unreachable (no sender reaches the user), muted (messages of conversations the user muted), undelivered (messages for connected users that no device acknowledged in time, notified all the same), dropped (too many users waiting), delivered and dead_lettered (webhook sender), web_push_delivered, web_push_failed and web_push_gone (per browser).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(deps.integrations().push)) this.inc({ outcome }, count);
    },
  });
  new Counter({
    name: 'parley_messages_in_total',
    help: "Sends from this node's connections that were stored (repeats of a stored send left out), by transport.",
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, count] of Object.entries(gateway.counters.messagesIn)) this.inc({ transport }, count);
    },
  });
  new Counter({
    name: 'parley_messages_out_total',
    help: "Messages pushed to this node's connections, one per message per connection.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(messagesOut());
    },
  });
  new Counter({
    name: 'parley_rate_limited_total',
    help: 'Requests and connections refused for coming too fast, by the limit that refused them (request, send, overload, hello, room_join, room_event).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, count] of Object.entries(gateway.counters.refused)) this.inc({ kind }, count);
      this.inc({ kind: 'room_join' }, roomHub.counters.joinsRefused);
      this.inc({ kind: 'room_event' }, roomHub.counters.eventsRefused);
    },
  });
  new Gauge({
    name: 'parley_connection_queued_bytes',
    help: 'Bytes queued for client connections and not yet taken by the network (server queues plus transport buffers), summed over connections.',
    registers: [registry],
    collect() {
      let bytes = 0;
      for (const session of gateway.registry.sessions()) bytes += session.queuedBytes;
      this.set(bytes);
    },
  });
  new Gauge({
    name: 'parley_store_pending_writes',
    help: 'Store write units called and not yet committed or failed.',
    registers: [registry],
    collect() {
      this.set(pendingStoreWrites());
    },
  });
  new Gauge({
    name: 'parley_room_pending_events',
    help: "Ephemeral room events taken in and waiting for their room's next batch.",
    registers: [registry],
    collect() {
      this.set(roomHub.pendingEvents());
    },
  });

  registerHistogram(registry, 'parley_send_ack_seconds', 'From a send request decoded to its ack written to the connection.', () => [[{}, timings.sendAck]]);
  registerHistogram(
    registry,
    'parley_send_deliver_seconds',
    "From a message's commit (its createdAt) to its push handed to a recipient connection on this node; one observation per connection.",
    () => [[{}, timings.sendDeliver]],
  );
  registerHistogram(registry, 'parley_store_write_seconds', 'Store write units as the services see them: from the call to the commit or failure, waiting included.', () => [
    [{}, timings.storeWrite],
  ]);
  registerHistogram(registry, 'parley_store_read_seconds', 'Store reads outside write units, by method (operation).', () => labelled('operation', timings.storeRead));
  registerHistogram(registry, 'parley_bus_publish_seconds', 'Bus publish calls, by event type (in-process bus: the handlers run inside).', () =>
    labelled('type', timings.busPublish),
  );
  registerHistogram(registry, 'parley_bus_transit_seconds', 'From a bus event published (on any node, wall clock) to its receipt on this node, by event type.', () =>
    labelled('type', timings.busTransit),
  );
  return registry;
}

type Series = Iterable<[Record<string, string>, DurationHistogram]>;

function labelled(name: string, family: DurationHistograms): Series {
  return [...family.entries()].map(([value, histogram]) => [{ [name]: value }, histogram]);
}

/**
 * Exposes DurationHistograms as one Prometheus histogram. prom-client's
 * Histogram cannot be fed counts kept elsewhere, so this is a metric of its
 * own: the registry only calls get() on what it holds, and formats the
 * values get() returns (bucket, sum and count lines) with the registry's
 * default labels, as it does for its own histograms.
 */
function registerHistogram(registry: Registry, name: string, help: string, series: () => Series): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const [labels, histogram] of series()) {
        const cumulative = histogram.cumulative();
        for (const [index, bound] of histogram.bounds.entries()) {
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative[index] as number });
        }
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count });
        values.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels, value: histogram.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}
