/**
 * Shared validation rules for identifiers and sizes, so that the SDK can reject
 * bad input before it reaches the wire and the server applies the same rules.
 */

/** User and group ids: 1-64 characters of letters, digits and `_ . @ -`. */
export const ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Client message ids: 1-64 printable ASCII characters without spaces. */
export const CLIENT_MSG_ID_PATTERN = /^[\x21-\x7e]{1,64}$/;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isValidClientMsgId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_MSG_ID_PATTERN.test(value);
}

/** Default bounds; the server announces its own in the Welcome frame. */
export const DEFAULT_LIMITS = {
  maxFrameBytes: 256 * 1024,
  maxTextChars: 8000,
  maxDataBytes: 64 * 1024,
  maxPullLimit: 500,
  maxGroupMembers: 10_000,
  maxNameChars: 128,
  maxSubjectChars: 128,
  maxDraftChars: 4000,
  maxPinned: 10,
  maxReceiptMembers: 500,
} as const;

/** ConversationSettingsRequest.muted_until for "until unmuted": the start of year 10000, past any real date. */
export const MUTED_FOREVER = 253_402_300_800_000;

/**
 * Development-account passwords (the server's /dev sign-in): long enough not
 * to be guessed in the attempts allowed, short enough to bound hashing work.
 */
export const PASSWORD_LENGTH = { min: 8, max: 200 } as const;
