/**
 * What every HTTP route of the server has in common, so that each route only
 * says what is its own:
 *
 * - Bodies are JSON only (`application/json`): another or a missing content
 *   type on a request with a body is 415. The bytes must be valid UTF-8 and
 *   every string well-formed (no lone surrogates): nothing is silently
 *   replaced by U+FFFD and stored as if it had been sent. An empty body is
 *   no body.
 * - A method the path does not offer is 405 with `Allow`; a path nobody
 *   serves is 404, as a small HTML page for a browser and JSON for the rest.
 * - Under the strict prefixes (the admin API), a route that declares no query
 *   or body schema accepts none: an unknown parameter or field is refused by
 *   name rather than ignored.
 * - Every error is `{ "error": { "code", "name", "message" } }` with the
 *   HTTP status of the error table, and its message names the field in words.
 */
import { ParleyError, errorInfo } from '@parley/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { NO_FIELDS, NO_QUERY } from './schemas.js';
import { type SchemaViolation, describeViolation } from './schema-errors.js';
import { requestKind } from './request-ids.js';

/** A ParleyError answered with an HTTP status more precise than its code's own. */
/** The token of an `Authorization: Bearer <token>` header; '' when there is none. */
export function bearerOf(header: string | null | undefined): string {
  return header?.startsWith('Bearer ') ? header.slice(7) : '';
}

export class HttpStatusError extends ParleyError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super('INVALID_ARGUMENT', message);
  }
}

const JSON_ONLY = 'send the body as JSON with content-type: application/json';
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface HttpConventionsOptions {
  /** Routes under these prefixes accept no query parameter or body field they do not declare. */
  strictPrefixes: readonly string[];
  /** The server's own paths: answered in JSON even to a browser. */
  apiPrefixes: readonly string[];
}

export function underPrefix(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Call before any route is registered: the route hooks apply to routes added afterwards. */
export function registerHttpConventions(app: FastifyInstance, options: HttpConventionsOptions): void {
  const routes: { methods: Set<string>; path: RegExp }[] = [];

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((method) => method.toUpperCase());
    // Wildcard routes (the web app's fallback) answer any path, so they say nothing about which methods a path has.
    if (!route.url.includes('*')) routes.push({ methods: new Set(methods), path: routePattern(route.url) });
    if (underPrefix(route.url, options.strictPrefixes)) {
      route.schema ??= {};
      route.schema.querystring ??= NO_QUERY;
      if (methods.some((method) => BODY_METHODS.has(method))) route.schema.body ??= NO_FIELDS;
    }
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: unknown, _request, reply) => sendError(reply, toParleyError(error)));

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = new Set<string>();
    for (const route of routes) if (route.path.test(path)) for (const method of route.methods) allowed.add(method);
    if (allowed.size > 0 && !allowed.has(request.method)) {
      if (allowed.has('GET')) allowed.add('HEAD');
      const allow = [...allowed].sort().join(', ');
      sendError(reply, new HttpStatusError(405, `${request.method} is not allowed on ${path}; allowed: ${allow}`, { allow }));
      return;
    }
    if (prefersHtml(request) && !underPrefix(path, options.apiPrefixes)) {
      void reply.code(404).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(notFoundPage(path));
      return;
    }
    sendError(reply, new ParleyError('NOT_FOUND', `no route ${request.method} ${path}`));
  });
}

/** For Fastify's `frameworkErrors` option: errors raised before routing (a malformed URL) get the same shape. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') {
    sendError(reply, new ParleyError('INVALID_ARGUMENT', 'the URL is not valid: a % must start a two-digit hex escape'));
    return;
  }
  sendError(reply, toParleyError(error));
}

function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new ParleyError('INVALID_ARGUMENT', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ParleyError('INVALID_ARGUMENT', `the body is not valid JSON (${(error as Error).message})`);
  }
  const malformed = findMalformedString(value, '');
  if (malformed !== undefined) {
    throw new ParleyError('INVALID_ARGUMENT', `${malformed === '' ? 'the body' : `field "${malformed}"`} holds a lone UTF-16 surrogate (\\ud800-\\udfff escape without its pair)`);
  }
  return value;
}

/** A lone surrogate matches \p{Cs} only when unpaired: a well-formed pair is one code point. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The path of the first string (or key) in `value` that is not well-formed UTF-16, if any. */
function findMalformedString(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = findMalformedString(value[index], `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (LONE_SURROGATE.test(key)) return childPath;
      const found = findMalformedString(child, childPath);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  const candidate = error as { validation?: SchemaViolation[]; validationContext?: string; statusCode?: number; code?: string; message?: string };
  if (candidate.validation !== undefined) {
    const first = candidate.validation[0];
    return new ParleyError('INVALID_ARGUMENT', first === undefined ? 'the request is not valid' : describeViolation(candidate.validationContext ?? 'body', first));
  }
  if (candidate.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || candidate.statusCode === 413) return new ParleyError('TOO_LARGE', 'request body too large');
  if (candidate.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || candidate.statusCode === 415) return new HttpStatusError(415, JSON_ONLY);
  if (candidate.statusCode !== undefined && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    return new ParleyError('INVALID_ARGUMENT', candidate.message ?? 'bad request');
  }
  return new ParleyError('INTERNAL', 'internal error', { cause: error });
}

export function sendError(reply: FastifyReply, error: ParleyError): void {
  if (error.codeName === 'INTERNAL') reply.log.error({ err: error.cause ?? error, kind: requestKind(reply.request) }, 'request failed');
  const info = errorInfo(error.code);
  if (error.retryAfterMs > 0) reply.header('retry-after', Math.ceil(error.retryAfterMs / 1000));
  let status = info.httpStatus;
  if (error instanceof HttpStatusError) {
    status = error.status;
    for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  }
  void reply.code(status).send({
    error: {
      code: error.code,
      name: info.name,
      message: error.message,
      ...(error.reason === '' ? {} : { reason: error.reason }),
      // The same hint a WebSocket error carries, in ms (Retry-After rounds it up to seconds).
      ...(error.retryAfterMs > 0 ? { retryAfterMs: error.retryAfterMs } : {}),
    },
  });
}

/** `/v1/users/:id/tokens` → a regex matching concrete paths of that route. */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

function prefersHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return request.method === 'GET' && accept.includes('text/html');
}

function notFoundPage(path: string): string {
  const escaped = path.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Not found</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem">
<h1>Not found</h1>
<p>Nothing is served at <code>${escaped}</code>.</p>
<p><a href="/">Go to the start page</a></p>
</body></html>
`;
}
