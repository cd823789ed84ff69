/** @parley/protocol: the wire contract shared by server and SDK. No Node-only imports. */
export { PROTOCOL_VERSION } from './version.js';
export {
  ErrorCode,
  ParleyError,
  errorInfo,
  errorInfoByName,
  allErrors,
  type ErrorInfo,
  type ErrorName,
  type ErrorCodeNumber,
} from './errors.js';
export {
  encodeFrameEntry,
  joinEntries,
  encodePacket,
  decodePacket,
  lengthPrefixed,
  LengthPrefixedReader,
} from './codec.js';
export { ID_PATTERN, CLIENT_MSG_ID_PATTERN, isValidId, isValidClientMsgId, DEFAULT_LIMITS } from './limits.js';
export {
  Frame,
  Packet,
  Message,
  MessageType,
  ConversationKind,
  ConversationSummary,
  Role,
  type Hello,
  type Welcome,
  type Limits,
  type SendRequest,
  type SendAck,
  type SyncRequest,
  type SyncResult,
  type PullRequest,
  type PullResult,
  type MarkReadRequest,
  type ReadResult,
  type ConversationChanged,
  type OpenDirectRequest,
  type CreateGroupRequest,
  type ConversationResult,
  type UpdateMembersRequest,
  type RenameRequest,
  type SetRoleRequest,
  type MembersRequest,
  type Member,
  type MembersResult,
  type DeliveredAck,
  type Error as ErrorFrame,
} from './gen/parley.js';

/** The `body` union of a Frame. */
export type FrameBody = NonNullable<import('./gen/parley.js').Frame['body']>;
/** Names of frame bodies ("send", "push", ...). */
export type FrameCase = FrameBody['$case'];
