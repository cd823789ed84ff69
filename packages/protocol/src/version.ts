/** The wire protocol version spoken by this package. Bumped on breaking changes. */
export const PROTOCOL_VERSION = 1;
