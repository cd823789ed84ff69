/**
 * @parley/client for browsers (and any runtime with a standard WebSocket).
 * Same ParleyClient API as the Node entry, over `ws://` / `wss://` only, using
 * globalThis.WebSocket or an injected constructor. Imports nothing from Node.
 */
import { ParleyError } from '@parley/protocol';
import { ParleyClient as ParleyClientCore } from './client.js';
import { openWebSocketTransport, urlScheme, type OpenTransport } from './transport.js';
import { Upload } from 'tus-js-client';
import type { OpenedSource, TusUploadConstructor } from './media.js';
import type { MediaSource, ParleyClientOptions, WebSocketConstructorLike } from './types.js';

/**
 * Larger files are not hashed: the browser has no streaming SHA-256, and
 * reading a large video whole into memory is too much for a phone. They are
 * resumed, but not recognised as uploaded before.
 */
const MAX_HASHED_BYTES = 64 * 1024 * 1024;

export class ParleyClient extends ParleyClientCore {
  constructor(options: ParleyClientOptions) {
    super(options, browserTransport(options), { openSource: openBrowserSource, Upload: Upload as unknown as TusUploadConstructor, prefetchVideo: !saveData() });
  }
}

async function openBrowserSource(source: MediaSource): Promise<OpenedSource> {
  if (typeof source === 'string') throw new ParleyError('INVALID_ARGUMENT', 'browsers upload Blobs and Files, not paths');
  const blob = source instanceof Uint8Array ? new Blob([source as Uint8Array<ArrayBuffer>]) : source;
  const fileName = 'name' in blob && typeof blob.name === 'string' ? blob.name : '';
  let sha256 = '';
  if (blob.size <= MAX_HASHED_BYTES) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
    sha256 = Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }
  return { input: blob, size: blob.size, fileName, sha256 };
}

/** The Network Information API's data-saver flag (Chromium); false where it is missing. */
function saveData(): boolean {
  const connection = (globalThis as { navigator?: { connection?: { saveData?: boolean } } }).navigator?.connection;
  return connection?.saveData === true;
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
// Browser-only: the local cache in IndexedDB.
export { IndexedDbCache } from './cache/indexeddb-cache.js';
// Browser-only: subscribing a service worker to the server's Web Push.
export {
  disableWebPush,
  enableWebPush,
  webPushState,
  type WebPushClient,
  type WebPushResult,
  type WebPushState,
} from './web-push-browser.js';
