/**
 * Strict base64 for REST fields. Node's decoder skips characters outside the
 * alphabet and stops at the first bad one, so "@@@not base64" would decode
 * to the bytes of "notbase6" and be stored as if that had been sent. Here a
 * value is accepted only when it is the canonical standard encoding of the
 * bytes it decodes to (RFC 4648 §4, padding optional): anything else is
 * refused with the field's name.
 */
import { ParleyError } from '@parley/protocol';

const ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBase64Field(value: string, field: string): Uint8Array {
  const unpadded = value.replace(/=+$/, '');
  const valid =
    ALPHABET.test(value) &&
    unpadded.length % 4 !== 1 &&
    (value.length === unpadded.length || value.length % 4 === 0) &&
    // Canonical: the unused low bits of the last character are zero, so one
    // byte string has exactly one accepted spelling.
    Buffer.from(unpadded, 'base64').toString('base64').replace(/=+$/, '') === unpadded;
  if (!valid) {
    throw new ParleyError('INVALID_ARGUMENT', `${field} must be standard base64 (A-Z a-z 0-9 + /, padded with = or not)`);
  }
  return Buffer.from(unpadded, 'base64');
}
