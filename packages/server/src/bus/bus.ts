/**
 * The Bus port: routes committed events to every server node that may hold a
 * recipient connection. The in-process LocalBus is the default; a NATS adapter
 * implements the same interface for clusters. Events are published only after
 * the store committed what they describe.
 */
import type { ConversationView, StoredMessage } from '../services/model.js';

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
  | { type: 'revoked'; userId: string };

export type BusHandler = (event: BusEvent) => void;

export interface Bus {
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
}
