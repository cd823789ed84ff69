/**
 * One authenticated connection: opens a transport, says hello, waits for
 * welcome, correlates requests with replies (ids, timeouts), sends heartbeats
 * and declares the connection dead when the server goes silent. It knows
 * nothing about messages or conversations: pushes go to the owner, and when the
 * connection ends for any reason the owner hears it exactly once through onLost.
 */
import {
  PROTOCOL_VERSION,
  ParleyError,
  REQUESTS,
  decodePacket,
  encodeFrameEntry,
  type AnsweredRequestCase,
  type BodyOf,
  type Frame,
  type FrameBody,
  type FrameCase,
  type ReplyValue,
  type RequestCase,
  type Welcome,
} from '@parley/protocol';
import type { Clock, TimerHandle } from './clock.js';
import type { OpenTransport, Transport } from './transport.js';

export type { BodyValue } from '@parley/protocol';

const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000;
const MAX_REQUEST_ID = 0xffff_ffff;

export interface ConnectionOptions {
  token: string;
  clientName: string;
  /** Bounds every request, and the time from opening to welcome. */
  requestTimeoutMs: number;
  /** Bounds the time from opening the transport to welcome: nothing else watches a connection before it. */
  handshakeTimeoutMs: number;
  clock: Clock;
}

export interface ConnectionEvents {
  /** The server accepted hello; requests may be made from now on. */
  onWelcome(welcome: Welcome): void;
  /** A frame the server sent on its own (request id 0): push, conversation_changed, non-fatal error. */
  onServerFrame(body: FrameBody): void;
  /** The connection is over (closed, dead, refused, fatal error); pending requests are already rejected. */
  onLost(error: ParleyError): void;
}

interface PendingRequest {
  expect: FrameCase;
  resolve(value: unknown): void;
  reject(error: ParleyError): void;
  timer: TimerHandle;
}

export class Connection {
  private readonly transport: Transport;
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  private welcome: Welcome | undefined;
  private ended = false;
  private handshakeTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private lastReceivedAt = 0;
  private lastPingAt = 0;
  private pingNonce = 0;

  constructor(
    openTransport: OpenTransport,
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.handshakeTimer = this.options.clock.setTimeout(
      () => this.end(new ParleyError('TIMEOUT', `no welcome within ${options.handshakeTimeoutMs} ms`)),
      options.handshakeTimeoutMs,
    );
    this.transport = openTransport({
      onOpen: () => this.sayHello(),
      onPacket: (packet) => this.receive(packet),
      onClose: (reason) => this.end(new ParleyError('CLOSED', reason)),
    });
  }

  /** True once welcome arrived and until the connection ends. */
  get ready(): boolean {
    return this.welcome !== undefined && !this.ended;
  }

  /**
   * Sends a request and resolves with the value of its reply (the request
   * table in @parley/protocol says which); rejects with the server's error,
   * TIMEOUT or CLOSED.
   */
  request<C extends AnsweredRequestCase>(body: BodyOf<C>): Promise<ReplyValue<C>> {
    if (!this.ready) return Promise.reject(new ParleyError('CLOSED', 'not connected'));
    return this.send(body);
  }

  /**
   * Sends a request and calls back as soon as its reply is dispatched, in the
   * order frames arrive. A promise would settle in a microtask after the rest
   * of the packet was handled, so a push that follows a send_ack in the same
   * packet would be seen first: the sync engine would take the sender's own
   * message for a gap and pull it. Sends use this; everything else request().
   */
  requestInOrder<C extends AnsweredRequestCase>(body: BodyOf<C>, onReply: (value: ReplyValue<C>) => void, onError: (error: ParleyError) => void): void {
    if (!this.ready) {
      onError(new ParleyError('CLOSED', 'not connected'));
      return;
    }
    this.track(body, onReply as (value: unknown) => void, onError);
  }

  /** Sends a request that has no reply (delivered). */
  notify(body: BodyOf<Exclude<RequestCase, AnsweredRequestCase>>): void {
    if (this.ready) this.write({ requestId: this.allocateRequestId(), body: body as FrameBody });
  }

  /** Ends the connection; onLost reports `reason`. */
  close(reason: ParleyError = new ParleyError('CLOSED', 'closed by client')): void {
    this.end(reason);
  }

  private sayHello(): void {
    if (this.ended) return;
    this.lastReceivedAt = this.options.clock.now();
    const hello: BodyOf<'hello'> = {
      $case: 'hello',
      value: { protocolVersion: PROTOCOL_VERSION, token: this.options.token, client: this.options.clientName },
    };
    this.send(hello).then(
      (welcome) => {
        if (this.ended) return;
        this.options.clock.clearTimeout(this.handshakeTimer);
        this.welcome = welcome;
        this.startHeartbeat(welcome.heartbeatIntervalMs > 0 ? welcome.heartbeatIntervalMs : DEFAULT_HEARTBEAT_INTERVAL_MS);
        this.events.onWelcome(welcome);
      },
      (error: ParleyError) => this.end(error),
    );
  }

  private send<C extends AnsweredRequestCase>(body: BodyOf<C>): Promise<ReplyValue<C>> {
    return new Promise<ReplyValue<C>>((resolve, reject) => this.track(body, resolve as (value: unknown) => void, reject));
  }

  /** Writes a request and remembers who to tell about its reply (or its timeout). */
  private track<C extends AnsweredRequestCase>(body: BodyOf<C>, resolve: (value: unknown) => void, reject: (error: ParleyError) => void): void {
    const requestId = this.allocateRequestId();
    const expect = REQUESTS[body.$case as AnsweredRequestCase].reply;
    const timer = this.options.clock.setTimeout(() => {
      this.pending.delete(requestId);
      reject(new ParleyError('TIMEOUT', `no reply to ${body.$case} within ${this.options.requestTimeoutMs} ms`));
    }, this.options.requestTimeoutMs);
    this.pending.set(requestId, { expect, resolve, reject, timer });
    this.write({ requestId, body: body as FrameBody });
  }

  private write(frame: Frame): void {
    this.transport.send(encodeFrameEntry(frame));
  }

  /** Request ids are non-zero uint32s, never one still waiting for its reply. */
  private allocateRequestId(): number {
    let requestId: number;
    do {
      requestId = this.nextRequestId;
      this.nextRequestId = requestId >= MAX_REQUEST_ID ? 1 : requestId + 1;
    } while (this.pending.has(requestId));
    return requestId;
  }

  private receive(packet: Uint8Array): void {
    if (this.ended) return;
    this.lastReceivedAt = this.options.clock.now();
    let frames: Frame[];
    try {
      frames = decodePacket(packet);
    } catch (error) {
      this.end(error instanceof ParleyError ? error : new ParleyError('BAD_FRAME', 'undecodable packet'));
      return;
    }
    for (const frame of frames) {
      if (this.ended) return;
      this.dispatch(frame);
    }
  }

  private dispatch(frame: Frame): void {
    const body = frame.body;
    if (body === undefined) return;
    if (body.$case === 'ping' && frame.requestId === 0) {
      // The server's probe (docs/protocol.md, "Live rooms"): answered once
      // everything before it was read, which is what it measures.
      this.write({ requestId: 0, body: { $case: 'pong', value: { nonce: body.value.nonce } } });
      return;
    }
    if (body.$case === 'error') {
      const error = ParleyError.fromCode(body.value.code, body.value.message, body.value.retryAfterMs, body.value.reason);
      if (frame.requestId !== 0) this.settle(frame.requestId, undefined, error);
      if (body.value.fatal) this.end(error);
      else if (frame.requestId === 0) this.events.onServerFrame(body);
      return;
    }
    if (frame.requestId !== 0) {
      const pending = this.pending.get(frame.requestId);
      if (pending === undefined) return; // a pong, or a reply that came after its timeout
      if (pending.expect !== body.$case) {
        this.settle(frame.requestId, undefined, new ParleyError('BAD_FRAME', `expected ${pending.expect}, got ${body.$case}`));
        return;
      }
      this.settle(frame.requestId, body.value, undefined);
      return;
    }
    if (this.welcome !== undefined) this.events.onServerFrame(body);
  }

  private settle(requestId: number, value: unknown, error: ParleyError | undefined): void {
    const pending = this.pending.get(requestId);
    if (pending === undefined) return;
    this.pending.delete(requestId);
    this.options.clock.clearTimeout(pending.timer);
    if (error !== undefined) pending.reject(error);
    else pending.resolve(value);
  }

  /**
   * Pings every interval and, as the protocol asks, declares the connection dead
   * when nothing at all arrived for twice the interval. Checked four times per
   * interval rather than re-arming a timer on every packet.
   */
  private startHeartbeat(intervalMs: number): void {
    this.lastPingAt = this.options.clock.now();
    const checkEveryMs = Math.max(10, Math.floor(intervalMs / 4));
    const check = (): void => {
      const now = this.options.clock.now();
      if (now - this.lastReceivedAt >= 2 * intervalMs) {
        this.end(new ParleyError('TIMEOUT', `nothing received for ${now - this.lastReceivedAt} ms`));
        return;
      }
      if (now - this.lastPingAt >= intervalMs) {
        this.lastPingAt = now;
        this.pingNonce += 1;
        this.write({ requestId: this.allocateRequestId(), body: { $case: 'ping', value: { nonce: this.pingNonce } } });
      }
      this.heartbeatTimer = this.options.clock.setTimeout(check, checkEveryMs);
    };
    this.heartbeatTimer = this.options.clock.setTimeout(check, checkEveryMs);
  }

  private end(error: ParleyError): void {
    if (this.ended) return;
    this.ended = true;
    this.options.clock.clearTimeout(this.handshakeTimer);
    this.options.clock.clearTimeout(this.heartbeatTimer);
    this.transport?.close();
    const pending = [...this.pending.values()];
    this.pending.clear();
    const closed = new ParleyError('CLOSED', `connection lost: ${error.message}`, { cause: error });
    for (const request of pending) {
      this.options.clock.clearTimeout(request.timer);
      request.reject(closed);
    }
    this.events.onLost(error);
  }
}
