/** Identifier schemes: how conversation ids are made. */
import { createHash, randomBytes } from 'node:crypto';

/**
 * A direct conversation's id is derived from its two users and its business
 * subject, so both sides (and every node) compute the same id, and
 * "buyer + seller + item" is its own conversation.
 */
export function directConversationId(userA: string, userB: string, subject: string): string {
  const [first, second] = userA < userB ? [userA, userB] : [userB, userA];
  const digest = createHash('sha256').update(JSON.stringify([first, second, subject])).digest('base64url');
  return `dm:${digest.slice(0, 22)}`;
}

/** A fresh group id when the creator gives none. */
export function newGroupId(): string {
  return `g-${randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}
