/**
 * @parley/client for Node.js. ParleyClient here is the core client with Node
 * transports plugged in: `ws://` and `wss://` through the `ws` package, and
 * `tcp://host:port` / `tls://host:port` through node:net and node:tls with
 * length-prefixed packets. Everything else in the public surface is re-exported
 * from the runtime-independent modules.
 */
import { Buffer } from 'node:buffer';
import { ParleyError } from '@parley/protocol';
import { WebSocket as NodeWebSocket } from 'ws';
import { ParleyClient as ParleyClientCore } from './client.js';
import { openWebSocketTransport, urlScheme, type OpenTransport } from './transport.js';
import { openTcpTransport } from './transports/tcp.js';
import type { ParleyClientOptions, WebSocketLike } from './types.js';

export class ParleyClient extends ParleyClientCore {
  constructor(options: ParleyClientOptions) {
    super(options, nodeTransport(options));
  }
}

function nodeTransport(options: ParleyClientOptions): OpenTransport {
  const scheme = urlScheme(options?.url);
  const ca = options.tls?.ca;
  switch (scheme) {
    case 'ws:':
    case 'wss:': {
      const Injected = options.WebSocket;
      const createSocket =
        Injected !== undefined
          ? (url: string): WebSocketLike => new Injected(url)
          : (url: string): WebSocketLike =>
              // The protocol forbids permessage-deflate; ws would offer it by default.
              new NodeWebSocket(url, {
                perMessageDeflate: false,
                ca: ca === undefined || typeof ca === 'string' ? ca : Buffer.from(ca),
              });
      return (handlers) => openWebSocketTransport(createSocket, options.url, handlers);
    }
    case 'tcp:':
    case 'tls:':
      return (handlers) => openTcpTransport(options.url, handlers, ca === undefined ? {} : { ca });
    default:
      throw new ParleyError('INVALID_ARGUMENT', `unsupported URL scheme ${scheme} (use ws, wss, tcp or tls)`);
  }
}

// The public names besides ParleyClient, the same for every runtime.
export * from './public.js';
