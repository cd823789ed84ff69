/**
 * The admin / integration REST API (JSON over HTTP). Every /v1 route needs
 * `Authorization: Bearer <admin key>`. What all routes share (JSON bodies
 * only, unknown fields refused by name, 405/415, the error shape) is in
 * conventions.ts; this module holds the routes.
 *
 * Group changes made here act as the operator. An optional `actorId` names
 * the user on whose behalf the change is made (a marketplace's backend adding
 * a buyer for the seller): the system event then carries that actor, and
 * clients show "sam added dana" instead of "dana was added".
 */
import { PASSWORD_LENGTH, ParleyError } from '@parley/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerLimits } from '../config.js';
import type { AuthService } from '../services/auth.js';
import { ATTRIBUTE_LIMITS, type ConversationService } from '../services/conversations.js';
import type { DevAccountService } from '../services/dev-accounts.js';
import type { MessagingService } from '../services/messaging.js';
import type { ConversationView } from '../services/model.js';
import type { UserService } from '../services/users.js';
import type { UserDirectory } from '../services/directory.js';
import { requireId, requireName } from '../services/validate.js';
import { decodeBase64Field } from './base64.js';
import { CONTENT_SCHEMA, type ContentBody, contentFromJson } from './content-json.js';
import { messageJson } from './message-json.js';
import { type OverviewApiDeps, registerOverviewApi } from './overview-api.js';
import { type RoomsApiDeps, registerRoomsApi } from './rooms-api.js';
import { type WebhooksApiDeps, registerWebhooksApi } from './webhooks-api.js';
import { CONVERSATION_ID, ID, NAME, idList, queryNumber } from './schemas.js';
import { PUBLIC } from './openapi.js';

export interface AdminApiDeps {
  auth: AuthService;
  users: UserService;
  directory: UserDirectory;
  messaging: MessagingService;
  conversations: ConversationService;
  /** Passwords for the development sign-in (/dev), set by an operator. */
  accounts: DevAccountService;
  limits: ServerLimits;
  health: () => Promise<Record<string, unknown>>;
  /** Live rooms (rooms-api.ts). */
  rooms: RoomsApiDeps;
  /** The cluster overview (overview-api.ts). */
  overview: Omit<OverviewApiDeps, 'conversations'>;
  /** Webhook state and replay (webhooks-api.ts). */
  webhooks: WebhooksApiDeps;
}

const USER_PATH = { type: 'object', properties: { id: ID } } as const;
const GROUP_PATH = { type: 'object', properties: { id: ID } } as const;
/** Who a group change is made for; absent or empty: the operator, unnamed. */
const ACTOR = { actorId: ID } as const;

export function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps): void {
  const { auth, users, messaging, conversations, limits } = deps;

  app.get('/healthz', { schema: { summary: 'Liveness, with counts of users and connections', tags: ['operations'], security: PUBLIC } }, async () => ({
    status: 'ok',
    ...(await deps.health()),
  }));

  app.register(
    async (v1) => {
      v1.addHook('onRequest', async (request: FastifyRequest) => {
        const header = request.headers.authorization;
        const key = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
        if (!auth.isAdminKey(key)) throw new ParleyError('UNAUTHENTICATED', 'admin key required (Authorization: Bearer <key>)');
      });

      registerRoomsApi(v1, deps.rooms);
      registerWebhooksApi(v1, deps.webhooks);
      registerOverviewApi(v1, { ...deps.overview, conversations });

      v1.post<{ Body: { id: string; name?: string } }>(
        '/users',
        {
          schema: {
            summary: 'Create a user, or rename one',
            tags: ['users'],
            body: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: ID, name: NAME } },
          },
        },
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
            summary: 'Users whose id or name contains a text, page by page',
            tags: ['users'],
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: { query: { type: 'string', maxLength: 64 }, limit: queryNumber(4), after: ID },
            },
          },
        },
        async (request) => {
          const { query = '', limit, after } = request.query;
          const page = await deps.directory.list(query, limit === undefined ? 0 : Number(limit), after);
          return { users: page.users.map((user) => ({ id: user.id, name: user.name, createdAt: user.createdAt })), nextAfter: page.nextAfter };
        },
      );

      v1.get<{ Params: { id: string } }>('/users/:id', { schema: { summary: 'A user', tags: ['users'], params: USER_PATH } }, async (request) => {
        const user = await users.getUser(request.params.id);
        if (user === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${request.params.id}`);
        return { id: user.id, name: user.name, createdAt: user.createdAt };
      });

      v1.post<{ Params: { id: string }; Body: { ttlSeconds?: number } | undefined }>(
        '/users/:id/tokens',
        {
          schema: {
            summary: "Mint an access token for a user's clients",
            tags: ['users'],
            params: USER_PATH,
            body: { type: ['object', 'null'], additionalProperties: false, properties: { ttlSeconds: { type: 'integer', minimum: 1, maximum: 31_536_000 } } },
          },
        },
        async (request, reply) => {
          const result = await auth.mintToken(requireId(request.params.id, 'id'), request.body?.ttlSeconds);
          reply.code(201);
          return result;
        },
      );

      // A password for the development sign-in, so that users made here (or by
      // `parley user add`) can use the web app. Existing tokens stay valid.
      v1.put<{ Params: { id: string }; Body: { password: string } }>(
        '/users/:id/password',
        {
          schema: {
            summary: 'Set the password of the development sign-in',
            tags: ['users'],
            params: USER_PATH,
            body: {
              type: 'object',
              additionalProperties: false,
              required: ['password'],
              properties: { password: { type: 'string', minLength: PASSWORD_LENGTH.min, maxLength: PASSWORD_LENGTH.max } },
            },
          },
        },
        async (request, reply) => {
          await deps.accounts.setPassword(requireId(request.params.id, 'id'), request.body.password);
          return reply.code(204).send();
        },
      );

      v1.post<{ Params: { id: string } }>('/users/:id/revoke', { schema: { summary: "Revoke a user's tokens and close their connections", tags: ['users'], params: USER_PATH } }, async (request) => {
        await users.revokeTokens(requireId(request.params.id, 'id'));
        return { revoked: true };
      });

      v1.get<{ Params: { id: string } }>('/users/:id/conversations', { schema: { summary: "A user's conversations with unread counts", tags: ['users'], params: USER_PATH } }, async (request) => {
        const result = await messaging.sync(requireId(request.params.id, 'id'), 0);
        return { version: result.version, totalUnread: result.totalUnread, conversations: result.conversations.map(viewJson) };
      });

      v1.post<{ Body: { id?: string; name: string; ownerId: string; memberIds?: string[] } }>(
        '/groups',
        {
          schema: {
            summary: 'Create a group',
            tags: ['conversations'],
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

      v1.get<{ Params: { id: string } }>('/groups/:id/members', { schema: { summary: 'The members of a group', tags: ['conversations'], params: GROUP_PATH } }, async (request) => {
        return { members: await conversations.members(undefined, request.params.id) };
      });

      v1.post<{ Params: { id: string }; Body: { userIds: string[]; actorId?: string } }>(
        '/groups/:id/members',
        {
          schema: {
            summary: 'Add members to a group',
            tags: ['conversations'],
            params: GROUP_PATH,
            body: { type: 'object', additionalProperties: false, required: ['userIds'], properties: { userIds: idList(limits.maxGroupMembers), ...ACTOR } },
          },
        },
        async (request) => {
          const change = await conversations.updateMembers(request.body.actorId ?? '', request.params.id, request.body.userIds, [], true);
          // seq: the members_added event's, where the added members' new window starts (0 when nobody was new).
          return { added: change.added, seq: change.messages[0]?.seq ?? 0 };
        },
      );

      // A DELETE carries no body: the actor, if any, is a query parameter.
      v1.delete<{ Params: { id: string; userId: string }; Querystring: { actorId?: string } }>(
        '/groups/:id/members/:userId',
        {
          schema: {
            summary: 'Remove a member from a group',
            tags: ['conversations'],
            params: { type: 'object', properties: { id: ID, userId: ID } },
            querystring: { type: 'object', additionalProperties: false, properties: ACTOR },
          },
        },
        async (request) => {
          const change = await conversations.updateMembers(request.query.actorId ?? '', request.params.id, [], [request.params.userId], true);
          // seq: the member_removed (or member_left) event's, the last the removed member may read.
          return { removed: change.removed, seq: change.messages[0]?.seq ?? 0 };
        },
      );

      v1.patch<{ Params: { id: string }; Body: { name: string; actorId?: string } }>(
        '/groups/:id',
        {
          schema: {
            summary: 'Rename a group',
            tags: ['conversations'],
            params: GROUP_PATH,
            body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: NAME, ...ACTOR } },
          },
        },
        async (request) => {
          await conversations.rename(request.body.actorId ?? '', request.params.id, request.body.name, true);
          return { id: request.params.id, name: request.body.name.trim() };
        },
      );

      // The host's key/values of a conversation: a string sets a key, null removes it.
      v1.put<{ Params: { id: string }; Body: { attributes: Record<string, string | null> } }>(
        '/conversations/:id/attributes',
        {
          schema: {
            summary: "Set or remove a conversation's attributes (what it is about in your product)",
            tags: ['conversations'],
            params: { type: 'object', properties: { id: CONVERSATION_ID } },
            body: {
              type: 'object',
              additionalProperties: false,
              required: ['attributes'],
              properties: {
                attributes: {
                  type: 'object',
                  maxProperties: ATTRIBUTE_LIMITS.keys,
                  propertyNames: { pattern: '^[a-z0-9_.-]{1,64}$', description: '1-64 characters of a-z 0-9 _ . -' },
                  additionalProperties: { type: ['string', 'null'], maxLength: ATTRIBUTE_LIMITS.valueChars },
                },
              },
            },
          },
        },
        async (request) => ({ attributes: await conversations.setAttributes(request.params.id, request.body.attributes) }),
      );

      // History, oldest first within a page: newest page by default, `before` walks back, `after` walks forward.
      v1.get<{ Params: { id: string }; Querystring: { before?: string; after?: string; limit?: string; userId?: string } }>(
        '/conversations/:id/messages',
        {
          schema: {
            summary: "A page of a conversation's history, oldest first",
            tags: ['conversations'],
            params: { type: 'object', properties: { id: CONVERSATION_ID } },
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: { before: queryNumber(15), after: queryNumber(15), limit: queryNumber(3), userId: ID },
            },
          },
        },
        async (request) => {
          const { before, after, limit, userId } = request.query;
          const page = await messaging.history({
            conversationId: request.params.id,
            before: before === undefined ? undefined : Number(before),
            after: after === undefined ? undefined : Number(after),
            limit: limit === undefined ? undefined : Number(limit),
            asUserId: userId,
          });
          return { messages: page.messages.map(messageJson), nextBefore: page.nextBefore, nextAfter: page.nextAfter, lastSeq: page.lastSeq };
        },
      );

      v1.post<{ Params: { id: string }; Body: { senderId: string; clientMsgId?: string; text?: string; data?: string; visibleTo?: string; content?: ContentBody } }>(
        '/conversations/:id/messages',
        {
          schema: {
            summary: 'Send a message as a user',
            tags: ['conversations'],
            params: { type: 'object', properties: { id: CONVERSATION_ID } },
            body: {
              type: 'object',
              additionalProperties: false,
              required: ['senderId'],
              properties: {
                senderId: ID,
                clientMsgId: { type: 'string', minLength: 1, maxLength: 64 },
                text: { type: 'string', maxLength: limits.maxTextChars },
                data: { type: 'string', maxLength: Math.ceil((limits.maxDataBytes * 4) / 3) + 4 },
                visibleTo: ID,
                content: CONTENT_SCHEMA,
              },
            },
          },
        },
        async (request, reply) => {
          const body = request.body;
          // As the operator: in a live room anyone may be named the sender (a gift paid through the backend).
          const result = await messaging.send(body.senderId, {
            conversationId: request.params.id,
            // Wall-clock time only helps make the id unique; nothing depends on its value.
            clientMsgId: body.clientMsgId ?? `api-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
            text: body.text,
            data: body.data === undefined ? undefined : decodeBase64Field(body.data, 'data'),
            visibleTo: body.visibleTo,
            content: body.content === undefined ? undefined : contentFromJson(body.content),
          }, undefined, 'operator');
          reply.code(result.duplicate ? 200 : 201);
          return { message: messageJson(result.message), duplicate: result.duplicate };
        },
      );
    },
    { prefix: '/v1' },
  );
}

function viewJson(view: ConversationView) {
  return { ...view, lastMessage: view.lastMessage === undefined ? undefined : messageJson(view.lastMessage) };
}
