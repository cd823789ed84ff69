/**
 * @parley/cli as a library: the typed admin REST client the `parley` commands
 * use, for scripts that provision users and groups. The executable is main.ts.
 */
export { AdminClient, type AdminClientOptions, type CreateGroupInput, type GroupResult, type TokenResult, type UserResult } from './admin-client.js';
