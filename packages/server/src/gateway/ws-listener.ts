/**
 * WebSocket transport: binary messages on `/ws` of the HTTP server, one Packet
 * per message. permessage-deflate stays off (it costs ~300 KB per connection)
 * and maxPayload bounds what a client can make the server buffer.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Clock, ParleyError, type TimerHandle } from '@parley/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { unrefTimer } from '../util/timers.js';
import type { Gateway } from './gateway.js';
import type { WireConnection } from './session.js';

export const WEBSOCKET_PATH = '/ws';
/** How long a closing peer has to answer the close handshake before it is dropped. */
const CLOSE_GRACE_MS = 2000;

export class WebSocketListener {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();

  /**
   * `allowedOrigins`: browser origins allowed besides the server's own ('*' for any).
   * Requests without an Origin header come from native clients and are allowed.
   */
  constructor(
    private readonly httpServer: Server,
    private readonly gateway: Gateway,
    maxPayload: number,
    private readonly allowedOrigins: readonly string[],
    private readonly secure: boolean,
  ) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload, clientTracking: false });
    httpServer.on('upgrade', this.onUpgrade);
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!this.originAllowed(request)) {
      // Cross-site WebSocket hijacking: a page on another site must not open
      // connections in the name of whoever visits it.
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, request));
  };

  private originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.allowedOrigins.includes('*') || this.allowedOrigins.includes(origin)) return true;
    const host = request.headers.host;
    return host !== undefined && origin === `${this.secure ? 'https' : 'http'}://${host}`;
  }

  private onConnection(ws: WebSocket, request: IncomingMessage): void {
    const connection = new WebSocketConnection(ws, request.socket.remoteAddress ?? '', this.gateway.clock);
    const session = this.gateway.accept(connection);
    this.sockets.add(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        session.fail(new ParleyError('BAD_FRAME', 'text messages are not part of the protocol'));
        return;
      }
      session.onPacket(toBytes(data));
    });
    ws.on('close', () => {
      connection.closed();
      this.sockets.delete(ws);
      session.onTransportClosed();
    });
    // Oversized or malformed WebSocket frames: ws closes the socket (1009/1002).
    ws.on('error', () => session.onTransportClosed());
  }

  /** Stops accepting upgrades and drops the sockets still open (sessions already said goodbye). */
  close(): void {
    this.httpServer.off('upgrade', this.onUpgrade);
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    this.wss.close();
  }
}

const BINARY = { binary: true } as const;

/** A WebSocket as a session sees it. A class, not an object of closures: one per connection, so it is kept small. */
class WebSocketConnection implements WireConnection {
  readonly transport = 'ws';
  private graceTimer: TimerHandle | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly clock: Clock,
  ) {}

  write(packet: Uint8Array): void {
    this.ws.send(packet, BINARY);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  close(closeCode: number, reason: string): void {
    this.ws.close(closeCode, reason);
    this.graceTimer = this.clock.setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    unrefTimer(this.graceTimer);
  }

  destroy(): void {
    this.ws.terminate();
  }

  probe(answered: () => void): void {
    // Every WebSocket peer answers a ping (RFC 6455), after the frames before it.
    this.ws.once('pong', answered);
    this.ws.ping();
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  /** The socket closed: the grace timer has nothing left to do. */
  closed(): void {
    this.clock.clearTimeout(this.graceTimer);
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
