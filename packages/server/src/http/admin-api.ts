/**
 * The admin / integration REST API (JSON over HTTP). Every /v1 route needs
 * `Authorization: Bearer <admin key>`. Bodies are validated against JSON
 * schemas that reject unknown properties; errors are
 * `{ "error": { "code", "name", "message" } }` with the HTTP status of the
 * error table.
 */
import { ParleyError, errorInfo } from '@parley/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerLimits } from '../config.js';
import type { AuthService } from '../services/auth.js';
import type { ConversationService } from '../services/conversations.js';
import type { MessagingService } from '../services/messaging.js';
import type { ConversationView, StoredMessage } from '../services/model.js';
import type { UserService } from '../services/users.js';
import type { UserDirectory } from '../services/directory.js';
import { requireId, requireName } from '../services/validate.js';
import { readSystemEvent } from '../services/system-events.js';

export interface AdminApiDeps {
  auth: AuthService;
  users: UserService;
  directory: UserDirectory;
  messaging: MessagingService;
  conversations: ConversationService;
  limits: ServerLimits;
  health: () => Record<string, unknown>;
}

const ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$' } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 128 } as const;

function idList(max: number) {
  return { type: 'array', items: ID, maxItems: max } as const;
}

export function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps): void {
  const { auth, users, messaging, conversations, limits } = deps;

  app.setErrorHandler((error: unknown, _request, reply) => {
    sendError(reply, toParleyError(error));
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, new ParleyError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });

  // An empty body with a JSON content type is treated as no body, so
  // `curl -X POST -H 'content-type: application/json' .../tokens` works.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new ParleyError('INVALID_ARGUMENT', 'body is not valid JSON'), undefined);
    }
  });

  app.get('/healthz', async () => ({ status: 'ok', ...deps.health() }));

  app.register(async (v1) => {
    v1.addHook('onRequest', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      const key = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
      if (!auth.isAdminKey(key)) throw new ParleyError('UNAUTHENTICATED', 'admin key required (Authorization: Bearer <key>)');
    });

    v1.post<{ Body: { id: string; name?: string } }>(
      '/users',
      { schema: { body: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: ID, name: NAME } } } },
      async (request, reply) => {
        const id = requireId(request.body.id, 'id');
        const name = request.body.name === undefined ? id : requireName(request.body.name, 'name', limits);
        const { user, created } = await users.putUser(id, name);
        reply.code(created ? 201 : 200);
        return { id: user.id, name: user.name, createdAt: user.createdAt };
      },
    );

    // The user directory, page by page: `?query=` matches part of an id or name (ignoring case).
    v1.get<{ Querystring: { query?: string; limit?: string; after?: string } }>(
      '/users',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { query: { type: 'string', maxLength: 64 }, limit: { type: 'string', pattern: '^[0-9]{1,4}$' }, after: ID },
          },
        },
      },
      async (request) => {
        const { query = '', limit, after } = request.query;
        const page = await deps.directory.list(query, limit === undefined ? 0 : Number(limit), after);
        return { users: page.users.map((user) => ({ id: user.id, name: user.name, createdAt: user.createdAt })), nextAfter: page.nextAfter };
      },
    );

    v1.get<{ Params: { id: string } }>('/users/:id', async (request) => {
      const user = await users.getUser(request.params.id);
      if (user === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${request.params.id}`);
      return { id: user.id, name: user.name, createdAt: user.createdAt };
    });

    v1.post<{ Params: { id: string }; Body: { ttlSeconds?: number } | undefined }>(
      '/users/:id/tokens',
      {
        schema: {
          body: { type: ['object', 'null'], additionalProperties: false, properties: { ttlSeconds: { type: 'integer', minimum: 1, maximum: 31_536_000 } } },
        },
      },
      async (request, reply) => {
        const result = await auth.mintToken(requireId(request.params.id, 'id'), request.body?.ttlSeconds);
        reply.code(201);
        return result;
      },
    );

    v1.post<{ Params: { id: string } }>('/users/:id/revoke', async (request) => {
      const userId = requireId(request.params.id, 'id');
      await users.revokeTokens(userId);
      return { revoked: true };
    });

    v1.get<{ Params: { id: string } }>('/users/:id/conversations', async (request) => {
      const result = await messaging.sync(requireId(request.params.id, 'id'), 0);
      return { version: result.version, totalUnread: result.totalUnread, conversations: result.conversations.map(viewJson) };
    });

    v1.post<{ Body: { id?: string; name: string; ownerId: string; memberIds?: string[] } }>(
      '/groups',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'ownerId'],
            properties: { id: ID, name: NAME, ownerId: ID, memberIds: idList(limits.maxGroupMembers) },
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const view = await conversations.createGroup(body.ownerId, { id: body.id, name: body.name, memberIds: body.memberIds ?? [] });
        reply.code(201);
        return { id: view.id, name: view.name, ownerId: body.ownerId, memberCount: view.memberCount };
      },
    );

    v1.get<{ Params: { id: string } }>('/groups/:id/members', async (request) => {
      return { members: await conversations.members(undefined, request.params.id) };
    });

    v1.post<{ Params: { id: string }; Body: { userIds: string[] } }>(
      '/groups/:id/members',
      {
        schema: {
          body: { type: 'object', additionalProperties: false, required: ['userIds'], properties: { userIds: idList(limits.maxGroupMembers) } },
        },
      },
      async (request) => {
        const change = await conversations.updateMembers('', request.params.id, request.body.userIds, [], true);
        // seq: the members_added event's, where the added members' new window starts (0 when nobody was new).
        return { added: change.added, seq: change.messages[0]?.seq ?? 0 };
      },
    );

    v1.delete<{ Params: { id: string; userId: string } }>('/groups/:id/members/:userId', async (request) => {
      const change = await conversations.updateMembers('', request.params.id, [], [request.params.userId], true);
      // seq: the member_removed event's, the last the removed member may read.
      return { removed: change.removed, seq: change.messages[0]?.seq ?? 0 };
    });

    v1.patch<{ Params: { id: string }; Body: { name: string } }>(
      '/groups/:id',
      { schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: NAME } } } },
      async (request) => {
        await conversations.rename('', request.params.id, request.body.name, true);
        return { id: request.params.id, name: request.body.name.trim() };
      },
    );

    v1.post<{ Params: { id: string }; Body: { senderId: string; clientMsgId?: string; text?: string; data?: string; visibleTo?: string } }>(
      '/conversations/:id/messages',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['senderId'],
            properties: {
              senderId: ID,
              clientMsgId: { type: 'string', minLength: 1, maxLength: 64 },
              text: { type: 'string', maxLength: limits.maxTextChars },
              data: { type: 'string', maxLength: Math.ceil((limits.maxDataBytes * 4) / 3) + 4, contentEncoding: 'base64' },
              visibleTo: ID,
            },
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const result = await messaging.send(body.senderId, {
          conversationId: request.params.id,
          // Wall-clock time only helps make the id unique; nothing depends on its value.
          clientMsgId: body.clientMsgId ?? `api-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
          text: body.text,
          data: body.data === undefined ? undefined : Buffer.from(body.data, 'base64'),
          visibleTo: body.visibleTo,
        });
        reply.code(result.duplicate ? 200 : 201);
        return { message: messageJson(result.message), duplicate: result.duplicate };
      },
    );
  }, { prefix: '/v1' });
}

function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  const candidate = error as { validation?: unknown; statusCode?: number; code?: string; message?: string };
  if (candidate.validation !== undefined) return new ParleyError('INVALID_ARGUMENT', candidate.message ?? 'invalid request body');
  if (candidate.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || candidate.statusCode === 413) return new ParleyError('TOO_LARGE', 'request body too large');
  if (candidate.statusCode !== undefined && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    return new ParleyError('INVALID_ARGUMENT', candidate.message ?? 'bad request');
  }
  return new ParleyError('INTERNAL', 'internal error', { cause: error });
}

function sendError(reply: FastifyReply, error: ParleyError): void {
  if (error.codeName === 'INTERNAL') reply.log.error({ err: error.cause ?? error }, 'request failed');
  const info = errorInfo(error.code);
  if (error.retryAfterMs > 0) reply.header('retry-after', Math.ceil(error.retryAfterMs / 1000));
  void reply.code(info.httpStatus).send({ error: { code: error.code, name: info.name, message: error.message } });
}

function messageJson(message: StoredMessage) {
  if (message.type === 'system') {
    const { id, conversationId, seq, senderId, clientMsgId, type, createdAt } = message;
    return { id, conversationId, seq, senderId, clientMsgId, type, createdAt, system: readSystemEvent(message.data) };
  }
  return {
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    clientMsgId: message.clientMsgId,
    type: message.type,
    text: message.text,
    data: message.data === undefined ? undefined : Buffer.from(message.data).toString('base64'),
    visibleTo: message.visibleTo,
    createdAt: message.createdAt,
  };
}

function viewJson(view: ConversationView) {
  return { ...view, lastMessage: view.lastMessage === undefined ? undefined : messageJson(view.lastMessage) };
}
