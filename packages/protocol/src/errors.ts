/**
 * The one error-code table shared by server and SDK. A client never parses an
 * error string: it switches on `code` (or `name`), and `retryable` says whether
 * repeating the same request later can succeed. The codes and their meaning
 * are defined in parley.proto (`enum ErrorCode`); this table adds what the
 * schema cannot say: retryability, the REST status and a default message.
 * A code added to the schema does not compile until it has a row here.
 */
import { ErrorCode as WireErrorCode } from './gen/parley.js';

const PREFIX = 'ERROR_CODE_';
type WireName = Exclude<keyof typeof WireErrorCode, 'ERROR_CODE_UNSPECIFIED' | 'UNRECOGNIZED'>;

/** Symbolic error names ("FORBIDDEN", ...): the `ErrorCode` enum of parley.proto without its prefix. */
export type ErrorName = WireName extends `${typeof PREFIX}${infer Name}` ? Name : never;

/** The numeric code of every error name, as defined by the `ErrorCode` enum in parley.proto. */
export const ErrorCode = Object.fromEntries(
  Object.entries(WireErrorCode)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0 && entry[0].startsWith(PREFIX))
    .map(([wireName, code]) => [wireName.slice(PREFIX.length), code]),
) as { readonly [Name in ErrorName]: (typeof WireErrorCode)[`${typeof PREFIX}${Name}`] };

export type ErrorCodeNumber = (typeof ErrorCode)[ErrorName];

export interface ErrorInfo {
  code: ErrorCodeNumber;
  name: ErrorName;
  /** True when the same request may succeed if repeated later. */
  retryable: boolean;
  /** HTTP status used by the REST API for this error. */
  httpStatus: number;
  /** Default message of a ParleyError with this code. */
  description: string;
}

const table: Record<ErrorName, Omit<ErrorInfo, 'code' | 'name'>> = {
  BAD_FRAME: { retryable: false, httpStatus: 400, description: 'The frame could not be decoded or is not allowed in this state.' },
  UNSUPPORTED_VERSION: { retryable: false, httpStatus: 400, description: 'The client speaks a protocol version the server does not.' },
  UNAUTHENTICATED: { retryable: false, httpStatus: 401, description: 'Missing, forged or revoked credentials.' },
  TOKEN_EXPIRED: { retryable: true, httpStatus: 401, description: 'The token has expired; fetch a new one and reconnect.' },
  FORBIDDEN: { retryable: false, httpStatus: 403, description: 'The user may not do this (not a member, insufficient role).' },
  NOT_FOUND: { retryable: false, httpStatus: 404, description: 'The user, conversation or group does not exist.' },
  INVALID_ARGUMENT: { retryable: false, httpStatus: 400, description: 'A field is missing, malformed or out of range.' },
  TOO_LARGE: { retryable: false, httpStatus: 413, description: 'A frame, body or list exceeds its size limit.' },
  RATE_LIMITED: { retryable: true, httpStatus: 429, description: 'Too many requests; wait retryAfterMs.' },
  INTERNAL: { retryable: true, httpStatus: 500, description: 'Unexpected server failure; nothing acknowledged was lost.' },
  UNAVAILABLE: { retryable: true, httpStatus: 503, description: 'The server is shutting down (reconnect later), or too busy for a send (send again after retryAfterMs).' },
  CONFLICT: { retryable: false, httpStatus: 409, description: 'The resource already exists or changed concurrently.' },
  TIMEOUT: { retryable: true, httpStatus: 504, description: 'The request did not complete in time.' },
  LIMIT_EXCEEDED: { retryable: false, httpStatus: 422, description: 'A count limit (for example group size) would be exceeded.' },
  SLOW_CONSUMER: { retryable: true, httpStatus: 503, description: 'The connection fell too far behind and was closed; resume by sync.' },
  AUTH_TIMEOUT: { retryable: true, httpStatus: 408, description: 'The connection did not authenticate in time.' },
  CLOSED: { retryable: true, httpStatus: 503, description: 'The connection closed before the request completed.' },
  ROOM_CLOSED: { retryable: false, httpStatus: 410, description: 'The live room was closed; it cannot be joined or sent to any more.' },
  REJECTED: { retryable: false, httpStatus: 422, description: "The deployment's moderation refused the message; reason says why." },
};

const byCode = new Map<number, ErrorInfo>();
for (const name of Object.keys(ErrorCode) as ErrorName[]) {
  byCode.set(ErrorCode[name], { code: ErrorCode[name], name, ...table[name] });
}

/** Looks up an error by numeric code; unknown codes map to INTERNAL. */
export function errorInfo(code: number): ErrorInfo {
  return byCode.get(code) ?? (byCode.get(ErrorCode.INTERNAL) as ErrorInfo);
}

export function errorInfoByName(name: ErrorName): ErrorInfo {
  return errorInfo(ErrorCode[name]);
}

/** All error codes, for documentation and tests. */
export function allErrors(): ErrorInfo[] {
  return [...byCode.values()];
}

/** An error carrying a stable protocol code; thrown by server and SDK alike. */
export class ParleyError extends Error {
  readonly code: ErrorCodeNumber;
  readonly retryable: boolean;
  readonly retryAfterMs: number;
  /** REJECTED: why, in a short machine-readable word chosen by the deployment; '' otherwise. */
  readonly reason: string;

  constructor(name: ErrorName, message?: string, options?: { cause?: unknown; retryAfterMs?: number; reason?: string }) {
    const info = errorInfoByName(name);
    super(message ?? info.description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.code = info.code;
    this.retryable = info.retryable;
    this.retryAfterMs = options?.retryAfterMs ?? 0;
    this.reason = options?.reason ?? '';
  }

  /** The symbolic name of the code ("FORBIDDEN", ...). */
  get codeName(): ErrorName {
    return this.name as ErrorName;
  }

  static fromCode(code: number, message: string, retryAfterMs = 0, reason = ''): ParleyError {
    return new ParleyError(errorInfo(code).name, message, { retryAfterMs, reason });
  }
}
