/**
 * Request ids and request-level logging of the HTTP API. A caller's own
 * `x-request-id` is kept, so a proxy's or a client's id follows the request
 * into Parley's logs; without one (or with one that is not a plain token)
 * the server makes one. Every response carries it back in the same header,
 * and every log line of the request has it as `requestId` (server.ts sets
 * fastify's genReqId and the log label). Requests slower than a second are
 * logged at info with their kind (method and route).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A caller's id is taken only when short and plain: it goes into every log line of the request. */
const PLAIN_ID = /^[\w.:@/+=-]{1,128}$/;
/** Requests answered later than this are logged at info (ms). */
const SLOW_REQUEST_MS = 1000;

/** For fastify's genReqId. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && PLAIN_ID.test(given) ? given : randomUUID();
}

/** What a log line calls the request: its method and route (`POST /v1/users/:id/tokens`). */
export function requestKind(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url}`;
}

/**
 * Returns each request's id to the caller (errors and 404s included) and
 * logs slow requests through `log`, at the server's level: fastify's own
 * logger only writes warnings unless the level is debug.
 */
export function registerRequestIds(app: FastifyInstance, log: Logger): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.elapsedTime > SLOW_REQUEST_MS) {
      log.info({ requestId: request.id, kind: requestKind(request), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'slow request');
    }
    done();
  });
}
