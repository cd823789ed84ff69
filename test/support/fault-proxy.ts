/**
 * A TCP fault proxy for tests: sits between clients and the server (for
 * WebSocket and raw TCP alike) and injects faults on demand — latency,
 * bandwidth limits, silent stalls (a dead NAT: no FIN, no RST), resets,
 * swallowed server-to-client bytes (lost acks), and frames split into tiny
 * chunks.
 */
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';

export interface FaultSettings {
  /** Added one-way delay per chunk, in ms (both directions). */
  latencyMs: number;
  /** Random extra delay per chunk, 0..jitterMs. */
  jitterMs: number;
  /** Bytes per second per direction; 0 = unlimited. */
  bytesPerSecond: number;
  /** Split every chunk into pieces of at most this many bytes; 0 = off. */
  chunkBytes: number;
  /** Silently hold all traffic (no close): a stalled NAT or dead peer. */
  stalled: boolean;
  /** Drop server-to-client bytes (the client never sees replies or pushes). */
  dropDownstream: boolean;
}

const NO_FAULTS: FaultSettings = { latencyMs: 0, jitterMs: 0, bytesPerSecond: 0, chunkBytes: 0, stalled: false, dropDownstream: false };

interface Lane {
  target: Socket;
  queue: Array<{ due: number; data: Buffer }>;
  pumping: boolean;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  up: Lane;
  down: Lane;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FaultProxy {
  settings: FaultSettings = { ...NO_FAULTS };
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private readonly stalledQueue: Array<() => void> = [];
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => this.onClient(client));
  }

  /** Starts a proxy in front of host:port on a free loopback port. */
  static async start(targetHost: string, targetPort: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', () => resolve()));
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  /** The URL to give clients instead of the server's: same scheme and path, the proxy's port. */
  urlFor(serverUrl: string): string {
    const url = new URL(serverUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString().replace(/\/$/, serverUrl.endsWith('/') ? '/' : '');
  }

  get connectionCount(): number {
    return this.pairs.size;
  }

  set(settings: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...settings };
    if (!this.settings.stalled) {
      for (const release of this.stalledQueue.splice(0)) release();
    }
  }

  clear(): void {
    this.set({ ...NO_FAULTS });
  }

  /** Resets every proxied connection (RST to both sides). */
  resetAll(): void {
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  /** Resets one randomly chosen connection; returns false when there is none. */
  resetRandom(random: () => number = Math.random): boolean {
    const pairs = [...this.pairs];
    if (pairs.length === 0) return false;
    this.reset(pairs[Math.floor(random() * pairs.length)] as Pair);
    return true;
  }

  async close(): Promise<void> {
    this.resetAll();
    for (const release of this.stalledQueue.splice(0)) release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private reset(pair: Pair): void {
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
    this.pairs.delete(pair);
  }

  private onClient(client: Socket): void {
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const pair: Pair = {
      client,
      upstream,
      up: { target: upstream, queue: [], pumping: false },
      down: { target: client, queue: [], pumping: false },
    };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const drop = () => {
      if (!this.pairs.has(pair)) return;
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => this.forward(pair, pair.up, chunk));
    upstream.on('data', (chunk) => {
      if (!this.settings.dropDownstream) this.forward(pair, pair.down, chunk);
    });
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  }

  private forward(pair: Pair, lane: Lane, chunk: Buffer): void {
    const { latencyMs, jitterMs } = this.settings;
    lane.queue.push({ due: Date.now() + latencyMs + Math.random() * jitterMs, data: chunk });
    if (!lane.pumping) void this.pump(pair, lane);
  }

  /** Delivers a lane's chunks in order, applying the faults in force when each leaves. */
  private async pump(pair: Pair, lane: Lane): Promise<void> {
    lane.pumping = true;
    try {
      while (lane.queue.length > 0 && this.pairs.has(pair)) {
        const next = lane.queue[0] as { due: number; data: Buffer };
        const wait = next.due - Date.now();
        if (wait > 0) await sleep(wait);
        while (this.settings.stalled && this.pairs.has(pair)) {
          await new Promise<void>((resolve) => this.stalledQueue.push(resolve));
        }
        if (!this.pairs.has(pair) || lane.target.destroyed) return;
        lane.queue.shift();
        const { chunkBytes, bytesPerSecond } = this.settings;
        const size = chunkBytes > 0 ? chunkBytes : next.data.length;
        for (let offset = 0; offset < next.data.length; offset += size) {
          const piece = next.data.subarray(offset, offset + size);
          lane.target.write(piece);
          if (bytesPerSecond > 0) await sleep((piece.length / bytesPerSecond) * 1000);
          else if (chunkBytes > 0) await nextTurn();
        }
      }
    } finally {
      lane.pumping = false;
    }
  }
}
