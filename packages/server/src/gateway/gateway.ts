/**
 * The gateway: accepts connections from the WebSocket and TCP listeners,
 * gives each a Session, flushes queued output once per event-loop turn, and
 * sweeps for connections that missed their auth or heartbeat deadline.
 */
import type { Logger } from 'pino';
import type { GatewayContext, WireConnection } from './session.js';
import { Session } from './session.js';
import { SessionRegistry } from './registry.js';

export type GatewayServices = Omit<GatewayContext, 'onAuthenticated' | 'onClosed' | 'scheduleFlush' | 'sendBucketOf'>;

export class Gateway {
  readonly registry: SessionRegistry;
  private readonly context: GatewayContext;
  private dirty: Session[] = [];
  private flushScheduled = false;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    services: GatewayServices,
    private readonly authTimeoutMs: number,
    private readonly log: Logger,
  ) {
    this.registry = new SessionRegistry(services.limits);
    this.context = {
      ...services,
      onAuthenticated: (session) => this.registry.bindUser(session),
      sendBucketOf: (userId) => this.registry.sendBucketOf(userId),
      onClosed: (session) => this.registry.remove(session),
      scheduleFlush: (session) => this.scheduleFlush(session),
    };
    const sweepEvery = Math.max(200, Math.min(5000, Math.floor(Math.min(services.heartbeatIntervalMs, authTimeoutMs) / 2)));
    this.sweepTimer = setInterval(() => this.sweep(), sweepEvery);
    this.sweepTimer.unref();
  }

  /** Wraps a new transport connection; the listener feeds packets to the returned session. */
  accept(connection: WireConnection): Session {
    const session = new Session(connection, this.context);
    this.registry.add(session);
    return session;
  }

  private scheduleFlush(session: Session): void {
    this.dirty.push(session);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const sessions = this.dirty;
      this.dirty = [];
      for (const dirty of sessions) dirty.flush();
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const session of [...this.registry.sessions()]) session.checkDeadlines(now, this.authTimeoutMs);
  }

  /** Tells every client the server is going away and closes the connections. */
  close(): void {
    clearInterval(this.sweepTimer);
    for (const session of [...this.registry.sessions()]) session.shutdown();
    this.log.debug('gateway closed');
  }
}
