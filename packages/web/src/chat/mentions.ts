/**
 * Mentions in the composer: the "@name" being typed before the caret, who it
 * may mean, what choosing someone does to the text, and which of the people
 * chosen are still mentioned when the message goes. Pure: no DOM.
 */

export interface MentionCandidate {
  /** A user id, or ALL_MEMBERS. */
  id: string;
  name: string;
}

/** The candidate that mentions everyone in a group (@all). */
export const ALL_MEMBERS = '*';
const MAX_SUGGESTIONS = 6;

/** The "@query" right before the caret (at the start or after a space), if the user is typing one. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | undefined {
  const before = text.slice(0, caret);
  const match = /(^|\s)@([^\s@]{0,32})$/u.exec(before);
  if (match === null) return undefined;
  return { start: before.length - (match[2]?.length ?? 0) - 1, query: match[2] ?? '' };
}

/** Who "@query" may mean: people whose name or id starts with it (or has a word that does), then @all in groups. */
export function mentionCandidates(people: readonly MentionCandidate[], query: string, selfId: string, group: boolean): MentionCandidate[] {
  const wanted = query.toLowerCase();
  const matches = (candidate: MentionCandidate) =>
    candidate.id.toLowerCase().startsWith(wanted) || candidate.name.toLowerCase().split(/\s+/u).some((word) => word.startsWith(wanted)) || candidate.name.toLowerCase().startsWith(wanted);
  const found = people.filter((person) => person.id !== selfId && matches(person)).slice(0, MAX_SUGGESTIONS);
  if (group && 'all'.startsWith(wanted)) found.push({ id: ALL_MEMBERS, name: 'all' });
  return found;
}

/** The text with "@query" replaced by "@Name " and where the caret goes. */
export function insertMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  return { text: text.slice(0, start) + inserted + text.slice(caret), caret: start + inserted.length };
}

/** The people chosen whose "@Name" is still in the text, and whether "@all" is. */
export function mentionsIn(text: string, chosen: ReadonlyMap<string, string>, group: boolean): { mentions: string[]; mentionAll: boolean } {
  const mentions = [...chosen].filter(([name]) => containsToken(text, `@${name}`)).map(([, id]) => id);
  return { mentions: [...new Set(mentions)], mentionAll: group && containsToken(text, '@all') };
}

function containsToken(text: string, token: string): boolean {
  let from = 0;
  for (;;) {
    const index = text.indexOf(token, from);
    if (index < 0) return false;
    const before = index === 0 ? ' ' : (text[index - 1] as string);
    const after = text[index + token.length];
    if (/\s/u.test(before) && (after === undefined || /[\s.,;:!?)]/u.test(after))) return true;
    from = index + 1;
  }
}
