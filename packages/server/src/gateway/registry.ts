/**
 * Which sessions this node holds: all of them (for deadline sweeps) and the
 * authenticated ones by user (for routing pushes to every device of a user).
 */
import { ParleyError } from '@parley/protocol';
import type { Session } from './session.js';

export class SessionRegistry {
  private readonly all = new Set<Session>();
  private readonly byUser = new Map<string, Set<Session>>();

  add(session: Session): void {
    this.all.add(session);
  }

  bindUser(session: Session): void {
    const userId = session.userId as string;
    let sessions = this.byUser.get(userId);
    if (sessions === undefined) {
      sessions = new Set();
      this.byUser.set(userId, sessions);
    }
    sessions.add(session);
  }

  remove(session: Session): void {
    this.all.delete(session);
    if (session.userId === undefined) return;
    const sessions = this.byUser.get(session.userId);
    if (sessions === undefined) return;
    sessions.delete(session);
    if (sessions.size === 0) this.byUser.delete(session.userId);
  }

  sessionsOf(userId: string): ReadonlySet<Session> | undefined {
    return this.byUser.get(userId);
  }

  /** Closes every connection of a user (tokens revoked). */
  closeUser(userId: string): void {
    for (const session of [...(this.byUser.get(userId) ?? [])]) {
      session.fail(new ParleyError('UNAUTHENTICATED', 'token revoked'));
    }
  }

  sessions(): IterableIterator<Session> {
    return this.all.values();
  }

  get size(): number {
    return this.all.size;
  }

  get userCount(): number {
    return this.byUser.size;
  }
}
