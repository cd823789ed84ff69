/**
 * LiveFeed: what a live room's chatter prints as, at a rate a terminal can
 * show. Chat lines print as they come, up to a bound per second; past it
 * they are counted. Likes, joins and the online count are merged. What was
 * counted or merged comes out of summary(), which the session calls at most
 * once a second: `… 120 more` and `♥ +35 likes · 12 joined · 1,204 watching`.
 * Takes events and times and returns lines; the timer is the session's.
 */
import type { RoomEvent } from '@parley/client';
import { formatChatLine, formatCount, formatCustomRoomEvent } from './format.js';

/** How often summary lines may print. */
export const SUMMARY_INTERVAL_MS = 1000;
const DEFAULT_MAX_CHAT_LINES_PER_SECOND = 10;
/** Own lines whose echo is awaited; older ones were sampled out and will not come. */
const MAX_AWAITED_ECHOES = 20;

export interface LiveFeedOptions {
  /** The reader: their own chat lines print when the server took them, not again when they come back. */
  selfId: string;
  /** Chat lines printed per second before the rest is only counted. Default 10. */
  maxChatLinesPerSecond?: number;
  /** The online count the reader was already shown (on joining); a summary repeats it only with other news. Default none. */
  online?: number;
}

export class LiveFeed {
  private readonly selfId: string;
  private readonly maxChatLines: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private shownInWindow = 0;
  /** Chatter since the last summary that was not printed: over the bound here, or never delivered (`skipped`). */
  private notShown = 0;
  private likes = 0;
  private joins = 0;
  private lastJoinerId = '';
  private online: number | undefined;
  private shownOnline: number | undefined;
  /** Texts of own chat lines sent and not yet seen coming back, oldest first. */
  private readonly awaitedEchoes: string[] = [];

  constructor(options: LiveFeedOptions) {
    this.selfId = options.selfId;
    this.maxChatLines = options.maxChatLinesPerSecond ?? DEFAULT_MAX_CHAT_LINES_PER_SECOND;
    this.online = options.online;
    this.shownOnline = options.online;
  }

  /** Before an own chat line is sent: its echo is not printed (the session prints the line once the server took it). */
  expectEcho(text: string): void {
    this.awaitedEchoes.push(text);
    if (this.awaitedEchoes.length > MAX_AWAITED_ECHOES) this.awaitedEchoes.shift();
  }

  /** The send was refused: no echo will come. */
  cancelEcho(text: string): void {
    const index = this.awaitedEchoes.indexOf(text);
    if (index >= 0) this.awaitedEchoes.splice(index, 1);
  }

  /** One batch's events and the number the server did not deliver: the lines to print now. */
  add(events: readonly RoomEvent[], skipped: number, now: number): string[] {
    this.notShown += skipped;
    const lines: string[] = [];
    for (const event of events) {
      switch (event.kind) {
        case 'like':
          this.likes += event.count ?? 1;
          break;
        case 'joined':
          // The reader's own arrival is announced by the session already.
          if (event.senderId === this.selfId && (event.count ?? 1) === 1) break;
          this.joins += event.count ?? 1;
          this.lastJoinerId = event.senderId;
          break;
        case 'chat': {
          const text = event.text ?? '';
          if (event.senderId === this.selfId && this.takeEcho(text)) break;
          if (this.admit(now, lines)) lines.push(formatChatLine(event.senderId, text));
          break;
        }
        case 'custom':
          if (this.admit(now, lines)) lines.push(formatCustomRoomEvent(event));
          break;
      }
    }
    return lines;
  }

  setOnline(online: number): void {
    this.online = online;
  }

  /** Whether summary() has something to say. */
  get pending(): boolean {
    return this.notShown > 0 || this.likes > 0 || this.joins > 0 || this.online !== this.shownOnline;
  }

  /** What was held back since the last call: `… N more`, then likes, joins and the online count on one line. */
  summary(): string[] {
    const lines: string[] = [];
    if (this.notShown > 0) lines.push(this.moreLine());
    const parts: string[] = [];
    if (this.likes > 0) parts.push(`♥ +${formatCount(this.likes)} like${this.likes === 1 ? '' : 's'}`);
    if (this.joins === 1) parts.push(`${this.lastJoinerId} joined`);
    else if (this.joins > 1) parts.push(`${formatCount(this.joins)} joined`);
    if (this.online !== undefined && (parts.length > 0 || this.online !== this.shownOnline)) parts.push(`${formatCount(this.online)} watching`);
    if (parts.length > 0) lines.push(parts.join(' · '));
    this.likes = 0;
    this.joins = 0;
    this.shownOnline = this.online;
    return lines;
  }

  /**
   * Counts a line against this second's bound; false when it is over and the
   * line is only counted. A new second first says what the last one held back,
   * so that `… N more` follows the lines it continues.
   */
  private admit(now: number, lines: string[]): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.shownInWindow = 0;
      if (this.notShown > 0) lines.push(this.moreLine());
    }
    if (this.shownInWindow >= this.maxChatLines) {
      this.notShown += 1;
      return false;
    }
    this.shownInWindow += 1;
    return true;
  }

  private moreLine(): string {
    const line = `… ${formatCount(this.notShown)} more`;
    this.notShown = 0;
    return line;
  }

  private takeEcho(text: string): boolean {
    const index = this.awaitedEchoes.indexOf(text);
    if (index < 0) return false;
    this.awaitedEchoes.splice(index, 1);
    return true;
  }
}
