/**
 * The Bus port: routes committed events to every server node that may hold a
 * recipient connection. The in-process LocalBus is the default; a NATS adapter
 * implements the same interface for clusters. Events are published only after
 * the store committed what they describe.
 */
import type { SignalEvent } from '@parley/protocol';
import type { ConversationView, MemberRole, StoredMessage } from '../services/model.js';
import type { ReceiptRecord, UserSettingsRecord } from '../services/receipts.js';
import type { RoomEventRecord, RoomViewerRecord } from '../services/rooms.js';

export type BusEvent =
  /**
   * A message was committed. `alsoNotify`: users who are no longer members
   * but must see it (the removed member). `recipients`: the conversation's
   * active members when it committed, given for small conversations only
   * (services/recipients.ts); an adapter that routes then sends the message
   * only to the nodes holding them, each copy naming the recipients it is
   * for (routesOf). Without it the message goes to every node, and each
   * node pushes it to the members it finds in its own member list.
   */
  | { type: 'message'; message: StoredMessage; originSessionId?: string; alsoNotify?: string[]; recipients?: string[] }
  /** A conversation's member list changed: drop cached member lists. */
  | { type: 'members'; conversationId: string }
  /**
   * These users' own membership of a conversation changed (added, removed,
   * left, role): each of their devices gets the conversation as they now see it.
   */
  | { type: 'membership'; conversationId: string; userIds: string[] }
  /** A user's own view of a conversation changed (read on another device). */
  | { type: 'summary'; userId: string; summary: ConversationView; totalUnread: number; originSessionId?: string }
  /** A user's tokens were revoked: close their connections. */
  | { type: 'revoked'; userId: string }
  /**
   * A member is typing in a conversation, or stopped (gateway/typing.ts).
   * `recipients`: the other members, for small conversations; else every
   * node picks its own members' connections.
   */
  | { type: 'typing'; conversationId: string; userId: string; typing: boolean; recipients?: readonly string[] }
  /**
   * Members' delivered or read positions moved (services/receipts.ts), for
   * the senders of the messages they moved over. `blind`: the recipients
   * who turned read receipts off, who get the positions without reads.
   */
  | { type: 'receipts'; conversationId: string; receipts: ReceiptRecord[]; recipients: readonly string[]; blind: readonly string[] }
  /**
   * A member's signal (gateway/signals.ts). `recipients`: the members it is
   * for, in small conversations; else every node picks its own members (and
   * keeps keyed values).
   */
  | { type: 'signal'; signal: SignalEvent; recipients?: readonly string[] }
  /**
   * A user changed their account settings: their other devices are told,
   * and every node's watchers of their presence (gateway/presence-hub.ts).
   */
  | { type: 'userSettings'; userId: string; settings: UserSettingsRecord; originSessionId?: string }
  /**
   * Room traffic. Each event crosses the bus once and reaches each node once,
   * whatever the number of viewers there; every node then batches it for its
   * own viewers (gateway/room-hub.ts). All are keyed by room, so an adapter
   * can route them only to nodes with viewers in that room.
   */
  /** A live room was created (for the webhooks' room.opened; every node hears it). */
  | { type: 'roomOpened'; room: { id: string; name: string; hostId: string; createdAt: number } }
  /** A reliable room message was committed (also the room_closed system message). */
  | { type: 'roomMessage'; message: StoredMessage }
  /** An ephemeral room event that passed its ingress node's checks and budget. */
  | { type: 'roomEvent'; roomId: string; event: RoomEventRecord }
  /** One node's viewers in a room (its share of the online count and top viewers), every few seconds. */
  | { type: 'roomStats'; roomId: string; nodeId: string; online: number; top: RoomViewerRecord[] }
  /** A room's host, admins or mutes changed. */
  | { type: 'roomPerson'; roomId: string; userId: string; role: MemberRole; mutedUntil: number }
  /**
   * Which users have connections to one node, and how many, of which how
   * many are away (gateway/cluster-presence.ts; absent: none): changes, or
   * the node's full list (`full`, replacing what it said before; `ask`: a
   * node that starts, asking the others for theirs). An empty change list
   * is a heartbeat.
   */
  | { type: 'presence'; nodeId: string; changes: Array<[userId: string, connections: number, away?: number]>; full?: boolean; ask?: boolean }
  /** One node's figures about itself, every 2 s, for the admin overview (gateway/node-stats.ts). */
  | { type: 'nodeStats'; snapshot: NodeSnapshot };

/**
 * What a node tells the others about itself. Small by design: counts and
 * short top lists, never every user, connection or room.
 */
export interface NodeSnapshot {
  nodeId: string;
  /** When the node started, and when it took this snapshot (ms, its own clock). */
  startedAt: number;
  at: number;
  /** Open connections, by transport. */
  connections: { ws: number; tcp: number };
  /** Users with at least one connection to this node. */
  users: number;
  /** Sends from this node's connections that were stored (repeats of a stored send left out), since start. */
  messagesIn: number;
  /** Messages pushed to this node's connections since start (one per message per connection). */
  messagesOut: number;
  /** Live rooms with viewers here, and those viewers (a connection in two rooms counts twice). */
  rooms: number;
  roomViewers: number;
  /** The rooms with the most viewers here, most first (at most 10). */
  topRooms: Array<{ roomId: string; viewers: number }>;
  /** The conversations with the most sends on this node in the last minute, most first (at most 10). */
  busiest: Array<{ conversationId: string; sends: number }>;
  rssBytes: number;
  /** Event-loop delay since the previous snapshot, in ms. */
  eventLoopDelayMs: { mean: number; p99: number; max: number };
}

export type BusHandler = (event: BusEvent) => void;

/** The route of a room's traffic (Bus.interest): declared by the nodes with viewers in the room. */
export function roomRoute(roomId: string): string {
  return `room:${roomId}`;
}

/** The route of what concerns one user's devices: declared by the nodes the user is connected to. */
export function userRoute(userId: string): string {
  return `user:${userId}`;
}

/**
 * How an adapter that routes may send an event: as these copies, each to
 * the nodes that declared its route, or, when undefined, to every node.
 *
 * - A room's traffic goes to the room's route.
 * - What concerns named users goes to each user's route, in a copy that
 *   names that user alone, so a node holding two of the users gets two
 *   copies and acts on each user once. That covers a message with
 *   `recipients` (its `alsoNotify` users get copies naming them there), a
 *   view changed for one user, revoked tokens, and membership changes.
 * - Everything else (messages of large groups, member-list changes,
 *   presence, account settings, which watchers of the user's presence on
 *   any node must hear, node figures) goes to every node.
 */
export function routesOf(event: BusEvent): Array<[route: string, copy: BusEvent]> | undefined {
  switch (event.type) {
    case 'roomMessage':
      return [[roomRoute(event.message.conversationId), event]];
    case 'roomEvent':
    case 'roomStats':
    case 'roomPerson':
      return [[roomRoute(event.roomId), event]];
    case 'message': {
      if (event.recipients === undefined) return undefined;
      const { alsoNotify, recipients, ...rest } = event;
      const copies: Array<[string, BusEvent]> = recipients.map((userId) => [userRoute(userId), { ...rest, recipients: [userId] }]);
      for (const userId of alsoNotify ?? []) copies.push([userRoute(userId), { ...rest, recipients: [], alsoNotify: [userId] }]);
      return copies;
    }
    case 'membership':
      return event.userIds.map((userId) => [userRoute(userId), { ...event, userIds: [userId] }]);
    case 'typing':
      return event.recipients?.map((userId) => [userRoute(userId), { ...event, recipients: [userId] }]);
    case 'signal':
      return event.recipients?.map((userId) => [userRoute(userId), { ...event, recipients: [userId] }]);
    case 'receipts':
      return event.recipients.map((userId) => [userRoute(userId), { ...event, recipients: [userId], blind: event.blind.includes(userId) ? [userId] : [] }]);
    case 'summary':
    case 'revoked':
      return [[userRoute(event.userId), event]];
    default:
      return undefined;
  }
}

export interface Bus {
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
  /** False while the adapter cannot reach its broker (for /readyz); absent means always ready. */
  ready?(): boolean;
  /**
   * Declares (held) or withdraws this node's interest in a route (routesOf).
   * Counted: two declarations need two withdrawals. Resolves once every
   * event published afterwards, on any node, is sure to reach this one, so
   * state read after it cannot miss an event. An adapter without it (the
   * in-process bus) hands every event to every subscriber.
   */
  interest?(route: string, held: boolean): Promise<void>;
  /**
   * Calls `listener` each time the adapter reaches its broker again after
   * losing it. Events published in between may never have arrived here, so
   * the node catches its connections up (gateway/bus-recovery.ts). Returns an
   * unsubscribe function. Absent: the adapter never loses events (in-process).
   */
  onReconnect?(listener: () => void): () => void;
}
