/**
 * Presence on the client: whom this client watches and what it last heard
 * of each (online, away, offline and when last seen, or unknown), and
 * whether this device wants to be seen away. No sockets, no timers: the
 * client hands it the server's answers and pushes and asks it what to send.
 */
import { PresenceState as WirePresenceState, type UserPresence } from '@parley/protocol';

/** User ids watched at once (the server refuses longer lists). */
export const MAX_WATCHED_USERS = 200;

/** 'unknown': not shown (the user hides it, shares no conversation with this user, or is not watched). */
export type PresenceState = 'online' | 'away' | 'offline' | 'unknown';

export interface Presence {
  userId: string;
  state: PresenceState;
  /** When the user's last connection closed (ms since the epoch), for 'offline' when shown. */
  lastSeen?: number;
}

const STATES: Record<WirePresenceState, PresenceState> = {
  [WirePresenceState.PRESENCE_STATE_UNKNOWN]: 'unknown',
  [WirePresenceState.PRESENCE_STATE_OFFLINE]: 'offline',
  [WirePresenceState.PRESENCE_STATE_ONLINE]: 'online',
  [WirePresenceState.PRESENCE_STATE_AWAY]: 'away',
  [WirePresenceState.UNRECOGNIZED]: 'unknown',
};

export function toPresence(wire: UserPresence): Presence {
  const state = STATES[wire.state] ?? 'unknown';
  return state === 'offline' && wire.lastSeen > 0 ? { userId: wire.userId, state, lastSeen: wire.lastSeen } : { userId: wire.userId, state };
}

export class PresenceBook {
  private list: string[] = [];
  private readonly known = new Map<string, Presence>();

  /** The ids watched now, in the order given. */
  get watched(): readonly string[] {
    return this.list;
  }

  /** Replaces the watched list; presences of users no longer watched are forgotten. */
  watch(userIds: readonly string[]): void {
    this.list = [...new Set(userIds)];
    const kept = new Set(this.list);
    for (const userId of [...this.known.keys()]) if (!kept.has(userId)) this.known.delete(userId);
  }

  /** Applies an answer or a push; returns the presences that changed (users not watched any more are ignored). */
  apply(users: readonly UserPresence[]): Presence[] {
    const watched = new Set(this.list);
    const changed: Presence[] = [];
    for (const wire of users) {
      if (!watched.has(wire.userId)) continue;
      const presence = toPresence(wire);
      const before = this.known.get(wire.userId);
      if (before !== undefined && before.state === presence.state && before.lastSeen === presence.lastSeen) continue;
      this.known.set(wire.userId, presence);
      changed.push({ ...presence });
    }
    return changed;
  }

  of(userId: string): Presence | undefined {
    const presence = this.known.get(userId);
    return presence === undefined ? undefined : { ...presence };
  }
}

/**
 * Whether this device is away, as wanted and as the server last confirmed on
 * the current connection; a new connection starts active.
 */
export class AwayState {
  private wanted = false;
  private confirmed = false;
  private inFlight = false;

  set(away: boolean): void {
    this.wanted = away;
  }

  get away(): boolean {
    return this.wanted;
  }

  /** The value to send now, if one is due (none while one is on its way). */
  due(): boolean | undefined {
    if (this.inFlight || this.wanted === this.confirmed) return undefined;
    this.inFlight = true;
    return this.wanted;
  }

  /** The server took `away` (true) or the request failed (undefined). */
  settled(away: boolean | undefined): void {
    this.inFlight = false;
    if (away !== undefined) this.confirmed = away;
  }

  /** A new connection: the server sees it active. */
  reset(): void {
    this.confirmed = false;
    this.inFlight = false;
  }
}
