/**
 * One client connection's protocol state, independent of its transport:
 * hello/auth, request dispatch to the services, rate limiting, and the
 * outgoing queue that coalesces frames into packets and bounds what a slow
 * reader can make the server hold.
 */
import { randomUUID } from 'node:crypto';
import {
  type AnsweredRequestCase,
  type BodyOf,
  type BodyValue,
  type ErrorName,
  type Frame,
  type FrameBody,
  type Message as WireMessage,
  type ReplyCase,
  type ReplyValue,
  type Clock,
  PROTOCOL_VERSION,
  REQUESTS,
  isRequestCase,
  ParleyError,
  decodePacket,
  encodeFrameEntry,
  joinEntries,
} from '@parley/protocol';
import type { Logger } from 'pino';
import type { RoomLimits, ServerLimits } from '../config.js';
import type { RoomService } from '../services/rooms.js';
import type { RoomHub } from './room-hub.js';
import type { AuthService } from '../services/auth.js';
import type { ConversationSettings } from '../services/conversation-settings.js';
import { type ReceiptService, settingsOfUser } from '../services/receipts.js';
import type { MessageAmendments } from '../services/amendments.js';
import type { ConversationView, StoredMessage, UserRecord } from '../services/model.js';
import type { ReceiptsRelay } from './receipts-relay.js';
import type { TypingRelay } from './typing.js';
import type { PresenceHub } from './presence-hub.js';
import { MAX_SIGNAL_BYTES, SIGNALS_PER_SECOND, type SignalRelay } from './signals.js';
import type { ConversationService } from '../services/conversations.js';
import type { MediaLimits } from '../services/media.js';
import { type MessagingService, overloadedError } from '../services/messaging.js';
import type { UserDirectory } from '../services/directory.js';
import type { Timing } from '../util/metrics-sink.js';
import { TokenBucket } from '../util/token-bucket.js';
import { positionsFromWire, roleFromWire, roleToWire, toWireMessage, toWireSummary } from './wire.js';

/** What a transport (WebSocket, TCP) offers a session. */
export interface WireConnection {
  readonly transport: 'ws' | 'tcp';
  readonly remoteAddress: string;
  /** Writes one packet. */
  write(packet: Uint8Array): void;
  /** Bytes accepted by write() but not yet handed to the network. */
  bufferedBytes(): number;
  /** Stops reading from the peer (its data waits in the network buffers: backpressure), until resumeReading(). */
  pauseReading(): void;
  resumeReading(): void;
  /**
   * Flushes what was written, then closes: WebSocket with `closeCode` (see
   * docs/protocol.md, "Closing"), TCP with a FIN. A peer that does not finish
   * the close in a few seconds is dropped.
   */
  close(closeCode: number, reason: string): void;
  /** Closes at once, dropping anything unsent. */
  destroy(): void;
  /**
   * Asks the peer for a sign of life that it can only give after reading
   * everything written before it (a WebSocket ping: the pong comes back
   * behind the data), and calls `answered` when it comes. Absent on
   * transports without one (TCP).
   */
  probe?(answered: () => void): void;
}

/** How much of a room's traffic a viewer has not confirmed reading yet (see Session.writeRoomBatch). */
interface RoomFlow {
  unconfirmed: number;
  probing: boolean;
}

/**
 * What the gateway counts for the operations view, read when scraped: plain
 * numbers, so counting costs an addition on the message path.
 */
export interface GatewayCounters {
  /** Sends stored (repeats of a stored send left out), by the transport of the connection that made them. */
  messagesIn: Record<WireConnection['transport'], number>;
  /**
   * Refused for coming too fast, by the limit that refused them: `request`
   * (a connection's request rate), `send` (a user's send rate, and the
   * sends held behind a refused one), `overload` (sends past twice
   * maxPendingSends), `hello` (connections past connectsPerSecond).
   */
  refused: Record<'request' | 'send' | 'overload' | 'hello', number>;
}

export interface GatewayContext {
  auth: AuthService;
  messaging: MessagingService;
  conversations: ConversationService;
  settings: ConversationSettings;
  /** Typing indicators (typing.ts): no reply, so not a handler of its own. */
  typing: Pick<TypingRelay, 'relay'>;
  /** Receipts and the account settings (services/receipts.ts); delivered acknowledgements go through `receiptsRelay`, which has no reply. */
  receipts: ReceiptService;
  /** Recall, edit, delete for me. */
  amendments: MessageAmendments;
  receiptsRelay: Pick<ReceiptsRelay, 'delivered'>;
  /** Signals (signals.ts): no reply for a signal; signal_values is answered. */
  signals: Pick<SignalRelay, 'relay' | 'valuesOf'>;
  /** Presence (presence-hub.ts): watch lists and this connection's away state; told when a session closes. */
  presence: Pick<PresenceHub, 'subscribe' | 'setAway' | 'removeSession'>;
  directory: UserDirectory;
  rooms: RoomService;
  roomHub: RoomHub;
  limits: ServerLimits;
  roomLimits: RoomLimits;
  /** Upload size limits announced in the welcome. */
  mediaLimits: MediaLimits;
  heartbeatIntervalMs: number;
  serverVersion: string;
  /** Store.databaseId, told in the welcome. */
  databaseId: string;
  /** Each connection logs through a child of it with its id (`conn`), transport and remote address. */
  log: Logger;
  /** The server's time: deadlines, rate limits. */
  clock: Clock;
  /** From a send decoded to its ack written to the connection (parley_send_ack_seconds). */
  sendAckTiming: Timing;
  /** The gateway's counts (Gateway.counters). */
  counters: GatewayCounters;
  /** The server has too many sends waiting for their commit: stop reading from this session for a while. */
  pauseReading(session: Session): void;
  /** Runs right before a send's ack is queued: pushes it must not overtake are queued first. */
  beforeAck(session: Session, conversationId: string): void;
  /** Counts one request of a kind, for the operations view (ParleyServer.requestCounts). */
  countRequest(kind: string): void;
  /** 0 when a new connection may say hello now; otherwise the ms it should wait (a reconnect storm: see Admission). */
  admitHello(): number;
  /**
   * Called once a session's token checked out, before it is welcomed: on a
   * routing bus, resolves once the user's pushes reach this node (or after
   * a bounded wait), so that nothing the device then reads can miss one.
   * Never rejects.
   */
  routeUser(session: Session): Promise<void>;
  /** Called once a session authenticated; throws to refuse it (too many connections). */
  onAuthenticated(session: Session): void;
  /** The send-rate bucket of a user, shared by their connections (`now`: when a cluster's share changes, from then on). */
  sendBucketOf(userId: string, now: number): TokenBucket;
  onClosed(session: Session): void;
  scheduleFlush(session: Session): void;
}

type SessionState = 'awaiting_hello' | 'authenticating' | 'open' | 'closed';

/** Packets are cut at this size when coalescing, so one huge write never forms. */
const COALESCE_BYTES = 64 * 1024;
/** Frames a client may pipeline behind its hello before the welcome. */
const MAX_EARLY_FRAMES = 256;
/** How long a rate-limited send holds back later sends of its conversation (see holdBack). */
const SEND_HOLD_MS = 30_000;
const MAX_HELD_CONVERSATIONS = 1000;
/** Requests answered later than this are logged at info (ms). */
const SLOW_REQUEST_MS = 1000;
/** Returned by a handler that queued its reply itself (sends: see MessagingService.send). */
const ALREADY_REPLIED = Symbol('already replied');

/** Requests answered by a handler: all answered requests except hello, which opens the session. */
type HandledCase = Exclude<AnsweredRequestCase, 'hello'>;
type Handler<C extends HandledCase> = (
  session: Session,
  request: BodyValue<C>,
  userId: string,
  requestId: number,
) => ReplyValue<C> | Promise<ReplyValue<C> | typeof ALREADY_REPLIED>;

export class Session {
  readonly id = randomUUID();
  readonly connectedAt: number;
  userId: string | undefined;
  /** The live rooms this connection joined (RoomHub); allocated on the first join. */
  rooms: Set<string> | undefined;
  /** The user's display name, loaded on the first room join (room events carry it). */
  displayName: string | undefined;
  /** Allocated on the first room batch. */
  private roomFlow: RoomFlow | undefined;
  /** A protocol-level probe in flight (transports without their own, see probe()). */
  private probeAnswered: (() => void) | undefined;
  /** Clock time of the last packet from the client (any frame counts as activity). */
  lastInboundAt: number;
  /** When the token this session authenticated with expires; the session ends then. */
  private tokenExpiresAt = Number.MAX_SAFE_INTEGER;
  private state: SessionState = 'awaiting_hello';
  /** Not read from while the server's send queue drains (backpressure). */
  private readingPaused = false;
  private outgoing: Uint8Array[] = [];
  private outgoingBytes = 0;
  /**
   * What the transport still held after the last flush. Reading it costs a
   * call into the socket, so enqueue() compares against this snapshot and
   * flush() takes a fresh one: the bound holds to within one flush.
   */
  private transportBacklog = 0;
  /** Frames pipelined behind hello, run after welcome; allocated only when a client does that. */
  private earlyFrames: Frame[] | undefined;
  private readonly bucket: TokenBucket;
  /**
   * Per conversation, the rate-limited send that later sends must wait for.
   * Refusing a send while accepting the next one would break the sender's
   * order, so after a refusal every other send of that conversation on this
   * connection is refused too until the refused one is retried (or the hold
   * expires). A client that retries its unacknowledged sends in order keeps
   * its order.
   */
  private heldSends: Map<string, { clientMsgId: string; expiresAt: number }> | undefined;
  /** When the sends whose acks wait in `outgoing` were decoded (performance.now()); timed once written. */
  private ackStarts: number[] | undefined;
  /** Made on first use (see log): most connections never log at the usual levels. */
  private logger: Logger | undefined;

  constructor(
    private readonly connection: WireConnection,
    private readonly context: GatewayContext,
  ) {
    this.connectedAt = context.clock.now();
    this.lastInboundAt = this.connectedAt;
    this.bucket = new TokenBucket(context.limits.requestsPerSecond, context.limits.requestBurst);
    this.debug({}, 'connection opened');
  }

  /** This connection's logger: every line carries its id (`conn`), transport and remote address. */
  private get log(): Logger {
    this.logger ??= this.context.log.child({ conn: this.id, transport: this.connection.transport, remote: this.connection.remoteAddress });
    return this.logger;
  }

  /** Logs at debug, without making a child logger when debug is off. */
  private debug(fields: Record<string, unknown>, message: string): void {
    if (this.context.log.isLevelEnabled('debug')) this.log.debug(fields, message);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get transport(): 'ws' | 'tcp' {
    return this.connection.transport;
  }

  /** Bytes queued for the peer and not yet handed to the network: this session's queue plus the transport's buffer. */
  get queuedBytes(): number {
    return this.isClosed ? 0 : this.outgoingBytes + this.connection.bufferedBytes();
  }

  // ---- inbound ----

  onPacket(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.lastInboundAt = this.context.clock.now();
    let frames: Frame[];
    try {
      frames = decodePacket(bytes);
    } catch (error) {
      this.fail(error instanceof ParleyError ? error : new ParleyError('BAD_FRAME', 'malformed packet'));
      return;
    }
    for (const frame of frames) {
      if (this.isClosed) return;
      this.onFrame(frame);
    }
    // Backpressure: while too many sends wait for their commit, a connection
    // that sends anything is not read again until the queue has drained; its
    // client waits in TCP, not here.
    if (this.context.messaging.busy) this.context.pauseReading(this);
  }

  /** Stops reading from the transport (see GatewayContext.pauseReading). */
  pauseReading(): void {
    if (this.isClosed) return;
    this.readingPaused = true;
    this.connection.pauseReading();
  }

  resumeReading(): void {
    if (this.isClosed) return;
    this.readingPaused = false;
    // Its pings waited in the network meanwhile: silence while paused is not the client's.
    this.lastInboundAt = this.context.clock.now();
    this.connection.resumeReading();
  }

  private onFrame(frame: Frame): void {
    const body = frame.body;
    if (this.state === 'awaiting_hello') {
      if (body?.$case !== 'hello') {
        this.fail(new ParleyError('BAD_FRAME', 'the first frame must be hello'));
        return;
      }
      if (frame.requestId === 0) {
        this.fail(new ParleyError('BAD_FRAME', 'hello needs a non-zero request_id'));
        return;
      }
      const waitMs = this.context.admitHello();
      if (waitMs > 0) {
        this.context.counters.refused.hello += 1;
        // At debug: a reconnect storm would write a line per connection; parley_rate_limited_total counts them.
        this.fail(new ParleyError('UNAVAILABLE', 'too many connections at once; connect again after retry_after_ms', { retryAfterMs: waitMs }), frame.requestId, 'debug');
        return;
      }
      this.state = 'authenticating';
      void this.authenticate(frame.requestId, body.value.protocolVersion, body.value.token);
      return;
    }
    if (this.state === 'authenticating') {
      this.earlyFrames ??= [];
      if (this.earlyFrames.length >= MAX_EARLY_FRAMES) {
        this.fail(new ParleyError('TOO_LARGE', 'too many frames before welcome'));
        return;
      }
      this.earlyFrames.push(frame);
      return;
    }
    if (body === undefined) {
      this.replyError(frame.requestId, new ParleyError('BAD_FRAME', 'unknown frame type'));
      return;
    }
    // The answer to the server's own probe (see probe()).
    if (body.$case === 'pong' && frame.requestId === 0) {
      const answered = this.probeAnswered;
      this.probeAnswered = undefined;
      answered?.();
      return;
    }
    // A reply with request_id 0 could not be told from a push, so requests
    // must carry an id; only `delivered` and `typing`, which have no reply, may omit it.
    if (frame.requestId === 0 && body.$case !== 'delivered' && body.$case !== 'typing' && body.$case !== 'signal') {
      this.replyError(0, new ParleyError('BAD_FRAME', `${body.$case} needs a non-zero request_id`));
      return;
    }
    if (!isRequestCase(body.$case) || body.$case === 'hello') {
      const reason = body.$case === 'hello' ? 'already authenticated' : `${body.$case} is not a client request`;
      this.replyError(frame.requestId, new ParleyError('BAD_FRAME', reason));
      return;
    }
    this.context.countRequest(body.$case);
    if (body.$case === 'signal') {
      void this.context.signals.relay(this, this.userId as string, body.value);
      return;
    }
    if (body.$case === 'delivered') {
      this.context.receiptsRelay.delivered(this, this.userId as string, body.value.conversationId, body.value.seq);
      return;
    }
    if (body.$case === 'typing') {
      void this.context.typing.relay(this, this.userId as string, body.value.conversationId, body.value.typing);
      return;
    }
    // Sends are limited by their own per-user bucket, which keeps send order (checkSendRate).
    if (REQUESTS[body.$case].rate === 'request') {
      const waitMs = this.bucket.take(this.context.clock.now());
      if (waitMs > 0) {
        this.context.counters.refused.request += 1;
        this.replyError(frame.requestId, new ParleyError('RATE_LIMITED', 'too many requests', { retryAfterMs: waitMs }), body.$case);
        return;
      }
    }
    this.run(body as BodyOf<HandledCase>, frame.requestId);
  }

  /** Runs one request and queues its reply, of the case the request table pairs with it. */
  private run(body: BodyOf<HandledCase>, requestId: number): void {
    const kind = body.$case;
    const handler = HANDLERS[kind] as Handler<HandledCase>;
    const replyCase = REQUESTS[kind].reply;
    const answer = (value: BodyValue<ReplyCase<HandledCase>> | typeof ALREADY_REPLIED): void => {
      if (value !== ALREADY_REPLIED) this.reply(requestId, { $case: replyCase, value } as FrameBody);
    };
    let result: ReturnType<Handler<HandledCase>>;
    try {
      result = handler(this, body.value as never, this.userId as string, requestId);
    } catch (error) {
      this.replyError(requestId, error, kind);
      return;
    }
    if (!(result instanceof Promise)) {
      answer(result);
      return;
    }
    const started = performance.now();
    result.then(
      (value) => {
        answer(value);
        this.noteIfSlow(kind, requestId, started);
      },
      (error: unknown) => {
        this.replyError(requestId, error, kind);
        this.noteIfSlow(kind, requestId, started);
      },
    );
  }

  private noteIfSlow(kind: HandledCase, requestId: number, started: number): void {
    const ms = performance.now() - started;
    if (ms > SLOW_REQUEST_MS) this.log.info({ requestId, kind, ms: Math.round(ms) }, 'slow request');
  }

  private async authenticate(requestId: number, protocolVersion: number, token: string): Promise<void> {
    if (protocolVersion !== PROTOCOL_VERSION) {
      this.fail(new ParleyError('UNSUPPORTED_VERSION', `server speaks protocol ${PROTOCOL_VERSION}, client ${protocolVersion}`), requestId);
      return;
    }
    let userId: string;
    let user: UserRecord;
    try {
      ({ userId, expiresAt: this.tokenExpiresAt, user } = await this.context.auth.verifyToken(token));
    } catch (error) {
      this.fail(error instanceof ParleyError ? error : new ParleyError('UNAUTHENTICATED', 'invalid token'), requestId);
      return;
    }
    if (this.state !== 'authenticating') return;
    this.userId = userId;
    // The settings come with the row the token was checked against: no second read per hello.
    const settings = settingsOfUser(user);
    await this.context.routeUser(this);
    if (this.state !== 'authenticating') return;
    this.state = 'open';
    try {
      this.context.onAuthenticated(this);
    } catch (error) {
      this.fail(error instanceof ParleyError ? error : new ParleyError('INTERNAL', 'session refused'), requestId);
      return;
    }
    const limits = this.context.limits;
    this.reply(requestId, {
      $case: 'welcome',
      value: {
        protocolVersion: PROTOCOL_VERSION,
        userId,
        sessionId: this.id,
        heartbeatIntervalMs: this.context.heartbeatIntervalMs,
        serverVersion: this.context.serverVersion,
        databaseId: this.context.databaseId,
        settings,
        limits: {
          maxFrameBytes: limits.maxFrameBytes,
          maxTextChars: limits.maxTextChars,
          maxDataBytes: limits.maxDataBytes,
          maxPullLimit: limits.maxPullLimit,
          maxGroupMembers: limits.maxGroupMembers,
          maxImageBytes: this.context.mediaLimits.maxImageBytes,
          maxFileBytes: this.context.mediaLimits.maxFileBytes,
          maxVoiceBytes: this.context.mediaLimits.maxVoiceBytes,
          maxVideoBytes: this.context.mediaLimits.maxVideoBytes,
          maxRoomsPerConnection: this.context.roomLimits.maxRoomsPerConnection,
          maxRoomTextChars: this.context.roomLimits.maxTextChars,
          maxRoomDataBytes: this.context.roomLimits.maxDataBytes,
          roomEventsPerSecond: this.context.roomLimits.userEventsPerSecond,
          maxDraftChars: limits.maxDraftChars,
          maxPinned: limits.maxPinned,
          maxReceiptMembers: limits.maxReceiptMembers,
          maxSignalBytes: MAX_SIGNAL_BYTES,
          signalsPerSecond: SIGNALS_PER_SECOND,
        },
      },
    });
    const early = this.earlyFrames ?? [];
    this.earlyFrames = undefined;
    for (const frame of early) {
      if (this.state !== 'open') return;
      this.onFrame(frame);
    }
  }

  /** The handlers' access to the session's internals (see HANDLERS). */
  get services(): GatewayContext {
    return this.context;
  }

  /**
   * Queues a send's ack (from the commit callback) and counts the message
   * in. `decodedAt` (performance.now()) is when its request was decoded: the
   * ack is timed when the flush writes it.
   */
  ackSend(requestId: number, body: FrameBody, decodedAt: number, duplicate: boolean): void {
    if (!duplicate) this.context.counters.messagesIn[this.connection.transport] += 1;
    this.reply(requestId, body);
    if (this.isClosed) return;
    this.ackStarts ??= [];
    this.ackStarts.push(decodedAt);
  }

  /** Applies the per-user send rate and the server's overload bound, keeping per-conversation send order (see heldSends). */
  checkSendRate(userId: string, conversationId: string, clientMsgId: string): void {
    const now = this.context.clock.now();
    const held = this.heldSends?.get(conversationId);
    if (held !== undefined) {
      if (held.clientMsgId !== clientMsgId && now < held.expiresAt) {
        this.context.counters.refused.send += 1;
        throw new ParleyError('RATE_LIMITED', 'an earlier send of this conversation is waiting for its retry', { retryAfterMs: 100 });
      }
      this.heldSends?.delete(conversationId);
    }
    // An overloaded server refuses like a rate limit, and holds the
    // conversation's later sends the same way so that they keep their order.
    const refusal = this.context.messaging.overloaded ? overloadedError() : undefined;
    const waitMs = refusal === undefined ? this.context.sendBucketOf(userId, now).take(now) : 0;
    if (refusal === undefined && waitMs === 0) return;
    this.context.counters.refused[refusal === undefined ? 'send' : 'overload'] += 1;
    this.heldSends ??= new Map();
    if (this.heldSends.size < MAX_HELD_CONVERSATIONS) this.heldSends.set(conversationId, { clientMsgId, expiresAt: now + SEND_HOLD_MS });
    throw refusal ?? new ParleyError('RATE_LIMITED', 'sending too fast', { retryAfterMs: waitMs });
  }

  // ---- outbound ----

  private reply(requestId: number, body: FrameBody): void {
    this.enqueue(encodeFrameEntry({ requestId, body }));
  }

  /** Answers a request with an error; `kind` is the request's, when it is known. */
  private replyError(requestId: number, error: unknown, kind?: string): void {
    const parleyError = toParleyError(error);
    if (parleyError.codeName === 'INTERNAL') this.log.error({ err: error, requestId, kind }, 'request failed');
    // Refusals and client mistakes at debug: a client that keeps going too fast would write a line per request.
    else this.debug({ requestId, kind, code: parleyError.codeName, reason: parleyError.message }, 'request refused');
    this.reply(requestId, { $case: 'error', value: errorFrame(parleyError, false) });
  }

  /** Queues an encoded packet entry; the same bytes may go to many sessions. */
  enqueue(entry: Uint8Array): void {
    if (this.state === 'closed') return;
    this.outgoing.push(entry);
    this.outgoingBytes += entry.length;
    if (this.outgoingBytes + this.transportBacklog > this.context.limits.maxQueuedBytes) {
      this.dropSlowConsumer();
      return;
    }
    if (this.outgoing.length === 1) this.context.scheduleFlush(this);
  }

  /**
   * Writes a push at once when nothing is queued ahead of it, else queues it
   * behind what is (enqueue). For Delivery, which runs inside the gateway's
   * flush: anything queued later this turn is flushed after this write, so
   * order holds, and an idle connection (most of a large group's) gets the
   * packet without a queue, a flush list entry and a second write pass.
   * The transport's backlog is estimated by adding what was written and read
   * from the socket only when the estimate passes a quarter of the bound, so
   * a slow consumer is still dropped near maxQueuedBytes.
   */
  writeOrEnqueue(entry: Uint8Array): void {
    if (this.outgoing.length > 0 || this.state !== 'open') {
      this.enqueue(entry);
      return;
    }
    const bound = this.context.limits.maxQueuedBytes;
    let backlog = this.transportBacklog + entry.length;
    if (backlog > bound / 4) {
      backlog = this.connection.bufferedBytes() + entry.length;
      if (backlog > bound) {
        this.dropSlowConsumer();
        return;
      }
    }
    this.connection.write(entry);
    this.transportBacklog = backlog;
  }

  /**
   * Writes a live room's batch (RoomHub): `full` normally; `lean` (the same
   * batch without its ephemeral events) when the viewer is not keeping up,
   * because such a viewer must lose chatter, never reliable messages. It is
   * not keeping up when the connection holds more than `flow.lagBytes`
   * unsent, or when more than `flow.windowBytes` of batches were written
   * since the peer last proved it read them (a probe answered). The second
   * test matters because the operating system's socket buffers take
   * megabytes before anything stays unsent: a reliable message queued behind
   * them would wait seconds at a slow reader. Past maxQueuedBytes even lean
   * batches are too much, and the connection is closed as a slow consumer.
   */
  writeRoomBatch(full: Uint8Array, lean: (() => Uint8Array) | undefined, flow: { lagBytes: number; windowBytes: number }): void {
    if (this.state !== 'open') return;
    this.roomFlow ??= { unconfirmed: 0, probing: false };
    const state = this.roomFlow;
    const lagging = lean !== undefined && (state.unconfirmed > flow.windowBytes || this.outgoing.length > 0 || this.connection.bufferedBytes() > flow.lagBytes);
    const entry = lagging && lean !== undefined ? lean() : full;
    this.writeOrEnqueue(entry);
    state.unconfirmed += entry.length;
    // Probed once a quarter of the window is out, so a viewer that reads
    // along never reaches the window, and a quiet room costs no probes.
    if (!state.probing && state.unconfirmed > flow.windowBytes / 4 && this.state === 'open') {
      state.probing = true;
      const mark = state.unconfirmed;
      this.probe(() => {
        state.probing = false;
        state.unconfirmed = Math.max(0, state.unconfirmed - mark);
      });
    }
  }

  /**
   * Calls `answered` once the peer has read everything written so far: the
   * transport's own probe (a WebSocket ping), else a protocol `ping` with
   * request_id 0, which clients answer with a `pong` when they read it.
   */
  private probe(answered: () => void): void {
    if (this.connection.probe !== undefined) {
      this.connection.probe(answered);
      return;
    }
    this.probeAnswered = answered;
    this.writeOrEnqueue(encodeFrameEntry({ requestId: 0, body: { $case: 'ping', value: { nonce: 0 } } }));
  }

  private dropSlowConsumer(): void {
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.ackStarts = undefined;
    this.fail(new ParleyError('SLOW_CONSUMER', 'the connection fell too far behind; resume by sync'));
  }

  /** Writes queued entries, several per packet. Called by the flush scheduler. */
  flush(): void {
    if (this.outgoing.length === 0 || this.state === 'closed') return;
    if (this.outgoingBytes + this.connection.bufferedBytes() > this.context.limits.maxQueuedBytes) {
      this.dropSlowConsumer();
      return;
    }
    this.writeOutgoing();
  }

  private writeOutgoing(): void {
    const entries = this.outgoing;
    this.outgoing = [];
    this.outgoingBytes = 0;
    if (entries.length === 1) {
      // The common case: one push or one reply, written as the very bytes
      // that were encoded once for every recipient.
      this.connection.write(entries[0] as Uint8Array);
    } else {
      let start = 0;
      let bytes = 0;
      for (let index = 0; index < entries.length; index++) {
        bytes += (entries[index] as Uint8Array).length;
        if (bytes >= COALESCE_BYTES || index === entries.length - 1) {
          this.connection.write(joinEntries(entries.slice(start, index + 1)));
          start = index + 1;
          bytes = 0;
        }
      }
    }
    this.transportBacklog = this.connection.bufferedBytes();
    if (this.ackStarts !== undefined && this.ackStarts.length > 0) this.timeAcks();
  }

  /** The acks just written: each is timed from its send's decoding. */
  private timeAcks(): void {
    const starts = this.ackStarts as number[];
    const now = performance.now();
    for (const started of starts) this.context.sendAckTiming.observe((now - started) / 1000);
    starts.length = 0;
  }

  /**
   * Sends a fatal error frame and closes the connection. Every fatal error is
   * announced, also a heartbeat timeout: a peer that is merely slow or forgot
   * to ping learns why it was closed. The close itself is bounded by the
   * transport, so a peer that is really gone costs nothing. Only a slow
   * consumer is dropped without a frame, since the frame would queue behind
   * the megabytes it is not reading.
   */
  fail(error: ParleyError, requestId = 0, level: 'info' | 'debug' = 'info'): void {
    if (this.state === 'closed') return;
    const fields = { requestId: requestId === 0 ? undefined : requestId, code: error.codeName, reason: error.message };
    if (level === 'info') this.log.info(fields, 'closing connection');
    else this.debug(fields, 'closing connection');
    if (error.codeName === 'SLOW_CONSUMER') {
      this.markClosed();
      this.connection.destroy();
      return;
    }
    this.outgoing.push(encodeFrameEntry({ requestId, body: { $case: 'error', value: errorFrame(error, true) } }));
    this.writeOutgoing();
    this.markClosed();
    this.connection.close(closeCodeOf(error), error.codeName);
  }

  /** Closes because the server shuts down: a fatal UNAVAILABLE, then the close. */
  /** The server stops: the client is told to come back (to another node) after `retryAfterMs`. */
  shutdown(retryAfterMs = 0): void {
    // At debug: the gateway says once that it closes them all.
    this.fail(new ParleyError('UNAVAILABLE', 'server shutting down', { retryAfterMs: Math.round(retryAfterMs) }), 0, 'debug');
  }

  /** The transport closed (either side). */
  onTransportClosed(): void {
    this.markClosed();
  }

  private markClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.ackStarts = undefined;
    this.debug({ openMs: this.context.clock.now() - this.connectedAt }, 'connection closed');
    this.context.onClosed(this);
  }

  /** Checks deadlines; returns false when the session was closed. */
  checkDeadlines(now: number, authTimeoutMs: number): boolean {
    if (this.state === 'closed') return false;
    if (this.state !== 'open' && now - this.connectedAt > authTimeoutMs) {
      this.fail(new ParleyError('AUTH_TIMEOUT', 'no hello within the deadline'));
      return false;
    }
    if (this.state === 'open' && now >= this.tokenExpiresAt) {
      // Short-lived tokens mean something only if long-lived connections end
      // with them: the client reconnects with a fresh token and resumes.
      this.fail(new ParleyError('TOKEN_EXPIRED', 'token expired'));
      return false;
    }
    if (this.state === 'open' && !this.readingPaused && now - this.lastInboundAt > 2 * this.context.heartbeatIntervalMs) {
      this.fail(new ParleyError('TIMEOUT', 'no heartbeat'));
      return false;
    }
    return true;
  }
}

/**
 * One handler per request a session answers after welcome, shared by every
 * session (a table of closures per session cost memory on every idle
 * connection). Each returns the value of the reply REQUESTS pairs with its
 * request (or ALREADY_REPLIED when it queued the reply itself); synchronous
 * validation errors may throw.
 */
const HANDLERS: { [C in HandledCase]: Handler<C> } = {
  ping: (_session, request) => ({ nonce: request.nonce }),
  send: (session, request, userId, requestId) => {
    // The request was decoded in this same turn (onPacket runs handlers
    // synchronously); a send pipelined behind hello is timed from the welcome.
    const decodedAt = performance.now();
    session.checkSendRate(userId, request.conversationId, request.clientMsgId);
    return session.services.messaging
      .send(userId, { ...request, mentions: request.mentions?.userIds, mentionAll: request.mentions?.all }, {
        sessionId: session.id,
        onCommitted: (result) => {
          session.services.beforeAck(session, result.message.conversationId);
          const ack: FrameBody = { $case: 'sendAck', value: { message: toWireMessage(result.message), duplicate: result.duplicate } };
          session.ackSend(requestId, ack, decodedAt, result.duplicate);
        },
      })
      .then(() => ALREADY_REPLIED);
  },
  sync: (session, request, userId) =>
    session.services.messaging
      .sync(userId, request.sinceVersion, { recentLimit: request.recentLimit, positions: positionsFromWire(request.positions) })
      .then((result) => ({
        version: result.version,
        conversations: result.conversations.map(toWireSummary),
        totalUnread: result.totalUnread,
        recent: result.recent.map((run) => ({ ...run, messages: run.messages.map(toWireMessage) })),
      })),
  pull: (session, request, userId) =>
    session.services.messaging
      .pull(userId, request.conversationId, request.fromSeq, request.toSeq, request.limit, request.descending)
      .then((result) => ({
        messages: result.messages.map(toWireMessage),
        coveredFrom: result.coveredFrom,
        coveredTo: result.coveredTo,
        lastSeq: result.lastSeq,
      })),
  markRead: (session, request, userId) =>
    session.services.messaging.markRead(userId, request.conversationId, request.seq, session.id).then(toReadResult),
  openDirect: (session, request, userId) =>
    session.services.conversations.openDirect(userId, request.peerId, request.subject).then((view) => ({ summary: toWireSummary(view) })),
  createGroup: (session, request, userId) => session.services.conversations.createGroup(userId, request).then((view) => ({ summary: toWireSummary(view) })),
  updateMembers: (session, request, userId) =>
    session.services.conversations.updateMembers(userId, request.conversationId, request.add, request.remove).then(() => ({})),
  rename: (session, request, userId) => session.services.conversations.rename(userId, request.conversationId, request.name).then(() => ({})),
  setRole: (session, request, userId) =>
    session.services.conversations.setRole(userId, request.conversationId, request.userId, roleFromWire(request.role)).then(() => ({})),
  members: (session, request, userId) =>
    session.services.conversations.members(userId, request.conversationId).then((members) => ({
      members: members.map((member) => ({ userId: member.userId, name: member.name, role: roleToWire(member.role), joinedAt: member.joinedAt })),
    })),
  getUsers: (session, request) => session.services.directory.lookup(request.userIds).then((users) => ({ users })),
  createRoom: (session, request, userId) => session.services.rooms.create(userId, request).then((room) => ({ room })),
  joinRoom: (session, request) => session.services.roomHub.join(session, request.roomId, request.afterSeq),
  leaveRoom: (session, request) => {
    session.services.roomHub.leave(session, request.roomId);
    return {};
  },
  roomEvent: (session, request) => {
    session.services.roomHub.event(session, request);
    return {};
  },
  setRoomAdmin: (session, request, userId) => session.services.rooms.setAdmin({ userId }, request.roomId, request.userId, request.admin).then(() => ({})),
  muteViewer: (session, request, userId) => session.services.rooms.mute({ userId }, request.roomId, request.userId, request.seconds).then(() => ({})),
  closeRoom: (session, request, userId) => session.services.rooms.close({ userId }, request.roomId).then(() => ({})),
  searchUsers: (session, request) => session.services.directory.search(request.query, request.limit).then((users) => ({ users })),
  conversationSettings: (session, request, userId) =>
    session.services.settings.update(userId, request.conversationId, request, session.id).then((view) => ({ summary: toWireSummary(view) })),
  receipts: (session, request, userId) =>
    session.services.receipts.receiptsOf(userId, request.conversationId).then((members) => ({ conversationId: request.conversationId, members })),
  updateUserSettings: (session, request, userId) => session.services.receipts.updateSettings(userId, request, session.id),
  recall: (session, request, userId) => session.services.amendments.recall(userId, request.conversationId, request.seq).then(amendResult),
  edit: (session, request, userId) => session.services.amendments.edit(userId, request.conversationId, request.seq, request.text).then(amendResult),
  deleteForMe: (session, request, userId) => session.services.amendments.deleteForMe(userId, request.conversationId, request.seq).then(amendResult),
  react: (session, request, userId) => session.services.amendments.react(userId, request.conversationId, request.seq, request.emoji, request.add).then(amendResult),
  signalValues: (session, request, userId) => session.services.signals.valuesOf(userId, request.conversationId).then((values) => ({ values })),
  editHistory: (session, request, userId) => session.services.amendments.history(userId, request.conversationId, request.seq).then((versions) => ({ versions })),
  thread: (session, request, userId) =>
    session.services.messaging.thread(userId, request.conversationId, request.rootSeq, request.afterSeq, request.limit).then((page) => ({
      conversationId: request.conversationId,
      root: toWireMessage(page.root),
      replies: page.replies.map(toWireMessage),
      hasMore: page.hasMore,
      following: page.following,
      readSeq: page.readSeq,
      unread: page.unread,
    })),
  markThreadRead: (session, request, userId) =>
    session.services.messaging.markThreadRead(userId, request.conversationId, request.rootSeq, request.seq, session.id).then(toReadResult),
  presenceSubscribe: (session, request, userId) => session.services.presence.subscribe(session, userId, request.userIds).then((users) => ({ users })),
  setPresence: (session, request) => {
    session.services.presence.setAway(session, request.away);
    return {};
  },
};

/** An amendment as its request's answer; none when the request repeated one already made. */
/** A read position moved (markRead, markThreadRead): the conversation as the read left it. */
function toReadResult(result: { view: ConversationView; totalUnread: number }) {
  return {
    conversationId: result.view.id,
    readSeq: result.view.readSeq,
    unread: result.view.unread,
    totalUnread: result.totalUnread,
    summary: toWireSummary(result.view),
  };
}

function amendResult(amendment: StoredMessage | undefined): { amendment?: WireMessage } {
  return amendment === undefined ? {} : { amendment: toWireMessage(amendment) };
}

/**
 * The WebSocket close code after a fatal error: 4000 + the error code, so that
 * a client that only sees the close (a browser's CloseEvent) still knows why.
 */
export function closeCodeOf(error: ParleyError): number {
  return 4000 + error.code;
}

function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  return new ParleyError('INTERNAL', 'internal error', { cause: error });
}

function errorFrame(error: ParleyError, fatal: boolean) {
  return { code: error.code, name: error.codeName as ErrorName, message: error.message, retryAfterMs: error.retryAfterMs, fatal, reason: error.reason };
}
