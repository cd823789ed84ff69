/**
 * The transport port: something that carries whole Packets (bytes) both ways.
 * The client core only sees this interface; runtime-specific entries (index.ts
 * for Node, browser.ts) pick an implementation. This module also holds the
 * WebSocket transport, which works with any injected WebSocket constructor
 * (the DOM one or `ws`), so it imports nothing runtime-specific.
 */
import { ParleyError } from '@parley/protocol';
import type { WebSocketLike } from './types.js';

export interface TransportHandlers {
  /** The transport is ready to carry packets. */
  onOpen(): void;
  /** One complete Packet arrived. */
  onPacket(packet: Uint8Array): void;
  /** Called exactly once, whether the transport opened or not. */
  onClose(reason: string): void;
}

export interface Transport {
  /** Sends one Packet. Ignored once closed. */
  send(packet: Uint8Array): void;
  /** Closes the transport; onClose follows (unless it already fired). */
  close(): void;
}

/** Opens a transport to the client's configured URL, reporting to the handlers. */
export type OpenTransport = (handlers: TransportHandlers) => Transport;

/** The URL's scheme ("ws:", "tcp:", ...); INVALID_ARGUMENT when it is not a URL. */
export function urlScheme(url: unknown): string {
  if (typeof url !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'url is required');
  try {
    return new URL(url).protocol;
  } catch {
    throw new ParleyError('INVALID_ARGUMENT', `not a URL: ${url}`);
  }
}

/** A WebSocket URL with the endpoint path defaulted to /ws. */
export function webSocketUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/ws';
  return parsed.toString();
}

/**
 * Carries one Packet per binary WebSocket message. `createSocket` builds the
 * socket so that Node can pass `ws` options (TLS CA, no permessage-deflate)
 * while browsers just call `new WebSocket(url)`.
 */
export function openWebSocketTransport(
  createSocket: (url: string) => WebSocketLike,
  url: string,
  handlers: TransportHandlers,
): Transport {
  let closed = false;
  const finish = (reason: string): void => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };

  let socket: WebSocketLike;
  try {
    socket = createSocket(webSocketUrl(url));
  } catch (error) {
    // Report asynchronously, like any other connection failure, so callers
    // never see onClose before open() returned.
    queueMicrotask(() => finish(`cannot open WebSocket: ${describe(error)}`));
    return { send() {}, close() {} };
  }
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => {
    if (!closed) handlers.onOpen();
  };
  socket.onmessage = (event) => {
    if (closed) return;
    const packet = toBytes(event.data);
    if (packet === undefined) {
      // The protocol allows binary messages only.
      socket.close(1003, 'binary messages only');
      finish('received a non-binary WebSocket message');
      return;
    }
    handlers.onPacket(packet);
  };
  // 'error' is always followed by 'close', which reports the outcome; `ws`
  // puts the cause (ECONNREFUSED, ...) on the error event only.
  let errorMessage: string | undefined;
  socket.onerror = (event) => {
    const message = typeof event === 'object' && event !== null ? (event as { message?: unknown }).message : undefined;
    if (typeof message === 'string' && message !== '') errorMessage = message;
  };
  socket.onclose = (event) =>
    finish(`WebSocket closed (${event.code}${event.reason ? ` ${event.reason}` : ''})${errorMessage ? `: ${errorMessage}` : ''}`);

  return {
    send(packet) {
      if (!closed) socket.send(packet);
    },
    close() {
      if (closed) return;
      try {
        socket.close(1000, 'client closing');
      } catch {
        // Closing a socket that is still connecting throws in some runtimes.
      }
      finish('closed by client');
    },
  };
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
