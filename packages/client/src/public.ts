/**
 * The public surface shared by the Node and browser entries, apart from the
 * runtime-specific ParleyClient class each of them defines: errors and types.
 * Imports nothing runtime-specific.
 */
export { ParleyError, ErrorCode, MUTED_FOREVER, type ErrorName } from '@parley/protocol';
export { isMuted } from './conversations.js';
export type { TypingChange } from './typing.js';
export { MAX_WATCHED_USERS, type Presence, type PresenceState } from './presence.js';
export { applyAmendment, applyThreadReply } from './amendments.js';
export type { MemberReceipt, MessageReceipts, MessageStatus } from './receipts.js';
export { newClientMsgId } from './outbox.js';
export { MemoryCache, type LocalCache } from './cache/local-cache.js';
export { prefetchLength } from './media.js';
export { describeSystemEvent, type SystemTextOptions } from './system-text.js';
export { MAX_TEXT_PARTS, splitLongText } from './split-text.js';
export { ManualClock, systemClock, type Clock, type TimerHandle } from './clock.js';
export type { PushPreferences, PushPreview, PushSettings, WebPushSubscriptionJson } from './push.js';
export type { MessageSearch, MessageSearchOptions, SearchHit, SearchPage, TextRange } from './search.js';
export { Room, type RoomEvent, type RoomEventKindName, type RoomEvents, type RoomInfo, type RoomViewer } from './rooms.js';
export { decodeSignalJson, encodeSignalJson } from './signals.js';
export type {
  AmendedMessage,
  CacheEvent,
  Reaction,
  Signal,
  SignalOptions,
  ClientEventName,
  ClientEvents,
  ClientState,
  ConversationMember,
  ConversationSummary,
  CreateGroupOptions,
  DirectOptions,
  HistoryOptions,
  Content,
  MediaKind,
  MediaRef,
  MediaSize,
  MediaSource,
  Message,
  MessageContent,
  OutgoingContent,
  SendMediaOptions,
  UploadedMedia,
  ParleyClientOptions,
  ReconnectOptions,
  Role,
  SearchUsersOptions,
  ServerLimits,
  SendOptions,
  StateChange,
  SystemEvent,
  ThreadInfo,
  ThreadPage,
  UserProfile,
  UserSettings,
  WebSocketConstructorLike,
  WebSocketEventHandler,
  WebSocketLike,
} from './types.js';
