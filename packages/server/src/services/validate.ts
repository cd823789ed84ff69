/** Input checks shared by the socket handlers and the REST API. */
import { ParleyError, isValidClientMsgId, isValidId } from '@parley/protocol';
import type { ServerLimits } from '../config.js';

export function requireId(value: unknown, field: string): string {
  if (!isValidId(value)) throw new ParleyError('INVALID_ARGUMENT', `${field} must be 1-64 characters of A-Z a-z 0-9 _ . @ -`);
  return value;
}

export function requireConversationId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 80) {
    throw new ParleyError('INVALID_ARGUMENT', 'conversationId is required');
  }
  return value;
}

export function requireClientMsgId(value: unknown): string {
  if (!isValidClientMsgId(value)) throw new ParleyError('INVALID_ARGUMENT', 'clientMsgId must be 1-64 printable ASCII characters');
  return value;
}

/** Half of a surrogate pair (what cutting a string by UTF-16 length can leave). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text that is stored must be text every store keeps as it is: PostgreSQL
 * refuses NUL and replaces half a surrogate pair, where SQLite would keep
 * both. Refusing them here keeps the two adapters alike.
 */
export function requireStorableText(value: string, field: string): void {
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) throw new ParleyError('INVALID_ARGUMENT', `${field} holds a NUL character or half of a surrogate pair`);
}

export function requireName(value: unknown, field: string, limits: ServerLimits, allowEmpty = false): string {
  if (typeof value !== 'string') throw new ParleyError('INVALID_ARGUMENT', `${field} must be a string`);
  requireStorableText(value, field);
  const trimmed = value.trim();
  if (!allowEmpty && trimmed.length === 0) throw new ParleyError('INVALID_ARGUMENT', `${field} must not be empty`);
  if (trimmed.length > limits.maxNameChars) throw new ParleyError('TOO_LARGE', `${field} is longer than ${limits.maxNameChars} characters`);
  return trimmed;
}

export function requireIdList(values: unknown, field: string, max: number): string[] {
  if (!Array.isArray(values)) throw new ParleyError('INVALID_ARGUMENT', `${field} must be a list`);
  if (values.length > max) throw new ParleyError('LIMIT_EXCEEDED', `${field} holds at most ${max} entries`);
  return values.map((value) => requireId(value, field));
}

export function checkContent(text: string | undefined, data: Uint8Array | undefined, limits: ServerLimits): void {
  if ((text === undefined || text.length === 0) && (data === undefined || data.length === 0)) {
    throw new ParleyError('INVALID_ARGUMENT', 'a message needs text or data');
  }
  if (text !== undefined && text.length > limits.maxTextChars) {
    throw new ParleyError('TOO_LARGE', `text is longer than ${limits.maxTextChars} characters`);
  }
  if (text !== undefined) requireStorableText(text, 'text');
  if (data !== undefined && data.length > limits.maxDataBytes) {
    throw new ParleyError('TOO_LARGE', `data is larger than ${limits.maxDataBytes} bytes`);
  }
}
