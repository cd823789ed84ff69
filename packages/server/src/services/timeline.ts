/**
 * The conversation timeline: seq assignment and system events. Every message
 * (user or system) enters a conversation through `appendToTimeline`, inside a
 * unit that locked the conversation, so seqs stay dense under any number of
 * writers.
 */
import { randomBytes } from 'node:crypto';
import type { MessageContent } from '@parley/protocol';
import type { ConversationRow, StoreTx, StoredMessage } from '../store/store.js';
import { indexedWords } from './search.js';
import { type StoredSystemEvent, encodeStoredSystemEvent } from './system-events.js';

export interface TimelineEntry {
  senderId: string;
  clientMsgId: string;
  type: 'user' | 'system';
  text?: string;
  data?: Uint8Array;
  visibleTo?: string;
  content?: MessageContent;
  mentions?: string[];
  mentionAll?: boolean;
  replyTo?: number;
  threadRoot?: number;
}

/**
 * Stores `entry` as the conversation's next seq, stamped `now` (the server
 * clock's time). `conversation` must come from `tx.lockConversation`; it is
 * updated in place so a unit can append several.
 */
export async function appendToTimeline(tx: StoreTx, conversation: ConversationRow, entry: TimelineEntry, now: number): Promise<StoredMessage> {
  const seq = conversation.lastSeq + 1;
  const searchWords = indexedWords(conversation.kind, entry);
  const message = await tx.insertMessage({ ...entry, conversationId: conversation.id, seq, createdAt: now, searchWords });
  conversation.lastSeq = seq;
  conversation.updatedAt = now;
  await tx.updateConversation(conversation.id, { lastSeq: seq, updatedAt: now });
  return message;
}

/**
 * Records a system event (a membership or naming change, an amendment) in
 * the timeline. `actorId` is '' for the admin API; `visibleTo`: the one
 * member it is for (a deletion for oneself), the others get a placeholder.
 */
export function appendSystemEvent(
  tx: StoreTx,
  conversation: ConversationRow,
  actorId: string,
  event: StoredSystemEvent,
  now: number,
  visibleTo?: string,
): Promise<StoredMessage> {
  return appendToTimeline(
    tx,
    conversation,
    {
      senderId: actorId,
      clientMsgId: `sys-${randomBytes(9).toString('base64url')}`,
      type: 'system',
      data: encodeStoredSystemEvent(event),
      visibleTo,
    },
    now,
  );
}
