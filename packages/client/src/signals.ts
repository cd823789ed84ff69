/**
 * Signals on the client (docs/protocol.md, "Signals"). The server answers no
 * signal and drops the ones it will not relay, so what the SDK can foresee
 * it decides before sending: a malformed type or key, or data over the
 * server's bound, is the caller's mistake and throws; a signal past the
 * connection's budget is not sent, and the caller is told so. Plus JSON
 * helpers, for applications whose data is JSON.
 */
import { CUSTOM_TYPE_PATTERN, ParleyError } from '@parley/protocol';

/** A key names one of the sender's kept values: 1-64 characters. */
export const SIGNAL_KEY_MAX_CHARS = 64;

/** Throws INVALID_ARGUMENT for a malformed type or key, TOO_LARGE for data over `maxBytes`. */
export function checkSignal(type: string, data: Uint8Array, key: string, maxBytes: number): void {
  if (!CUSTOM_TYPE_PATTERN.test(type)) throw new ParleyError('INVALID_ARGUMENT', `a signal type is 1-64 of a-z 0-9 . _ - starting with a letter, not "${type}"`);
  if (key.length > SIGNAL_KEY_MAX_CHARS) throw new ParleyError('INVALID_ARGUMENT', `a signal key is at most ${SIGNAL_KEY_MAX_CHARS} characters`);
  if (data.length > maxBytes) throw new ParleyError('TOO_LARGE', `signal data is at most ${maxBytes} bytes (got ${data.length})`);
}

/**
 * One connection's signal budget, kept a little inside the server's: the
 * same rate, but half its burst, so that signals bunched up on the way by
 * the network are not dropped on arrival.
 */
export class SignalBudget {
  private tokens: number;

  constructor(
    private readonly perSecond: number,
    private at: number,
  ) {
    this.tokens = perSecond;
  }

  /** Spends one signal's worth; false when none is left (nothing is spent). */
  take(now: number): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + (Math.max(0, now - this.at) * this.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON value as signal data. */
export function encodeSignalJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** A signal's data read as JSON; undefined when it is empty or not JSON. */
export function decodeSignalJson<T = unknown>(signal: { data: Uint8Array }): T | undefined {
  if (signal.data.length === 0) return undefined;
  try {
    return JSON.parse(decoder.decode(signal.data)) as T;
  } catch {
    return undefined;
  }
}
