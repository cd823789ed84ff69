/**
 * Node-only TCP and TLS transport: each Packet is preceded by its length as a
 * 4-byte big-endian integer (docs/protocol.md, "Transports and framing").
 * Imported only by the Node entry, never by the client core.
 */
import { Buffer } from 'node:buffer';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { LengthPrefixedReader, lengthPrefixed } from '@parley/protocol';
import type { Transport, TransportHandlers } from '../transport.js';

/**
 * The server announces its own maxFrameBytes for what it accepts, but what it
 * sends (a pull of 500 messages with data) can be far larger. This bound only
 * protects the client from a corrupt length prefix.
 */
const MAX_INCOMING_PACKET_BYTES = 64 * 1024 * 1024;

export interface TcpTransportOptions {
  /** Extra CA certificate(s) to trust for tls:// (a development CA). Default: system CAs only. */
  ca?: string | Uint8Array;
}

/** Opens `tcp://host:port` or `tls://host:port`. */
export function openTcpTransport(url: string, handlers: TransportHandlers, options: TcpTransportOptions = {}): Transport {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'tls:';
  const host = stripBrackets(parsed.hostname);
  const port = Number(parsed.port);

  let closed = false;
  const finish = (reason: string): void => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };

  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    queueMicrotask(() => finish(`${url} has no valid port`));
    return { send() {}, close() {} };
  }

  const socket: Socket = secure
    ? connectTls({
        host,
        port,
        servername: isIpAddress(host) ? undefined : host,
        ca: options.ca === undefined ? undefined : typeof options.ca === 'string' ? options.ca : Buffer.from(options.ca),
      })
    : connectTcp({ host, port });
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);

  const reader = new LengthPrefixedReader(MAX_INCOMING_PACKET_BYTES);
  socket.on(secure ? 'secureConnect' : 'connect', () => {
    if (!closed) handlers.onOpen();
  });
  socket.on('data', (chunk: Buffer) => {
    if (closed) return;
    let packets: Uint8Array[];
    try {
      packets = reader.push(chunk);
    } catch (error) {
      socket.destroy();
      finish(error instanceof Error ? error.message : 'unreadable stream');
      return;
    }
    for (const packet of packets) {
      if (closed) return;
      handlers.onPacket(packet);
    }
  });
  let lastError: Error | undefined;
  socket.on('error', (error) => {
    lastError = error;
  });
  socket.on('close', () => finish(lastError === undefined ? 'connection closed' : lastError.message));

  return {
    send(packet) {
      if (!closed) socket.write(lengthPrefixed(packet));
    },
    close() {
      if (closed) return;
      socket.end();
      // end() waits for the peer; a dead peer must not keep the socket around.
      setTimeout(() => socket.destroy(), 1000).unref();
      finish('closed by client');
    },
  };
}

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
