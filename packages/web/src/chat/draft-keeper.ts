/**
 * DraftKeeper: text typed in a conversation's composer and not sent. It is
 * kept per conversation while the page lives, and saved on the server
 * (client.saveDraft) for the user's other devices: once typing pauses, when
 * the conversation is left or the page hidden, and cleared once sent.
 *
 * Only what was typed (or sent) here is ever saved, and only when it
 * differs from the draft the server holds, so neither the answer to a save
 * nor another device's draft starts a save of its own. Saves of one conversation go one
 * at a time, so the text typed last is the one that stays.
 */

/** The server's default maxDraftChars, until its welcome says what it keeps. */
export const DEFAULT_MAX_DRAFT_CHARS = 4000;
/** How long typing pauses before the draft is saved. */
export const DRAFT_SAVE_DELAY_MS = 1000;

/** Where drafts are kept for the user's other devices. */
export interface DraftServer {
  /** The conversation's draft as last heard from the server; '' when none. */
  draftOf(conversationId: string): string;
  save(conversationId: string, text: string): Promise<unknown>;
  /** The longest draft the server keeps (welcome.limits.max_draft_chars): a longer text is kept whole here and saved cut to it. */
  maxChars(): number;
}

interface Unsaved {
  /** What the composer holds. */
  text: string;
  /** Set while typing has not paused yet. */
  timer: ReturnType<typeof setTimeout> | undefined;
  saving: boolean;
  /** Asked to save again while a save was under way. */
  again: boolean;
}

export class DraftKeeper {
  /** Conversations whose text typed here is not known to be on the server. */
  private readonly unsaved = new Map<string, Unsaved>();
  private closed = false;

  constructor(
    private readonly server: DraftServer,
    private readonly delayMs = DRAFT_SAVE_DELAY_MS,
  ) {}

  /** What a composer opens with: text typed here and not saved yet, else the draft saved from any device. */
  text(conversationId: string): string {
    return this.unsaved.get(conversationId)?.text ?? this.server.draftOf(conversationId);
  }

  /** The user changed the text: saved once typing pauses. */
  typed(conversationId: string, text: string): void {
    if (this.closed) return;
    const entry = this.entry(conversationId);
    entry.text = text;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.saveNow(conversationId), this.delayMs);
  }

  /** Saves at once what waits for typing to pause (or failed before): in one conversation, or in all. */
  flush(conversationId?: string): void {
    if (this.closed) return;
    for (const id of conversationId === undefined ? [...this.unsaved.keys()] : [conversationId]) this.saveNow(id);
  }

  /** The text was sent: its draft is cleared, here and on the user's other devices. */
  sent(conversationId: string): void {
    if (this.closed) return;
    this.entry(conversationId).text = '';
    this.saveNow(conversationId);
  }

  /**
   * The server's draft became `draft` (another device saved or sent one):
   * whether a composer showing `shown` should show it instead. Text typed
   * here and not saved yet stays, and so does an empty composer the user is
   * in: they are about to type.
   */
  follows(conversationId: string, draft: string, shown: string, focused: boolean): boolean {
    if (this.unsaved.has(conversationId)) return false;
    return draft !== shown && !(shown === '' && focused);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.unsaved.values()) clearTimeout(entry.timer);
  }

  private entry(conversationId: string): Unsaved {
    let entry = this.unsaved.get(conversationId);
    if (entry === undefined) {
      entry = { text: '', timer: undefined, saving: false, again: false };
      this.unsaved.set(conversationId, entry);
    }
    return entry;
  }

  private saveNow(conversationId: string): void {
    const entry = this.unsaved.get(conversationId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.saving) {
      entry.again = true;
      return;
    }
    const text = keepable(entry.text, this.server.maxChars());
    if (text === this.server.draftOf(conversationId)) {
      // Text longer than the server keeps stays here, for this page to show whole.
      if (text === entry.text) this.unsaved.delete(conversationId);
      return;
    }
    entry.saving = true;
    this.server.save(conversationId, text).then(
      () => this.saved(conversationId, entry, true),
      (error: unknown) => {
        // Kept: saved again when typing pauses, the conversation is left or the connection returns.
        if (!this.closed) console.warn('parley: could not save a draft:', error);
        this.saved(conversationId, entry, false);
      },
    );
  }

  private saved(conversationId: string, entry: Unsaved, succeeded: boolean): void {
    entry.saving = false;
    if (this.closed || this.unsaved.get(conversationId) !== entry) return;
    // After a success this forgets the entry when nothing was typed since; a failure is not retried in a loop.
    if (entry.again || (succeeded && entry.timer === undefined)) {
      entry.again = false;
      this.saveNow(conversationId);
    }
  }
}

/** The text as the server keeps it: cut to `max` characters, never through a surrogate pair. */
export function keepable(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const highSurrogate = last >= 0xd800 && last <= 0xdbff;
  return text.slice(0, highSurrogate ? max - 1 : max);
}
