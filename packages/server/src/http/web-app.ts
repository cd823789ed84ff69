/**
 * Serves a built single-page web app (a directory of static files, such as
 * @parley/web's dist) at `/`. The server does not know which app it serves:
 * whoever starts it passes `webRoot`.
 *
 * - Files under `/assets/` carry a content hash in their names (Vite's
 *   output): cached for a year, immutable.
 * - Everything else, index.html above all, is revalidated on every load
 *   (`no-cache`), so a new build is picked up at once.
 * - Any other GET path falls back to index.html, so that the app's own routes
 *   survive a reload — except the server's own prefixes (/v1, /dev, /ws,
 *   /healthz), which keep answering with JSON errors.
 */
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import { ParleyError } from '@parley/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Paths that belong to the server and never fall back to the app. */
const RESERVED_PREFIXES = ['/v1', '/dev', '/ws', '/healthz'];
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
/**
 * The app's pages load scripts and styles from this origin only and talk to
 * this origin only (REST and WebSocket): an injected script has nowhere to
 * come from and nowhere to send anything.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebAppOptions {
  /** Directory of the built app; must contain index.html. */
  root: string;
}

export async function registerWebApp(app: FastifyInstance, options: WebAppOptions): Promise<void> {
  const root = resolve(options.root);
  const index = await stat(resolve(root, 'index.html')).catch(() => undefined);
  if (index === undefined || !index.isFile()) throw new Error(`webRoot ${root} has no index.html (is the web app built?)`);

  await app.register(async (web) => {
    // serve: false — only reply.sendFile; routing and fallback are decided here.
    await web.register(fastifyStatic, { root, serve: false, cacheControl: false, dotfiles: 'deny', index: false });

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = requestPath(request);
      if (RESERVED_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) {
        throw new ParleyError('NOT_FOUND', `no route ${request.method} ${path}`);
      }
      const file = await existingFile(root, path);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      if (file?.startsWith('assets/')) {
        reply.header('cache-control', IMMUTABLE);
        return reply.sendFile(file);
      }
      if (file === undefined && path.startsWith('/assets/')) {
        // A stale page asking for an asset of an older build: a clear 404, not HTML.
        throw new ParleyError('NOT_FOUND', `no asset ${path}`);
      }
      const served = file ?? 'index.html';
      reply.header('cache-control', REVALIDATE);
      if (served.endsWith('.html')) reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      return reply.sendFile(served);
    };
    web.get('/', handler);
    web.get('/*', handler);
  });
}

function requestPath(request: FastifyRequest): string {
  const raw = request.url.split('?')[0] ?? '/';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ParleyError('INVALID_ARGUMENT', 'malformed path');
  }
}

/** The path relative to root of a regular file the URL names, or undefined; never anything outside root. */
async function existingFile(root: string, path: string): Promise<string | undefined> {
  if (path.includes('\0') || path.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  const absolute = resolve(root, `.${path}`);
  if (!absolute.startsWith(root + sep)) return undefined;
  const info = await stat(absolute).catch(() => undefined);
  if (info === undefined || !info.isFile()) return undefined;
  return absolute.slice(root.length + 1).split(sep).join('/');
}
