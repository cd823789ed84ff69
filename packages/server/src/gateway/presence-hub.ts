/**
 * Presence on one node: which of its connections watch whom, and telling
 * them when a watched user goes online, away or offline (docs/protocol.md,
 * "Presence"). The rules of who may watch whom and what a watcher is shown
 * are the domain's (services/presence.ts).
 *
 * No bus event of its own: ClusterPresence already tells every node every
 * change of every user's connection counts (and of their away counts), so
 * each node sees each user's state change and serves its own watchers. A
 * watched user's settings reach every node with the `userSettings` event.
 *
 * An offline waits a grace period (like the webhooks' user.offline): a
 * phone that drops and reconnects within it was never offline for anyone.
 * Then the time the last connection closed is the user's last seen, kept in
 * memory and, by the node whose connection it was, in the store. A node
 * that vanishes without a word (kill -9) takes no one's last seen with it:
 * the lowest-named live node keeps what the others learn once it is
 * forgotten.
 *
 * Changes are gathered and told every PRESENCE_FLUSH_MS, one presence_event
 * per watching connection listing every user that changed: a flapping
 * contact costs a watcher at most a few frames a second.
 */
import { type Clock, ParleyError, PresenceState, type TimerHandle, type UserPresence, encodeFrameEntry } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import { type PresenceService, type PresenceStateName, type ShownPresence, shownPresence } from '../services/presence.js';
import { setMostRecent } from '../util/recent-map.js';
import { BucketPerKey } from '../util/token-bucket.js';
import type { ClusterPresence, CountsOrigin } from './cluster-presence.js';
import type { SessionRegistry } from './registry.js';
import type { Session } from './session.js';

/** Changes are told to watchers at most this often. */
export const PRESENCE_FLUSH_MS = 250;
/** Connections on one node that may watch the same user; later ones are shown unknown. */
export const MAX_WATCHERS_PER_USER = 10_000;
/** Per connection: a list is replaced when the visible conversations change, not per keystroke. */
const SUBSCRIBE_PER_SECOND = 1;
const SUBSCRIBE_BURST = 5;
/** Per connection: an app goes to the background and back a few times a minute at most. */
const SET_PER_SECOND = 2;
const SET_BURST = 10;
/** Last-seen times kept in memory (the store has the rest). */
const MAX_REMEMBERED = 100_000;

const WIRE_STATES: Record<ShownPresence['state'], PresenceState> = {
  unknown: PresenceState.PRESENCE_STATE_UNKNOWN,
  offline: PresenceState.PRESENCE_STATE_OFFLINE,
  online: PresenceState.PRESENCE_STATE_ONLINE,
  away: PresenceState.PRESENCE_STATE_AWAY,
};

export interface PresenceHubDeps {
  presence: Pick<ClusterPresence, 'stateOf' | 'onCountsChanged' | 'knownNodes' | 'remoteConnections'>;
  registry: Pick<SessionRegistry, 'setAway' | 'userCounts' | 'sessionsOf'>;
  service: PresenceService;
  bus: Pick<Bus, 'subscribe'>;
  nodeId: string;
  clock: Clock;
  /** How long a user must stay without a connection before they are told offline. */
  offlineGraceMs: number;
}

/** One connection's watch list. */
interface Watch {
  userIds: string[];
  /** The watcher hides their own presence: shown no last seen. */
  blind: boolean;
}

/** A user watched on this node, and what its watchers were last told. */
interface Target {
  hidden: boolean;
  told: PresenceStateName;
  toldHidden: boolean;
  toldLastSeen: number | undefined;
}

/** A user with no connection left, within the grace. */
interface Leaving {
  at: number;
  /** What they were before: still what watchers are shown. */
  before: PresenceStateName;
  /** This node keeps their last seen in the store. */
  keep: boolean;
  timer: TimerHandle;
}

export class PresenceHub {
  private readonly watches = new Map<Session, Watch>();
  private readonly watchers = new Map<string, Set<Session>>();
  private readonly targets = new Map<string, Target>();
  private readonly leaving = new Map<string, Leaving>();
  /** When users were last seen, as this node learnt it (least recently set first). */
  private readonly lastSeen = new Map<string, number>();
  private readonly buckets = { subscribe: new BucketPerKey<Session>(SUBSCRIBE_PER_SECOND, SUBSCRIBE_BURST), set: new BucketPerKey<Session>(SET_PER_SECOND, SET_BURST) };
  private dirty = new Set<string>();
  private flushTimer: TimerHandle | undefined;
  private readonly unsubscribes: Array<() => void>;
  private closed = false;
  /** Presence events written to connections since start. */
  readonly counts = { told: 0 };

  constructor(private readonly deps: PresenceHubDeps) {
    this.unsubscribes = [
      deps.presence.onCountsChanged((userId, origin) => this.countsChanged(userId, origin)),
      deps.bus.subscribe((event) => {
        if (event.type === 'userSettings') this.settingsChanged(event.userId, event.settings.hidePresence);
      }),
    ];
  }

  /** presence_subscribe: replaces the session's watch list; answers each asked user's state now, in the order asked. */
  async subscribe(session: Session, watcherId: string, userIds: readonly string[]): Promise<UserPresence[]> {
    this.take(session, 'subscribe');
    const asked = this.deps.service.askedIds(userIds);
    const admission = await this.deps.service.admit(watcherId, asked);
    this.unwatch(session);
    if (session.isClosed || this.closed) return [];
    const watch: Watch = { userIds: [], blind: admission.blind };
    const answers: UserPresence[] = [];
    for (const userId of asked) {
      const target = admission.targets.get(userId);
      if (target === undefined || !this.watch(session, userId, target.hidden)) {
        answers.push({ userId, state: PresenceState.PRESENCE_STATE_UNKNOWN, lastSeen: 0 });
        continue;
      }
      watch.userIds.push(userId);
      if (target.lastSeenAt !== undefined && !this.lastSeen.has(userId)) setMostRecent(this.lastSeen, userId, target.lastSeenAt, MAX_REMEMBERED);
      answers.push(this.wireOf(userId, watch));
    }
    if (watch.userIds.length > 0) this.watches.set(session, watch);
    return answers;
  }

  /** set_presence: the session is away, or active again. */
  setAway(session: Session, away: boolean): void {
    this.take(session, 'set');
    this.deps.registry.setAway(session, away);
  }

  /** The session closed: it watches nobody any more. */
  removeSession(session: Session): void {
    this.unwatch(session);
  }

  /**
   * Stops: the last seen of every user whose last connection was here (this
   * node's connections are about to close) and of those within their grace
   * is written before the store closes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unsubscribes) stop();
    this.deps.clock.clearTimeout(this.flushTimer);
    const now = this.deps.clock.now();
    for (const [userId, left] of this.leaving) {
      this.deps.clock.clearTimeout(left.timer);
      if (left.keep) this.deps.service.lastSeen(userId, left.at);
    }
    this.leaving.clear();
    for (const [userId, connections] of this.deps.registry.userCounts()) {
      if (connections > 0 && this.deps.presence.remoteConnections(userId) === 0) this.deps.service.lastSeen(userId, now);
    }
    this.watches.clear();
    this.watchers.clear();
    this.targets.clear();
    await this.deps.service.close();
  }

  private take(session: Session, kind: 'subscribe' | 'set'): void {
    const waitMs = this.buckets[kind].take(session, this.deps.clock.now());
    if (waitMs > 0) throw new ParleyError('RATE_LIMITED', kind === 'set' ? 'presence set too often' : 'presence subscriptions too often', { retryAfterMs: waitMs });
  }

  /** Adds the session as a watcher of the user, unless the user has too many here. */
  private watch(session: Session, userId: string, hidden: boolean): boolean {
    let sessions = this.watchers.get(userId);
    if (sessions !== undefined && sessions.size >= MAX_WATCHERS_PER_USER) return false;
    if (sessions === undefined) {
      sessions = new Set();
      this.watchers.set(userId, sessions);
    }
    sessions.add(session);
    const target = this.targets.get(userId);
    if (target === undefined) {
      const told = this.shownState(userId);
      this.targets.set(userId, { hidden, told, toldHidden: hidden, toldLastSeen: this.lastSeen.get(userId) });
    } else if (target.hidden !== hidden) {
      // The store said otherwise than the last settings event: the store is newer.
      target.hidden = hidden;
      this.markDirty(userId);
    }
    return true;
  }

  private unwatch(session: Session): void {
    const watch = this.watches.get(session);
    if (watch === undefined) return;
    this.watches.delete(session);
    for (const userId of watch.userIds) {
      const sessions = this.watchers.get(userId);
      sessions?.delete(session);
      if (sessions?.size === 0) {
        this.watchers.delete(userId);
        this.targets.delete(userId);
      }
    }
  }

  /** The state watchers are shown now: during an offline's grace, what the user was before. */
  private shownState(userId: string): PresenceStateName {
    return this.leaving.get(userId)?.before ?? this.deps.presence.stateOf(userId);
  }

  private wireOf(userId: string, watch: Watch): UserPresence {
    const target = this.targets.get(userId);
    const shown = shownPresence(target?.told ?? this.shownState(userId), this.lastSeen.get(userId), { hidden: target?.hidden ?? true }, watch);
    return { userId, state: WIRE_STATES[shown.state], lastSeen: shown.lastSeen };
  }

  /** A user's connection counts changed somewhere in the cluster. */
  private countsChanged(userId: string, origin: CountsOrigin): void {
    if (this.closed) return;
    const state = this.deps.presence.stateOf(userId);
    const left = this.leaving.get(userId);
    if (state !== 'offline') {
      if (left !== undefined) {
        // Back within the grace: as far as watchers know, never gone.
        this.deps.clock.clearTimeout(left.timer);
        this.leaving.delete(userId);
      }
      this.markDirty(userId);
      return;
    }
    if (left !== undefined) return;
    const at = this.deps.clock.now();
    const keep = origin === 'local' || (origin === 'silent' && this.keepsForTheSilent());
    if (!keep && !this.targets.has(userId)) {
      // Nobody here watches them and another node keeps the time: remembered, without a timer per user of the cluster.
      setMostRecent(this.lastSeen, userId, at, MAX_REMEMBERED);
      return;
    }
    const before = this.targets.get(userId)?.told ?? 'online';
    const leaving: Leaving = { at, before, keep, timer: this.deps.clock.setTimeout(() => this.settle(userId, leaving), this.deps.offlineGraceMs) };
    this.leaving.set(userId, leaving);
  }

  /** The grace ended without a connection: the user is offline, last seen when their last connection closed. */
  private settle(userId: string, left: Leaving): void {
    if (this.leaving.get(userId) !== left) return;
    this.leaving.delete(userId);
    setMostRecent(this.lastSeen, userId, left.at, MAX_REMEMBERED);
    if (left.keep) this.deps.service.lastSeen(userId, left.at);
    this.markDirty(userId);
  }

  /** Of the nodes still known, the lowest-named keeps the last seen of users whose node went silent. */
  private keepsForTheSilent(): boolean {
    for (const nodeId of this.deps.presence.knownNodes()) if (nodeId < this.deps.nodeId) return false;
    return true;
  }

  /** A user changed their settings: as a watched user, and as a watcher. */
  private settingsChanged(userId: string, hidePresence: boolean): void {
    const target = this.targets.get(userId);
    if (target !== undefined && target.hidden !== hidePresence) {
      target.hidden = hidePresence;
      this.markDirty(userId);
    }
    for (const session of this.deps.registry.sessionsOf(userId) ?? []) {
      const watch = this.watches.get(session);
      if (watch === undefined || watch.blind === hidePresence) continue;
      watch.blind = hidePresence;
      // Last seen appears or disappears for every user this connection watches.
      this.tell(session, watch.userIds.map((watched) => this.wireOf(watched, watch)));
    }
  }

  private markDirty(userId: string): void {
    if (!this.targets.has(userId)) return;
    this.dirty.add(userId);
    this.flushTimer ??= this.deps.clock.setTimeout(() => this.flush(), PRESENCE_FLUSH_MS);
  }

  /** Tells each watcher, in one event, every user it watches whose shown state changed. */
  private flush(): void {
    this.flushTimer = undefined;
    const dirty = this.dirty;
    this.dirty = new Set();
    const perSession = new Map<Session, UserPresence[]>();
    for (const userId of dirty) {
      const target = this.targets.get(userId);
      if (target === undefined) continue;
      const state = this.shownState(userId);
      const lastSeen = this.lastSeen.get(userId);
      if (state === target.told && target.hidden === target.toldHidden && lastSeen === target.toldLastSeen) continue;
      target.told = state;
      target.toldHidden = target.hidden;
      target.toldLastSeen = lastSeen;
      for (const session of this.watchers.get(userId) ?? []) {
        const watch = this.watches.get(session);
        if (watch === undefined) continue;
        let list = perSession.get(session);
        if (list === undefined) {
          list = [];
          perSession.set(session, list);
        }
        list.push(this.wireOf(userId, watch));
      }
    }
    for (const [session, users] of perSession) this.tell(session, users);
  }

  private tell(session: Session, users: UserPresence[]): void {
    if (users.length === 0 || session.isClosed) return;
    this.counts.told += 1;
    session.enqueue(encodeFrameEntry({ requestId: 0, body: { $case: 'presenceEvent', value: { users } } }));
  }
}
