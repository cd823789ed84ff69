/**
 * The built-in moderation: a list of blocked words, matched anywhere in a
 * message's text without regard to case (chat has no reliable word
 * boundaries: CJK text has none, and "spam" hidden in "spamspam" must
 * match). Each match is masked with one `*` per character, or the whole
 * message is refused, as the deployment chooses.
 */

import { rejected } from './before-send.js';

/** Bounds on a configured list: a filter is compiled once into one expression. */
export const MAX_BLOCKED_WORDS = 10_000;
export const MAX_BLOCKED_WORD_CHARS = 100;

export type BlockedWordAction = 'mask' | 'reject';

export interface FilterResult {
  /** The text with every match masked (the same text when nothing matched). */
  text: string;
  /** How many matches were found. */
  matches: number;
}

export class WordFilter {
  /** Texts masked and texts refused since start (the operations view). */
  masked = 0;
  refused = 0;
  private readonly pattern: RegExp | undefined;

  /** Blank entries are ignored; a list beyond the bounds is refused (a configuration error). */
  constructor(
    words: readonly string[],
    readonly action: BlockedWordAction,
  ) {
    const cleaned = [...new Set(words.map((word) => word.trim().toLowerCase()).filter((word) => word.length > 0))];
    if (cleaned.length > MAX_BLOCKED_WORDS) throw new Error(`at most ${MAX_BLOCKED_WORDS} blocked words (got ${cleaned.length})`);
    const tooLong = cleaned.find((word) => [...word].length > MAX_BLOCKED_WORD_CHARS);
    if (tooLong !== undefined) throw new Error(`a blocked word is longer than ${MAX_BLOCKED_WORD_CHARS} characters: ${tooLong.slice(0, 20)}...`);
    // Longest first: where two words start at the same place the longer one is masked whole.
    cleaned.sort((a, b) => b.length - a.length);
    this.pattern = cleaned.length === 0 ? undefined : new RegExp(cleaned.map(escapeRegExp).join('|'), 'giu');
  }

  get empty(): boolean {
    return this.pattern === undefined;
  }

  apply(text: string): FilterResult {
    if (this.pattern === undefined || text.length === 0) return { text, matches: 0 };
    let matches = 0;
    const masked = text.replace(this.pattern, (match) => {
      matches += 1;
      return '*'.repeat([...match].length);
    });
    return { text: masked, matches };
  }
}

/** Reads a list: one word per line or comma-separated; lines starting with # are comments. */
export function parseWordList(source: string): string[] {
  return source
    .split(/\r?\n/u)
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((word) => word.trim())
    .filter((word) => word.length > 0);
}

/** What a filter lets through: the text with its matches masked, or REJECTED ("blocked_word") when the action is reject. */
export function screen(filter: WordFilter, text: string): string {
  const result = filter.apply(text);
  if (result.matches === 0) return text;
  if (filter.action === 'reject') {
    filter.refused += 1;
    throw rejected('blocked_word', 'the message contains a blocked word');
  }
  filter.masked += 1;
  return result.text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}
