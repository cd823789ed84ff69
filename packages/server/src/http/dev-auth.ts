/**
 * DEVELOPMENT-ONLY sign-up and sign-in under `/dev/`, so that the web app and
 * demos work without a backend of their own. Real deployments mint tokens
 * from their own backend through the admin API and turn this off
 * (`devAuth: false`, env PARLEY_DEV_AUTH=0).
 *
 * It owns the password hashes (argon2id via @node-rs/argon2), kept apart from
 * the Store port in a small SQLite file `dataDir/dev-auth.db`, created on the
 * first sign-up when dev auth is on. Users are created through the Store like any other, and
 * tokens are minted by the same AuthService as the admin API's, so a dev token
 * is an ordinary token. Errors use the admin API's `{ error: {...} }` shape
 * through the error handler it registers on the app.
 *
 * Routes:
 * - `POST /dev/signup {userId, name, password}` → `{token, expiresAt, userId, name}` (409 CONFLICT if the id is taken)
 * - `POST /dev/signin {userId, password}` → the same (401 UNAUTHENTICATED; 429 RATE_LIMITED past 10 attempts a minute per user id)
 * - `POST /dev/token` with `Authorization: Bearer <token>` → a fresh token for the same user
 */
import { join } from 'node:path';
import { hash, verify } from '@node-rs/argon2';
import { ParleyError } from '@parley/protocol';
import Database from 'better-sqlite3';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerLimits } from '../config.js';
import type { AuthService } from '../services/auth.js';
import { requireId, requireName } from '../services/validate.js';
import type { Store } from '../store/store.js';
import { TokenBucket } from '../util/token-bucket.js';

export const DEV_AUTH_PREFIX = '/dev';

/** Sign-in attempts allowed per user id per minute. */
const SIGNIN_ATTEMPTS_PER_MINUTE = 10;
/** Sign-ups allowed per client address per minute: hashing is deliberately expensive. */
const SIGNUPS_PER_MINUTE = 30;
/** Rate-limit entries kept before idle ones are dropped, so that random user ids cannot grow memory without bound. */
const MAX_TRACKED_KEYS = 10_000;

const USER_ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$' } as const;
const PASSWORD = { type: 'string', minLength: 8, maxLength: 200 } as const;

export interface DevAuthDeps {
  auth: AuthService;
  store: Store;
  dataDir: string;
  limits: ServerLimits;
}

export interface DevAuth {
  /** Closes the password database. */
  close(): void;
}

interface SessionResult {
  token: string;
  expiresAt: number;
  userId: string;
  name: string;
}

/** Per-key token buckets with a bounded number of keys. */
class AttemptLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; lastUsed: number }>();

  constructor(private readonly perMinute: number) {}

  /** Throws RATE_LIMITED when `key` used up its attempts. */
  take(key: string): void {
    const now = Date.now();
    let entry = this.buckets.get(key);
    if (entry === undefined) {
      if (this.buckets.size >= MAX_TRACKED_KEYS) this.prune(now);
      entry = { bucket: new TokenBucket(this.perMinute / 60, this.perMinute), lastUsed: now };
      this.buckets.set(key, entry);
    }
    entry.lastUsed = now;
    const waitMs = entry.bucket.take(now);
    if (waitMs > 0) throw new ParleyError('RATE_LIMITED', 'too many attempts, try again later', { retryAfterMs: waitMs });
  }

  /** A bucket idle for a minute is full again: forgetting it changes nothing. */
  private prune(now: number): void {
    for (const [key, entry] of this.buckets) if (now - entry.lastUsed > 60_000) this.buckets.delete(key);
  }
}

/** The password table, opened on first use: a server whose /dev routes are never called creates no file. */
class CredentialStore {
  private db: Database.Database | undefined;
  private statements:
    | { get: Database.Statement<[string], { password_hash: string }>; insert: Database.Statement<[string, string, number]> }
    | undefined;

  constructor(private readonly path: string) {}

  passwordHash(userId: string): string | undefined {
    return this.open().get.get(userId)?.password_hash;
  }

  add(userId: string, passwordHash: string): void {
    this.open().insert.run(userId, passwordHash, Date.now());
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
    this.statements = undefined;
  }

  private open() {
    if (this.statements === undefined) {
      const db = new Database(this.path);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE IF NOT EXISTS credentials (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL)');
      this.db = db;
      this.statements = {
        get: db.prepare<[string], { password_hash: string }>('SELECT password_hash FROM credentials WHERE user_id = ?'),
        insert: db.prepare<[string, string, number]>('INSERT INTO credentials(user_id, password_hash, created_at) VALUES (?, ?, ?)'),
      };
    }
    return this.statements;
  }
}

export async function registerDevAuth(app: FastifyInstance, deps: DevAuthDeps): Promise<DevAuth> {
  const { auth, store, limits } = deps;
  const credentials = new CredentialStore(join(deps.dataDir, 'dev-auth.db'));
  // Verified when a user id has no password, so that an unknown id takes as long as a wrong password.
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= hash('decoy password, never valid'));
  const signinLimiter = new AttemptLimiter(SIGNIN_ATTEMPTS_PER_MINUTE);
  const signupLimiter = new AttemptLimiter(SIGNUPS_PER_MINUTE);
  /** Sign-ups in progress, so that two racing for one id cannot both pass the free-id check. */
  const signingUp = new Set<string>();

  const session = async (userId: string, name: string): Promise<SessionResult> => {
    const { token, expiresAt } = await auth.mintToken(userId);
    return { token, expiresAt, userId, name };
  };

  await app.register(
    async (dev) => {
      dev.addHook('onSend', async (_request, reply) => {
        // Tokens must not be cached anywhere, and the label travels with every answer.
        reply.header('cache-control', 'no-store');
        reply.header('x-parley-dev-auth', 'development only');
      });

      dev.post<{ Body: { userId: string; name: string; password: string } }>(
        '/signup',
        {
          schema: {
            body: {
              type: 'object',
              additionalProperties: false,
              required: ['userId', 'name', 'password'],
              properties: { userId: USER_ID, name: { type: 'string', minLength: 1, maxLength: limits.maxNameChars }, password: PASSWORD },
            },
          },
        },
        async (request, reply) => {
          signupLimiter.take(clientAddress(request));
          const userId = requireId(request.body.userId, 'userId');
          const name = requireName(request.body.name, 'name', limits);
          if (signingUp.has(userId) || (await store.getUser(userId)) !== undefined) {
            throw new ParleyError('CONFLICT', `the user id ${userId} is taken`);
          }
          signingUp.add(userId);
          try {
            const passwordHash = await hash(request.body.password);
            // Checked again: the admin API may have created the user meanwhile,
            // and putUser would rename that user instead of failing.
            if ((await store.getUser(userId)) !== undefined) throw new ParleyError('CONFLICT', `the user id ${userId} is taken`);
            await store.putUser({ id: userId, name });
            credentials.add(userId, passwordHash);
          } finally {
            signingUp.delete(userId);
          }
          reply.code(201);
          return session(userId, name);
        },
      );

      dev.post<{ Body: { userId: string; password: string } }>(
        '/signin',
        {
          schema: {
            body: { type: 'object', additionalProperties: false, required: ['userId', 'password'], properties: { userId: USER_ID, password: PASSWORD } },
          },
        },
        async (request) => {
          const userId = requireId(request.body.userId, 'userId');
          signinLimiter.take(userId);
          const stored = credentials.passwordHash(userId);
          const matches = await verify(stored ?? (await decoy()), request.body.password);
          const user = matches && stored !== undefined ? await store.getUser(userId) : undefined;
          if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'wrong user id or password');
          return session(user.id, user.name);
        },
      );

      dev.post('/token', async (request) => {
        const header = request.headers.authorization;
        const token = header?.startsWith('Bearer ') ? header.slice(7) : '';
        const { userId } = await auth.verifyToken(token);
        const user = await store.getUser(userId);
        if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'token names an unknown user');
        return session(user.id, user.name);
      });
    },
    { prefix: DEV_AUTH_PREFIX },
  );

  return { close: () => credentials.close() };
}

function clientAddress(request: FastifyRequest): string {
  return request.socket.remoteAddress ?? 'unknown';
}
