/**
 * DEVELOPMENT-ONLY sign-up and sign-in under `/dev/`, so that the web app and
 * demos work without a backend of their own. Real deployments mint tokens
 * from their own backend through the admin API and turn this off
 * (`devAuth: false`, env PARLEY_DEV_AUTH=0).
 *
 Accounts (argon2id password hashes, kept in the main store) are the
 * DevAccountService's; this module adds the routes and the per-address and
 * per-id attempt limits. Tokens are minted by the same AuthService as the
 * admin API's, so a dev token is an ordinary token. Errors use the admin API's `{ error: {...} }` shape
 * through the error handler it registers on the app.
 *
 * Routes:
 * - `POST /dev/signup {userId, name, password}` → `{token, expiresAt, userId, name}` (409 CONFLICT if the id is taken)
 * - `POST /dev/signin {userId, password}` → the same (401 UNAUTHENTICATED, saying so when the user exists but has no password; 429 RATE_LIMITED past 10 attempts a minute per user id)
 * - `POST /dev/token` with `Authorization: Bearer <token>` → a fresh token for the same user
 */
import { type Clock, PASSWORD_LENGTH, ParleyError } from '@parley/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerLimits } from '../config.js';
import type { AuthService } from '../services/auth.js';
import type { DevAccountService } from '../services/dev-accounts.js';
import type { UserService } from '../services/users.js';
import { requireId, requireName } from '../services/validate.js';
import { KeyedLimiter } from '../util/keyed-limiter.js';
import { PUBLIC, USER_TOKEN } from './openapi.js';

export const DEV_AUTH_PREFIX = '/dev';

/** Sign-in attempts allowed per user id per minute. */
const SIGNIN_ATTEMPTS_PER_MINUTE = 10;
/** Sign-ups allowed per client address per minute: hashing is deliberately expensive. */
const SIGNUPS_PER_MINUTE = 30;

const USER_ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$' } as const;
const PASSWORD = { type: 'string', minLength: PASSWORD_LENGTH.min, maxLength: PASSWORD_LENGTH.max } as const;

export interface DevAuthDeps {
  auth: AuthService;
  users: UserService;
  accounts: DevAccountService;
  limits: ServerLimits;
  /** Attempt limits refill in this clock's time. */
  clock: Clock;
}

interface SessionResult {
  token: string;
  expiresAt: number;
  userId: string;
  name: string;
}

export async function registerDevAuth(app: FastifyInstance, deps: DevAuthDeps): Promise<void> {
  const { auth, users, accounts, limits, clock } = deps;
  const signinLimiter = new KeyedLimiter(SIGNIN_ATTEMPTS_PER_MINUTE, clock);
  const signupLimiter = new KeyedLimiter(SIGNUPS_PER_MINUTE, clock);

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
            summary: 'Create an account and sign in (development only)',
            tags: ['dev'],
            security: PUBLIC,
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
          await accounts.signUp(userId, name, request.body.password);
          reply.code(201);
          return session(userId, name);
        },
      );

      dev.post<{ Body: { userId: string; password: string } }>(
        '/signin',
        {
          schema: {
            summary: 'Sign in with a password (development only)',
            tags: ['dev'],
            security: PUBLIC,
            body: { type: 'object', additionalProperties: false, required: ['userId', 'password'], properties: { userId: USER_ID, password: PASSWORD } },
          },
        },
        async (request) => {
          const userId = requireId(request.body.userId, 'userId');
          signinLimiter.take(userId);
          const user = await accounts.signIn(userId, request.body.password);
          return session(user.id, user.name);
        },
      );

      dev.post('/token', { schema: { summary: 'A fresh token for the same user (development only)', tags: ['dev'], security: USER_TOKEN } }, async (request) => {
        const header = request.headers.authorization;
        const token = header?.startsWith('Bearer ') ? header.slice(7) : '';
        const { userId } = await auth.verifyToken(token);
        const user = await users.getUser(userId);
        if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'token names an unknown user');
        return session(user.id, user.name);
      });
    },
    { prefix: DEV_AUTH_PREFIX },
  );
}

function clientAddress(request: FastifyRequest): string {
  return request.socket.remoteAddress ?? 'unknown';
}
