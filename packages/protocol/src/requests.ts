/**
 * The request table: which frame answers each client request, and how the
 * request is rate limited. The server's dispatch is typed by it (a handler
 * must return the paired reply) and the SDK's `request()` derives its result
 * type from it, so a request and a reply that do not belong together do not
 * compile. docs/protocol.md's frame table is generated from it.
 */
import type { Frame } from './gen/parley.js';

/** The `body` union of a Frame. */
export type FrameBody = NonNullable<Frame['body']>;
/** Names of frame bodies ("send", "push", ...). */
export type FrameCase = FrameBody['$case'];
/** The value carried by a frame body of the given case. */
export type BodyValue<C extends FrameCase> = Extract<FrameBody, { $case: C }>['value'];
/** The frame body of one case (written so that `C` is inferred from a literal `$case`). */
export interface BodyOf<C extends FrameCase> {
  $case: C;
  value: BodyValue<C>;
}

/**
 * How a request is rate limited:
 * - `send`: the per-user send bucket, which keeps per-conversation send order;
 * - `request`: the per-connection request bucket;
 * - `none`: not limited (hello, heartbeats, delivery positions).
 */
export type RateClass = 'send' | 'request' | 'none';

export interface RequestSpec {
  /** The frame case answering the request; null when it gets no reply. */
  readonly reply: FrameCase | null;
  readonly rate: RateClass;
}

export const REQUESTS = {
  hello: { reply: 'welcome', rate: 'none' },
  send: { reply: 'sendAck', rate: 'send' },
  sync: { reply: 'syncResult', rate: 'request' },
  pull: { reply: 'pullResult', rate: 'request' },
  markRead: { reply: 'readResult', rate: 'request' },
  openDirect: { reply: 'conversationResult', rate: 'request' },
  createGroup: { reply: 'conversationResult', rate: 'request' },
  updateMembers: { reply: 'ok', rate: 'request' },
  rename: { reply: 'ok', rate: 'request' },
  setRole: { reply: 'ok', rate: 'request' },
  members: { reply: 'membersResult', rate: 'request' },
  // Limited per connection by the receipt service, and dropped rather than refused: it has no reply.
  delivered: { reply: null, rate: 'none' },
  ping: { reply: 'pong', rate: 'none' },
  getUsers: { reply: 'usersResult', rate: 'request' },
  searchUsers: { reply: 'usersResult', rate: 'request' },
  createRoom: { reply: 'roomResult', rate: 'request' },
  joinRoom: { reply: 'roomJoined', rate: 'request' },
  leaveRoom: { reply: 'ok', rate: 'request' },
  // Limited per user and per room by the room service (RoomLimits), not per connection.
  roomEvent: { reply: 'ok', rate: 'none' },
  setRoomAdmin: { reply: 'ok', rate: 'request' },
  muteViewer: { reply: 'ok', rate: 'request' },
  closeRoom: { reply: 'ok', rate: 'request' },
  conversationSettings: { reply: 'conversationResult', rate: 'request' },
  // Limited per connection by the typing relay, and dropped rather than refused: it has no reply.
  typing: { reply: null, rate: 'none' },
  receipts: { reply: 'receiptsResult', rate: 'request' },
  updateUserSettings: { reply: 'userSettings', rate: 'request' },
  recall: { reply: 'amendResult', rate: 'request' },
  edit: { reply: 'amendResult', rate: 'request' },
  deleteForMe: { reply: 'amendResult', rate: 'request' },
  editHistory: { reply: 'editHistoryResult', rate: 'request' },
  thread: { reply: 'threadResult', rate: 'request' },
  markThreadRead: { reply: 'readResult', rate: 'request' },
  react: { reply: 'amendResult', rate: 'request' },
  // Limited per connection by the signal relay, and dropped rather than refused: it has no reply.
  signal: { reply: null, rate: 'none' },
  signalValues: { reply: 'signalValuesResult', rate: 'request' },
  // Also bounded per connection by the presence hub (a store read per call).
  presenceSubscribe: { reply: 'presenceResult', rate: 'request' },
  setPresence: { reply: 'ok', rate: 'request' },
} as const satisfies Record<string, RequestSpec>;

/**
 * Frames the server sends on its own, with request_id 0. A `ping` from the
 * server is a probe: the client answers it with a `pong` (request_id 0, the
 * same nonce) as soon as it reads it.
 */
export const PUSHES = ['push', 'conversationChanged', 'roomBatch', 'typingEvent', 'receiptsChanged', 'userSettings', 'signalEvent', 'presenceEvent', 'error', 'ping'] as const satisfies readonly FrameCase[];

/** Client requests (frame cases a client may send). */
export type RequestCase = keyof typeof REQUESTS;
/** Requests that are answered. */
export type AnsweredRequestCase = { [C in RequestCase]: (typeof REQUESTS)[C]['reply'] extends null ? never : C }[RequestCase];
/** The frame case answering request `C`. */
export type ReplyCase<C extends AnsweredRequestCase> = NonNullable<(typeof REQUESTS)[C]['reply']>;
/** The value of the reply to request `C`. */
export type ReplyValue<C extends AnsweredRequestCase> = BodyValue<ReplyCase<C>>;
export type PushCase = (typeof PUSHES)[number];

// Every frame case is a request, a reply or a push: a frame added to the schema
// does not compile until it has a place in this table.
type Unplaced = Exclude<FrameCase, RequestCase | ReplyCase<AnsweredRequestCase> | PushCase>;
const everyFramePlaced: [Unplaced] extends [never] ? true : Unplaced = true;
void everyFramePlaced;

export function isRequestCase(frameCase: string): frameCase is RequestCase {
  return Object.hasOwn(REQUESTS, frameCase);
}
