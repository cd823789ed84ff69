/**
 * Where a command finds the running server and its admin key: the
 * --server / --admin-key / --data-dir options shared by the admin commands
 * and `parley chat --user`, with their environment fallbacks.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdminClient } from './admin-client.js';
import { UsageError } from './command.js';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './data';

/** parseArgs option specs for the shared options. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  'admin-key': { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const SERVER_OPTIONS_USAGE = `Server options:
  --server URL      the server's HTTP address (env PARLEY_SERVER, default ${DEFAULT_SERVER_URL})
  --admin-key KEY   the admin key (env PARLEY_ADMIN_KEY, else read from <data dir>/admin-key)
  --data-dir DIR    where to look for admin-key (env PARLEY_DATA_DIR, default ${DEFAULT_DATA_DIR})`;

export interface ServerSettingValues {
  server?: string | undefined;
  'admin-key'?: string | undefined;
  'data-dir'?: string | undefined;
}

export function serverUrl(values: ServerSettingValues, env: NodeJS.ProcessEnv = process.env): string {
  const url = values.server ?? (env.PARLEY_SERVER || DEFAULT_SERVER_URL);
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--server must be an http:// or https:// URL, got "${url}"`);
  return url.replace(/\/+$/, '');
}

/** The WebSocket URL served next to an HTTP URL: http://h:p → ws://h:p/ws. */
export function webSocketUrlFor(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/ws`;
}

export function adminKey(values: ServerSettingValues, env: NodeJS.ProcessEnv = process.env): string {
  const given = values['admin-key'] ?? (env.PARLEY_ADMIN_KEY || undefined);
  if (given !== undefined) return given;
  const dataDir = values['data-dir'] ?? (env.PARLEY_DATA_DIR || DEFAULT_DATA_DIR);
  const path = join(resolve(dataDir), 'admin-key');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new UsageError(
      `no admin key: pass --admin-key or set PARLEY_ADMIN_KEY, or point --data-dir at the server's data directory (no ${path})`,
    );
  }
}

export function adminClient(values: ServerSettingValues, env: NodeJS.ProcessEnv = process.env): AdminClient {
  return new AdminClient({ serverUrl: serverUrl(values, env), adminKey: adminKey(values, env) });
}
