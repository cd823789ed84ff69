/**
 * The Bus port on NATS (core NATS, no JetStream): every node of a cluster
 * connects to the same NATS. Events are routed by interest (routesOf):
 *
 * - a room's traffic goes out on `<prefix>.room.<room id, base64url>`, which
 *   a node subscribes to only while it has viewers in the room;
 * - what concerns a user's devices (the messages of direct chats and small
 *   groups, their views, revocations) goes out on
 *   `<prefix>.user.<user id, base64url>`, which a node subscribes to only
 *   while the user has a connection there;
 * - everything else goes out on `<prefix>.all.<event type>`, which each node
 *   subscribes to once.
 *
 * So NATS hands each event once to each node that needs it and to no other.
 * Handlers get their own node's events too (NATS echoes a connection's
 * publications back to it), so all nodes see one order per publisher. Events
 * are encoded with Node's structured serialisation (typed arrays and nested
 * objects survive as they are); only Parley nodes read them.
 *
 * Nothing here is durable: an event published while a node is cut off from
 * NATS is not replayed to it. That is the port's contract: events only speed
 * delivery up, and clients catch up by sync and pull (decision 93).
 */
import { deserialize, serialize } from 'node:v8';
import { type Msg, type NatsConnection, type Subscription, connect } from '@nats-io/transport-node';
import { type Bus, type BusEvent, type BusHandler, routesOf } from './bus.js';

export interface NatsBusOptions {
  /** nats://host:port (comma-separated for several servers). */
  servers: string;
  /** Subject prefix: clusters (or test runs) sharing one NATS stay apart. Default "parley". */
  prefix?: string;
  /** This node's name, shown in NATS's connection list. */
  name?: string;
}

/** A route this node listens to, and how many holders declared it. */
interface Interest {
  holders: number;
  subscription: Subscription;
}

export class NatsBus implements Bus {
  private readonly handlers = new Set<BusHandler>();
  private readonly interests = new Map<string, Interest>();
  private readonly reconnectListeners = new Set<() => void>();
  /** False from a disconnect until the reconnect (for /readyz). */
  private connected = true;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly prefix: string,
  ) {
    // Events for every node: one subscription for the node's lifetime.
    connection.subscribe(`${prefix}.all.>`, { callback: (error, message) => this.dispatch(error, message) });
    void this.watchStatus();
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
    const bus = new NatsBus(connection, prefix);
    // A round trip makes sure the server has the subscription before anyone publishes.
    await connection.flush();
    return bus;
  }

  publish(event: BusEvent): void {
    // What is published describes a commit that already happened: a node that
    // is stopping (draining) drops the event rather than fail the request
    // that made it; devices learn of it by sync and pull.
    if (this.connection.isClosed() || this.connection.isDraining()) return;
    const copies = routesOf(event);
    try {
      if (copies === undefined) this.connection.publish(`${this.prefix}.all.${event.type}`, serialize(event));
      else for (const [route, copy] of copies) this.connection.publish(this.subjectOf(route), serialize(copy));
    } catch {
      // The connection closed or began draining since the check: as above.
    }
  }

  async interest(route: string, held: boolean): Promise<void> {
    const known = this.interests.get(route);
    if (!held) {
      if (known === undefined) return;
      known.holders -= 1;
      if (known.holders === 0) {
        this.interests.delete(route);
        if (!this.connection.isClosed()) known.subscription.unsubscribe();
      }
      return;
    }
    if (known !== undefined) {
      known.holders += 1;
    } else {
      if (this.connection.isClosed()) return;
      const subscription = this.connection.subscribe(this.subjectOf(route), { callback: (error, message) => this.dispatch(error, message) });
      this.interests.set(route, { holders: 1, subscription });
    }
    // Once the server answered a ping sent after the SUB, it routes to us
    // every publication that reaches it later, from any node. While NATS is
    // out of reach this waits for the reconnect (the SUB is replayed then).
    await this.connection.flush();
  }

  /** Route "room:<id>" → "<prefix>.room.<id as base64url>" (and "user:<id>" alike): ids may hold characters NATS subjects may not. */
  private subjectOf(route: string): string {
    const colon = route.indexOf(':');
    return `${this.prefix}.${route.slice(0, colon)}.${Buffer.from(route.slice(colon + 1)).toString('base64url')}`;
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  ready(): boolean {
    return this.connected && !this.connection.isClosed() && !this.connection.isDraining();
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** NATS replays the subscriptions after a reconnect by itself; what was published meanwhile is gone. */
  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect') this.connected = false;
      if (status.type === 'reconnect') {
        this.connected = true;
        for (const listener of this.reconnectListeners) listener();
      }
    }
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.interests.clear();
    this.reconnectListeners.clear();
    if (this.connection.isClosed()) return;
    // Draining needs the server; a node stopping while NATS is away just closes.
    await this.connection.drain().catch(() => this.connection.close());
  }

  /** Every subscription's messages, in the order the connection reads them. */
  private dispatch(error: Error | null, message: Msg): void {
    if (error !== null) return; // the subscription ended (close, or a permissions error reported on the connection)
    let event: BusEvent;
    try {
      event = deserialize(message.data) as BusEvent;
    } catch {
      return; // not one of ours (another program on the same prefix)
    }
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (thrown) {
        // One handler's failure must not stop the node's subscription.
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  }
}
