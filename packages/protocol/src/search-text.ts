/**
 * The words a message is found by, shared by the server (its search index and
 * the highlights it returns) and the SDK. One tokenizer for every store: the
 * server hands its stores words already folded and split, so SQLite's FTS5
 * and PostgreSQL's full-text search only have to match whole words and
 * prefixes, and both find the same messages (docs/search.md, decision 113).
 *
 * - A word is a run of letters and digits, folded: compatibility-decomposed
 *   (NFKD), lower-cased, diacritics removed ("Café" and "CAFE" are "cafe").
 * - Scripts written without spaces between words (Han, Hiragana, Katakana)
 *   give one word per character, so a query of one or two characters finds
 *   them too; a query's run of such characters is matched as a phrase, in
 *   order and side by side.
 */
import { fallbackText } from './content.js';
import type { MessageContent } from './gen/parley.js';

/** A folded word and where it stands in the original text (UTF-16 offsets, end exclusive). */
export interface SearchToken {
  word: string;
  start: number;
  end: number;
}

/** Letters, digits and the marks on them: what a run of one "segment" is made of. */
const SEGMENT = /[\p{L}\p{N}\p{M}]+/gu;
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const NOT_WORD = /[^\p{L}\p{N}]+/u;

/** Case and accents folded away: "Ça" → "ca". */
export function foldForSearch(text: string): string {
  return text.normalize('NFKD').toLowerCase().replace(/\p{M}+/gu, '');
}

/**
 * The text's segments (runs without spaces or punctuation), each as its
 * folded words in order. A query's segment is a phrase: its words must
 * follow each other in a message.
 */
export function searchSegments(text: string): SearchToken[][] {
  const segments: SearchToken[][] = [];
  for (const match of text.matchAll(SEGMENT)) {
    const tokens: SearchToken[] = [];
    let runStart = -1;
    let offset = match.index;
    const endRun = (end: number) => {
      if (runStart < 0) return;
      for (const word of foldForSearch(text.slice(runStart, end)).split(NOT_WORD)) {
        if (word !== '') tokens.push({ word, start: runStart, end });
      }
      runStart = -1;
    };
    for (const character of match[0]) {
      if (UNSPACED.test(character)) {
        endRun(offset);
        const word = foldForSearch(character);
        if (word !== '') tokens.push({ word, start: offset, end: offset + character.length });
      } else if (runStart < 0) {
        runStart = offset;
      }
      offset += character.length;
    }
    endRun(offset);
    if (tokens.length > 0) segments.push(tokens);
  }
  return segments;
}

/** The words to index for `text`, space-separated, in order. */
export function searchIndexWords(text: string): string {
  return searchSegments(text)
    .flatMap((segment) => segment.map((token) => token.word))
    .join(' ');
}

/**
 * The text a message is found by and its highlights are cut from: plain text
 * as it is; for typed content what a person wrote or named — the caption,
 * the file name, the place's name and address — and the sender's own line
 * if they wrote one. The fallback line the server writes for typed content
 * ("📷 Photo: …") is left out: its label is not what the sender said, and
 * its caption is indexed anyway. Voice messages and custom kinds have no
 * words of their own.
 */
export function searchableText(text: string | undefined, content: MessageContent | undefined): string {
  if (content === undefined) return text ?? '';
  const parts: string[] = [];
  if (text !== undefined && text !== fallbackText(content)) parts.push(text);
  const kind = content.kind;
  switch (kind?.$case) {
    case 'image':
    case 'video':
      parts.push(kind.value.caption);
      break;
    case 'file':
      parts.push(kind.value.caption, kind.value.media?.fileName ?? '');
      break;
    case 'location':
      parts.push(kind.value.name, kind.value.address);
      break;
    default:
      break;
  }
  return [...new Set(parts.map((part) => part.trim()).filter((part) => part !== ''))].join('\n');
}
