/** @parley/server: the Parley messaging server, embeddable in any Node program. */
export { startServer, type ParleyServer } from './server.js';
export { type ServerOptions, type ModerationSettings, type ServerLimits, DEFAULT_SERVER_LIMITS, type RoomLimits, DEFAULT_ROOM_LIMITS } from './config.js';
export type { RoomHubCounters } from './gateway/room-hub.js';
export type {
  Store,
  StoreReader,
  StoreTx,
  StoredMessage,
  NewMessage,
  UserRow,
  ConversationRow,
  MemberRow,
  Membership,
  MembershipQuery,
  MessageFilter,
  MessageQuery,
  MediaRow,
  MediaReference,
  RoomPersonRow,
} from './store/store.js';
export type {
  ConversationView,
  MemberInfo,
  MemberRole,
  UserRecord,
  AppendResult,
  ReadRangeResult,
  ChangesResult,
  MembershipChange,
} from './services/model.js';
export type { Bus, BusEvent, BusHandler } from './bus/bus.js';
export { LocalBus } from './bus/local-bus.js';
export { NatsBus, type NatsBusOptions } from './bus/nats-bus.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { SERVER_VERSION } from './version.js';
export type { MediaStore, MediaObjectInfo, ByteRange } from './media/media-store.js';
export { LocalDiskMediaStore } from './media/local-disk-store.js';
export { S3MediaStore, type S3MediaStoreOptions } from './media/s3-store.js';
export { type MediaLimits, DEFAULT_MEDIA_LIMITS } from './services/media.js';
export { type TlsOptions, type DevCertificate, createDevCertificate } from './tls.js';
export type { BeforeSend, BeforeSendVerdict, OutgoingMessage } from './moderation/before-send.js';
export { signature as hookSignature } from './util/signed-post.js';
export type { PushNotification, PushSender } from './push/push-sender.js';
export { type VapidKeys, type WebPushPayload, generateVapidKeys } from './push/web-push.js';
