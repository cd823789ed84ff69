/**
 * Moderation of what users send: the built-in word filter first (masking
 * or refusing), then the deployment's before-send hook, if any, which sees
 * the filtered text. Messages sent by the operator (the admin API's
 * server-side sends) are the host's own and are not checked.
 */
import { ParleyError } from '@parley/protocol';
import type { Logger } from 'pino';
import { type BeforeSend, type HookFailure, HookUnreachable, type OutgoingMessage, REASON_PATTERN, rejected } from './before-send.js';
import { type WordFilter, screen } from './word-filter.js';

export interface ModerationOptions {
  words?: WordFilter;
  beforeSend?: BeforeSend;
  /** When the hook cannot be asked: 'open' stores the message as it is, 'closed' refuses it with a retryable UNAVAILABLE. */
  hookFailure: HookFailure;
  log: Logger;
}

/** The hook's verdicts and failures since start, for the operations view (the word filter counts its own). */
export interface HookCounts {
  rejected: number;
  rewritten: number;
  failures: number;
}

export class Moderation {
  readonly hookCounts: HookCounts = { rejected: 0, rewritten: 0, failures: 0 };

  constructor(private readonly options: ModerationOptions) {}

  /** True when there is a hook to ask (an asynchronous step worth skipping for a repeated send). */
  get asksHook(): boolean {
    return this.options.beforeSend !== undefined;
  }

  /**
   * The text to store, or throws: REJECTED (with its reason) when the
   * filter or the hook refuses the message, UNAVAILABLE when the hook could
   * not be asked and the policy is fail-closed.
   */
  async check(message: OutgoingMessage): Promise<string | undefined> {
    const words = this.options.words;
    const text = words === undefined || message.text === undefined ? message.text : screen(words, message.text);
    const hook = this.options.beforeSend;
    if (hook === undefined) return text;
    let verdict: Awaited<ReturnType<BeforeSend>>;
    try {
      verdict = await hook({ ...message, text });
    } catch (error) {
      this.hookCounts.failures += 1;
      const detail = error instanceof HookUnreachable ? error.message : `before-send hook threw: ${error instanceof Error ? error.message : String(error)}`;
      this.options.log.warn({ conversationId: message.conversationId, detail, policy: this.options.hookFailure }, 'before-send hook failed');
      if (this.options.hookFailure === 'open') return text;
      throw new ParleyError('UNAVAILABLE', 'the message could not be checked; send it again later', { retryAfterMs: 1000 });
    }
    switch (verdict.action) {
      case 'allow':
        return text;
      case 'reject':
        this.hookCounts.rejected += 1;
        // An in-process hook's reason is checked like an endpoint's: devices switch on it.
        throw rejected(REASON_PATTERN.test(verdict.reason) ? verdict.reason : 'rejected', verdict.message);
      case 'rewrite':
        this.hookCounts.rewritten += 1;
        return verdict.text;
    }
  }
}
