/**
 * Access tokens and the admin key. Tokens are HS256 JWTs signed with a
 * server secret; a token names its user (`sub`) and is rejected after it
 * expires or once the user's tokens were revoked (issued-at before the
 * revocation instant). Both minting and verification read the server's Clock,
 * so a token expires in clock time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { type Clock, ParleyError, systemClock } from '@parley/protocol';
import type { UserRow } from '../store/store.js';

/** How the auth service looks users up (the store, read-only). */
export interface UserLookup {
  getUser(id: string): Promise<UserRow | undefined>;
}

const ISSUER = 'parley';

/** The claims Parley puts in a token (iat_ms: the issue time in milliseconds, see verifyToken). */
interface TokenClaims {
  sub?: unknown;
  iss?: unknown;
  iat?: unknown;
  iat_ms?: unknown;
  exp?: unknown;
}

export class AuthService {
  /**
   * fast-jwt signs and verifies with node:crypto synchronously: about 8 µs a
   * verify, where jose's WebCrypto path took 43-70 µs, paid by every connect
   * (decisions 59 and 60). Time claims are checked here against the server's
   * Clock rather than by the library, which only knows the system time.
   */
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => TokenClaims;

  constructor(
    secret: string,
    private readonly adminKey: string,
    private readonly store: UserLookup,
    private readonly defaultTtlSeconds: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (secret.length === 0) throw new Error('the token secret must not be empty');
    this.sign = createSigner({ key: secret, algorithm: 'HS256', noTimestamp: true });
    this.verify = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: ISSUER, ignoreExpiration: true, ignoreNotBefore: true });
  }

  static generateSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  async mintToken(userId: string, ttlSeconds = this.defaultTtlSeconds): Promise<{ token: string; expiresAt: number }> {
    const user = await this.store.getUser(userId);
    if (user === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
    const now = this.clock.now();
    // Rounded up: a token lives at least ttlSeconds (exp is in whole seconds).
    const expiresAt = Math.ceil(now / 1000) + ttlSeconds;
    const token = this.sign({
      iat_ms: now,
      sub: userId,
      iss: ISSUER,
      iat: Math.floor(now / 1000),
      jti: randomBytes(9).toString('base64url'),
      exp: expiresAt,
    });
    return { token, expiresAt: expiresAt * 1000 };
  }

  /** Returns the user a token stands for and when it expires (ms), or throws UNAUTHENTICATED / TOKEN_EXPIRED. */
  /** The token's user (their row as read for the check, so a caller needs no second read) and when it expires. */
  async verifyToken(token: string): Promise<{ userId: string; expiresAt: number; user: UserRow }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      throw new ParleyError('UNAUTHENTICATED', 'missing or malformed token');
    }
    let claims: TokenClaims;
    try {
      claims = this.verify(token);
    } catch {
      throw new ParleyError('UNAUTHENTICATED', 'invalid token');
    }
    if (claims === null || typeof claims !== 'object') throw new ParleyError('UNAUTHENTICATED', 'invalid token');
    const { sub: subject, exp, iat, iat_ms: iatMs } = claims;
    if (exp !== undefined && typeof exp !== 'number') throw new ParleyError('UNAUTHENTICATED', 'invalid token');
    if (iat !== undefined && typeof iat !== 'number') throw new ParleyError('UNAUTHENTICATED', 'invalid token');
    const expiresAt = exp === undefined ? Number.MAX_SAFE_INTEGER : exp * 1000;
    // Expired at exp (seconds): valid while now < exp, as jose and RFC 7519 read it.
    if (this.clock.now() >= expiresAt) throw new ParleyError('TOKEN_EXPIRED', 'token expired');
    const issuedAt = typeof iatMs === 'number' ? iatMs : (iat ?? 0) * 1000;
    if (typeof subject !== 'string' || subject.length === 0) throw new ParleyError('UNAUTHENTICATED', 'token names no user');
    const user = await this.store.getUser(subject);
    if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'token names an unknown user');
    // iat_ms: millisecond issue time, so a token minted right after a
    // revocation is valid while one minted just before it is not.
    if (issuedAt < user.tokensValidAfter) {
      throw new ParleyError('UNAUTHENTICATED', 'token revoked');
    }
    return { userId: subject, expiresAt, user };
  }

  isAdminKey(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const expected = Buffer.from(this.adminKey);
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
