/** Display helpers: initials and colours for avatars, times and days, durations, sizes, names, who is typing. */

/** Up to two initials from a display name ("Ada Lovelace" → "AL", "bob" → "B"). */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._@-]+/u).filter(Boolean);
  const letters = words.length >= 2 ? [words[0], words[words.length - 1]] : [words[0] ?? '?'];
  return letters.map((word) => Array.from(word ?? '?')[0]?.toUpperCase() ?? '?').join('');
}

const AVATAR_HUES = [12, 38, 145, 170, 200, 226, 258, 285, 320, 350];

/** A stable hue per id, so that a person keeps their colour everywhere. */
export function avatarHue(id: string): number {
  let hash = 0;
  for (let index = 0; index < id.length; index++) hash = (hash * 31 + id.charCodeAt(index)) | 0;
  return AVATAR_HUES[Math.abs(hash) % AVATAR_HUES.length] as number;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

function startOfDay(time: number): number {
  const date = new Date(time);
  date.setHours(0, 0, 0, 0);
  return date.getTime();
}

/** Time of a message: "14:05". */
export function messageTime(time: number): string {
  return timeFormat.format(time);
}

/** Time in the conversation list: today "14:05", this week "Tue", else "3 Mar". */
export function listTime(time: number, now = Date.now()): string {
  if (time <= 0) return '';
  const days = Math.round((startOfDay(now) - startOfDay(time)) / 86_400_000);
  if (days <= 0) return timeFormat.format(time);
  if (days < 7) return weekdayFormat.format(time);
  return shortDateFormat.format(time);
}

/** Day separator in a conversation: "Today", "Yesterday", or the full date. */
export function dayLabel(time: number, now = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(time)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return longDateFormat.format(time);
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** A display name for a user id: known name, else the id itself. */
export function nameOf(names: ReadonlyMap<string, string>, userId: string): string {
  return names.get(userId) ?? userId;
}

/**
 * Who is typing, in words: "Ann is typing…", "Ann and Bob are typing…", and
 * past two a count, since a row of names would not fit where it shows.
 */
export function typingSentence(typerNames: readonly string[]): string {
  const [first, second] = typerNames;
  if (first === undefined) return '';
  if (second === undefined) return `${first} is typing…`;
  if (typerNames.length === 2) return `${first} and ${second} are typing…`;
  return `${typerNames.length} people are typing…`;
}

/** Splits "a, b c" into ids. */
export function parseIdList(input: string): string[] {
  return [...new Set(input.split(/[\s,;]+/u).map((id) => id.trim().replace(/^@/u, '')).filter(Boolean))];
}

/** A media length: "0:07", "12:30", "1:02:03". */
export function formatDuration(durationMs: number): string {
  const total = Math.max(0, Math.round(durationMs / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

const BYTE_UNITS = ['KB', 'MB', 'GB'] as const;

/** A file size as people read it: "912 bytes", "340 KB", "4.2 MB" (1 KB = 1024 bytes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${BYTE_UNITS[unit]}`;
}

/** A contact's presence in words: "online", "away", "last seen 5 min ago", "last seen yesterday at 14:02"; '' when not known. */
export function presenceText(presence: { state: string; lastSeen?: number } | undefined, now = Date.now()): string {
  if (presence === undefined) return '';
  if (presence.state === 'online') return 'online';
  if (presence.state === 'away') return 'away';
  if (presence.state !== 'offline' || presence.lastSeen === undefined) return '';
  const minutes = Math.floor((now - presence.lastSeen) / 60_000);
  if (minutes < 1) return 'last seen just now';
  if (minutes < 60) return `last seen ${minutes} min ago`;
  const days = Math.round((startOfDay(now) - startOfDay(presence.lastSeen)) / 86_400_000);
  const at = timeFormat.format(presence.lastSeen);
  if (days <= 0) return `last seen today at ${at}`;
  if (days === 1) return `last seen yesterday at ${at}`;
  return `last seen ${shortDateFormat.format(presence.lastSeen)} at ${at}`;
}
