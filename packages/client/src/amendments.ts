/**
 * Amendments: system messages that change an earlier message (recalled,
 * edited, deleted for oneself). The SDK does not hand them out as messages;
 * it turns each into an `amended` event for the application to apply to
 * the message it shows.
 */
import type { AmendedMessage, Message, Reaction } from './types.js';

/** The change an amendment makes; undefined for any other message. */
export function amendmentOf(message: Message): AmendedMessage | undefined {
  const event = message.system;
  if (message.type !== 'system' || event === undefined) return undefined;
  const base = { conversationId: message.conversationId, seq: 0, actorId: event.actorId, at: message.createdAt, amendmentSeq: message.seq };
  switch (event.type) {
    case 'message_recalled':
      return { ...base, seq: event.seq, change: 'recalled' };
    case 'message_edited':
      return { ...base, seq: event.seq, change: 'edited', text: event.text };
    case 'message_hidden':
      return { ...base, seq: event.seq, change: 'deleted' };
    case 'message_reacted':
      return { ...base, seq: event.seq, change: 'reacted', emoji: event.emoji, added: event.added };
    default:
      return undefined;
  }
}

/**
 * The message as it reads after the change; undefined when it is no longer
 * shown (deleted for oneself). `selfId`: the user, for whether a reaction is
 * theirs.
 */
export function applyAmendment(message: Message, amended: AmendedMessage, selfId?: string): Message | undefined {
  if (message.conversationId !== amended.conversationId || message.seq !== amended.seq) return message;
  switch (amended.change) {
    case 'recalled': {
      const { text: _text, data: _data, content: _content, ...rest } = message;
      return { ...rest, recalledAt: amended.at };
    }
    case 'edited':
      return message.recalledAt === undefined ? { ...message, text: amended.text, editedAt: amended.at } : message;
    case 'deleted':
      return undefined;
    case 'reacted':
      return { ...message, reactions: withReaction(message.reactions ?? [], amended.emoji, amended.added, amended.actorId === selfId) };
  }
}

/**
 * A thread's root as it reads once `reply` arrived: one reply more, unless
 * the root already counted it (its seq is not above the root's newest), and
 * one more unread for a follower when it is not their own. `selfId`: the
 * user. Other messages come back as they are.
 */
export function applyThreadReply(root: Message, reply: Message, selfId?: string): Message {
  if (reply.threadRoot !== root.seq || reply.conversationId !== root.conversationId) return root;
  const thread = root.thread ?? { replies: 0, lastSeq: root.seq, lastAt: 0, following: false, unread: 0 };
  if (reply.seq <= thread.lastSeq) return root;
  const own = reply.senderId === selfId;
  const following = thread.following || own || root.senderId === selfId || (selfId !== undefined && (reply.mentions?.includes(selfId) ?? false));
  const unread = own ? 0 : following ? thread.unread + 1 : 0;
  return { ...root, thread: { replies: thread.replies + 1, lastSeq: reply.seq, lastAt: reply.createdAt, following, unread } };
}

/** One reaction more or less, most given first; an emoji nobody gives any more is gone. */
function withReaction(reactions: readonly Reaction[], emoji: string, added: boolean, mine: boolean): Reaction[] | undefined {
  const next = reactions.map((reaction) => ({ ...reaction }));
  let entry = next.find((reaction) => reaction.emoji === emoji);
  if (entry === undefined) {
    if (!added) return next.length === 0 ? undefined : next;
    entry = { emoji, count: 0, mine: false };
    next.push(entry);
  }
  entry.count = Math.max(0, entry.count + (added ? 1 : -1));
  if (mine) entry.mine = added;
  const kept = next.filter((reaction) => reaction.count > 0).sort((a, b) => b.count - a.count);
  return kept.length === 0 ? undefined : kept;
}
