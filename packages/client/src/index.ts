/**
 * @parley/client for Node.js. ParleyClient here is the core client with Node
 * transports plugged in: `ws://` and `wss://` through the `ws` package, and
 * `tcp://host:port` / `tls://host:port` through node:net and node:tls with
 * length-prefixed packets. Everything else in the public surface is re-exported
 * from the runtime-independent modules.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ParleyError } from '@parley/protocol';
import { WebSocket as NodeWebSocket } from 'ws';
import { ParleyClient as ParleyClientCore } from './client.js';
import { Upload } from 'tus-js-client';
import type { OpenedSource, TusUploadConstructor } from './media.js';
import { openWebSocketTransport, urlScheme, type OpenTransport } from './transport.js';
import { openTcpTransport } from './transports/tcp.js';
import type { MediaSource, ParleyClientOptions, WebSocketLike } from './types.js';

export class ParleyClient extends ParleyClientCore {
  constructor(options: ParleyClientOptions) {
    super(options, nodeTransport(options), { openSource: openNodeSource, Upload: Upload as unknown as TusUploadConstructor, prefetchVideo: true });
  }
}

/** A path is streamed twice (hash, then upload) and never read whole; bytes and Blobs are hashed in memory. */
async function openNodeSource(source: MediaSource): Promise<OpenedSource> {
  if (typeof source === 'string') {
    const info = await stat(source).catch((cause: unknown) => {
      throw new ParleyError('INVALID_ARGUMENT', `cannot read ${source}`, { cause });
    });
    if (!info.isFile()) throw new ParleyError('INVALID_ARGUMENT', `${source} is not a file`);
    const hash = createHash('sha256');
    await pipeline(createReadStream(source), hash);
    // tus-js-client reads a file stream by its path, so a resumed upload rereads from the offset.
    return { input: createReadStream(source), size: info.size, fileName: basename(source), sha256: hash.digest('hex') };
  }
  const bytes = source instanceof Uint8Array ? Buffer.from(source.buffer, source.byteOffset, source.byteLength) : Buffer.from(await source.arrayBuffer());
  const fileName = typeof Blob !== 'undefined' && source instanceof Blob && 'name' in source && typeof source.name === 'string' ? source.name : '';
  return { input: bytes, size: bytes.length, fileName, sha256: createHash('sha256').update(bytes).digest('hex') };
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
// Node-only: the local cache in files.
export { FileCache } from './cache/file-cache.js';
