/**
 * The gateway: accepts connections from the WebSocket and TCP listeners,
 * gives each a Session, flushes queued output once per event-loop turn, and
 * sweeps for connections that missed their auth, heartbeat or token deadline.
 * The sweep is a timeout on the server's Clock that re-arms itself.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import { declareUserRoute } from '../bus/user-route.js';
import type { Clock, TimerHandle } from '@parley/protocol';
import { Admission } from '../util/admission.js';
import { unrefTimer } from '../util/timers.js';
import type { GatewayContext, GatewayCounters, WireConnection } from './session.js';
import { Session } from './session.js';
import { SessionRegistry } from './registry.js';

/** Paused sessions resumed per turn once the send queue has drained (see resumeReading). */
const RESUME_BATCH = 32;
/** The longest a stopping node asks its clients to wait before they come back. */
const MAX_SHUTDOWN_SPREAD_MS = 10_000;

export type GatewayServices = Omit<
  GatewayContext,
  'onAuthenticated' | 'routeUser' | 'onClosed' | 'scheduleFlush' | 'sendBucketOf' | 'countRequest' | 'beforeAck' | 'pauseReading' | 'admitHello' | 'counters'
>;

export class Gateway {
  readonly registry: SessionRegistry;
  /** Requests handled since start, by kind (send, pull, sync, ...). */
  readonly requestCounts = new Map<string, number>();
  /** Messages in and refusals since start, for the operations view. */
  readonly counters: GatewayCounters = { messagesIn: { ws: 0, tcp: 0 }, refused: { request: 0, send: 0, overload: 0, hello: 0 } };
  private readonly context: GatewayContext;
  private dirty: Session[] = [];
  private flushScheduled = false;
  /** Run at the start of every flush, before the sessions write (Delivery queues its pushes there). */
  private readonly beforeFlush: Array<() => void> = [];
  private beforeAck: (session: Session, conversationId: string) => void = () => {};
  /** Sessions not read from until the send queue drains (see Session.onPacket). */
  private readonly paused = new Set<Session>();
  private readonly sweepEveryMs: number;
  private sweepTimer: TimerHandle | undefined;
  private closed = false;
  /** Sessions that declared their user's bus route, and how to withdraw it when they close. */
  private readonly routed = new Map<Session, () => void>();

  /** `bus`: the bus the node's pushes come from, when it routes by interest. */
  constructor(
    services: GatewayServices,
    private readonly authTimeoutMs: number,
    private readonly log: Logger,
    private readonly bus?: Pick<Bus, 'interest'>,
  ) {
    this.registry = new SessionRegistry(services.limits);
    const hellos = new Admission(services.limits.connectsPerSecond, services.limits.connectBurst);
    this.context = {
      ...services,
      counters: this.counters,
      beforeAck: (session, conversationId) => this.beforeAck(session, conversationId),
      pauseReading: (session) => this.pauseReading(session),
      countRequest: (kind) => this.requestCounts.set(kind, (this.requestCounts.get(kind) ?? 0) + 1),
      routeUser: (session) => this.routeUser(session),
      onAuthenticated: (session) => this.registry.bindUser(session),
      sendBucketOf: (userId, now) => this.registry.sendBucketOf(userId, now),
      admitHello: () => hellos.admit(services.clock.now()),
      onClosed: (session) => {
        this.routed.get(session)?.();
        this.routed.delete(session);
        this.registry.remove(session);
        this.paused.delete(session);
        services.roomHub.removeSession(session);
        services.presence.removeSession(session);
      },
      scheduleFlush: (session) => this.scheduleFlush(session),
    };
    // A deadline is noticed at most this long after it passed (5 s at the defaults).
    this.sweepEveryMs = Math.max(200, Math.min(5000, Math.floor(Math.min(services.heartbeatIntervalMs, authTimeoutMs) / 2)));
    this.armSweep();
  }

  /**
   * Declares the session's user on the bus (counted per session: the route
   * is withdrawn when the user's last session here closes) and waits until
   * the user's pushes are routed here, for a bounded time (user-route.ts).
   */
  private async routeUser(session: Session): Promise<void> {
    if (this.bus === undefined || session.userId === undefined) return;
    const route = declareUserRoute(this.bus, session.userId, (error) => this.log.warn({ err: error, conn: session.id }, 'user route not confirmed'));
    if (route === undefined) return;
    this.routed.set(session, route.withdraw);
    await route.routed;
  }

  /** The server's clock, for the listeners' close grace timers. */
  get clock(): Clock {
    return this.context.clock;
  }

  /** Wraps a new transport connection; the listener feeds packets to the returned session. */
  accept(connection: WireConnection): Session {
    const session = new Session(connection, this.context);
    this.registry.add(session);
    return session;
  }

  /**
   * Registers work to run at the start of every flush, and returns the
   * function that asks for a flush. Delivery queues its pushes there, so a
   * push costs one event-loop turn, not two.
   */
  addFlushStep(step: () => void): () => void {
    this.beforeFlush.push(step);
    return () => this.requestFlush();
  }

  /** Sets what runs before a send's ack is queued (Delivery.beforeAck: earlier pushes first). */
  setBeforeAck(hook: (session: Session, conversationId: string) => void): void {
    this.beforeAck = hook;
  }

  private pauseReading(session: Session): void {
    if (this.paused.has(session)) return;
    if (this.paused.size === 0) this.context.messaging.onceDrained(() => this.resumeReading());
    this.paused.add(session);
    session.pauseReading();
  }

  /**
   * Resumes paused sessions a few at a time, one batch per turn while the
   * queue has room: resuming every connection at once would pour all their
   * buffered sends in together and overflow the queue straight away.
   */
  private resumeReading(): void {
    if (this.closed) return;
    let resumed = 0;
    for (const session of this.paused) {
      if (resumed === RESUME_BATCH) break;
      this.paused.delete(session);
      session.resumeReading();
      resumed += 1;
    }
    if (this.paused.size === 0) return;
    setImmediate(() => {
      if (this.context.messaging.busy) this.context.messaging.onceDrained(() => this.resumeReading());
      else this.resumeReading();
    });
  }

  private scheduleFlush(session: Session): void {
    this.dirty.push(session);
    this.requestFlush();
  }

  private requestFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const step of this.beforeFlush) step();
      const sessions = this.dirty;
      this.dirty = [];
      for (const dirty of sessions) dirty.flush();
    });
  }

  private armSweep(): void {
    this.sweepTimer = this.context.clock.setTimeout(() => this.sweep(), this.sweepEveryMs);
    // The sweep alone must not keep a process alive (listening sockets do that).
    unrefTimer(this.sweepTimer);
  }

  private sweep(): void {
    if (this.closed) return;
    const now = this.context.clock.now();
    for (const session of [...this.registry.sessions()]) session.checkDeadlines(now, this.authTimeoutMs);
    this.armSweep();
  }

  /** Tells every client the server is going away and closes the connections. */
  close(): void {
    this.closed = true;
    this.context.clock.clearTimeout(this.sweepTimer);
    if (this.registry.size > 0) this.log.info({ connections: this.registry.size }, 'closing every connection: the server shuts down');
    // Every client of a stopping node reconnects, most to other nodes: each
    // is given a random moment within the time one node would take to admit
    // them all (connectsPerSecond), at most 10 s, so they arrive spread out
    // instead of in one surge of refusals.
    const spreadMs = Math.min(MAX_SHUTDOWN_SPREAD_MS, (this.registry.size / this.context.limits.connectsPerSecond) * 1000);
    for (const session of [...this.registry.sessions()]) session.shutdown(Math.random() * spreadMs);
    this.log.debug('gateway closed');
  }
}
