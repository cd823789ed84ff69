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
  /** Until when the user muted the conversation (ms since the epoch); undefined: not muted. */
  mutedUntil(userId: string, conversationId: string): Promise<number | undefined>;
  /** Now, in ms since the epoch (mutes end at a time). */
  now(): number;
  /** The user's own preview setting, if they chose one (the deployment's applies otherwise). */
  previewOf(userId: string): Promise<PushPreview | undefined>;
  /** The user's unread messages over all conversations. */
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
  /** Users with a notification waiting, at most; past it new ones are dropped (and counted). */
  maxPendingUsers: number;
}

export const DEFAULT_PUSH_OPTIONS: PushOptions = { preview: 'full', windowMs: 2000, maxPendingUsers: 50_000 };

/** What a preview shows of a text, at most. */
const PREVIEW_CHARS = 120;

interface Pending {
  /** Messages for the user in this window, oldest first (bounded: only the count grows past a few). */
  messages: StoredMessage[];
  count: number;
  /** Messages in the window by conversation. */
  conversations: Map<string, number>;
  timer: ReturnType<typeof setTimeout>;
}

/** The messages of a window kept for the notification's text; the rest are only counted. */
const KEPT_PER_USER = 5;

export class PushService {
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** Notifications handed to the sender, and users dropped for the bound, since start. */
  readonly counts = { sent: 0, dropped: 0, skippedOnline: 0, unreachable: 0, muted: 0 };

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
    let targets: readonly string[];
    if (message.visibleTo !== undefined) targets = [message.visibleTo];
    else targets = recipients ?? (await this.deps.membersOf(message.conversationId));
    for (const userId of targets) {
      if (userId === message.senderId) continue;
      if (this.deps.isOnline(userId)) {
        this.counts.skippedOnline += 1;
        continue;
      }
      this.enqueue(userId, message);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
    await this.deps.sender.close();
  }

  private enqueue(userId: string, message: StoredMessage): void {
    const entry = this.pending.get(userId);
    if (entry !== undefined) {
      entry.count += 1;
      entry.conversations.set(message.conversationId, (entry.conversations.get(message.conversationId) ?? 0) + 1);
      entry.messages.push(message);
      if (entry.messages.length > KEPT_PER_USER) entry.messages.shift();
      return;
    }
    if (this.pending.size >= this.options.maxPendingUsers) {
      this.counts.dropped += 1;
      return;
    }
    const timer = setTimeout(() => void this.flush(userId), this.options.windowMs);
    timer.unref?.();
    this.pending.set(userId, { messages: [message], count: 1, conversations: new Map([[message.conversationId, 1]]), timer });
  }

  private async flush(userId: string): Promise<void> {
    const entry = this.pending.get(userId);
    this.pending.delete(userId);
    if (entry === undefined || this.closed) return;
    if (this.deps.isOnline(userId)) {
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

  /** The window without the conversations the user muted; undefined when nothing is left. */
  private async withoutMuted(userId: string, entry: Pending): Promise<Pending | undefined> {
    const now = this.deps.now();
    const muted = new Set<string>();
    for (const conversationId of entry.conversations.keys()) {
      const until = await this.deps.mutedUntil(userId, conversationId);
      if (until !== undefined && until > now) muted.add(conversationId);
    }
    if (muted.size === 0) return entry;
    const conversations = new Map([...entry.conversations].filter(([conversationId]) => !muted.has(conversationId)));
    const mutedCount = [...muted].reduce((sum, conversationId) => sum + (entry.conversations.get(conversationId) ?? 0), 0);
    this.counts.muted += mutedCount;
    const messages = entry.messages.filter((message) => !muted.has(message.conversationId));
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

function preview(message: StoredMessage): string {
  const text = message.text ?? (message.content !== undefined ? 'sent an attachment' : 'sent a message');
  const chars = [...text];
  return chars.length <= PREVIEW_CHARS ? text : `${chars.slice(0, PREVIEW_CHARS - 1).join('')}…`;
}
