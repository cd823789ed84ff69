/**
 * @parley/client for browsers (and any runtime with a standard WebSocket).
 * Same ParleyClient API as the Node entry, over `ws://` / `wss://` only, using
 * globalThis.WebSocket or an injected constructor. Imports nothing from Node.
 */
import { ParleyError } from '@parley/protocol';
import { ParleyClient as ParleyClientCore } from './client.js';
import { openWebSocketTransport, urlScheme, type OpenTransport } from './transport.js';
import type { ParleyClientOptions, WebSocketConstructorLike } from './types.js';

export class ParleyClient extends ParleyClientCore {
  constructor(options: ParleyClientOptions) {
    super(options, browserTransport(options));
  }
}

function browserTransport(options: ParleyClientOptions): OpenTransport {
  const scheme = urlScheme(options?.url);
  if (scheme !== 'ws:' && scheme !== 'wss:') {
    throw new ParleyError('INVALID_ARGUMENT', `unsupported URL scheme ${scheme} (browsers support ws and wss)`);
  }
  const global = globalThis as { WebSocket?: WebSocketConstructorLike };
  const WebSocketConstructor = options.WebSocket ?? global.WebSocket;
  if (typeof WebSocketConstructor !== 'function') {
    throw new ParleyError('INVALID_ARGUMENT', 'no WebSocket in this runtime: pass options.WebSocket');
  }
  return (handlers) => openWebSocketTransport((url) => new WebSocketConstructor(url), options.url, handlers);
}

// The public names besides ParleyClient, the same for every runtime.
export * from './public.js';
