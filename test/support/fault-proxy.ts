/**
 * A TCP fault proxy for tests: sits between clients and the server (for
 * WebSocket and raw TCP alike) and injects faults on demand — latency,
 * bandwidth limits, silent stalls (a dead NAT: no FIN, no RST), resets,
 * swallowed server-to-client bytes (lost acks), and frames split into tiny
 * chunks.
 *
 * Faults hit every connection (settings) or one connection at a time:
 * resetRandom, stallRandom (a dead NAT for that connection only), and the
 * packet-aware cuts — lostAckRate cuts a connection inside the packet that
 * carries a send_ack, right after the server sent it; lostRequestRate cuts it
 * inside a client request before the server has it. For those the proxy
 * follows each stream's packet boundaries (TCP length prefixes, WebSocket
 * frames) and decodes packets only while a cut is wanted.
 */
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { type Frame, decodePacket } from '@parley/protocol';

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
  /**
   * Probability (0..1) that a server-to-client packet carrying a send_ack is
   * cut: the client gets the bytes before it and part of it at most, then the
   * connection is reset (or closed). The server stored the message and sent
   * the ack; the client never reads it. 0 = off.
   */
  lostAckRate: number;
  /**
   * Probability (0..1) that a client-to-server packet carrying a request
   * (anything but hello, ping and delivered) is cut the same way: the server
   * never reads it, the client never hears back. 0 = off.
   */
  lostRequestRate: number;
  /** Reset new connections at once, as when the network is down. Existing ones are untouched. */
  refuseConnections: boolean;
}

const NO_FAULTS: FaultSettings = {
  latencyMs: 0,
  jitterMs: 0,
  bytesPerSecond: 0,
  chunkBytes: 0,
  stalled: false,
  dropDownstream: false,
  lostAckRate: 0,
  lostRequestRate: 0,
  refuseConnections: false,
};

/** What the proxy did so far. */
export interface FaultStats {
  /** Connections accepted and forwarded. */
  connections: number;
  /** Connections refused (refuseConnections). */
  refused: number;
  /** Connections reset (resetAll, resetRandom). */
  resets: number;
  /** Connections turned into dead NATs (stallRandom, stallAll). */
  stalls: number;
  /** Connections cut inside a packet carrying a send_ack (lostAckRate, cutNextAck). */
  ackCuts: number;
  /** Connections cut inside a client request (lostRequestRate, cutNextRequest). */
  requestCuts: number;
}

export interface FaultProxyOptions {
  /** Random source for fault decisions. Default Math.random. */
  random?: () => number;
}

type Direction = 'up' | 'down';

interface Chunk {
  due: number;
  data: Buffer;
  /** After writing this chunk, cut the connection: RST, or FIN from the proxy to the side this lane writes to. */
  cut?: 'reset' | 'end';
}

interface Lane {
  direction: Direction;
  target: Socket;
  queue: Chunk[];
  pumping: boolean;
  /** Follows packet boundaries; set from the client's first bytes (an HTTP upgrade means WebSocket). */
  sniffer: PacketSniffer | undefined;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  up: Lane;
  down: Lane;
  /** A dead NAT: nothing passes either way and neither side is told. */
  blackholed: boolean;
  /** A cut is on its way: nothing more is forwarded either way. */
  cutting: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Frames a client sends that are not requests worth cutting: the handshake and fire-and-forget notices. */
const NOT_REQUESTS = new Set(['hello', 'ping', 'delivered']);

function carriesAck(frames: readonly Frame[]): boolean {
  return frames.some((frame) => frame.body?.$case === 'sendAck');
}

function carriesRequest(frames: readonly Frame[]): boolean {
  return frames.some((frame) => frame.body !== undefined && !NOT_REQUESTS.has(frame.body.$case));
}

export class FaultProxy {
  settings: FaultSettings = { ...NO_FAULTS };
  readonly stats: FaultStats = { connections: 0, refused: 0, resets: 0, stalls: 0, ackCuts: 0, requestCuts: 0 };
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private readonly stalledQueue: Array<() => void> = [];
  private readonly random: () => number;
  private armedAckCuts = 0;
  private armedRequestCuts = 0;
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    options: FaultProxyOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.server = createServer((client) => this.onClient(client));
  }

  /** Starts a proxy in front of host:port on a free loopback port. */
  static async start(targetHost: string, targetPort: number, options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetHost, targetPort, options);
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

  /** Resets every proxied connection (RST to both sides), dead NATs included. */
  resetAll(): void {
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  /** Resets one randomly chosen live connection; returns false when there is none. */
  resetRandom(random: () => number = this.random): boolean {
    const pair = this.pickLive(random);
    if (pair === undefined) return false;
    this.reset(pair);
    return true;
  }

  /**
   * Turns one randomly chosen live connection into a dead NAT: from now on
   * nothing passes either way, and neither side hears a FIN or RST; each finds
   * out through its own heartbeat. Returns false when there is none.
   */
  stallRandom(random: () => number = this.random): boolean {
    const pair = this.pickLive(random);
    if (pair === undefined) return false;
    this.blackhole(pair);
    return true;
  }

  /** Turns every live connection into a dead NAT (see stallRandom). */
  stallAll(): void {
    for (const pair of this.livePairs()) this.blackhole(pair);
  }

  /** Cuts the next packet carrying a send_ack, on whichever connection it passes (see lostAckRate). */
  cutNextAck(): void {
    this.armedAckCuts += 1;
  }

  /** Cuts the next packet carrying a client request, on whichever connection it passes (see lostRequestRate). */
  cutNextRequest(): void {
    this.armedRequestCuts += 1;
  }

  async close(): Promise<void> {
    this.resetAll();
    for (const release of this.stalledQueue.splice(0)) release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private livePairs(): Pair[] {
    return [...this.pairs].filter((pair) => !pair.blackholed && !pair.cutting);
  }

  private pickLive(random: () => number): Pair | undefined {
    const pairs = this.livePairs();
    if (pairs.length === 0) return undefined;
    return pairs[Math.floor(random() * pairs.length)];
  }

  private reset(pair: Pair): void {
    if (!pair.blackholed && !pair.cutting) this.stats.resets += 1;
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
    this.pairs.delete(pair);
  }

  private blackhole(pair: Pair): void {
    pair.blackholed = true;
    pair.up.queue.length = 0;
    pair.down.queue.length = 0;
    this.stats.stalls += 1;
  }

  /**
   * Ends a connection after a cut packet went out: the side that was sending
   * it gets an RST; the side it was going to gets an RST or a FIN (a truncated
   * packet, then a clean close).
   */
  private cut(pair: Pair, lane: Lane, how: 'reset' | 'end'): void {
    this.pairs.delete(pair);
    const sender = lane.direction === 'down' ? pair.upstream : pair.client;
    sender.resetAndDestroy();
    if (how === 'reset') {
      lane.target.resetAndDestroy();
      return;
    }
    lane.target.end();
    setTimeout(() => lane.target.destroy(), 1000).unref();
  }

  private onClient(client: Socket): void {
    client.on('error', () => {});
    if (this.settings.refuseConnections) {
      this.stats.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.stats.connections += 1;
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const pair: Pair = {
      client,
      upstream,
      up: { direction: 'up', target: upstream, queue: [], pumping: false, sniffer: undefined },
      down: { direction: 'down', target: client, queue: [], pumping: false, sniffer: undefined },
      blackholed: false,
      cutting: false,
    };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const drop = () => {
      if (!this.pairs.has(pair)) return;
      if (pair.blackholed) {
        // A dead NAT tells neither side: the other one stays open until it gives up by itself.
        if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
        return;
      }
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (pair.up.sniffer === undefined) {
        // Clients speak first: an HTTP upgrade request means WebSocket, anything else length-prefixed TCP.
        const transport = chunk.subarray(0, 4).toString('latin1') === 'GET ' ? 'ws' : 'tcp';
        pair.up.sniffer = new PacketSniffer(transport);
        pair.down.sniffer = new PacketSniffer(transport);
      }
      this.onBytes(pair, pair.up, chunk, this.settings.lostRequestRate, carriesRequest, this.armedRequestCuts);
    });
    upstream.on('data', (chunk) => {
      if (this.settings.dropDownstream) {
        pair.down.sniffer?.feed(chunk, undefined); // keeps following the stream
        return;
      }
      this.onBytes(pair, pair.down, chunk, this.settings.lostAckRate, carriesAck, this.armedAckCuts);
    });
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  }

  /** Forwards a chunk, or the part of it before a cut when a packet it completes is picked to be lost. */
  private onBytes(pair: Pair, lane: Lane, chunk: Buffer, rate: number, wanted: (frames: readonly Frame[]) => boolean, armed: number): void {
    if (pair.blackholed || pair.cutting) return;
    const cutAt = this.cutPosition(lane, chunk, rate, wanted, armed);
    if (cutAt === undefined) {
      this.forward(pair, lane, chunk);
      return;
    }
    pair.cutting = true;
    if (lane.direction === 'down') {
      this.stats.ackCuts += 1;
      if (armed > 0) this.armedAckCuts -= 1;
    } else {
      this.stats.requestCuts += 1;
      if (armed > 0) this.armedRequestCuts -= 1;
    }
    this.forward(pair, lane, chunk.subarray(0, cutAt), this.random() < 0.5 ? 'reset' : 'end');
  }

  /**
   * Where to cut this chunk so that a wanted packet it completes never fully
   * arrives: somewhere from the start of that packet (or of the chunk) to just
   * before its last byte. Undefined: forward the chunk whole.
   */
  private cutPosition(lane: Lane, chunk: Buffer, rate: number, wanted: (frames: readonly Frame[]) => boolean, armed: number): number | undefined {
    const sniffer = lane.sniffer;
    if (sniffer === undefined) return undefined;
    const chunkStart = sniffer.offset;
    const packets = sniffer.feed(chunk, rate > 0 || armed > 0 ? wanted : undefined);
    for (const packet of packets) {
      if (!packet.wanted) continue;
      if (armed === 0 && this.random() >= rate) continue;
      const from = Math.max(packet.start, chunkStart) - chunkStart;
      const to = packet.end - chunkStart; // exclusive
      return from + Math.floor(this.random() * (to - from));
    }
    return undefined;
  }

  private forward(pair: Pair, lane: Lane, chunk: Buffer, cut?: 'reset' | 'end'): void {
    const { latencyMs, jitterMs } = this.settings;
    const item: Chunk = { due: Date.now() + latencyMs + this.random() * jitterMs, data: chunk };
    if (cut !== undefined) item.cut = cut;
    lane.queue.push(item);
    if (!lane.pumping) void this.pump(pair, lane);
  }

  /** Delivers a lane's chunks in order, applying the faults in force when each leaves. */
  private async pump(pair: Pair, lane: Lane): Promise<void> {
    lane.pumping = true;
    const alive = () => this.pairs.has(pair) && !pair.blackholed;
    try {
      while (lane.queue.length > 0 && alive()) {
        const next = lane.queue[0] as Chunk;
        const wait = next.due - Date.now();
        if (wait > 0) await sleep(wait);
        while (this.settings.stalled && this.pairs.has(pair)) {
          await new Promise<void>((resolve) => this.stalledQueue.push(resolve));
        }
        if (!alive() || lane.target.destroyed) return;
        lane.queue.shift();
        const { chunkBytes, bytesPerSecond } = this.settings;
        const size = chunkBytes > 0 ? chunkBytes : next.data.length;
        for (let offset = 0; offset < next.data.length; offset += size) {
          const piece = next.data.subarray(offset, offset + size);
          lane.target.write(piece);
          if (bytesPerSecond > 0) await sleep((piece.length / bytesPerSecond) * 1000);
          else if (chunkBytes > 0) await nextTurn();
          if (!alive()) return;
        }
        if (next.cut !== undefined) {
          this.cut(pair, lane, next.cut);
          return;
        }
      }
    } finally {
      lane.pumping = false;
    }
  }
}

/** A packet of one direction's byte stream: its byte range in the stream, and whether it is one to cut. */
interface SniffedPacket {
  start: number;
  /** Exclusive. */
  end: number;
  wanted: boolean;
}

/**
 * Follows one direction of a connection just far enough to know where each
 * packet starts and ends: on TCP every packet has a 4-byte length prefix; on
 * WebSocket, after the HTTP upgrade request or response, every packet is one
 * binary frame (masked from the client). Packets are decoded only when asked.
 * A stream it cannot follow switches it off (nothing is cut then).
 */
class PacketSniffer {
  /** Stream offset of the next byte to be fed. */
  offset = 0;
  private state: 'tcp' | 'ws-upgrade' | 'ws' | 'off';
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of pending[0]. */
  private pendingStart = 0;

  constructor(transport: 'tcp' | 'ws') {
    this.state = transport === 'tcp' ? 'tcp' : 'ws-upgrade';
  }

  /** Feeds the next chunk; returns the packets that end in it, `wanted` by the given test (false without one). */
  feed(chunk: Buffer, wanted: ((frames: readonly Frame[]) => boolean) | undefined): SniffedPacket[] {
    this.offset += chunk.length;
    if (this.state === 'off') return [];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: SniffedPacket[] = [];
    try {
      for (let unit = this.next(wanted); unit !== undefined; unit = this.next(wanted)) {
        if (unit.packet !== undefined) packets.push(unit.packet);
      }
    } catch {
      this.state = 'off';
      this.pending = Buffer.alloc(0);
    }
    return packets;
  }

  /** Consumes one complete unit (upgrade request or response, frame) from pending, or returns undefined. */
  private next(wanted: ((frames: readonly Frame[]) => boolean) | undefined): { packet?: SniffedPacket } | undefined {
    const bytes = this.pending;
    if (this.state === 'ws-upgrade') {
      const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
      if (end < 0) return undefined;
      this.consume(end + 4);
      this.state = 'ws';
      return {};
    }
    let headerLength: number;
    let payloadLength: number;
    let isPacket: boolean;
    let mask: Buffer | undefined;
    if (this.state === 'tcp') {
      if (bytes.length < 4) return undefined;
      headerLength = 4;
      payloadLength = bytes.readUInt32BE(0);
      isPacket = true;
    } else {
      if (bytes.length < 2) return undefined;
      const first = bytes[0] as number;
      const second = bytes[1] as number;
      payloadLength = second & 0x7f;
      headerLength = 2;
      if (payloadLength === 126) {
        if (bytes.length < 4) return undefined;
        payloadLength = bytes.readUInt16BE(2);
        headerLength = 4;
      } else if (payloadLength === 127) {
        if (bytes.length < 10) return undefined;
        payloadLength = Number(bytes.readBigUInt64BE(2));
        headerLength = 10;
      }
      if ((second & 0x80) !== 0) {
        if (bytes.length < headerLength + 4) return undefined;
        mask = bytes.subarray(headerLength, headerLength + 4);
        headerLength += 4;
      }
      // A whole binary message (FIN + opcode 2); control and fragmented frames carry no packet to cut.
      isPacket = (first & 0x80) !== 0 && (first & 0x0f) === 2;
    }
    if (bytes.length < headerLength + payloadLength) return undefined;
    const start = this.pendingStart;
    let isWanted = false;
    if (isPacket && wanted !== undefined) {
      let payload = bytes.subarray(headerLength, headerLength + payloadLength);
      if (mask !== undefined) {
        const key = mask;
        payload = Buffer.from(payload.map((byte, index) => byte ^ (key[index % 4] as number)));
      }
      isWanted = wanted(decodePacket(payload));
    }
    this.consume(headerLength + payloadLength);
    return isPacket ? { packet: { start, end: this.pendingStart, wanted: isWanted } } : {};
  }

  private consume(count: number): void {
    this.pending = this.pending.subarray(count);
    this.pendingStart += count;
  }
}
