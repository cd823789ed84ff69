/** Lookups that turn a missing row into the error a client gets. */
import { ParleyError } from '@parley/protocol';
import type { ConversationRow, MemberRow, StoreReader, StoreTx } from '../store/store.js';

export async function requireConversation(reader: StoreReader, conversationId: string): Promise<ConversationRow> {
  const conversation = await reader.getConversation(conversationId);
  if (conversation === undefined) throw new ParleyError('NOT_FOUND', `unknown conversation ${conversationId}`);
  return conversation;
}

/** Locks the conversation for the rest of the unit (see StoreTx.lockConversation). */
export async function lockConversation(tx: StoreTx, conversationId: string): Promise<ConversationRow> {
  const conversation = await tx.lockConversation(conversationId);
  if (conversation === undefined) throw new ParleyError('NOT_FOUND', `unknown conversation ${conversationId}`);
  return conversation;
}

export async function requireUsers(reader: StoreReader, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  const known = new Set((await reader.getUsers(userIds)).map((user) => user.id));
  const missing = userIds.find((id) => !known.has(id));
  if (missing !== undefined) throw new ParleyError('NOT_FOUND', `unknown user ${missing}`);
}

/** A membership, past or present; unknown users are NOT_FOUND, strangers FORBIDDEN. */
export async function requireMembership(reader: StoreReader, conversationId: string, userId: string): Promise<MemberRow> {
  const member = await reader.getMember(conversationId, userId);
  if (member !== undefined) return member;
  await requireUsers(reader, [userId]);
  throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
}

export async function requireActiveMembership(reader: StoreReader, conversationId: string, userId: string): Promise<MemberRow> {
  const member = await requireMembership(reader, conversationId, userId);
  if (member.leftSeq !== undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
  return member;
}
