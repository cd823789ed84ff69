/**
 * Access tokens and the admin key. Tokens are HS256 JWTs signed with a
 * server secret; a token names its user (`sub`) and is rejected after it
 * expires or once the user's tokens were revoked (issued-at before the
 * revocation instant). Both minting and verification read the server's Clock,
 * so a token expires in clock time.
 */
import { randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { type Clock, ParleyError, systemClock } from '@parley/protocol';
import type { UserRow } from '../store/store.js';

/** How the auth service looks users up (the store, read-only). */
export interface UserLookup {
  getUser(id: string): Promise<UserRow | undefined>;
}

const ISSUER = 'parley';

export class AuthService {
  /**
   * The HMAC key, imported once. Given raw bytes, jose imports a WebCrypto
   * key on every sign and verify, which is about a third of what a verify
   * costs, paid by every connect (decision 59).
   */
  private readonly secret: Promise<webcrypto.CryptoKey>;

  constructor(
    secret: string,
    private readonly adminKey: string,
    private readonly store: UserLookup,
    private readonly defaultTtlSeconds: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (secret.length === 0) throw new Error('the token secret must not be empty');
    this.secret = webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  }

  static generateSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  async mintToken(userId: string, ttlSeconds = this.defaultTtlSeconds): Promise<{ token: string; expiresAt: number }> {
    const user = await this.store.getUser(userId);
    if (user === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
    const now = this.clock.now();
    const expiresAt = Math.floor(now / 1000) + ttlSeconds;
    const token = await new SignJWT({ iat_ms: now })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt(Math.floor(now / 1000))
      .setJti(randomBytes(9).toString('base64url'))
      .setExpirationTime(expiresAt)
      .sign(await this.secret);
    return { token, expiresAt: expiresAt * 1000 };
  }

  /** Returns the user a token stands for and when it expires (ms), or throws UNAUTHENTICATED / TOKEN_EXPIRED. */
  async verifyToken(token: string): Promise<{ userId: string; expiresAt: number }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      throw new ParleyError('UNAUTHENTICATED', 'missing or malformed token');
    }
    let subject: string | undefined;
    let issuedAt = 0;
    let expiresAt = 0;
    try {
      const { payload } = await jwtVerify(token, await this.secret, { issuer: ISSUER, algorithms: ['HS256'], currentDate: new Date(this.clock.now()) });
      subject = payload.sub;
      issuedAt = typeof payload.iat_ms === 'number' ? payload.iat_ms : (payload.iat ?? 0) * 1000;
      expiresAt = payload.exp === undefined ? Number.MAX_SAFE_INTEGER : payload.exp * 1000;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new ParleyError('TOKEN_EXPIRED', 'token expired');
      throw new ParleyError('UNAUTHENTICATED', 'invalid token');
    }
    if (subject === undefined) throw new ParleyError('UNAUTHENTICATED', 'token names no user');
    const user = await this.store.getUser(subject);
    if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'token names an unknown user');
    // iat_ms: millisecond issue time, so a token minted right after a
    // revocation is valid while one minted just before it is not.
    if (issuedAt < user.tokensValidAfter) {
      throw new ParleyError('UNAUTHENTICATED', 'token revoked');
    }
    return { userId: subject, expiresAt };
  }

  isAdminKey(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const expected = Buffer.from(this.adminKey);
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
