/**
 * The reliable sender's queue. Every send gets a clientMsgId once, when it is
 * queued, and keeps it through every retry: the server stores a clientMsgId
 * once and answers repeats with the original message, so retrying after a lost
 * ack can never create a second copy. Pure bookkeeping: the client does the
 * I/O and owns the timers; this module decides what to (re)send and when.
 */
import { ParleyError, isValidClientMsgId } from '@parley/protocol';
import type { MessageContent } from './types.js';

/** Sends in flight on one connection at most. */
export const MAX_SENDS_IN_FLIGHT = 64;

const RETRY_BASE_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 10_000;

export interface OutboxEntry<T> {
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly content: Readonly<MessageContent>;
  /** Changes on every transmission, so that an answer to an earlier one is recognised as stale. */
  attempt: number;
  inFlight: boolean;
  /** Not before this time (ms since epoch); 0 = now. */
  retryAt: number;
  /** Retryable failures so far, for the backoff. */
  failures: number;
  /** The conversation's retry epoch when this entry was last transmitted (see Outbox.retryEpochs). */
  sentInEpoch: number;
  readonly resolve: (result: T) => void;
  readonly reject: (error: ParleyError) => void;
  /** What add() returned for this entry, for a repeated add() of the same clientMsgId. */
  promise?: Promise<T>;
}

/** One transmission of an entry; pass it back to acknowledge() or fail(). */
export interface Transmission<T> {
  entry: OutboxEntry<T>;
  attempt: number;
}

export interface ContentLimits {
  maxTextChars: number;
  maxDataBytes: number;
}

/** Checks what the server would refuse anyway, so the caller learns it at once. */
export function validateContent(content: MessageContent, limits: ContentLimits | undefined): ParleyError | undefined {
  if (typeof content !== 'object' || content === null) return new ParleyError('INVALID_ARGUMENT', 'content must be an object');
  const { text, data } = content;
  if (text !== undefined && typeof text !== 'string') return new ParleyError('INVALID_ARGUMENT', 'text must be a string');
  if (data !== undefined && !(data instanceof Uint8Array)) return new ParleyError('INVALID_ARGUMENT', 'data must be a Uint8Array');
  if (content.content !== undefined) {
    if (typeof content.content !== 'object' || content.content === null || typeof content.content.type !== 'string') {
      return new ParleyError('INVALID_ARGUMENT', 'content.content must be typed content ({ type: "image", mediaId, ... })');
    }
    if (data !== undefined) return new ParleyError('INVALID_ARGUMENT', 'a typed message carries no data');
  } else if (text === undefined && data === undefined) return new ParleyError('INVALID_ARGUMENT', 'a message needs text or data');
  if (limits !== undefined) {
    // Counted in code points, which never exceeds UTF-16 units: the local check
    // can be looser than the server's, never stricter.
    if (text !== undefined && limits.maxTextChars > 0 && text.length > limits.maxTextChars && countCodePoints(text) > limits.maxTextChars) {
      return new ParleyError('TOO_LARGE', `text exceeds ${limits.maxTextChars} characters`);
    }
    if (data !== undefined && limits.maxDataBytes > 0 && data.byteLength > limits.maxDataBytes) {
      return new ParleyError('TOO_LARGE', `data exceeds ${limits.maxDataBytes} bytes`);
    }
  }
  return undefined;
}

let clientMsgIdCounter = 0;

/** 12 random base-36 characters and a per-process counter: unique per sender without coordination. */
export function newClientMsgId(): string {
  const random = new Uint8Array(12);
  globalThis.crypto.getRandomValues(random);
  let id = '';
  for (const byte of random) id += (byte % 36).toString(36);
  clientMsgIdCounter = (clientMsgIdCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${id}-${clientMsgIdCounter.toString(36)}`;
}

export class Outbox<T> {
  /** Queued and in-flight sends, in the order send() was called. */
  private readonly entries: OutboxEntry<T>[] = [];
  private inFlightCount = 0;
  /**
   * Per conversation, how many times a refused send was transmitted again.
   * The server refuses every send of a conversation that reaches it behind a
   * refused one until that one is retried; a send transmitted before the
   * latest retry and still unanswered may therefore still come back refused,
   * and nothing after it may go until it is answered (see nextToSend).
   */
  private readonly retryEpochs = new Map<string, number>();
  /** Entries queued per conversation, so that its retry epoch is forgotten with its last entry. */
  private readonly queuedIn = new Map<string, number>();

  constructor(private readonly maxInFlight = MAX_SENDS_IN_FLIGHT) {}

  get size(): number {
    return this.entries.length;
  }

  /**
   * Queues content (already validated); the promise settles when the server
   * answers for good. Adding a clientMsgId that is still queued returns the
   * queued send's promise: one key, one message.
   */
  add(conversationId: string, content: MessageContent, clientMsgId = newClientMsgId()): Promise<T> {
    if (!isValidClientMsgId(clientMsgId)) {
      return Promise.reject(new ParleyError('INVALID_ARGUMENT', 'clientMsgId must be 1-64 printable ASCII characters without spaces'));
    }
    const queued = this.entries.find((entry) => entry.clientMsgId === clientMsgId);
    if (queued?.promise !== undefined) {
      if (queued.conversationId !== conversationId) {
        return Promise.reject(new ParleyError('CONFLICT', 'clientMsgId is already queued for another conversation'));
      }
      return queued.promise;
    }
    let added: OutboxEntry<T> | undefined;
    const promise = new Promise<T>((resolve, reject) => {
      added = {
        clientMsgId,
        conversationId,
        content: { ...content },
        attempt: 0,
        inFlight: false,
        retryAt: 0,
        failures: 0,
        sentInEpoch: 0,
        resolve,
        reject,
      };
      this.entries.push(added);
      this.queuedIn.set(conversationId, (this.queuedIn.get(conversationId) ?? 0) + 1);
    });
    if (added !== undefined) added.promise = promise;
    return promise;
  }

  /**
   * The next send to transmit now, marked in flight; undefined when none may go
   * yet. Order is kept per conversation: a send waiting for its retry time
   * holds back the later sends of its conversation.
   */
  nextToSend(now: number): Transmission<T> | undefined {
    if (this.inFlightCount >= this.maxInFlight) return undefined;
    let heldBack: Set<string> | undefined;
    for (const entry of this.entries) {
      const epoch = this.retryEpochs.get(entry.conversationId) ?? 0;
      if (entry.inFlight) {
        // Sent before the latest retry: may yet be refused, so later sends wait for its answer.
        if (entry.sentInEpoch < epoch) {
          heldBack ??= new Set();
          heldBack.add(entry.conversationId);
        }
        continue;
      }
      if (heldBack?.has(entry.conversationId)) continue;
      if (entry.retryAt > now) {
        heldBack ??= new Set();
        heldBack.add(entry.conversationId);
        continue;
      }
      if (entry.failures > 0) this.retryEpochs.set(entry.conversationId, epoch + 1);
      entry.sentInEpoch = this.retryEpochs.get(entry.conversationId) ?? 0;
      entry.inFlight = true;
      entry.attempt += 1;
      this.inFlightCount += 1;
      return { entry, attempt: entry.attempt };
    }
    return undefined;
  }

  /** Earliest time a held-back send may go, if any is waiting. */
  nextRetryAt(): number | undefined {
    let earliest: number | undefined;
    for (const entry of this.entries) {
      if (!entry.inFlight && entry.retryAt > 0 && (earliest === undefined || entry.retryAt < earliest)) earliest = entry.retryAt;
    }
    return earliest;
  }

  /** The server stored the message (or had stored it: a duplicate). Returns false for a stale transmission. */
  acknowledge(transmission: Transmission<T>, result: T): boolean {
    if (!this.isCurrent(transmission)) return false;
    this.remove(transmission.entry);
    transmission.entry.resolve(result);
    return true;
  }

  /**
   * The server refused the send. A retryable error keeps it queued (same
   * clientMsgId) until retryAfterMs or a backoff has passed; any other error
   * rejects this send only.
   */
  fail(transmission: Transmission<T>, error: ParleyError, now: number): 'rejected' | 'retrying' | 'stale' {
    if (!this.isCurrent(transmission)) return 'stale';
    const { entry } = transmission;
    if (!error.retryable) {
      this.remove(entry);
      entry.reject(error);
      return 'rejected';
    }
    entry.inFlight = false;
    this.inFlightCount -= 1;
    entry.failures += 1;
    entry.retryAt = now + (error.retryAfterMs > 0 ? error.retryAfterMs : retryBackoff(entry.failures));
    return 'retrying';
  }

  /**
   * The connection dropped: every unacknowledged send goes back to the queue in
   * its original order, to be sent again with the same clientMsgId.
   */
  requeueInFlight(): void {
    for (const entry of this.entries) {
      if (entry.inFlight) {
        entry.inFlight = false;
        entry.attempt += 1; // answers to the lost transmission are stale now
      }
    }
    this.inFlightCount = 0;
  }

  /** Rejects every queued and in-flight send (close, fatal authentication error). */
  rejectAll(error: ParleyError): void {
    const entries = this.entries.splice(0);
    this.inFlightCount = 0;
    this.retryEpochs.clear();
    this.queuedIn.clear();
    for (const entry of entries) {
      entry.inFlight = false;
      entry.reject(error);
    }
  }

  private isCurrent(transmission: Transmission<T>): boolean {
    // Entries leave the queue with inFlight cleared, so this also rejects removed ones.
    return transmission.entry.inFlight && transmission.entry.attempt === transmission.attempt;
  }

  private remove(entry: OutboxEntry<T>): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return;
    this.entries.splice(index, 1);
    const left = (this.queuedIn.get(entry.conversationId) ?? 1) - 1;
    if (left > 0) this.queuedIn.set(entry.conversationId, left);
    else {
      this.queuedIn.delete(entry.conversationId);
      this.retryEpochs.delete(entry.conversationId);
    }
    if (entry.inFlight) {
      entry.inFlight = false;
      this.inFlightCount -= 1;
    }
  }
}

function retryBackoff(failures: number): number {
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.min(failures - 1, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function countCodePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}
