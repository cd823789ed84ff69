/**
 * @parley/cli as a library: the typed admin REST client the `parley` commands
 * use, for scripts that provision users, groups and live rooms. The executable
 * is main.ts.
 */
export {
  AdminClient,
  type AdminClientOptions,
  type CreateGroupInput,
  type CreateRoomInput,
  type CustomContentInput,
  type GroupResult,
  type PostMessageInput,
  type PostedMessage,
  type RoomDetails,
  type RoomResult,
  type TokenResult,
  type UserResult,
} from './admin-client.js';
