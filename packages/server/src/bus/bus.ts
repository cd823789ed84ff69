/**
 * The Bus port: routes committed events to every server node that may hold a
 * recipient connection. The in-process LocalBus is the default; a NATS adapter
 * implements the same interface for clusters. Events are published only after
 * the store committed what they describe.
 */
import type { ConversationView, MemberRole, StoredMessage } from '../services/model.js';
import type { RoomEventRecord, RoomViewerRecord } from '../services/rooms.js';

export type BusEvent =
  /** A message was committed. `alsoNotify`: users who are no longer members but must see it (the removed member). */
  | { type: 'message'; message: StoredMessage; originSessionId?: string; alsoNotify?: string[] }
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
   * Room traffic. Each event crosses the bus once and reaches each node once,
   * whatever the number of viewers there; every node then batches it for its
   * own viewers (gateway/room-hub.ts). All are keyed by room, so an adapter
   * can route them only to nodes with viewers in that room.
   */
  /** A reliable room message was committed (also the room_closed system message). */
  | { type: 'roomMessage'; message: StoredMessage }
  /** An ephemeral room event that passed its ingress node's checks and budget. */
  | { type: 'roomEvent'; roomId: string; event: RoomEventRecord }
  /** One node's viewers in a room (its share of the online count and top viewers), every few seconds. */
  | { type: 'roomStats'; roomId: string; nodeId: string; online: number; top: RoomViewerRecord[] }
  /** A room's host, admins or mutes changed. */
  | { type: 'roomPerson'; roomId: string; userId: string; role: MemberRole; mutedUntil: number };

export type BusHandler = (event: BusEvent) => void;

/** The route of a room's traffic (Bus.interest). */
export function roomRoute(roomId: string): string {
  return `room:${roomId}`;
}

/**
 * Where an adapter may route an event: a room's traffic only to the nodes
 * that declared interest in that room (the nodes with viewers in it), every
 * other event to every node (undefined).
 */
export function routeOf(event: BusEvent): string | undefined {
  switch (event.type) {
    case 'roomMessage':
      return roomRoute(event.message.conversationId);
    case 'roomEvent':
    case 'roomStats':
    case 'roomPerson':
      return roomRoute(event.roomId);
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
   * Declares (held) or withdraws this node's interest in a route (routeOf).
   * Counted: two declarations need two withdrawals. Resolves once every
   * event published afterwards, on any node, is sure to reach this one, so
   * state read after it cannot miss an event. An adapter without it (the
   * in-process bus) hands every event to every subscriber.
   */
  interest?(route: string, held: boolean): Promise<void>;
}
