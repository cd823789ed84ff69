/**
 * Who gets a push, and what it says. When a user's message is stored, every
 * other member it is for who has no device connected anywhere in the
 * cluster (presence) is due a notification. Notifications to one user are
 * coalesced: the first message opens a short window, and whatever else
 * arrives for the user in it goes out as one notification ("3 new
 * messages"), so a burst never becomes a burst of notifications. When the
 * window closes the user is checked again: one who came online meanwhile
 * gets nothing, and messages of conversations the user muted are left out
 * (a window of only those notifies nobody).
 *
 * A connected device is not always a listening one: a phone's system may
 * freeze an app with its connection still open. So a member who was online
 * when a message was stored is checked again a while later
 * (undeliveredAfterMs): if no device of theirs acknowledged it by then
 * (their delivered position, services/receipts.ts), they are notified as if
 * offline. Only for conversations small enough to name their recipients,
 * whose delivered positions are kept.
 */
import type { Logger } from 'pino';
import type { StoredMessage } from '../services/model.js';
import type { PushNotification, PushSender } from './push-sender.js';

/** How much of a message a notification shows: its text, only who sent it, or nothing. */
export type PushPreview = 'full' | 'sender' | 'hidden';

export interface PushServiceDeps {
  sender: PushSender;
  /** True while the user has a device connected to any node. */
  isOnline(userId: string): boolean;
  /** The active members of a conversation (asked only for conversations whose message named no recipients). */
  membersOf(conversationId: string): Promise<readonly string[]>;
  /** How far the user's devices acknowledged the conversation (reads count); undefined: no longer a member. */
  deliveredSeq(userId: string, conversationId: string): Promise<number | undefined>;
  /** Until when the user muted the conversation (ms since the epoch); undefined: not muted. */
  mutedUntil(userId: string, conversationId: string): Promise<number | undefined>;
  /** The user follows the thread under `rootSeq` (services/threads.ts): only followers are told of its replies. */
  followsThread(userId: string, conversationId: string, rootSeq: number): Promise<boolean>;
  /** Now, in ms since the epoch (mutes end at a time). */
  now(): number;
  /** The user's own preview setting, if they chose one (the deployment's applies otherwise). */
  previewOf(userId: string): Promise<PushPreview | undefined>;
  /** The user's badge: unread messages over all conversations (without muted ones when the user chose so). */
  totalUnread(userId: string): Promise<number>;
  userName(userId: string): Promise<string>;
  /** A group's name; undefined for a direct conversation (titled by its sender). */
  groupName(conversationId: string): Promise<string | undefined>;
  log: Logger;
}

export interface PushOptions {
  preview: PushPreview;
  /** How long the first message for a user waits for others to join its notification. */
  windowMs: number;
  /** Users with a notification waiting, at most; past it new ones are dropped (and counted). Also bounds the users being watched. */
  maxPendingUsers: number;
  /** Online recipients are notified after this long without an acknowledgement from any of their devices; 0: never. */
  undeliveredAfterMs: number;
}

export const DEFAULT_PUSH_OPTIONS: PushOptions = { preview: 'full', windowMs: 2000, maxPendingUsers: 50_000, undeliveredAfterMs: 10_000 };

/** What a preview shows of a text, at most. */
const PREVIEW_CHARS = 120;

interface Pending {
  /** Messages for the user in this window, oldest first (bounded: only the count grows past a few). */
  messages: StoredMessage[];
  count: number;
  /** Messages in the window by conversation. */
  conversations: Map<string, number>;
  timer: ReturnType<typeof setTimeout>;
  /** Some of its messages were not acknowledged by the user's connected devices: sent even if they are online. */
  evenIfOnline: boolean;
}

/** Messages stored for a user who was online then, waiting to be seen acknowledged. */
interface Watch {
  /** Per conversation: the newest few messages, and how many there were. */
  conversations: Map<string, { messages: StoredMessage[]; count: number }>;
  timer: ReturnType<typeof setTimeout>;
}

/** The messages of a window kept for the notification's text; the rest are only counted. */
const KEPT_PER_USER = 5;
/**
 * Older messages of a window that mention someone, kept besides the newest:
 * a mention is what pushes through a mute, so it must still be known one by
 * one however much chatter followed it.
 */
const KEPT_MENTIONS = 5;

/**
 * A large group's messages are looked over together, this long after the
 * first: its members are scanned once per burst rather than once per
 * message (a busy group of thousands would otherwise cost a presence lookup
 * per member per message, all online or not).
 */
const GROUP_SCAN_DELAY_MS = 250;
/** Large groups with a burst waiting, at most; past it a group's messages are scanned at once. */
const MAX_GROUP_BURSTS = 10_000;

/** A large group's messages waiting for their scan. */
interface GroupBurst {
  /** The newest few, for the notifications' text. */
  messages: StoredMessage[];
  count: number;
  /** Messages per sender: a member is not notified of their own. */
  bySender: Map<string, number>;
  timer: ReturnType<typeof setTimeout>;
}

export class PushService {
  private readonly pending = new Map<string, Pending>();
  private readonly groupBursts = new Map<string, GroupBurst>();
  private readonly watches = new Map<string, Watch>();
  private closed = false;
  /**
   * Notifications handed to the sender, and users dropped for the bound,
   * since start; `undelivered`: messages for online users that no device
   * acknowledged in time, notified all the same.
   */
  readonly counts = { sent: 0, dropped: 0, skippedOnline: 0, unreachable: 0, muted: 0, undelivered: 0 };

  constructor(
    private readonly deps: PushServiceDeps,
    private readonly options: PushOptions = DEFAULT_PUSH_OPTIONS,
  ) {}

  /**
   * A message was stored (called once, by the node that stored it).
   * `recipients`: the conversation's members, when the send had them.
   */
  async messageStored(message: StoredMessage, recipients: readonly string[] | undefined): Promise<void> {
    if (this.closed || message.type !== 'user') return;
    const threadRoot = message.threadRoot;
    if (message.visibleTo === undefined && recipients === undefined) {
      // A large group's thread replies are for their followers, whom the burst does not know: left to the app.
      if (threadRoot !== undefined) return;
      this.addToGroupBurst(message);
      return;
    }
    for (const userId of message.visibleTo !== undefined ? [message.visibleTo] : (recipients ?? [])) {
      if (userId === message.senderId) continue;
      if (threadRoot !== undefined && !(await this.deps.followsThread(userId, message.conversationId, threadRoot))) continue;
      if (this.deps.isOnline(userId)) {
        this.counts.skippedOnline += 1;
        this.watch(userId, message);
        continue;
      }
      this.enqueue(userId, [message], 1);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
    for (const burst of this.groupBursts.values()) clearTimeout(burst.timer);
    this.groupBursts.clear();
    for (const watch of this.watches.values()) clearTimeout(watch.timer);
    this.watches.clear();
    await this.deps.sender.close();
  }

  private addToGroupBurst(message: StoredMessage): void {
    const conversationId = message.conversationId;
    let burst = this.groupBursts.get(conversationId);
    if (burst === undefined) {
      const delay = this.groupBursts.size >= MAX_GROUP_BURSTS ? 0 : Math.min(GROUP_SCAN_DELAY_MS, this.options.windowMs);
      const timer = setTimeout(() => void this.scanGroup(conversationId), delay);
      timer.unref?.();
      burst = { messages: [], count: 0, bySender: new Map(), timer };
      this.groupBursts.set(conversationId, burst);
    }
    burst.count += 1;
    burst.bySender.set(message.senderId, (burst.bySender.get(message.senderId) ?? 0) + 1);
    burst.messages.push(message);
    burst.messages = kept(burst.messages, mentionsAnyone);
  }

  /** A large group's burst: each offline member is due the messages not their own. */
  private async scanGroup(conversationId: string): Promise<void> {
    const burst = this.groupBursts.get(conversationId);
    this.groupBursts.delete(conversationId);
    if (burst === undefined || this.closed) return;
    let members: readonly string[];
    try {
      members = await this.deps.membersOf(conversationId);
    } catch (error) {
      this.deps.log.error({ err: error, conversationId }, 'group members not read; push skipped');
      return;
    }
    for (const userId of members) {
      const count = burst.count - (burst.bySender.get(userId) ?? 0);
      if (count === 0) continue;
      if (this.deps.isOnline(userId)) {
        this.counts.skippedOnline += count;
        continue;
      }
      const theirs = burst.messages.filter((message) => message.senderId !== userId);
      // The kept few are all the member's own (others' came earlier in the burst): nothing to preview.
      if (theirs.length > 0) this.enqueue(userId, theirs, count);
    }
  }

  /** Checks, undeliveredAfterMs from the first, whether the user's devices acknowledged the messages. */
  private watch(userId: string, message: StoredMessage): void {
    if (this.options.undeliveredAfterMs === 0) return;
    let watch = this.watches.get(userId);
    if (watch === undefined) {
      if (this.watches.size >= this.options.maxPendingUsers) return;
      const timer = setTimeout(() => void this.checkDelivered(userId), this.options.undeliveredAfterMs);
      timer.unref?.();
      watch = { conversations: new Map(), timer };
      this.watches.set(userId, watch);
    }
    let conversation = watch.conversations.get(message.conversationId);
    if (conversation === undefined) {
      conversation = { messages: [], count: 0 };
      watch.conversations.set(message.conversationId, conversation);
    }
    conversation.count += 1;
    conversation.messages.push(message);
    conversation.messages = kept(conversation.messages, (held) => mentions(held, userId));
  }

  /** The watched messages no device of the user acknowledged are due a notification, online or not. */
  private async checkDelivered(userId: string): Promise<void> {
    const watch = this.watches.get(userId);
    this.watches.delete(userId);
    if (watch === undefined || this.closed) return;
    for (const [conversationId, { messages, count }] of watch.conversations) {
      let delivered: number | undefined;
      try {
        delivered = await this.deps.deliveredSeq(userId, conversationId);
      } catch (error) {
        this.deps.log.error({ err: error, userId, conversationId }, 'delivered position not read; undelivered push skipped');
        continue;
      }
      if (delivered === undefined) continue;
      const missing = messages.filter((message) => message.seq > delivered);
      if (missing.length === 0) continue;
      // Only the kept few are known by seq; if all of those are missing, the older ones counted with them are too.
      const missingCount = missing.length === messages.length ? count : missing.length;
      this.counts.undelivered += missingCount;
      this.enqueue(userId, missing, missingCount, true);
    }
  }

  /** `count` messages for a user (`messages`: the newest of them, oldest first); `evenIfOnline`: not acknowledged by the devices connected. */
  private enqueue(userId: string, messages: readonly StoredMessage[], count: number, evenIfOnline = false): void {
    const conversationId = (messages[messages.length - 1] as StoredMessage).conversationId;
    const mentionsUser = (message: StoredMessage) => mentions(message, userId);
    const entry = this.pending.get(userId);
    if (entry !== undefined) {
      entry.evenIfOnline ||= evenIfOnline;
      entry.count += count;
      entry.conversations.set(conversationId, (entry.conversations.get(conversationId) ?? 0) + count);
      entry.messages = kept([...entry.messages, ...messages], mentionsUser);
      return;
    }
    if (this.pending.size >= this.options.maxPendingUsers) {
      this.counts.dropped += 1;
      return;
    }
    const timer = setTimeout(() => void this.flush(userId), this.options.windowMs);
    timer.unref?.();
    this.pending.set(userId, { messages: kept(messages, mentionsUser), count, conversations: new Map([[conversationId, count]]), timer, evenIfOnline });
  }

  private async flush(userId: string): Promise<void> {
    const entry = this.pending.get(userId);
    this.pending.delete(userId);
    if (entry === undefined || this.closed) return;
    if (!entry.evenIfOnline && this.deps.isOnline(userId)) {
      this.counts.skippedOnline += entry.count;
      return;
    }
    try {
      if (this.deps.sender.reaches !== undefined && !(await this.deps.sender.reaches(userId))) {
        this.counts.unreachable += entry.count;
        return;
      }
      const audible = await this.withoutMuted(userId, entry);
      if (audible === undefined) return;
      const notification = await this.compose(userId, audible);
      this.counts.sent += 1;
      await this.deps.sender.send([notification]);
    } catch (error) {
      this.deps.log.error({ err: error, userId }, 'push notification not composed; skipped');
    }
  }

  /**
   * The window without the conversations the user muted, except for the
   * messages there that mention them; undefined when nothing is left.
   */
  private async withoutMuted(userId: string, entry: Pending): Promise<Pending | undefined> {
    const now = this.deps.now();
    const muted = new Set<string>();
    for (const conversationId of entry.conversations.keys()) {
      const until = await this.deps.mutedUntil(userId, conversationId);
      if (until !== undefined && until > now) muted.add(conversationId);
    }
    if (muted.size === 0) return entry;
    const audible = (message: StoredMessage) => !muted.has(message.conversationId) || mentions(message, userId);
    const messages = entry.messages.filter(audible);
    // A muted conversation stays for its mentions (only the kept messages are known one by one).
    const mentionsIn = new Map<string, number>();
    for (const message of messages) if (muted.has(message.conversationId)) mentionsIn.set(message.conversationId, (mentionsIn.get(message.conversationId) ?? 0) + 1);
    const conversations = new Map(
      [...entry.conversations].flatMap(([conversationId, count]): Array<[string, number]> => {
        if (!muted.has(conversationId)) return [[conversationId, count]];
        const kept = mentionsIn.get(conversationId);
        return kept === undefined ? [] : [[conversationId, kept]];
      }),
    );
    const mutedCount = [...muted].reduce((sum, conversationId) => sum + (entry.conversations.get(conversationId) ?? 0) - (mentionsIn.get(conversationId) ?? 0), 0);
    this.counts.muted += mutedCount;
    // The kept messages may all be muted while older audible ones were only counted: nothing to preview, nothing sent.
    if (conversations.size === 0 || messages.length === 0) return undefined;
    return { ...entry, conversations, messages, count: entry.count - mutedCount };
  }

  /** The notification for a window: the newest message, named and previewed as the settings allow. */
  private async compose(userId: string, entry: Pending): Promise<PushNotification> {
    const newest = entry.messages[entry.messages.length - 1] as StoredMessage;
    const [badge, own] = await Promise.all([this.deps.totalUnread(userId), this.deps.previewOf(userId)]);
    const previewSetting = own ?? this.options.preview;
    const base = { userId, conversationId: newest.conversationId, seq: newest.seq, count: entry.count, badge };
    if (previewSetting === 'hidden') return { ...base, title: 'New messages', body: entry.count === 1 ? 'You have a new message' : `You have ${entry.count} new messages` };
    const [sender, group] = await Promise.all([this.deps.userName(newest.senderId), this.deps.groupName(newest.conversationId)]);
    const title = entry.conversations.size > 1 ? `${entry.count} new messages` : (group ?? sender);
    const who = group === undefined || entry.conversations.size > 1 ? sender : `${sender} in ${group}`;
    let body: string;
    if (previewSetting === 'sender') body = entry.count === 1 ? `New message from ${who}` : `${entry.count} new messages, the latest from ${who}`;
    else {
      const text = preview(newest);
      body = entry.count === 1 ? (group === undefined ? text : `${sender}: ${text}`) : `${who}: ${text} (+${entry.count - 1} more)`;
    }
    return { ...base, title, body };
  }
}

/**
 * Of `messages` (oldest first), the newest KEPT_PER_USER and, before them,
 * the newest KEPT_MENTIONS that `mentioning` picks out; in their order.
 */
function kept(messages: readonly StoredMessage[], mentioning: (message: StoredMessage) => boolean): StoredMessage[] {
  if (messages.length <= KEPT_PER_USER) return [...messages];
  const cut = messages.length - KEPT_PER_USER;
  const olderMentions = messages.slice(0, cut).filter(mentioning).slice(-KEPT_MENTIONS);
  return [...olderMentions, ...messages.slice(cut)];
}

/** The message mentions someone by name, or everyone. */
function mentionsAnyone(message: StoredMessage): boolean {
  return message.mentionAll === true || (message.mentions?.length ?? 0) > 0;
}

/** The message mentions the user by name, or everyone. */
function mentions(message: StoredMessage, userId: string): boolean {
  return message.mentionAll === true || (message.mentions?.includes(userId) ?? false);
}

function preview(message: StoredMessage): string {
  const text = message.text ?? (message.content !== undefined ? 'sent an attachment' : 'sent a message');
  const chars = [...text];
  return chars.length <= PREVIEW_CHARS ? text : `${chars.slice(0, PREVIEW_CHARS - 1).join('')}…`;
}
