/**
 * RawPeer: one load-generator connection that speaks the Parley protocol
 * directly over `ws`, without the SDK, so that a benchmark measures the
 * server's ceiling and not the SDK's. The same peer drives the bare-`ws`
 * baselines (baseline-server.ts), which forward its send frames verbatim.
 *
 * Message ids are `<peer index>:<counter>`: a peer tells its own messages
 * (acks: Parley's send_ack, or the baseline's echo of the send) from other
 * peers' (deliveries: Parley's push, or the baseline's forwarded send) by the
 * prefix, and the counter gives each sender's order.
 */
import { type Frame, type FrameBody, PROTOCOL_VERSION, decodePacket, encodeFrameEntry } from '@parley/protocol';
import WebSocket from 'ws';
import { FrameField, scanPacket } from './wire-scan.js';

export interface PeerHandlers {
  /** One of this peer's own messages came back acknowledged. */
  onAck(counter: number): void;
  /** Another peer's message arrived (seq: Parley's, 0 from the baseline). */
  onDelivery(senderIndex: number, counter: number, seq: number): void;
  /** A send was refused (rate limited, overloaded); the peer sends it again, as the SDK would. */
  onSendError?(requestId: number): void;
}

const REQUEST_TIMEOUT_MS = 30_000;
/** How long a refused send waits before it is sent again (the server asks for 100-250 ms). */
const RESEND_AFTER_MS = 250;

interface SentMessage {
  conversationId: string;
  counter: number;
  text: string;
}

export class RawPeer {
  private nextRequestId = 1;
  private readonly setupRequests = new Map<number, { resolve(frame: Frame): void; reject(error: Error): void }>();
  private readonly prefix: string;
  /** The packet being scanned, for decoding a setup reply in full. */
  private lastPacket: Uint8Array = new Uint8Array(0);
  /** Sends not yet answered, by request id. */
  private readonly unanswered = new Map<number, SentMessage>();
  /**
   * After a refusal, sends wait here (refused ones and new ones) until every
   * send in flight is answered, then go again in order: a send in flight may
   * still be refused behind the first one, and nothing may overtake it. This
   * is the discipline the SDK's outbox keeps too.
   */
  private refused: SentMessage[] = [];
  private resendTimer: ReturnType<typeof setTimeout> | undefined;
  closed = false;

  private constructor(
    private readonly socket: WebSocket,
    readonly index: number,
    private readonly handlers: PeerHandlers,
  ) {
    this.prefix = `${index}:`;
    socket.on('message', (data: Buffer) => this.receive(data));
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.setupRequests.values()) waiter.reject(new Error('connection closed'));
      this.setupRequests.clear();
    });
  }

  /** Opens a WebSocket to `url` (no permessage-deflate, like the SDK). */
  static open(url: string, index: number, handlers: PeerHandlers): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      socket.binaryType = 'nodebuffer';
      socket.once('open', () => resolve(new RawPeer(socket, index, handlers)));
      socket.once('error', reject);
    });
  }

  /** Parley only: hello → welcome. */
  async hello(token: string): Promise<void> {
    const reply = await this.request({ $case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, token, client: 'bench-raw' } });
    if (reply.body?.$case !== 'welcome') throw new Error(`hello answered with ${reply.body?.$case}`);
  }

  /** A request whose reply is decoded in full (setup: hello, open_direct). */
  request(body: FrameBody): Promise<Frame> {
    const requestId = this.allocateRequestId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.setupRequests.delete(requestId);
        reject(new Error(`no reply to ${body?.$case} in time`));
      }, REQUEST_TIMEOUT_MS);
      this.setupRequests.set(requestId, {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.send(encodeFrameEntry({ requestId, body }));
    });
  }

  /** Sends one message; returns its request id. The ack arrives through onAck. */
  send(conversationId: string, counter: number, text: string): number {
    if (this.refused.length > 0) {
      this.refused.push({ conversationId, counter, text });
      return 0;
    }
    return this.transmit(conversationId, counter, text);
  }

  private transmit(conversationId: string, counter: number, text: string): number {
    const requestId = this.allocateRequestId();
    this.unanswered.set(requestId, { conversationId, counter, text });
    this.socket.send(encodeFrameEntry({ requestId, body: { $case: 'send', value: { conversationId, clientMsgId: this.prefix + counter, text } } }));
    return requestId;
  }

  /** Sends the refused messages again, oldest first, with the same client ids (the server keeps their order). */
  private resendRefused(): void {
    this.resendTimer = undefined;
    if (this.closed) return;
    if (this.unanswered.size > 0) {
      this.resendTimer = setTimeout(() => this.resendRefused(), RESEND_AFTER_MS / 5);
      return;
    }
    const again = this.refused.sort((a, b) => a.counter - b.counter);
    this.refused = [];
    for (const message of again) this.transmit(message.conversationId, message.counter, message.text);
  }

  /** Reports a delivered position, as the SDK does (Parley only). */
  delivered(conversationId: string, seq: number): void {
    this.socket.send(encodeFrameEntry({ requestId: 0, body: { $case: 'delivered', value: { conversationId, seq } } }));
  }

  /** Sends bytes as they are (a hello prepared once for many connections). */
  sendRaw(packet: Uint8Array): void {
    this.socket.send(packet);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.resendTimer);
    this.socket.terminate();
  }

  private allocateRequestId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = id >= 0xfffffff0 ? 1 : id + 1;
    return id;
  }

  private receive(packet: Buffer): void {
    this.lastPacket = packet;
    scanPacket(packet, this.visit);
  }

  private readonly visit = (requestId: number, field: number, sender: number, counter: number, seq: number): void => {
    const waiter = requestId === 0 ? undefined : this.setupRequests.get(requestId);
    if (waiter !== undefined) {
      this.setupRequests.delete(requestId);
      const decoded = decodePacket(this.lastPacket).find((candidate) => candidate.requestId === requestId);
      if (decoded !== undefined) waiter.resolve(decoded);
      else waiter.reject(new Error('reply frame not found'));
      return;
    }
    if (sender >= 0 && (field === FrameField.push || field === FrameField.sendAck || field === FrameField.send)) {
      if (sender === this.index) {
        this.unanswered.delete(requestId);
        this.handlers.onAck(counter);
      } else this.handlers.onDelivery(sender, counter, seq);
    } else if (field === FrameField.error && requestId !== 0) {
      const refused = this.unanswered.get(requestId);
      if (refused === undefined) return;
      this.unanswered.delete(requestId);
      this.refused.push(refused);
      this.resendTimer ??= setTimeout(() => this.resendRefused(), RESEND_AFTER_MS);
      this.handlers.onSendError?.(requestId);
    }
  };
}
