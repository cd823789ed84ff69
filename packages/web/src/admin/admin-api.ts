/**
 * The admin dashboard's side of the server's admin REST API: the overview it
 * polls, the two actions it offers (revoke a user's tokens, close a room),
 * and the admin key, kept in sessionStorage only: it is the key to the whole
 * server, so it lasts as long as the tab and is never shared with other tabs
 * or written to disk by the app.
 */
import { ApiError } from '../auth/dev-auth.js';

/** GET /v1/admin/overview (docs/admin-dashboard.md says where each figure comes from). */
export interface Overview {
  generatedAt: number;
  nodes: NodeOverview[];
  totals: { nodes: number; connections: number; usersOnline: number; messagesIn: number; messagesOut: number; roomViewers: number };
  busiestConversations: Array<{ id: string; kind: string; name: string; memberCount: number; sendsLastMinute: number }>;
  busiestRooms: Array<{ id: string; name: string; closed: boolean; viewers: number }>;
}

export interface NodeOverview {
  nodeId: string;
  startedAt: number;
  /** When the node took this snapshot (its clock). */
  at: number;
  connections: { ws: number; tcp: number; total: number };
  usersOnline: number;
  /** Since the node started. */
  messagesIn: number;
  messagesOut: number;
  rooms: number;
  roomViewers: number;
  topRooms: Array<{ id: string; viewers: number }>;
  busiestConversations: Array<{ id: string; sendsLastMinute: number }>;
  rssBytes: number;
  eventLoopDelayMs: { mean: number; p99: number; max: number };
}

const KEY_STORAGE = 'parley.adminKey';

export function loadAdminKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveAdminKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function clearAdminKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** True when the server refused the admin key (the dashboard goes back to its sign-in). */
export function isKeyRefused(error: unknown): boolean {
  return error instanceof ApiError && error.codeName === 'UNAUTHENTICATED';
}

/** Human text for a failed request. */
export function describeAdminError(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Try again.';
  if (error.status === 0) return 'The server cannot be reached.';
  if (isKeyRefused(error)) return 'The server refused that admin key.';
  return error.message;
}

async function call(key: string, method: 'GET' | 'POST', path: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(path, { method, headers: { authorization: `Bearer ${key}`, accept: 'application/json' } });
  } catch (cause) {
    throw new ApiError(0, 'UNAVAILABLE', 'The server cannot be reached.', { cause });
  }
  const text = await response.text();
  let body: { error?: { name?: string; message?: string } } | undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.name ?? 'INTERNAL', body?.error?.message ?? `request failed (${response.status})`);
  }
  return body;
}

export async function fetchOverview(key: string): Promise<Overview> {
  return (await call(key, 'GET', '/v1/admin/overview')) as Overview;
}

/** Rejects every token the user holds and closes their connections on every node. */
export async function revokeUser(key: string, userId: string): Promise<void> {
  await call(key, 'POST', `/v1/users/${encodeURIComponent(userId)}/revoke`);
}

/** Ends a live room: its viewers are told and leave it. */
export async function closeRoom(key: string, roomId: string): Promise<void> {
  await call(key, 'POST', `/v1/rooms/${encodeURIComponent(roomId)}/close`);
}
