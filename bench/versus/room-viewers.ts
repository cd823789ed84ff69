/**
 * The room bench's load, in a child process of its own (see room.ts; each
 * process may hold at most as many sockets as its file limit allows): light viewers
 * that speak the protocol over `ws` (hello and join pipelined, no SDK), from
 * several 127.0.0.x source addresses to pass the ephemeral-port limit of one,
 * plus a few senders producing ephemeral chat at a set rate.
 *
 * Every viewer of a worker receives the same batch bytes each tick, so a
 * packet is decoded once and recognised by its bytes for the others (a
 * memcmp, not a decode): the generator then costs little per delivery and
 * the server, not the generator, sets the ceiling.
 *
 * Reconnects follow the SDK's policy: a refused hello (fatal UNAVAILABLE) or
 * join (RATE_LIMITED) is tried again after the server's retry hint plus up to
 * 25% jitter.
 *
 * Parent → worker: { type: 'connect' } | { type: 'senders', on } |
 *   { type: 'counters' } | { type: 'storm' } | { type: 'close' }.
 * Worker → parent: { type: 'connected', ... } | { type: 'counters', ... } |
 *   { type: 'stormed', ... } | { type: 'closed' }.
 */
import { performance } from 'node:perf_hooks';
import { type Frame, PROTOCOL_VERSION, RoomEventKind, decodePacket, encodeFrameEntry } from '@parley/protocol';
import WebSocket from 'ws';

export interface RoomLoadConfig {
  /** The nodes' WebSocket URLs: viewers and senders are spread over them round-robin by their index in the whole bench. */
  wsUrls: string[];
  /** This worker's first viewer and first sender in the whole bench, so that the spread continues across workers. */
  firstViewer: number;
  firstSender: number;
  roomId: string;
  /** One token per viewer, then one per sender. */
  viewerTokens: string[];
  senderTokens: string[];
  /** Chat events per second per sender. */
  senderRate: number;
  /** Source addresses to spread connections over. */
  sourceAddresses: string[];
  connectConcurrency: number;
}

export interface RoomCounters {
  viewersJoined: number;
  /** Ephemeral events and first receipts of reliable messages, over all viewers. */
  deliveries: number;
  /** Packets received by viewers. */
  packets: number;
  bytes: number;
  /** Events the server said were skipped for these viewers. */
  skipped: number;
  /** ms from commit to first receipt, one per viewer and reliable message. */
  reliableLatencies: number[];
  /** First receipts per reliable seq: within 3 s of the commit, and later; `byNode`: all of them by the viewer's node. */
  reliableBySeq: Record<number, { within: number; late: number; byNode: number[] }>;
  /** A reliable seq skipped over (should stay 0: repeats cover a lost batch). */
  gaps: number;
  sent: number;
  sendRefusals: number;
  closedByServer: number;
}

const RELIABLE_DEADLINE_MS = 3000;
/** Every connection pings this often (the server closes connections silent for twice its 25 s heartbeat). */
const PING_EVERY_MS = 20_000;
const PING_SLICES = 20;
const SEND_INTERVAL_MS = 10;
const JITTER = 0.25;

interface Conn {
  /** The node this viewer talks to (its index in wsUrls). */
  node: number;
  ws: WebSocket | undefined;
  /** Highest reliable seq held; -1 until joined. */
  synced: number;
  joined: boolean;
}

class Load {
  private readonly viewers: Conn[];
  private readonly senderSockets: WebSocket[] = [];
  private counters = emptyCounters();
  private joinedTotal = 0;
  private sendTimer: ReturnType<typeof setInterval> | undefined;
  private storming = false;
  private readonly cache: Array<{ bytes: Buffer; frames: Frame[] }> = [];
  private readonly helloRefusals: number[] = [];
  private stormWaiter: (() => void) | undefined;
  private closing = false;

  private readonly pingTimer: ReturnType<typeof setInterval>;
  private pingSlice = 0;

  constructor(private readonly config: RoomLoadConfig) {
    this.viewers = config.viewerTokens.map((_, index) => ({ node: (config.firstViewer + index) % config.wsUrls.length, ws: undefined, synced: -1, joined: false }));
    // Heartbeats, a slice of the connections at a time so that they do not all go at once.
    this.pingTimer = setInterval(() => this.pingSome(), PING_EVERY_MS / PING_SLICES);
  }

  private pingSome(): void {
    const slice = this.pingSlice++ % PING_SLICES;
    const ping = encodeFrameEntry({ requestId: 9, body: { $case: 'ping', value: { nonce: 0 } } });
    for (let index = slice; index < this.viewers.length; index += PING_SLICES) {
      const ws = this.viewers[index]?.ws;
      if (ws?.readyState === WebSocket.OPEN) ws.send(ping);
    }
    if (slice === 0) for (const ws of this.senderSockets) if (ws.readyState === WebSocket.OPEN) ws.send(ping);
  }

  async connectAll(): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.viewers.length) {
        const index = next++;
        await this.open(index);
      }
    };
    await Promise.all(Array.from({ length: this.config.connectConcurrency }, worker));
    await this.untilAllJoined(120_000);
    for (let index = 0; index < this.config.senderTokens.length; index++) this.senderSockets.push(await this.openSender(index));
  }

  /** Opens viewer `index` and resolves once it joined (or gave up after a refusal: it retries on its own). */
  private open(index: number): Promise<void> {
    const conn = this.viewers[index] as Conn;
    const addresses = this.config.sourceAddresses;
    const ws = new WebSocket(this.urlOf(this.config.firstViewer + index), { perMessageDeflate: false, localAddress: addresses[index % addresses.length] });
    conn.ws = ws;
    conn.joined = false;
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      ws.on('open', () => {
        ws.send(encodeFrameEntry({ requestId: 1, body: { $case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, token: this.config.viewerTokens[index] as string, client: 'bench-room' } } }));
        this.sendJoin(conn);
      });
      ws.on('message', (data: Buffer) => {
        this.receive(index, conn, data);
        if (conn.joined) done();
      });
      ws.on('close', () => {
        done();
        if (conn.ws !== ws || this.closing) return;
        // Closed by the server (a slow consumer, a restart): come back like the SDK would.
        this.counters.closedByServer += 1;
        conn.ws = undefined;
        if (conn.joined) {
          conn.joined = false;
          this.joinedTotal -= 1;
        }
        setTimeout(() => void this.open(index), 100 + Math.random() * 900);
      });
      ws.on('error', () => done());
    });
  }

  private urlOf(globalIndex: number): string {
    const urls = this.config.wsUrls;
    return urls[globalIndex % urls.length] as string;
  }

  private sendJoin(conn: Conn): void {
    conn.ws?.send(encodeFrameEntry({ requestId: 2, body: { $case: 'joinRoom', value: { roomId: this.config.roomId, afterSeq: Math.max(0, conn.synced) } } }));
  }

  private decode(data: Buffer): Frame[] {
    for (const entry of this.cache) if (entry.bytes.length === data.length && entry.bytes.equals(data)) return entry.frames;
    const frames = decodePacket(data);
    this.cache.unshift({ bytes: data, frames });
    if (this.cache.length > 4) this.cache.pop();
    return frames;
  }

  private receive(index: number, conn: Conn, data: Buffer): void {
    const counters = this.counters;
    counters.packets += 1;
    counters.bytes += data.length;
    const now = Date.now();
    for (const frame of this.decode(data)) {
      const body = frame.body;
      if (body === undefined) continue;
      if (body.$case === 'roomBatch') {
        const batch = body.value;
        counters.deliveries += batch.events.length;
        counters.skipped += batch.skipped;
        for (const message of batch.reliable) this.reliable(conn, message.seq, message.createdAt, now);
      } else if (body.$case === 'roomJoined') {
        const lastSeq = body.value.room?.lastSeq ?? 0;
        for (const message of body.value.recent) this.reliable(conn, message.seq, message.createdAt, now);
        conn.synced = Math.max(conn.synced, lastSeq);
        if (!conn.joined) {
          conn.joined = true;
          this.joinedTotal += 1;
          if (this.storming && this.joinedTotal === this.viewers.length) this.stormWaiter?.();
        }
      } else if (body.$case === 'error') {
        const error = body.value;
        const wait = error.retryAfterMs * (1 + Math.random() * JITTER);
        if (frame.requestId === 1 && error.fatal) {
          // A refused hello: the server closes; come back after the hint.
          this.helloRefusals.push(error.retryAfterMs);
          const ws = conn.ws;
          conn.ws = undefined;
          ws?.terminate();
          setTimeout(() => void this.open(index), Math.max(wait, 10));
        } else if (frame.requestId === 2 && error.name === 'RATE_LIMITED') {
          setTimeout(() => this.sendJoin(conn), Math.max(wait, 10));
        }
      }
    }
  }

  private reliable(conn: Conn, seq: number, createdAt: number, now: number): void {
    if (conn.synced < 0 || seq <= conn.synced) {
      if (conn.synced < 0) conn.synced = seq;
      return;
    }
    if (seq > conn.synced + 1) this.counters.gaps += 1;
    conn.synced = seq;
    const latency = now - createdAt;
    const counters = this.counters;
    counters.deliveries += 1;
    counters.reliableLatencies.push(latency);
    const entry = counters.reliableBySeq[seq] ?? { within: 0, late: 0, byNode: this.config.wsUrls.map(() => 0) };
    counters.reliableBySeq[seq] = entry;
    entry.byNode[conn.node] = (entry.byNode[conn.node] ?? 0) + 1;
    if (latency <= RELIABLE_DEADLINE_MS) entry.within += 1;
    else entry.late += 1;
  }

  private async openSender(index: number): Promise<WebSocket> {
    const ws = new WebSocket(this.urlOf(this.config.firstSender + index), { perMessageDeflate: false, localAddress: this.config.sourceAddresses[0] });
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(encodeFrameEntry({ requestId: 1, body: { $case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, token: this.config.senderTokens[index] as string, client: 'bench-room-sender' } } }));
    ws.send(encodeFrameEntry({ requestId: 2, body: { $case: 'joinRoom', value: { roomId: this.config.roomId, afterSeq: 0 } } }));
    ws.on('message', (data: Buffer) => {
      for (const frame of this.decode(data)) if (frame.body?.$case === 'error' && frame.requestId > 2) this.counters.sendRefusals += 1;
    });
    return ws;
  }

  senders(on: boolean): void {
    clearInterval(this.sendTimer);
    this.sendTimer = undefined;
    if (!on) return;
    const perTick = (this.config.senderRate * SEND_INTERVAL_MS) / 1000;
    let carry = 0;
    let requestId = 3;
    const startedAt = performance.now();
    this.sendTimer = setInterval(() => {
      carry += perTick;
      const count = Math.floor(carry);
      carry -= count;
      for (const ws of this.senderSockets) {
        for (let n = 0; n < count; n++) {
          requestId = requestId >= 0x7fff_ffff ? 3 : requestId + 1;
          const text = `danmaku ${Math.round(performance.now() - startedAt)} ${requestId}`;
          ws.send(encodeFrameEntry({ requestId, body: { $case: 'roomEvent', value: { roomId: this.config.roomId, event: chat(text) } } }));
          this.counters.sent += 1;
        }
      }
    }, SEND_INTERVAL_MS);
  }

  takeCounters(): RoomCounters {
    const counters = { ...this.counters, viewersJoined: this.joinedTotal };
    this.counters = emptyCounters();
    return counters;
  }

  /** Every viewer drops its connection and comes back at once; resolves when all joined again. */
  async storm(): Promise<{ ms: number; refusals: number; maxHintMs: number; medianHintMs: number }> {
    this.storming = true;
    this.helloRefusals.length = 0;
    const startedAt = performance.now();
    const all = new Promise<void>((resolve) => {
      this.stormWaiter = resolve;
    });
    for (const conn of this.viewers) {
      const ws = conn.ws;
      conn.ws = undefined;
      if (conn.joined) {
        conn.joined = false;
        this.joinedTotal -= 1;
      }
      ws?.terminate();
    }
    for (let index = 0; index < this.viewers.length; index++) void this.open(index);
    await all;
    this.storming = false;
    const hints = [...this.helloRefusals].sort((a, b) => a - b);
    return { ms: performance.now() - startedAt, refusals: hints.length, maxHintMs: hints.at(-1) ?? 0, medianHintMs: hints[Math.floor(hints.length / 2)] ?? 0 };
  }

  private async untilAllJoined(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.joinedTotal < this.viewers.length) {
      if (performance.now() > deadline) throw new Error(`only ${this.joinedTotal} of ${this.viewers.length} viewers joined`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.closing = true;
    clearInterval(this.pingTimer);
    this.senders(false);
    for (const conn of this.viewers) conn.ws?.terminate();
    for (const ws of this.senderSockets) ws.terminate();
  }
}

function chat(text: string) {
  return { kind: RoomEventKind.ROOM_EVENT_KIND_CHAT, senderId: '', senderName: '', text, count: 0, customType: '', data: new Uint8Array(0) };
}

function emptyCounters(): RoomCounters {
  return { viewersJoined: 0, deliveries: 0, packets: 0, bytes: 0, skipped: 0, reliableLatencies: [], reliableBySeq: {}, gaps: 0, sent: 0, sendRefusals: 0, closedByServer: 0 };
}

/** The parent's end: a child process's IPC channel (the first message is the config). */
if (process.send !== undefined) {
  const send = (message: unknown) => process.send?.(message);
  let load: Load | undefined;
  process.on('message', (command: { type: string; on?: boolean; config?: RoomLoadConfig }) => {
    if (command.type === 'config') {
      load = new Load(command.config as RoomLoadConfig);
      return;
    }
    if (load === undefined) return;
    handle(load, command, send);
    if (command.type === 'close') setTimeout(() => process.exit(0), 100);
  });
}

function handle(load: Load, command: { type: string; on?: boolean }, post: (message: unknown) => void): void {
  switch (command.type) {
    case 'connect':
      load.connectAll().then(
        () => post({ type: 'connected' }),
        (error: unknown) => post({ type: 'failed', message: String(error) }),
      );
      break;
    case 'senders':
      load.senders(command.on === true);
      break;
    case 'counters':
      post({ type: 'counters', counters: load.takeCounters() });
      break;
    case 'storm':
      load.storm().then((result) => post({ type: 'stormed', result }));
      break;
    case 'close':
      load.close();
      post({ type: 'closed' });
      break;
  }
}
