/**
 * The OpenAPI document of the HTTP API and the page that renders it.
 *
 * The document is made from the routes themselves: @fastify/swagger records
 * every route as it is registered, with the JSON schemas that validate its
 * body, query and path, so what it says a request may hold is what the server
 * accepts, and a new route shows up without anyone writing it down twice.
 * Each route adds what only it knows to its schema: a `summary`, its `tags`,
 * and a `security` when it is not behind the admin key (PUBLIC, USER_TOKEN).
 *
 * Response bodies are not described by schemas: fastify serializes replies
 * with a route's response schema and silently drops every field the schema
 * leaves out. They are described in docs/protocol.md; the document only adds
 * the error envelope, which one function writes for every route.
 *
 * `/v1/openapi.json` and the page at `/v1/docs` (Swagger UI, served from this
 * server: no CDN, and a policy that lets the page load nothing from elsewhere)
 * need no admin key: they describe the API and hold no secret.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { allErrors } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';

const OPENAPI_PATH = '/v1/openapi.json';
const DOCS_PATH = '/v1/docs';

/** The `security` of a route anyone may call. */
export const PUBLIC = [] as const;
/** The `security` of a route that takes a user's access token (the one the WebSocket hello takes). */
export const USER_TOKEN = [{ userToken: [] }] as const;

/** The areas of the API: every route names one in its `tags`. */
const TAGS = [
  { name: 'users', description: 'Users, their tokens, passwords, presence and conversation lists.' },
  { name: 'conversations', description: 'Groups, their members, and the history of any conversation.' },
  { name: 'rooms', description: 'Live rooms: creation, admins, mutes, closing.' },
  { name: 'overview', description: 'The whole cluster as the answering node sees it (the admin dashboard).' },
  { name: 'webhooks', description: 'The webhook dispatcher and the replay of its events (docs/webhooks.md).' },
  { name: 'media', description: "Uploads (tus) and downloads of photos, files, voice and video, with a user's token (docs/media.md)." },
  { name: 'push', description: "A user's offline notifications: Web Push registration of a browser and the preview setting, with the user's token (docs/push.md)." },
  { name: 'search', description: "Full-text search of the messages a user may read, with the user's token (docs/search.md)." },
  { name: 'dev', description: 'Development-only sign-up and sign-in; off in real deployments.' },
  { name: 'operations', description: 'Liveness, readiness and metrics, for the people running Parley.' },
  { name: 'openapi', description: 'This document.' },
];

/** What sendError (conventions.ts) answers, on every route. */
const ERROR_ENVELOPE = {
  type: 'object' as const,
  required: ['error'],
  properties: {
    error: {
      type: 'object' as const,
      required: ['code', 'name', 'message'],
      properties: {
        code: { type: 'integer' as const, enum: allErrors().map((info) => info.code), description: 'The stable error code (docs/protocol.md, Error codes).' },
        name: { type: 'string' as const, enum: allErrors().map((info) => info.name) },
        message: { type: 'string' as const, description: 'For people and logs; never parse it.' },
        reason: { type: 'string' as const, description: "REJECTED only: the deployment's word for why." },
        retryAfterMs: { type: 'integer' as const, description: 'RATE_LIMITED and UNAVAILABLE: how long to wait before trying again (also in Retry-After, in seconds).' },
      },
    },
  },
};

/** What @fastify/swagger puts for a route without response schemas. */
const PLACEHOLDER_RESPONSE = 'Default Response';

const RESPONSES = {
  '2XX': { description: 'Success. The body of each route is described in docs/protocol.md (REST API).' },
  default: { description: 'An error, with the HTTP status of its code.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
};

/**
 * Call after registerHttpConventions and before any route: the document
 * holds the routes registered after this.
 */
export async function registerOpenApi(app: FastifyInstance, { version }: { version: string }): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema, so the request schemas go in as they are (`type: ['object', 'null']` included).
      openapi: '3.1.0',
      info: {
        title: 'Parley HTTP API',
        version,
        description:
          'The admin / integration API of a Parley server, and the HTTP routes beside it. Request bodies, query strings and paths are described by the schemas the server validates them with; response bodies are described in docs/protocol.md (REST API).',
      },
      tags: TAGS,
      components: {
        securitySchemes: {
          adminKey: { type: 'http', scheme: 'bearer', description: 'The admin key: PARLEY_ADMIN_KEY, or the one generated into the data folder (admin-key).' },
          userToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's access token, from POST /v1/users/{id}/tokens." },
        },
        schemas: { Error: ERROR_ENVELOPE },
      },
      // Every route is behind the admin key unless its schema says otherwise.
      security: [{ adminKey: [] }],
    },
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      const { openapiObject } = documentObject;
      for (const operations of Object.values(openapiObject.paths ?? {})) {
        for (const operation of Object.values(operations ?? {})) {
          const responses = (operation as { responses?: Record<string, { description?: string }> }).responses;
          const placeholderOnly = responses !== undefined && Object.keys(responses).length === 1 && responses['200']?.description === PLACEHOLDER_RESPONSE;
          if (placeholderOnly) (operation as { responses: unknown }).responses = RESPONSES;
        }
      }
      return openapiObject;
    },
  });

  app.get(OPENAPI_PATH, { schema: { summary: 'This OpenAPI document', tags: ['openapi'], security: PUBLIC } }, async () => app.swagger());

  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PATH,
    theme: { title: 'Parley HTTP API' },
    uiConfig: { deepLinking: true },
    // Swagger UI sets styles on elements as it renders; scripts, data and everything else come from this origin only.
    staticCSP: {
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self' 'unsafe-inline'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    },
  });
}
