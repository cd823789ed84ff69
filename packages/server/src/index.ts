/** @parley/server: the Parley messaging server, embeddable in any Node program. */
export { startServer, type ParleyServer } from './server.js';
export { type ServerOptions, type ServerLimits, DEFAULT_SERVER_LIMITS } from './config.js';
export type {
  Store,
  StoredMessage,
  ConversationView,
  MemberInfo,
  UserRecord,
  AppendInput,
  AppendResult,
  ReadRangeInput,
  ReadRangeResult,
  ChangesResult,
  MembershipChange,
} from './store/store.js';
export type { MemberRole } from './store/rules.js';
export type { Bus, BusEvent, BusHandler } from './bus/bus.js';
export { LocalBus } from './bus/local-bus.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { SERVER_VERSION } from './version.js';
export { type TlsOptions, type DevCertificate, createDevCertificate } from './tls.js';
