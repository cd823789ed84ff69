/**
 * The user's side of offline push, over HTTP beside the media channel
 * (docs/push.md): registering a browser for Web Push and choosing how much
 * notifications show. Every request names its user with
 * `Authorization: Bearer <access token>`, the token the WebSocket hello takes.
 *
 * - `GET /push/web`: whether Web Push is on, and the VAPID public key a
 *   browser subscribes with.
 * - `PUT /push/web/subscriptions`: register a browser (a PushSubscription's
 *   JSON); `DELETE` with `{ endpoint }` unregisters it.
 * - `GET|PUT /push/preferences`: the user's preview setting.
 */
import { ParleyError } from '@parley/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PushPreferences } from '../push/push-preferences.js';
import type { PushPreview } from '../push/push-service.js';
import type { WebPushSubscriptions } from '../push/web-push-subscriptions.js';
import type { AuthService } from '../services/auth.js';
import { bearerOf } from './conventions.js';
import { USER_TOKEN } from './openapi.js';

export const PUSH_PREFIX = '/push';

export interface PushApiDeps {
  auth: AuthService;
  /** undefined: Web Push is off on this server. */
  webPush: { publicKey: string; subscriptions: WebPushSubscriptions } | undefined;
  preferences: PushPreferences;
}

const BASE64URL = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+={0,2}$', description: 'base64url' } as const;
const ENDPOINT = { type: 'string', minLength: 1, maxLength: 1024, description: "the push service's https:// URL for this browser" } as const;
const PREVIEWS = ['full', 'sender', 'hidden'] as const;

export function registerPushApi(app: FastifyInstance, deps: PushApiDeps): void {
  const userFrom = async (request: FastifyRequest): Promise<string> => (await deps.auth.verifyToken(bearerOf(request.headers.authorization))).userId;
  const webPush = () => {
    if (deps.webPush === undefined) throw new ParleyError('NOT_FOUND', 'Web Push is off on this server');
    return deps.webPush;
  };

  app.get(
    `${PUSH_PREFIX}/web`,
    {
      schema: {
        summary: 'Whether Web Push is on, and the key browsers subscribe with',
        tags: ['push'],
        security: USER_TOKEN,
      },
    },
    async (request) => {
      await userFrom(request);
      return deps.webPush === undefined ? { enabled: false } : { enabled: true, publicKey: deps.webPush.publicKey };
    },
  );

  app.put<{ Body: { endpoint: string; keys: { p256dh: string; auth: string } } }>(
    `${PUSH_PREFIX}/web/subscriptions`,
    {
      schema: {
        summary: "Register this browser for the user's notifications (a PushSubscription's JSON)",
        tags: ['push'],
        security: USER_TOKEN,
        body: {
          type: 'object',
          required: ['endpoint', 'keys'],
          // expirationTime and whatever a browser adds are accepted and ignored.
          properties: {
            endpoint: ENDPOINT,
            keys: { type: 'object', required: ['p256dh', 'auth'], properties: { p256dh: BASE64URL, auth: BASE64URL } },
          },
        },
      },
    },
    async (request, reply) => {
      const userId = await userFrom(request);
      await webPush().subscriptions.register(userId, request.body);
      return reply.code(204).send();
    },
  );

  app.delete<{ Body: { endpoint: string } }>(
    `${PUSH_PREFIX}/web/subscriptions`,
    {
      schema: {
        summary: 'No more notifications to this browser',
        tags: ['push'],
        security: USER_TOKEN,
        body: { type: 'object', additionalProperties: false, required: ['endpoint'], properties: { endpoint: ENDPOINT } },
      },
    },
    async (request, reply) => {
      const userId = await userFrom(request);
      await webPush().subscriptions.unregister(userId, request.body.endpoint);
      return reply.code(204).send();
    },
  );

  app.get(
    `${PUSH_PREFIX}/preferences`,
    {
      schema: {
        summary: "How much the user's notifications show",
        tags: ['push'],
        security: USER_TOKEN,
      },
    },
    async (request) => {
      const userId = await userFrom(request);
      const { preview, deploymentDefault } = await deps.preferences.of(userId);
      return { preview: preview ?? null, deploymentDefault };
    },
  );

  app.put<{ Body: { preview: PushPreview | null } }>(
    `${PUSH_PREFIX}/preferences`,
    {
      schema: {
        summary: "Set how much the user's notifications show on every device (null: the deployment's setting)",
        tags: ['push'],
        security: USER_TOKEN,
        body: { type: 'object', additionalProperties: false, required: ['preview'], properties: { preview: { type: ['string', 'null'], enum: [...PREVIEWS, null] } } },
      },
    },
    async (request, reply) => {
      const userId = await userFrom(request);
      await deps.preferences.setPreview(userId, request.body.preview ?? undefined);
      return reply.code(204).send();
    },
  );
}
