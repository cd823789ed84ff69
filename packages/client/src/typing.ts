/**
 * Typing indicators on the client: what this user says (at most one "typing"
 * per conversation every 3 s however fast they type, and "stopped" only
 * after a "typing"), and who else is typing where, each until they say they
 * stopped, a message from them arrives, or 6 s pass without news.
 */
import type { Clock, TimerHandle } from '@parley/protocol';

/** A new "typing" goes out at most this often per conversation while the user goes on typing. */
export const TYPING_RESEND_MS = 3000;
/** Someone shown typing stops being shown after this long without a new indicator. */
export const TYPING_SHOWN_MS = 6000;

export interface TypingChange {
  conversationId: string;
  /** Everyone typing there now, in the order they started. */
  userIds: string[];
}

export class TypingIndicators {
  /** When this user last said "typing", per conversation. */
  private readonly sent = new Map<string, number>();
  /** Others typing, per conversation: user id → the timer that ends it. */
  private readonly shown = new Map<string, Map<string, TimerHandle>>();

  constructor(
    private readonly clock: Clock,
    /** Sends an indicator, when connected (dropped otherwise: it would be stale by the time it went). */
    private readonly send: (conversationId: string, typing: boolean) => void,
    private readonly changed: (change: TypingChange) => void,
  ) {}

  /** The user typed in a conversation's composer. */
  typing(conversationId: string): void {
    const last = this.sent.get(conversationId);
    const now = this.clock.now();
    if (last !== undefined && now - last < TYPING_RESEND_MS) return;
    this.sent.set(conversationId, now);
    this.send(conversationId, true);
  }

  /** The user cleared the composer, left it, or sent: "stopped", if "typing" went out lately. */
  stopped(conversationId: string, announce = true): void {
    const last = this.sent.get(conversationId);
    if (last === undefined) return;
    this.sent.delete(conversationId);
    if (announce && this.clock.now() - last < TYPING_SHOWN_MS) this.send(conversationId, false);
  }

  /** An indicator from the server. */
  received(conversationId: string, userId: string, typing: boolean): void {
    if (typing) this.show(conversationId, userId);
    else this.hide(conversationId, userId);
  }

  /** A message arrived: its sender is done typing it. */
  messageFrom(conversationId: string, userId: string): void {
    this.hide(conversationId, userId);
  }

  typingIn(conversationId: string): string[] {
    return [...(this.shown.get(conversationId)?.keys() ?? [])];
  }

  /** The connection is gone: what was shown may never be taken back, and what was sent must go again. */
  clear(): void {
    this.sent.clear();
    for (const [conversationId, users] of [...this.shown]) {
      for (const timer of users.values()) this.clock.clearTimeout(timer);
      this.shown.delete(conversationId);
      this.changed({ conversationId, userIds: [] });
    }
  }

  private show(conversationId: string, userId: string): void {
    let users = this.shown.get(conversationId);
    if (users === undefined) {
      users = new Map();
      this.shown.set(conversationId, users);
    }
    const known = users.get(userId);
    this.clock.clearTimeout(known);
    users.set(
      userId,
      this.clock.setTimeout(() => this.hide(conversationId, userId), TYPING_SHOWN_MS),
    );
    if (known === undefined) this.changed({ conversationId, userIds: [...users.keys()] });
  }

  private hide(conversationId: string, userId: string): void {
    const users = this.shown.get(conversationId);
    const timer = users?.get(userId);
    if (users === undefined || timer === undefined) return;
    this.clock.clearTimeout(timer);
    users.delete(userId);
    if (users.size === 0) this.shown.delete(conversationId);
    this.changed({ conversationId, userIds: [...users.keys()] });
  }
}
