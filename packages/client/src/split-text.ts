/**
 * Text longer than one message may hold (the server's `maxTextChars`,
 * counted in UTF-16 code units as JavaScript strings are) is sent as several
 * messages, as chat apps do with a long paste, instead of being cut: at a
 * paragraph break where possible, else a line break, else a space, and never
 * inside a surrogate pair. The number of parts is bounded so that one paste
 * cannot turn into a flood; beyond it the text is refused as a whole.
 */

/** At most this many messages from one text. */
export const MAX_TEXT_PARTS = 10;

/**
 * The parts, in order; one part when the text fits. Undefined when it would
 * take more than `maxParts` messages.
 */
export function splitLongText(text: string, maxUnits: number, maxParts = MAX_TEXT_PARTS): string[] | undefined {
  if (maxUnits < 2) throw new RangeError('maxUnits must be at least 2');
  const parts: string[] = [];
  let rest = text;
  while (rest.length > maxUnits) {
    if (parts.length === maxParts - 1) return undefined;
    const cut = cutPoint(rest, maxUnits);
    const part = rest.slice(0, cut).replace(/\s+$/u, '');
    if (part !== '') parts.push(part);
    rest = rest.slice(cut);
  }
  if (rest.trim() !== '' || parts.length === 0) parts.push(rest);
  return parts;
}

/** Where to end the next part: just after a break found in its second half, else at the limit. */
function cutPoint(text: string, maxUnits: number): number {
  const window = text.slice(0, maxUnits);
  const floor = Math.floor(maxUnits / 2);
  for (const pattern of [/\n\s*\n/gu, /\n/gu, /\s/gu]) {
    let last = -1;
    for (const match of window.matchAll(pattern)) last = (match.index ?? 0) + match[0].length;
    if (last > floor) return last;
  }
  const code = text.charCodeAt(maxUnits - 1);
  // A high surrogate at the end would leave its pair in the next part.
  return code >= 0xd800 && code <= 0xdbff ? maxUnits - 1 : maxUnits;
}
