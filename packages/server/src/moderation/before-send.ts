/**
 * The before-send hook: the host product's own check of every message a
 * user sends, before it is stored. It allows the message, rejects it with a
 * reason the sender's device sees (error REJECTED, Error.reason), or
 * rewrites its text. Given either as a function (Parley embedded in the
 * host's own Node process) or as an HTTPS endpoint (httpBeforeSend).
 */
import { ParleyError } from '@parley/protocol';
import { signature } from '../util/signed-post.js';

/** What the hook is shown of a message about to be stored. */
export interface OutgoingMessage {
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  /** The text, after the built-in word filter masked it. */
  text?: string;
  /** The typed content's type ("image", "custom:shop.card"...), when the message has one. */
  contentType?: string;
  /** Set when the message is addressed to one member only. */
  visibleTo?: string;
}

export type BeforeSendVerdict =
  | { action: 'allow' }
  /** `reason`: 1-64 characters of a-z 0-9 _ . - ; `message`: a human sentence for logs and the sender. */
  | { action: 'reject'; reason: string; message?: string }
  | { action: 'rewrite'; text: string };

export type BeforeSend = (message: OutgoingMessage) => BeforeSendVerdict | Promise<BeforeSendVerdict>;

/** What happens to a message when the hook cannot be asked (down, too slow, a malformed answer). */
export type HookFailure = 'open' | 'closed';

export interface HttpBeforeSendOptions {
  url: string;
  /** Signs every request (x-parley-signature), so the endpoint can tell Parley's calls from anyone's. */
  secret: string;
  timeoutMs: number;
}

export const REASON_PATTERN = /^[a-z0-9_.-]{1,64}$/u;
/** An endpoint's answer is read up to this size; a larger one counts as malformed. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * A BeforeSend that POSTs the message as JSON to an endpoint and takes its
 * JSON answer as the verdict. Throws HookUnreachable when it gets no usable
 * answer in time; the caller applies the deployment's failure policy.
 */
export function httpBeforeSend(options: HttpBeforeSendOptions): BeforeSend {
  return async (message) => {
    const body = JSON.stringify({ type: 'message.before_send', message });
    const timestamp = Date.now();
    let answer: unknown;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-parley-signature': signature(options.secret, timestamp, body) },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`answered ${response.status}`);
      if (text.length > MAX_ANSWER_BYTES) throw new Error('answer too large');
      answer = JSON.parse(text);
    } catch (error) {
      throw new HookUnreachable(error instanceof Error ? error.message : String(error));
    }
    return verdictOf(answer);
  };
}

/** The hook gave no usable answer. */
export class HookUnreachable extends Error {
  constructor(detail: string) {
    super(`before-send hook: ${detail}`);
    this.name = 'HookUnreachable';
  }
}

/** Checks an answer's shape; anything else is a malformed answer (HookUnreachable). */
export function verdictOf(answer: unknown): BeforeSendVerdict {
  if (typeof answer !== 'object' || answer === null) throw new HookUnreachable('the answer is not a JSON object');
  const candidate = answer as Record<string, unknown>;
  switch (candidate.action) {
    case 'allow':
      return { action: 'allow' };
    case 'reject': {
      const reason = candidate.reason;
      if (typeof reason !== 'string' || !REASON_PATTERN.test(reason)) throw new HookUnreachable('reject needs a reason of 1-64 characters a-z 0-9 _ . -');
      const message = typeof candidate.message === 'string' ? candidate.message.slice(0, 200) : undefined;
      return { action: 'reject', reason, message };
    }
    case 'rewrite':
      if (typeof candidate.text !== 'string') throw new HookUnreachable('rewrite needs a text');
      return { action: 'rewrite', text: candidate.text };
    default:
      throw new HookUnreachable('action must be allow, reject or rewrite');
  }
}

/** The error a refused sender gets. */
export function rejected(reason: string, message?: string): ParleyError {
  return new ParleyError('REJECTED', message ?? `the message was refused (${reason})`, { reason });
}
