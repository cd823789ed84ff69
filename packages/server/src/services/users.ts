/** Users: creation, display names and token revocation. */
import { type Clock, ParleyError, systemClock } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { Store, UserRow } from '../store/store.js';

export class UserService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates a user, or renames an existing one. */
  putUser(id: string, name: string): Promise<{ user: UserRow; created: boolean }> {
    return this.store.write(async (tx) => {
      const existing = await tx.getUser(id);
      if (existing !== undefined) {
        if (existing.name !== name) await tx.updateUser(id, { name });
        return { user: { ...existing, name }, created: false };
      }
      const user: UserRow = { id, name, createdAt: this.clock.now(), tokensValidAfter: 0 };
      await tx.insertUser(user);
      return { user, created: true };
    });
  }

  getUser(id: string): Promise<UserRow | undefined> {
    return this.store.getUser(id);
  }

  /** Rejects every token issued before now, and closes the user's connections on every node. */
  async revokeTokens(userId: string): Promise<void> {
    const at = this.clock.now();
    await this.store.write(async (tx) => {
      if ((await tx.getUser(userId)) === undefined) throw new ParleyError('NOT_FOUND', `unknown user ${userId}`);
      await tx.updateUser(userId, { tokensValidAfter: at });
    });
    this.bus.publish({ type: 'revoked', userId });
  }
}
