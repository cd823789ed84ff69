/**
 * Who a conversation's new message goes to, as the bus needs it to route
 * the message only to the nodes holding those users (bus.ts, routesOf).
 * Read inside the unit that commits the message, after the conversation was
 * locked: member changes lock it too, so the list is exactly the members at
 * that seq, never a cached list one change behind (a member added on
 * another node a moment before would otherwise miss the push).
 *
 * Only small conversations are routed this way. A message to a large group
 * would need one copy per member on the bus, while its online members are
 * likely spread over every node anyway: it goes to every node once, and
 * each node finds the members it holds in its own member list.
 */
import type { ConversationRow, StoreTx } from '../store/store.js';

/** Conversations with at most this many active members have their messages routed per member. */
export const ROUTED_MEMBERS_MAX = 16;

/**
 * The active members of `conversation` when it has at most
 * ROUTED_MEMBERS_MAX of them, else undefined (send to every node).
 * `memberCount`: the count as of this unit, when the unit changed it.
 */
export async function routedRecipients(tx: StoreTx, conversation: ConversationRow, memberCount = conversation.memberCount): Promise<string[] | undefined> {
  if (conversation.kind === 'direct' && conversation.peerIds !== undefined) return [...conversation.peerIds];
  if (conversation.kind !== 'group' || memberCount > ROUTED_MEMBERS_MAX) return undefined;
  const members = await tx.activeMembers(conversation.id);
  return members.length > ROUTED_MEMBERS_MAX ? undefined : members.map((member) => member.userId);
}
