/** In-process Bus: synchronous dispatch, so events reach handlers in publish order. */
import type { Bus, BusEvent, BusHandler } from './bus.js';

export class LocalBus implements Bus {
  private handlers = new Set<BusHandler>();

  publish(event: BusEvent): void {
    for (const handler of this.handlers) handler(event);
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
