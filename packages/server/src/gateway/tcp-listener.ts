/**
 * Raw TCP transport for native and IoT clients: each Packet is preceded by a
 * 4-byte big-endian length. An oversized length prefix is rejected before any
 * buffer is allocated for it.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TlsOptions as NodeTlsOptions } from 'node:tls';
import { LengthPrefixedReader, ParleyError, type TimerHandle } from '@parley/protocol';
import { socketServer } from '../util/socket-server.js';
import { unrefTimer } from '../util/timers.js';
import type { Gateway } from './gateway.js';
import type { WireConnection } from './session.js';

/** How long a peer has to close its side after the server's FIN before it is dropped. */
const CLOSE_GRACE_MS = 2000;

/**
 * Connections the kernel may hold waiting to be accepted (capped by
 * net.core.somaxconn). Node's default of 511 drops the SYNs of a reconnect
 * storm, and each dropped client waits out TCP's retransmission backoff
 * (1, 3, 7, 15, 31 s …): twenty thousand clients took two minutes to be back.
 */
export const LISTEN_BACKLOG = 16_384;

export class TcpListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** With `tls`, the listener speaks TLS (tls:// URLs); handshakes are bounded by handshakeTimeout. */
  constructor(
    private readonly gateway: Gateway,
    private readonly maxPacketBytes: number,
    tls?: NodeTlsOptions & { handshakeTimeout: number },
  ) {
    this.server = socketServer(tls, (socket) => this.onConnection(socket));
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    const clock = this.gateway.clock;
    let graceTimer: TimerHandle | undefined;
    const connection: WireConnection = {
      transport: 'tcp',
      remoteAddress: socket.remoteAddress ?? '',
      write: (packet) => {
        const prefix = Buffer.allocUnsafe(4);
        prefix.writeUInt32BE(packet.length, 0);
        socket.cork();
        socket.write(prefix);
        socket.write(packet);
        socket.uncork();
      },
      bufferedBytes: () => socket.writableLength,
      pauseReading: () => socket.pause(),
      resumeReading: () => socket.resume(),
      close: () => {
        socket.end();
        graceTimer = clock.setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
        unrefTimer(graceTimer);
      },
      destroy: () => socket.destroy(),
    };
    const session = this.gateway.accept(connection);
    const reader = new LengthPrefixedReader(this.maxPacketBytes);
    socket.on('data', (chunk) => {
      let packets: Uint8Array[];
      try {
        packets = reader.push(chunk);
      } catch (error) {
        socket.pause();
        session.fail(error instanceof ParleyError ? error : new ParleyError('BAD_FRAME', 'malformed stream'));
        return;
      }
      for (const packet of packets) session.onPacket(packet);
    });
    socket.on('close', () => {
      clock.clearTimeout(graceTimer);
      this.sockets.delete(socket);
      session.onTransportClosed();
    });
    socket.on('error', () => socket.destroy());
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
