/**
 * The webhooks in the admin REST API (under /v1, admin key required,
 * registered by admin-api.ts): the dispatcher's state, and the replay of
 * events from any point (docs/webhooks.md).
 */
import type { FastifyInstance } from 'fastify';
import type { WebhookStatus } from '../webhooks/dispatcher.js';
import type { WebhookFeed } from '../webhooks/feed.js';
import { queryNumber } from './schemas.js';

export interface WebhooksApiDeps {
  /** Absent when no webhook endpoint is configured. */
  status?: WebhookStatus;
  feed: WebhookFeed;
}

export function registerWebhooksApi(v1: FastifyInstance, { status, feed }: WebhooksApiDeps): void {
  v1.get('/webhooks', { schema: { summary: 'The webhook dispatcher as this node sees it', tags: ['webhooks'] } }, async () => (status === undefined ? { configured: false } : { configured: true, ...status }));

  v1.get<{ Querystring: { after?: string; limit?: string } }>(
    '/webhooks/events',
    {
      schema: {
        summary: 'Replay the webhook events after a cursor',
        tags: ['webhooks'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'string', maxLength: 300, description: 'a cursor from an event or from a previous page' },
            limit: queryNumber(4),
          },
        },
      },
    },
    async (request) => feed.page(request.query.after, request.query.limit === undefined ? 100 : Number(request.query.limit)),
  );
}
