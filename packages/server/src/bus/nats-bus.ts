/**
 * The Bus port on NATS (core NATS, no JetStream): every node of a cluster
 * connects to the same NATS and publishes committed events on
 * `<prefix>.<event type>`; each node subscribes once to `<prefix>.>` and
 * hands every event to its handlers, its own included (NATS echoes a
 * connection's publications back to it), so that all nodes see one order per
 * publisher. Events are encoded with Node's structured serialisation (typed
 * arrays and nested objects survive as they are); only Parley nodes read them.
 *
 * Nothing here is durable: an event published while a node is cut off from
 * NATS is not replayed to it. That is the port's contract: events only speed
 * delivery up, and clients catch up by sync and pull (decision 93).
 */
import { deserialize, serialize } from 'node:v8';
import { type NatsConnection, type Subscription, connect } from '@nats-io/transport-node';
import type { Bus, BusEvent, BusHandler } from './bus.js';

export interface NatsBusOptions {
  /** nats://host:port (comma-separated for several servers). */
  servers: string;
  /** Subject prefix: clusters (or test runs) sharing one NATS stay apart. Default "parley". */
  prefix?: string;
  /** This node's name, shown in NATS's connection list. */
  name?: string;
}

export class NatsBus implements Bus {
  private readonly handlers = new Set<BusHandler>();

  private constructor(
    private readonly connection: NatsConnection,
    private readonly prefix: string,
    private readonly subscription: Subscription,
  ) {
    void this.dispatch();
  }

  /** Connects and subscribes; resolves once the subscription is in place on the server. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const prefix = options.prefix ?? 'parley';
    const connection = await connect({
      servers: options.servers.split(',').map((server) => server.trim().replace(/^nats:\/\//u, '')),
      name: options.name === undefined ? 'parley' : `parley-${options.name}`,
      // Keep trying for as long as the node runs: a NATS restart must not end the cluster.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const subscription = connection.subscribe(`${prefix}.>`);
    // A round trip makes sure the server has the subscription before anyone publishes.
    await connection.flush();
    return new NatsBus(connection, prefix, subscription);
  }

  publish(event: BusEvent): void {
    if (this.connection.isClosed()) return;
    this.connection.publish(`${this.prefix}.${event.type}`, serialize(event));
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  ready(): boolean {
    return !this.connection.isClosed() && !this.connection.isDraining();
  }

  async close(): Promise<void> {
    this.handlers.clear();
    if (!this.connection.isClosed()) await this.connection.drain();
  }

  private async dispatch(): Promise<void> {
    for await (const message of this.subscription) {
      let event: BusEvent;
      try {
        event = deserialize(message.data) as BusEvent;
      } catch {
        continue; // not one of ours (another program on the same prefix)
      }
      for (const handler of this.handlers) {
        try {
          handler(event);
        } catch (error) {
          // One handler's failure must not stop the node's subscription.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
  }
}
