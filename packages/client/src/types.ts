/**
 * The public types of @parley/client: plain interfaces with numbers, strings and
 * unions, so that applications never see generated protobuf types, enums or
 * Longs. Conversions from the wire types live in convert.ts.
 */
import type { TypingChange } from './typing.js';
import type { Presence } from './presence.js';
import type { ParleyError } from '@parley/protocol';
import type { Clock } from './clock.js';
import type { LocalCache } from './cache/local-cache.js';

/** A member's role in a conversation. */
export type Role = 'member' | 'admin' | 'owner';

/**
 * Connection state. 'connecting' until the first connection is open,
 * 'reconnecting' after it was lost, 'closed' after close() or a fatal
 * authentication error; nothing leaves 'closed'.
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * A membership or naming event, carried by a system message; keyed on `type`.
 * `actorId` is the member who made the change; for a change made through the
 * admin API, the user it was made for, or '' when none was named
 * (`describeSystemEvent` tells such events in the passive voice).
 */
export type SystemEvent =
  | { type: 'group_created'; actorId: string; name: string; /** Every initial member, the owner included. */ memberIds: string[] }
  | { type: 'members_added'; actorId: string; userIds: string[] }
  | { type: 'member_removed'; actorId: string; userId: string }
  | { type: 'member_left'; actorId: string; userId: string }
  | { type: 'renamed'; actorId: string; name: string }
  | { type: 'role_changed'; actorId: string; userId: string; role: Role }
  /** A live room was closed by its host, an admin or the operator. */
  | { type: 'room_closed'; actorId: string }
  /**
   * Amendments: an earlier message changed. The SDK applies them (the
   * `amended` event) and does not hand them out as messages.
   */
  | { type: 'message_recalled'; actorId: string; seq: number }
  | { type: 'message_edited'; actorId: string; seq: number; text: string }
  | { type: 'message_hidden'; actorId: string; seq: number }
  | { type: 'message_reacted'; actorId: string; seq: number; emoji: string; added: boolean };

/** One message of a conversation, as this user may see it. */
export interface Message {
  /** Server-assigned, unique. */
  id: string;
  conversationId: string;
  /** Position in the conversation's dense sequence (1, 2, 3, ...). */
  seq: number;
  senderId: string;
  /** The sender's idempotency key for this message. */
  clientMsgId: string;
  type: 'user' | 'system';
  text?: string;
  data?: Uint8Array;
  /** Milliseconds since the Unix epoch, server clock, at commit. */
  createdAt: number;
  /** Set when the message is addressed to one member only. */
  visibleTo?: string;
  /** Set on system messages: what happened. */
  system?: SystemEvent;
  /**
   * Set on typed messages: a photo, file, voice note, video, location or an
   * application-defined kind. `text` then holds the fallback line ("📷
   * Photo"), to show where the content cannot be rendered.
   */
  content?: Content;
  /** Set once recalled (ms since the epoch): text, data and content are gone. */
  recalledAt?: number;
  /** Set once the text was edited (ms since the epoch, the latest edit). */
  editedAt?: number;
  /** Reactions, most given first, as this user sees them (in answers to pulls and syncs; kept current by `applyAmendment`). */
  reactions?: Reaction[];
  /** Members the message mentions, and whether it mentions everyone. */
  mentions?: string[];
  mentionAll?: boolean;
  /** The seq of the message it answers. */
  replyTo?: number;
  /** Set on a reply in a thread: its root's seq. Show it in the thread, not in the timeline. */
  threadRoot?: number;
  /** Set on a thread's root once it has replies (kept current by `applyThreadReply`). */
  thread?: ThreadInfo;
}

/** A thread's replies as its root carries them. */
export interface ThreadInfo {
  replies: number;
  /** The newest reply's seq and time (ms since the epoch). */
  lastSeq: number;
  lastAt: number;
  /** This user follows the thread: they sent the root, replied, or a reply mentioned them. */
  following: boolean;
  /** Replies this user has not read (threads they follow only). */
  unread: number;
}

/** A page of a thread (client.thread). */
export interface ThreadPage {
  root: Message;
  /** Ascending, visible replies only. */
  replies: Message[];
  /** More replies follow: ask again with `afterSeq` the last one's seq. */
  hasMore: boolean;
  following: boolean;
  /** This user's read position in the thread, and the replies after it. */
  readSeq: number;
  unread: number;
}

export interface Reaction {
  emoji: string;
  count: number;
  /** This user gave it. */
  mine: boolean;
}

/** An uploaded media item as a message carries it. Fetch it with `client.mediaUrl`. */
export interface MediaRef {
  mediaId: string;
  /** Sniffed by the server from the bytes. */
  mimeType: string;
  /** Bytes. */
  size: number;
  /** The name on the sender's device ('' when none). */
  fileName: string;
}

/** Typed content of a received message, keyed on `type`. */
export type Content =
  | {
      type: 'image';
      media: MediaRef;
      width: number;
      height: number;
      /** ThumbHash (about 25 bytes): decode it into a blurred preview while the image loads. */
      thumbhash: Uint8Array;
      /** An animated GIF or WebP: the 'medium' size animates, 'poster' is its first frame. */
      animated: boolean;
      caption: string;
    }
  | { type: 'file'; media: MediaRef; caption: string }
  | { type: 'voice'; media: MediaRef; durationMs: number; /** Up to 128 amplitudes 0-255. */ waveform: Uint8Array }
  | {
      type: 'video';
      media: MediaRef;
      width: number;
      height: number;
      durationMs: number;
      /** An image to show before playback ('' when none). */
      posterMediaId: string;
      thumbhash: Uint8Array;
      caption: string;
    }
  | { type: 'location'; latitude: number; longitude: number; name: string; address: string }
  | { type: 'custom'; customType: string; /** The parsed JSON object. */ data: Record<string, unknown> }
  /** A kind newer than this SDK: show the message's `text`. */
  | { type: 'unknown' };

/**
 * Typed content to send with `send`. Media kinds name an upload by id (see
 * `sendImage` and its siblings, which upload and send in one call); the
 * server fills in type, size, dimensions and preview.
 */
export type OutgoingContent =
  | { type: 'image'; mediaId: string; caption?: string }
  | { type: 'file'; mediaId: string; caption?: string; fileName?: string }
  | { type: 'voice'; mediaId: string; durationMs?: number; waveform?: Uint8Array }
  | { type: 'video'; mediaId: string; width?: number; height?: number; durationMs?: number; posterMediaId?: string; caption?: string }
  | { type: 'location'; latitude: number; longitude: number; name?: string; address?: string }
  | { type: 'custom'; customType: string; data: Record<string, unknown> };

/** The media kinds an upload can be. */
export type MediaKind = 'image' | 'file' | 'voice' | 'video';

/**
 * What sendImage and its siblings upload: a Blob or File (browsers; Node 20
 * has Blob too), bytes, or on Node a file path.
 */
export type MediaSource = Blob | Uint8Array | string;

/** The sizes of a media item: the original, a medium image (about 1280 px), an animated image's first frame. */
export type MediaSize = 'original' | 'medium' | 'poster';

/** What the server stored for an upload. */
export interface UploadedMedia {
  mediaId: string;
  kind: MediaKind;
  mimeType: string;
  size: number;
  fileName: string;
  width: number;
  height: number;
  thumbhash: Uint8Array;
  animated: boolean;
  sizes: MediaSize[];
}

export interface SendMediaOptions extends SendOptions {
  caption?: string;
  /** The name shown on the file card. Default: the path's or File's name. */
  fileName?: string;
  /** Called as bytes reach the server. */
  onProgress?: (progress: { sentBytes: number; totalBytes: number }) => void;
  /** Aborts the upload (the promise rejects with CLOSED); nothing is sent. */
  signal?: AbortSignal;
  /** Voice and video: the recording's length, in ms. */
  durationMs?: number;
  /** Video: its frame size. */
  width?: number;
  height?: number;
  /** Video: an image shown before playback, uploaded with the video. */
  poster?: MediaSource;
  /** Voice: amplitudes 0-255 to draw (at most 128). */
  waveform?: Uint8Array;
}

/** One conversation as this user sees it. */
export interface ConversationSummary {
  id: string;
  kind: 'direct' | 'group';
  name: string;
  subject?: string;
  /** Direct conversations: the other participant. */
  peerId?: string;
  lastSeq: number;
  /** The newest message this user may see. */
  lastMessage?: Message;
  readSeq: number;
  /** User messages from others above readSeq. */
  unread: number;
  role: Role;
  /** The first seq this user may read. */
  firstSeq: number;
  /** Set once the user left or was removed: readable up to this seq only. */
  leftSeq?: number;
  /** False once the user left or was removed. */
  active: boolean;
  /** Milliseconds since the Unix epoch of the last activity. */
  updatedAt: number;
  memberCount: number;
  /**
   * What the conversation is about in your product, set by your backend
   * (for example the item a buyer and a seller talk about); empty when none.
   */
  attributes: Readonly<Record<string, string>>;
  // This user's own settings, the same on all their devices (client.mute, pin, saveDraft).
  /** Notifications are muted until this time (ms since the epoch; MUTED_FOREVER: until unmuted); absent when not muted. Compare with the clock, or use isMuted. */
  mutedUntil?: number;
  /** When the user pinned it (ms since the epoch); absent when not pinned. Pinned conversations come first in `conversations()`. */
  pinnedAt?: number;
  /** Text the user left unsent here, on any of their devices; absent when none. */
  draft?: string;
  /** Of the unread messages, those that mention this user (or everyone); absent when none. Counted in muted conversations too. */
  mentions?: number;
  /** Unread replies in the threads here this user follows; absent when none. Not part of `unread`, part of the total. */
  threadUnread?: number;
}

/** What the server allows (its welcome's limits), as client.serverLimits gives them. */
export interface ServerLimits {
  /** Longest message text, in UTF-16 code units. */
  maxTextChars: number;
  maxDataBytes: number;
  maxGroupMembers: number;
  /** Longest draft (saveDraft). */
  maxDraftChars: number;
  /** Most conversations pinned at once (pin). */
  maxPinned: number;
  /** Largest conversation with receipts; `receipts` is refused above it. */
  maxReceiptMembers: number;
  /** Largest upload per media kind; 0 when the server takes none. */
  maxUploadBytes: Record<MediaKind, number>;
}

export interface ConversationMember {
  userId: string;
  /** Display name. */
  name: string;
  role: Role;
  /** Milliseconds since the Unix epoch. */
  joinedAt: number;
}

/** A user as the directory shows them. */
export interface UserProfile {
  id: string;
  /** Display name. */
  name: string;
}

export interface SearchUsersOptions {
  /** Most users returned. Default 20; the server allows at most 50. */
  limit?: number;
}

/** What send() accepts: text, data or both; or typed content (with `text` as an optional fallback line). */
export interface MessageContent {
  text?: string;
  data?: Uint8Array;
  content?: OutgoingContent;
  /** Members mentioned (@name, at most 50): counted in their `mentions` and notified even when they muted the conversation. */
  mentions?: string[];
  /** Mentions everyone (@all); groups only. */
  mentionAll?: boolean;
  /** The seq of the message this one answers (a quote). */
  replyTo?: number;
  /** Makes it a reply in the thread under this seq (a message everyone may read, not itself a reply). */
  threadRoot?: number;
}

export interface SendOptions {
  /**
   * The idempotency key: 1-64 printable ASCII characters without spaces, never
   * reused by the same user for another message.
   * Default: generated. See newClientMsgId() to make one up front.
   */
  clientMsgId?: string;
}

export interface HistoryOptions {
  /** Return messages with seq below this. Default: everything up to the latest. */
  beforeSeq?: number;
  /** How many messages at most. Default 50, capped by the server's max pull limit. */
  limit?: number;
}

export interface CreateGroupOptions {
  /** Group id (1-64 of `A-Z a-z 0-9 _ . @ -`). Default: generated by the server. */
  id?: string;
  name: string;
  /** Members besides the caller, who becomes owner. */
  memberIds: string[];
}

export interface DirectOptions {
  /** A business subject (a product id, ...): each subject is its own conversation. Default: none. */
  subject?: string;
}

export interface ReconnectOptions {
  /** First backoff ceiling in ms. Default 250. */
  minDelayMs?: number;
  /** Largest backoff ceiling in ms. Default 10000. */
  maxDelayMs?: number;
}

/** Receives a WebSocket event; declared bivariantly so DOM and `ws` sockets both fit. */
export type WebSocketEventHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API the SDK uses; both the DOM WebSocket and `ws` fit. */
export interface WebSocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: WebSocketEventHandler<unknown> | null;
  onmessage: WebSocketEventHandler<{ readonly data: unknown }> | null;
  onclose: WebSocketEventHandler<{ readonly code: number; readonly reason: string }> | null;
  onerror: WebSocketEventHandler<unknown> | null;
}

export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

export interface ParleyClientOptions {
  /**
   * Server URL: `ws://`/`wss://` (path defaults to `/ws`), or `tcp://host:port` /
   * `tls://host:port` (Node only).
   */
  url: string;
  /** A JWT, or a function called on every (re)connect so that expired tokens can be refreshed. */
  token: string | (() => string | Promise<string>);
  /** WebSocket constructor. Default: `ws` on Node, globalThis.WebSocket in browsers. */
  WebSocket?: WebSocketConstructorLike;
  /** Reconnect backoff (full jitter, exponential), or false to never reconnect. Default { minDelayMs: 250, maxDelayMs: 10000 }. */
  reconnect?: ReconnectOptions | false;
  /** How long a request may wait for its reply once transmitted. Default 15000 ms. */
  requestTimeoutMs?: number;
  /**
   * How long a new connection may take from opening to the server's welcome
   * before it is given up and another attempt is made. Heartbeats only start
   * after welcome, so this is what catches a connection that dies silently
   * during the handshake. Default 10000 ms.
   */
  handshakeTimeoutMs?: number;
  /**
   * How long a request made while disconnected (direct, history, markRead,
   * createGroup, ...) waits for the connection before it rejects with TIMEOUT;
   * idempotent requests lost with their connection are sent again within the
   * same bound. Sends are not bounded by it: they wait in the outbox. Default 30000 ms.
   */
  connectionWaitMs?: number;
  /** On first sight of a conversation, how many of its newest unread messages are emitted as 'message' events. Default 100. */
  initialBacklog?: number;
  /** Client label sent in hello, for server logs. Default "parley-js/0.1". */
  clientName?: string;
  /** Time and timers. Default: the system clock. Tests pass a ManualClock to move time without sleeping. */
  clock?: Clock;
  /** TLS settings for `wss://` (with the default `ws` constructor) and `tls://`; Node only. Default: system CAs. */
  tls?: { ca?: string | Uint8Array };
  /**
   * The server's HTTP base URL, for the media channel (uploads, downloads).
   * Default: derived from a `ws://`/`wss://` url (same host and port); required with `tcp://`.
   */
  httpUrl?: string;
  /**
   * When a video message arrives, fetch its first seconds (a byte range sized
   * from its bitrate) so that playback starts at once. Default true in Node;
   * in browsers true unless the connection reports save-data.
   */
  prefetchVideo?: boolean;
  /** Bytes of prefetched video kept, least recently used dropped first. Default 32 MiB. */
  prefetchCacheBytes?: number;
  /**
   * A local cache (FileCache in Node, IndexedDbCache in browsers) and the
   * user it is for: connect() then shows the conversations and recent
   * messages kept from the last run at once, and syncs only what changed
   * since. `userId` must be the user the token is for. Default: none (every
   * start syncs from scratch). See clearCache().
   */
  cache?: { store: LocalCache; userId: string };
}

export interface StateChange {
  state: ClientState;
  /** Why the connection was lost or could not be made. */
  error?: ParleyError;
}

/** Events and their payloads. */
/** An ephemeral custom event (docs/protocol.md, "Signals"). */
export interface Signal {
  conversationId: string;
  senderId: string;
  /** The application's name for it ("geo.position"). */
  type: string;
  data: Uint8Array;
  /** Set when it was for one member only. */
  to?: string;
  /** Set when it is kept as the sender's latest value for this key. */
  key?: string;
  /** Server time it was relayed (ms since the epoch). */
  sentAt: number;
}

export interface SignalOptions {
  /** Only this member gets it. Default: every other member. */
  to?: string;
  /** Keep it as your latest value for this key (1-64 characters), for members who ask later; empty data clears it. Default: not kept. */
  key?: string;
}

/** A change to an earlier message, from its conversation's stream. */
export type AmendedMessage = {
  conversationId: string;
  /** The message that changed. */
  seq: number;
  /** Who changed it: its sender, or a group admin who recalled it. */
  actorId: string;
  /** When (ms since the epoch, server clock). */
  at: number;
  /** The seq of the amendment itself in the conversation's sequence. */
  amendmentSeq: number;
} & ({ change: 'recalled' } | { change: 'edited'; text: string } | { change: 'deleted' } | { change: 'reacted'; emoji: string; added: boolean });

/** The user's own account settings, the same on all their devices. */
export interface UserSettings {
  /** Others do not see when this user read their messages, and this user does not see when others read theirs. */
  readReceiptsOff: boolean;
  /** Others do not see when this user is online or was last seen, and this user sees nobody's last seen. */
  hidePresence: boolean;
  /** Muted conversations are left out of the badge (client.badgeCount, and notifications' badge). */
  hideMutedFromBadge: boolean;
}

export interface ClientEvents {
  /** Each message exactly once per client, in seq order per conversation; hidden placeholders never. */
  message: Message;
  /** A conversation summary changed (new message, read position, name, membership, ...). */
  conversation: ConversationSummary;
  /** The connection state changed, or a connection attempt failed. */
  state: StateChange;
  /** Who is typing in a conversation changed (client.typingIn gives the same list). */
  typing: TypingChange;
  /** Members' delivered or read positions changed in a conversation whose receipts were asked for (client.receiptsOf). */
  receipts: { conversationId: string };
  /** The user's own account settings changed, on this device or another. */
  settings: UserSettings;
  /** An earlier message changed: recalled, edited, or deleted by this user for themselves (applyAmendment applies it). */
  amended: AmendedMessage;
  /** A member sent a signal to a conversation of this user, or to this user (client.signal). */
  signal: Signal;
  /** A watched user went online, away or offline, or their presence became unknown (client.watchPresence). */
  presence: Presence;
  /** A background failure that no promise reports. */
  error: ParleyError;
  /** The local cache (the `cache` option): state restored or discarded, or a failure to read or write it. */
  cache: CacheEvent;
}

/**
 * What the local cache did. 'restored': the kept conversations and
 * messages were just emitted, before the connection is up (the server
 * confirms them with the first sync: state 'open'). 'discarded': what was
 * restored or synced does not hold (the server's database was replaced or
 * reset, or the token is for another user); forget every conversation and
 * message the client emitted, the first sync sends everything again. A
 * client without a cache hears 'discarded' too, when it reconnects to a
 * server whose database was replaced meanwhile. 'failed': reading or
 * writing the cache failed; messaging goes on without it.
 */
export type CacheEvent =
  | { type: 'restored'; conversations: number; messages: number }
  | { type: 'discarded'; reason: 'server reset' | 'another user' }
  | { type: 'failed'; operation: 'read' | 'write' | 'remove'; error: ParleyError };

export type ClientEventName = keyof ClientEvents;
