/**
 * Sign-in through the server's DEVELOPMENT-ONLY `/dev/` endpoints, and the
 * session (user, token) kept in localStorage so that every tab of the browser
 * shares it. A deployment with its own backend replaces this module: the rest
 * of the app only needs a Session and a token provider.
 */
import { ParleyError } from '@parley/client';

export interface Session {
  userId: string;
  name: string;
  token: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
  /** When this token was obtained (ms since epoch), to refresh it at half its lifetime. */
  obtainedAt: number;
}

/** An error answered by the server's REST routes: `{ error: { code, name, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly codeName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }
}

const STORAGE_KEY = 'parley.session';
/** Refresh before this little is left, whatever the lifetime. */
const MIN_REMAINING_MS = 60_000;

export function loadSession(): Session | undefined {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (raw === null) return undefined;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.userId !== 'string' || typeof parsed.token !== 'string' || typeof parsed.expiresAt !== 'number') return undefined;
    return {
      userId: parsed.userId,
      name: typeof parsed.name === 'string' ? parsed.name : parsed.userId,
      token: parsed.token,
      expiresAt: parsed.expiresAt,
      obtainedAt: typeof parsed.obtainedAt === 'number' ? parsed.obtainedAt : Date.now(),
    };
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  localStorage.removeItem(STORAGE_KEY);
}

/** Calls `listener` when another tab signs in, out, or refreshes the token. */
export function onSessionChangedElsewhere(listener: (session: Session | undefined) => void): () => void {
  const handler = (event: StorageEvent) => {
    if (event.key === STORAGE_KEY || event.key === null) listener(loadSession());
  };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}

interface SessionAnswer {
  token: string;
  expiresAt: number;
  userId: string;
  name: string;
}

async function post(path: string, body: unknown, token?: string): Promise<Session> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (cause) {
    throw new ApiError(0, 'UNAVAILABLE', 'The server cannot be reached.', { cause });
  }
  const answer = (await response.json().catch(() => undefined)) as (SessionAnswer & { error?: { name?: string; message?: string } }) | undefined;
  if (!response.ok || answer === undefined || answer.error !== undefined) {
    const name = answer?.error?.name ?? (response.status === 404 ? 'NOT_FOUND' : 'INTERNAL');
    throw new ApiError(response.status, name, answer?.error?.message ?? `request failed (${response.status})`);
  }
  return { userId: answer.userId, name: answer.name, token: answer.token, expiresAt: answer.expiresAt, obtainedAt: Date.now() };
}

export function signUp(userId: string, name: string, password: string): Promise<Session> {
  return post('/dev/signup', { userId, name, password });
}

export function signIn(userId: string, password: string): Promise<Session> {
  return post('/dev/signin', { userId, password });
}

export function refreshToken(token: string): Promise<Session> {
  return post('/dev/token', undefined, token);
}

function needsRefresh(session: Session, now = Date.now()): boolean {
  const remaining = session.expiresAt - now;
  return remaining < Math.max(MIN_REMAINING_MS, (session.expiresAt - session.obtainedAt) / 2);
}

/**
 * The ParleyClient `token` option: the stored token, refreshed through
 * /dev/token once half its lifetime has passed. A refused refresh ends the
 * session (UNAUTHENTICATED, the client stops); an unreachable server is
 * retryable, so the client keeps reconnecting.
 */
export async function currentToken(): Promise<string> {
  const session = loadSession();
  if (session === undefined) throw new ParleyError('UNAUTHENTICATED', 'signed out');
  if (!needsRefresh(session)) return session.token;
  try {
    const fresh = await refreshToken(session.token);
    saveSession(fresh);
    return fresh.token;
  } catch (error) {
    if (error instanceof ApiError && (error.codeName === 'UNAUTHENTICATED' || error.codeName === 'TOKEN_EXPIRED' || error.status === 404)) {
      throw new ParleyError('UNAUTHENTICATED', 'your session has ended: sign in again');
    }
    // Still valid for a while: use it rather than fail while the server is busy.
    if (session.expiresAt > Date.now()) return session.token;
    throw new ParleyError('UNAVAILABLE', 'cannot refresh the session token', { cause: error });
  }
}

/** Human text for a sign-in failure. */
export function describeAuthError(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.codeName) {
      // The server says why (no password yet, id taken) better than a fixed text could.
      case 'UNAUTHENTICATED':
      case 'CONFLICT':
        return sentence(error.message);
      case 'RATE_LIMITED':
        return 'Too many attempts. Wait a minute and try again.';
      case 'NOT_FOUND':
        return 'Development sign-in is turned off on this server (PARLEY_DEV_AUTH=0).';
      case 'UNAVAILABLE':
        return 'The server cannot be reached. Is it running?';
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
