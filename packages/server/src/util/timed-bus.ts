/**
 * TimedBus: a Bus that times another, for the operations view. It times
 * each publish call by event type (on the in-process bus that includes the
 * handlers, which run inside publish; on NATS, the encoding and buffering),
 * and the transit from publish to receipt: published events carry the wall
 * clock time they were sent at (`sentAt`, an extra field the adapters carry
 * along: NATS's structured serialisation keeps it), and this node records
 * the age of every event it receives that has one. Across nodes that age
 * includes the difference between their clocks; negative ages count as 0.
 * The stamp is removed on receipt by this decorator's own subscription,
 * made first, so handlers get events exactly as they were published (the
 * Bus contract's "payloads arrive intact").
 */
import type { Bus, BusEvent, BusHandler } from '../bus/bus.js';
import type { TimingFamily } from './metrics-sink.js';

export interface BusTimings {
  /** Publish calls, by event type. */
  publish: TimingFamily;
  /** From publish (on any node) to receipt on this one, by event type. */
  transit: TimingFamily;
}

/** A published event with its send time (ms since the epoch). Not part of BusEvent: only this decorator reads it. */
type StampedEvent = BusEvent & { sentAt?: number };

export class TimedBus implements Bus {
  /** The adapter's own, when it has them: absent keeps meaning what the Bus port says it means. */
  readonly ready?: () => boolean;
  readonly interest?: (route: string, held: boolean) => Promise<void>;
  readonly onReconnect?: (listener: () => void) => () => void;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly inner: Bus,
    private readonly timings: BusTimings,
  ) {
    this.ready = inner.ready?.bind(inner);
    this.interest = inner.interest?.bind(inner);
    this.onReconnect = inner.onReconnect?.bind(inner);
    // One subscription of its own, so an event is timed once however many
    // handlers there are; adapters hand events to handlers in subscription
    // order, so it runs before any handler subscribed through this bus.
    this.unsubscribe = inner.subscribe((event) => this.received(event));
  }

  publish(event: BusEvent): void {
    const started = performance.now();
    const stamped: StampedEvent = { ...event, sentAt: Date.now() };
    this.inner.publish(stamped);
    this.timings.publish.of(event.type).observe((performance.now() - started) / 1000);
  }

  subscribe(handler: BusHandler): () => void {
    return this.inner.subscribe(handler);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.inner.close();
  }

  private received(event: StampedEvent): void {
    const sentAt = event.sentAt;
    if (sentAt === undefined) return;
    // The object is this node's own (the copy publish made, or a decoded one).
    delete event.sentAt;
    this.timings.transit.of(event.type).observe(Math.max(0, Date.now() - sentAt) / 1000);
  }
}

