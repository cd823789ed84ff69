/**
 * Serves a built single-page web app (a directory of static files, such as
 * @parley/web's dist) at `/`. The server does not know which app it serves:
 * whoever starts it passes `webRoot`.
 *
 * - Files under `/assets/` carry a content hash in their names (Vite's
 *   output): cached for a year, immutable.
 * - Everything else, index.html and the app's service worker (`/sw.js`)
 *   above all, is revalidated on every load (`no-cache`), so a new build is
 *   picked up at once.
 * - `/` is index.html. The app keeps its own routes in the URL hash
 *   (`#/c/<id>`), which never reaches the server, so any other path that is
 *   not a file is a plain 404 (conventions.ts: HTML for a browser, JSON for
 *   the server's own prefixes and for everyone else).
 */
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import { ParleyError } from '@parley/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
const JAVASCRIPT = 'text/javascript; charset=utf-8';
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
  // blob: so the app can play a recording, or measure a video, before sending it.
  "media-src 'self' blob:",
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

    // @fastify/static sets the type after the handler, as `send` names it
    // (application/javascript); RFC 9239 made text/javascript JavaScript's one
    // type, the one a service worker's script (the app's /sw.js) is served with.
    web.addHook('onSend', async (_request, reply, payload) => {
      const type = reply.getHeader('content-type');
      if (typeof type === 'string' && type.startsWith('application/javascript')) reply.header('content-type', JAVASCRIPT);
      return payload;
    });

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = requestPath(request);
      const file = path === '/' ? 'index.html' : await existingFile(root, path);
      // Also a stale page asking for an asset of an older build: a clear 404, not the app.
      if (file === undefined) return reply.callNotFound();
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      if (file.startsWith('assets/')) {
        reply.header('cache-control', IMMUTABLE);
        return reply.sendFile(file);
      }
      reply.header('cache-control', REVALIDATE);
      if (file.endsWith('.html')) reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      return reply.sendFile(file);
    };
    // Pages and files, not API routes: left out of the OpenAPI document (openapi.ts).
    web.get('/', { schema: { hide: true } }, handler);
    web.get('/*', { schema: { hide: true } }, handler);
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
