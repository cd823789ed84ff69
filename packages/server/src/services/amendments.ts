/**
 * Recall, edit and delete for me: changes to a message already stored.
 *
 * Each is an amendment: the stored message changes in place (recalled,
 * edited), or a row records that one user deleted it for themselves, and a
 * SYSTEM message naming it (message_recalled, message_edited,
 * message_hidden) is appended to the conversation's timeline. The timeline
 * carries it to every device by the roads messages already take (push,
 * pull, sync, gap detection), so a device that was offline learns of it in
 * order, and the conversation's version moves, so summaries (unread counts,
 * last message) are computed again. A deletion for oneself is addressed to
 * the deleter only: the others see a placeholder seq.
 *
 * Amendments never count as unread and are never a conversation's last
 * message (views.ts). A recalled message stops counting as unread for
 * everyone, a deleted one for the deleter (the unread rule leaves them out).
 */
import { ParleyError, systemClock, type Clock } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { ServerLimits } from '../config.js';
import type { Moderation } from '../moderation/moderation.js';
import type { ConversationRow, MemberRow, StoreReader, StoreTx, StoredMessage, Store, TextVersion } from '../store/store.js';
import { lockConversation, requireMembership } from './access.js';
import { routedRecipients } from './recipients.js';
import { indexedWords } from './search.js';
import { appendSystemEvent } from './timeline.js';
import { checkContent, requireConversationId } from './validate.js';
import { isVisibleTo, userMessageInWindow } from './views.js';

export interface AmendmentLimits {
  /** How long after sending its sender may recall a message (group admins and owners may at any time). */
  recallWindowMs: number;
  /** How long after sending its sender may edit a message. */
  editWindowMs: number;
  /** Edits of one message at most (its history is kept). */
  maxEdits: number;
}

/** Different reactions one user may give one message. */
export const MAX_REACTIONS_PER_USER = 3;
/** One emoji, possibly with modifiers and joiners (👍🏽, 👨‍👩‍👧): pictographs, regional indicators, keycaps. */
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\u200d|\ufe0f|\u20e3|[#*0-9])+$/u;
const MAX_EMOJI_CHARS = 16;

export const DEFAULT_AMENDMENT_LIMITS: AmendmentLimits = { recallWindowMs: 24 * 3_600_000, editWindowMs: 48 * 3_600_000, maxEdits: 20 };

export class MessageAmendments {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly limits: ServerLimits,
    private readonly amendmentLimits: AmendmentLimits = DEFAULT_AMENDMENT_LIMITS,
    private readonly clock: Clock = systemClock,
    /** Edited text is checked as sent text is (the word filter, the before-send hook). */
    private readonly moderation?: Moderation,
  ) {}

  /**
   * Recalls a message for everyone: its sender within recallWindowMs, or a
   * group's admin or owner at any time. Undefined when it was recalled already.
   */
  async recall(actorId: string, conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    const id = requireConversationId(conversationId);
    const target = requireSeq(seq);
    return this.amend(id, async (tx, conversation, now) => {
      const actor = await requireMembership(tx, id, actorId);
      if (actor.leftSeq !== undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
      const message = await readableMessage(tx, actor, conversation, target);
      if (message.recalledAt !== undefined) return undefined;
      const moderator = conversation.kind === 'group' && (actor.role === 'admin' || actor.role === 'owner');
      if (message.senderId !== actorId && !moderator) throw new ParleyError('FORBIDDEN', 'only its sender, or a group admin, may recall a message');
      if (!moderator && now - message.createdAt > this.amendmentLimits.recallWindowMs) {
        throw new ParleyError('FORBIDDEN', `messages can be recalled within ${describeDuration(this.amendmentLimits.recallWindowMs)} of sending`);
      }
      await tx.recallMessage(id, target, now);
      await tx.updateConversation(id, { recalls: (conversation.recalls ?? 0) + 1 });
      return appendSystemEvent(tx, conversation, actorId, { event: 'message_recalled', actorId, seq: target }, now);
    });
  }

  /** Replaces the text of the sender's own text message, within editWindowMs. Undefined when the text is the same. */
  async edit(userId: string, conversationId: string, seq: number, text: string): Promise<StoredMessage | undefined> {
    const id = requireConversationId(conversationId);
    const target = requireSeq(seq);
    checkContent(text, undefined, this.limits);
    const original = await this.store.listMessages({ conversationId: id, fromSeq: target, toSeq: target, limit: 1 });
    const checked = this.moderation === undefined ? text : await this.moderation.check({ conversationId: id, senderId: userId, clientMsgId: original[0]?.clientMsgId ?? '', text });
    if (checked !== text) checkContent(checked, undefined, this.limits);
    const newText = checked ?? text;
    return this.amend(id, async (tx, conversation, now) => {
      const member = await requireMembership(tx, id, userId);
      if (member.leftSeq !== undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
      const message = await readableMessage(tx, member, conversation, target);
      if (message.senderId !== userId) throw new ParleyError('FORBIDDEN', 'only its sender may edit a message');
      if (message.recalledAt !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'a recalled message cannot be edited');
      if (message.content !== undefined || message.data !== undefined || message.text === undefined) {
        throw new ParleyError('INVALID_ARGUMENT', 'only text messages can be edited');
      }
      if (now - message.createdAt > this.amendmentLimits.editWindowMs) {
        throw new ParleyError('FORBIDDEN', `messages can be edited within ${describeDuration(this.amendmentLimits.editWindowMs)} of sending`);
      }
      if (message.text === newText) return undefined;
      if ((await tx.textVersions(id, target)).length >= this.amendmentLimits.maxEdits) {
        throw new ParleyError('LIMIT_EXCEEDED', `a message can be edited at most ${this.amendmentLimits.maxEdits} times`);
      }
      await tx.editMessage(id, target, newText, now, indexedWords(conversation.kind, { type: 'user', text: newText }));
      return appendSystemEvent(tx, conversation, userId, { event: 'message_edited', actorId: userId, seq: target, text: newText }, now);
    });
  }

  /** Hides a message from the user's own devices. Undefined when they had deleted it already. */
  async deleteForMe(userId: string, conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    const id = requireConversationId(conversationId);
    const target = requireSeq(seq);
    return this.amend(id, async (tx, conversation, now) => {
      // Past members too: the conversation stays in their list.
      const member = await requireMembership(tx, id, userId);
      await readableMessage(tx, member, conversation, target);
      if (!(await tx.hideMessage(userId, id, target))) return undefined;
      await tx.updateMember(id, userId, { hiddenCount: (member.hiddenCount ?? 0) + 1 });
      return appendSystemEvent(tx, conversation, userId, { event: 'message_hidden', actorId: userId, seq: target }, now, userId);
    });
  }

  /**
   * Adds a reaction to a message the user may read, or takes it back. Undefined
   * when nothing changed (given already, or not given).
   */
  async react(userId: string, conversationId: string, seq: number, emoji: string, add: boolean): Promise<StoredMessage | undefined> {
    const id = requireConversationId(conversationId);
    const target = requireSeq(seq);
    if (typeof emoji !== 'string' || emoji.length === 0 || emoji.length > MAX_EMOJI_CHARS || !EMOJI.test(emoji) || /^[#*0-9]+$/u.test(emoji)) {
      throw new ParleyError('INVALID_ARGUMENT', 'a reaction is one emoji');
    }
    return this.amend(id, async (tx, conversation, now) => {
      const member = await requireMembership(tx, id, userId);
      if (member.leftSeq !== undefined) throw new ParleyError('FORBIDDEN', 'not a member of this conversation');
      const message = await readableMessage(tx, member, conversation, target);
      if (message.recalledAt !== undefined) throw new ParleyError('INVALID_ARGUMENT', 'a recalled message takes no reactions');
      if (add) {
        const mine = (await tx.reactionsIn(id, target, target, userId)).filter((reaction) => reaction.mine);
        if (mine.some((reaction) => reaction.emoji === emoji)) return undefined;
        if (mine.length >= MAX_REACTIONS_PER_USER) throw new ParleyError('LIMIT_EXCEEDED', `at most ${MAX_REACTIONS_PER_USER} reactions per message`);
      }
      if (!(await tx.setReaction(id, target, userId, emoji, add, now))) return undefined;
      return appendSystemEvent(tx, conversation, userId, { event: 'message_reacted', actorId: userId, seq: target, emoji, added: add }, now);
    });
  }

  /** The texts an edited message had, oldest first, the current one last; empty for a recalled one. */
  async history(userId: string, conversationId: string, seq: number): Promise<TextVersion[]> {
    const id = requireConversationId(conversationId);
    const target = requireSeq(seq);
    const member = await requireMembership(this.store, id, userId);
    const conversation = await this.store.getConversation(id);
    if (conversation === undefined) throw new ParleyError('NOT_FOUND', 'no such conversation');
    const message = await readableMessage(this.store, member, conversation, target);
    if (message.recalledAt !== undefined || message.text === undefined) return [];
    return [...(await this.store.textVersions(id, target)), { text: message.text, at: message.editedAt ?? message.createdAt }];
  }

  private async amend(
    conversationId: string,
    change: (tx: StoreTx, conversation: ConversationRow, now: number) => Promise<StoredMessage | undefined>,
  ): Promise<StoredMessage | undefined> {
    let recipients: string[] | undefined;
    const amendment = await this.store.write(
      async (tx) => {
        const conversation = await lockConversation(tx, conversationId);
        if (conversation.kind === 'room') throw new ParleyError('INVALID_ARGUMENT', 'live room messages cannot be changed');
        const stored = await change(tx, conversation, this.clock.now());
        if (stored !== undefined) recipients = await routedRecipients(tx, conversation);
        return stored;
      },
      { order: conversationId },
    );
    if (amendment !== undefined) this.bus.publish({ type: 'message', message: amendment, recipients });
    return amendment;
  }
}

/** A user message of the conversation the member may read, or NOT_FOUND (as if it did not exist). */
async function readableMessage(reader: StoreReader, member: MemberRow, conversation: ConversationRow, seq: number): Promise<StoredMessage> {
  const message = await userMessageInWindow(reader, member, conversation, seq);
  // The sender may change a message they addressed to one member.
  if (message === undefined || (!isVisibleTo(message, member.userId) && message.senderId !== member.userId)) {
    throw new ParleyError('NOT_FOUND', `no message ${seq} in this conversation`);
  }
  return message;
}

function requireSeq(seq: unknown): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new ParleyError('INVALID_ARGUMENT', 'seq must be a positive integer');
  return seq;
}

function describeDuration(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours >= 1 && Number.isInteger(hours)) return hours === 1 ? '1 hour' : `${hours} hours`;
  const minutes = Math.round(ms / 60_000);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
