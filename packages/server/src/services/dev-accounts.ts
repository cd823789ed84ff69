/**
 * Development accounts: users with an argon2id password, for demos and the
 * web app without a backend of their own (see http/dev-auth.ts). The hash is
 * kept by the store next to the user, and a sign-up writes both in one commit.
 */
import { hash, verify } from '@node-rs/argon2';
import { type Clock, PASSWORD_LENGTH, ParleyError, systemClock } from '@parley/protocol';
import type { Store, UserRow } from '../store/store.js';

export interface LegacyCredential {
  userId: string;
  passwordHash: string;
  createdAt: number;
}

export class DevAccountService {
  /** Verified when a user id has no password, so that an unknown id takes as long as a wrong password. */
  private decoyHash: Promise<string> | undefined;
  /** Sign-ups being hashed, so that two racing for one id do not both pay for hashing. */
  private readonly signingUp = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates a user with a password; CONFLICT when the id is taken. */
  async signUp(userId: string, name: string, password: string): Promise<UserRow> {
    requirePassword(password);
    if (this.signingUp.has(userId) || (await this.store.getUser(userId)) !== undefined) {
      throw new ParleyError('CONFLICT', idTaken(userId));
    }
    this.signingUp.add(userId);
    try {
      // Hashed outside the unit: a unit holds the transaction while it runs.
      const passwordHash = await hash(password);
      return await this.store.write(async (tx) => {
        // Checked again inside the unit: the admin API may have created the user meanwhile.
        if ((await tx.getUser(userId)) !== undefined) throw new ParleyError('CONFLICT', idTaken(userId));
        const now = this.clock.now();
        const user: UserRow = { id: userId, name, createdAt: now, tokensValidAfter: 0 };
        await tx.insertUser(user);
        await tx.insertPasswordHash(userId, passwordHash, now);
        return user;
      });
    } finally {
      this.signingUp.delete(userId);
    }
  }

  /**
   * The user, if the password matches; UNAUTHENTICATED otherwise, with the
   * same answer for unknown ids as for wrong passwords. A user created
   * without a password (admin API, `parley user add`) is told so and how to
   * get one: sign-up already reveals which ids exist, and "wrong password"
   * would send them guessing.
   */
  async signIn(userId: string, password: string): Promise<UserRow> {
    const stored = await this.store.getPasswordHash(userId);
    if (stored === undefined && (await this.store.getUser(userId)) !== undefined) {
      throw new ParleyError('UNAUTHENTICATED', `${userId} has no password yet. Ask an administrator to run: parley user password ${userId}`);
    }
    const matches = await verify(stored ?? (await this.decoy()), password);
    const user = matches && stored !== undefined ? await this.store.getUser(userId) : undefined;
    if (user === undefined) throw new ParleyError('UNAUTHENTICATED', 'Wrong user id or password');
    return user;
  }

  /** Sets (or replaces) the password of an existing user; NOT_FOUND for an unknown id. */
  async setPassword(userId: string, password: string): Promise<void> {
    requirePassword(password);
    if ((await this.store.getUser(userId)) === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
    const passwordHash = await hash(password);
    await this.store.write(async (tx) => {
      if ((await tx.getUser(userId)) === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
      await tx.replacePasswordHash(userId, passwordHash, this.clock.now());
    });
  }

  /** Takes over hashes from an older data folder; returns how many were added. Existing passwords win. */
  async importCredentials(credentials: readonly LegacyCredential[]): Promise<number> {
    if (credentials.length === 0) return 0;
    return this.store.write(async (tx) => {
      let added = 0;
      for (const credential of credentials) {
        if ((await tx.getUser(credential.userId)) === undefined) continue;
        if ((await tx.getPasswordHash(credential.userId)) !== undefined) continue;
        await tx.insertPasswordHash(credential.userId, credential.passwordHash, credential.createdAt);
        added++;
      }
      return added;
    });
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= hash('decoy password, never valid');
    return this.decoyHash;
  }
}

function idTaken(userId: string): string {
  return `The user id ${userId} is taken; if it is yours, sign in instead`;
}

function requirePassword(password: string): void {
  if (password.length < PASSWORD_LENGTH.min || password.length > PASSWORD_LENGTH.max) {
    throw new ParleyError('INVALID_ARGUMENT', `a password has ${PASSWORD_LENGTH.min}-${PASSWORD_LENGTH.max} characters`);
  }
}
