/**
 * Live rooms in the admin / integration REST API (under /v1, admin key
 * required, registered by admin-api.ts). The operator creates rooms for a
 * host, appoints admins, mutes viewers and closes rooms; reliable messages
 * (a gift paid through the product's backend, on the viewer's behalf) are
 * posted like any message, to /v1/conversations/:id/messages.
 */
import type { FastifyInstance } from 'fastify';
import type { RoomHub } from '../gateway/room-hub.js';
import type { RoomService } from '../services/rooms.js';
import { ID, NAME, NO_FIELDS } from './schemas.js';

export interface RoomsApiDeps {
  rooms: RoomService;
  roomHub: RoomHub;
}

const ROOM_PATH = { type: 'object', properties: { id: ID } } as const;
const ROOM_USER_PATH = { type: 'object', properties: { id: ID, userId: ID } } as const;

export function registerRoomsApi(v1: FastifyInstance, { rooms, roomHub }: RoomsApiDeps): void {
  v1.post<{ Body: { id?: string; name: string; hostId: string } }>(
    '/rooms',
    {
      schema: {
        summary: 'Create a live room for a host',
        tags: ['rooms'],
        body: { type: 'object', additionalProperties: false, required: ['name', 'hostId'], properties: { id: ID, name: NAME, hostId: ID } },
      },
    },
    async (request, reply) => {
      const room = await rooms.create(request.body.hostId, { id: request.body.id, name: request.body.name });
      reply.code(201);
      return room;
    },
  );

  // The room and its audience as this node knows it (approximate, like the count viewers see).
  v1.get<{ Params: { id: string } }>('/rooms/:id', { schema: { summary: 'A room, its admins and its audience', tags: ['rooms'], params: ROOM_PATH } }, async (request) => {
    const state = await rooms.describe(request.params.id);
    return { ...state.room, online: roomHub.onlineCount(state.room.id), admins: state.people.filter((person) => person.role === 'admin').map((person) => person.userId) };
  });

  v1.put<{ Params: { id: string; userId: string } }>('/rooms/:id/admins/:userId', { schema: { summary: 'Make a user an admin of a room', tags: ['rooms'], params: ROOM_USER_PATH, body: NO_FIELDS } }, async (request, reply) => {
    await rooms.setAdmin({ operator: true }, request.params.id, request.params.userId, true);
    return reply.code(204).send();
  });

  v1.delete<{ Params: { id: string; userId: string } }>('/rooms/:id/admins/:userId', { schema: { summary: 'Take back the admin role in a room', tags: ['rooms'], params: ROOM_USER_PATH } }, async (request, reply) => {
    await rooms.setAdmin({ operator: true }, request.params.id, request.params.userId, false);
    return reply.code(204).send();
  });

  v1.post<{ Params: { id: string }; Body: { userId: string; seconds: number } }>(
    '/rooms/:id/mutes',
    {
      schema: {
        summary: 'Mute a viewer of a room for a while, or lift the mute',
        tags: ['rooms'],
        params: ROOM_PATH,
        body: { type: 'object', additionalProperties: false, required: ['userId', 'seconds'], properties: { userId: ID, seconds: { type: 'integer', minimum: 0 } } },
      },
    },
    async (request, reply) => {
      await rooms.mute({ operator: true }, request.params.id, request.body.userId, request.body.seconds);
      return reply.code(204).send();
    },
  );

  v1.post<{ Params: { id: string }; Body: { actorId?: string } | null }>(
    '/rooms/:id/close',
    {
      schema: {
        summary: 'Close a room for good',
        tags: ['rooms'],
        params: ROOM_PATH,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { actorId: ID } },
      },
    },
    async (request, reply) => {
      await rooms.close({ operator: true, userId: request.body?.actorId }, request.params.id);
      return reply.code(204).send();
    },
  );
}
