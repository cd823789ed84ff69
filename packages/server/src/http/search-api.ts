/**
 * Message search over HTTP (docs/search.md), with the user's access token
 * like the push and media routes: `Authorization: Bearer <access token>`.
 *
 * - `GET /search/messages?q=…&conversation_id=…&cursor=…&limit=…`: the
 *   messages the user may read that hold every word of `q`, newest first,
 *   each with a snippet and the ranges of the matches in it.
 *
 * The rules (who finds what, what matches, paging, highlights) are the
 * SearchService's; this module adds the route and a per-user rate limit
 * (searches are the most expensive read a user can ask for at will).
 */
import type { Clock } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../services/auth.js';
import type { SearchService } from '../services/search.js';
import { SEARCH_LIMITS } from '../services/search.js';
import { KeyedLimiter } from '../util/keyed-limiter.js';
import { bearerOf } from './conventions.js';
import { messageJson } from './message-json.js';
import { USER_TOKEN } from './openapi.js';
import { CONVERSATION_ID, queryNumber } from './schemas.js';

export const SEARCH_PREFIX = '/search';

/** Searches per user per minute on one node, all of them at once if need be. */
export const SEARCHES_PER_MINUTE = 30;

export interface SearchApiDeps {
  auth: AuthService;
  search: SearchService;
  /** The rate limit refills in this clock's time. */
  clock: Clock;
}

interface SearchQueryString {
  q: string;
  conversation_id?: string;
  cursor?: string;
  limit?: string;
}

export function registerSearchApi(app: FastifyInstance, deps: SearchApiDeps): void {
  const limiter = new KeyedLimiter(SEARCHES_PER_MINUTE, deps.clock, 'too many searches, search again shortly');

  app.get<{ Querystring: SearchQueryString }>(
    `${SEARCH_PREFIX}/messages`,
    {
      schema: {
        summary: 'Find the messages the user may read that hold every word of q, newest first',
        tags: ['search'],
        security: USER_TOKEN,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['q'],
          properties: {
            // Bounded again by the domain after trimming (1-128 characters).
            q: { type: 'string', maxLength: 1024, description: `the words to find, ${SEARCH_LIMITS.maxQueryChars} characters at most; the last word matches as a prefix` },
            conversation_id: { ...CONVERSATION_ID, description: 'only this conversation' },
            cursor: { type: 'string', maxLength: 64, description: "the previous page's nextCursor" },
            limit: { ...queryNumber(2), description: `hits per page, 1-${SEARCH_LIMITS.maxLimit} (default ${SEARCH_LIMITS.defaultLimit})` },
          },
        },
      },
    },
    async (request) => {
      const { userId } = await deps.auth.verifyToken(bearerOf(request.headers.authorization));
      limiter.take(userId);
      const { q, conversation_id: conversationId, cursor, limit } = request.query;
      const page = await deps.search.search({ userId, text: q, conversationId, cursor, limit: limit === undefined ? undefined : Number(limit) });
      return {
        hits: page.hits.map((hit) => ({
          conversationId: hit.message.conversationId,
          message: messageJson(hit.message),
          snippet: hit.snippet,
          highlights: hit.highlights,
        })),
        nextCursor: page.nextCursor,
      };
    },
  );
}
