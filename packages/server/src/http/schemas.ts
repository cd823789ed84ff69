/**
 * JSON-schema pieces shared by the HTTP routes. Every `pattern` carries a
 * `description` in words: it is what a client is told when a value does not
 * match (schema-errors.ts), so nobody has to read a regular expression.
 */

/** A user or group id. */
export const ID = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_.@-]+$',
  description: '1-64 characters of A-Z a-z 0-9 _ . @ -',
} as const;

/** A conversation id as it appears in paths (a group id, or a direct chat's `d:` id). */
export const CONVERSATION_ID = { type: 'string', minLength: 1, maxLength: 80 } as const;

/** A display name or group name (trimmed and bounded again by the domain). */
export const NAME = { type: 'string', minLength: 1, maxLength: 128 } as const;

export function idList(max: number) {
  return { type: 'array', items: ID, maxItems: max } as const;
}

/** A non-negative whole number in a query string (query values are strings). */
export function queryNumber(maxDigits: number) {
  return { type: 'string', pattern: `^[0-9]{1,${maxDigits}}$`, description: `a whole number of at most ${maxDigits} digits` } as const;
}

/** A body that may be empty and has no fields: for POST routes that take nothing. */
export const NO_FIELDS = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

/** A query string with no parameters. */
export const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;
