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

export function requireName(value: unknown, field: string, limits: ServerLimits, allowEmpty = false): string {
  if (typeof value !== 'string') throw new ParleyError('INVALID_ARGUMENT', `${field} must be a string`);
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
  if (data !== undefined && data.length > limits.maxDataBytes) {
    throw new ParleyError('TOO_LARGE', `data is larger than ${limits.maxDataBytes} bytes`);
  }
}
