/**
 * The live stage's effects as plain state: danmaku (chat lines flying across
 * the stage in lanes) and hearts (likes floating up). Functions take the
 * current state and what happened and return the next state, with no timers
 * or DOM inside; the stage renders it and reports when an element's
 * animation ended. Both are bounded: past the bound new ones are dropped,
 * since in a busy room a flood of them is noise, not news.
 *
 * The room sends everyone's events to everyone, the sender included. What
 * this user typed or tapped shows at once, so its echo is expected and
 * skipped (OwnEchoes) instead of being shown twice.
 */
import type { RoomEvent } from '@parley/client';

/** Lanes chat lines fly in. */
export const DANMAKU_LANES = 6;
/** Lines on screen at once; more wait. */
export const MAX_DANMAKU = 30;
/** Lines waiting for a free lane; past it the oldest waiting is dropped, since chat is about now. */
const MAX_WAITING = 8;
/** How fast lines fly, px per second: the same for every line, so none catches up with the one before it in its lane. */
const DANMAKU_SPEED = 120;
/** Space between two lines of a lane, px. */
const DANMAKU_GAP_PX = 32;
/** The stage's width before it was measured, px. */
export const DEFAULT_STAGE_WIDTH = 600;
/** Hearts one burst (own taps, or a tick's merged likes from others) shows at most. */
export const MAX_HEARTS_PER_BURST = 6;
/** Hearts on screen at once; more are dropped. */
export const MAX_HEARTS = 24;
/** Own chat lines whose echo is awaited; older ones were sampled out on the way and are forgotten. */
const MAX_AWAITED_LINES = 10;
/** The longest spread of one burst's hearts. */
const BURST_SPREAD_MS = 600;

export interface LineText {
  text: string;
  senderName: string;
  /** Typed by this user: drawn outlined, and first in the queue. */
  own: boolean;
}

export interface DanmakuLine extends LineText {
  id: number;
  lane: number;
  /** Its flight across the stage at DANMAKU_SPEED. */
  durationMs: number;
}

export interface DanmakuField {
  readonly lines: readonly DanmakuLine[];
  /** Lines waiting for a lane, in the order they go. */
  readonly waiting: readonly LineText[];
  /** Per lane, when the line last launched in it is clear of the stage's right edge (ms, the caller's clock). */
  readonly laneFreeAt: readonly number[];
  readonly launches: number;
  /** Lines dropped unseen because too many waited. */
  readonly dropped: number;
}

export const EMPTY_DANMAKU: DanmakuField = { lines: [], waiting: [], laneFreeAt: Array.from({ length: DANMAKU_LANES }, () => 0), launches: 0, dropped: 0 };

/**
 * Queues `incoming` (own lines first) and launches every waiting line that
 * finds a lane free at `now`, each in the lane that has been free longest.
 * `stageWidth` sets how long a flight takes.
 */
export function launchLines(field: DanmakuField, incoming: readonly LineText[], now: number, stageWidth: number): DanmakuField {
  if (incoming.length === 0 && field.waiting.length === 0) return field;
  const queued = [...field.waiting, ...incoming];
  const own = queued.filter((line) => line.own);
  const others = queued.filter((line) => !line.own);
  // Past the bound the oldest of others' lines go.
  let waiting = [...own.slice(0, MAX_WAITING), ...others.slice(Math.max(0, others.length - Math.max(0, MAX_WAITING - own.length)))];
  const dropped = field.dropped + queued.length - waiting.length;
  const lines = [...field.lines];
  const laneFreeAt = [...field.laneFreeAt];
  let launches = field.launches;
  while (waiting.length > 0 && lines.length < MAX_DANMAKU) {
    const lane = freestLane(laneFreeAt);
    if ((laneFreeAt[lane] ?? 0) > now) break;
    const [line, ...rest] = waiting as [LineText, ...LineText[]];
    waiting = rest;
    const width = estimatedWidth(line);
    launches++;
    laneFreeAt[lane] = now + ((width + DANMAKU_GAP_PX) / DANMAKU_SPEED) * 1000;
    lines.push({ ...line, id: launches, lane, durationMs: Math.round(((stageWidth + width) / DANMAKU_SPEED) * 1000) });
  }
  if (incoming.length === 0 && launches === field.launches) return field;
  return { lines, waiting, laneFreeAt, launches, dropped };
}

/** When the next waiting line may find a lane; undefined when none waits, or when the stage is full (a landing makes room). */
export function nextLaunchAt(field: DanmakuField): number | undefined {
  if (field.waiting.length === 0 || field.lines.length >= MAX_DANMAKU) return undefined;
  return Math.min(...field.laneFreeAt);
}

/** A line's flight ended: it leaves the stage. */
export function landLine(field: DanmakuField, id: number): DanmakuField {
  const lines = field.lines.filter((line) => line.id !== id);
  return lines.length === field.lines.length ? field : { ...field, lines };
}

function freestLane(laneFreeAt: readonly number[]): number {
  let best = 0;
  for (let lane = 1; lane < laneFreeAt.length; lane++) if ((laneFreeAt[lane] ?? 0) < (laneFreeAt[best] ?? 0)) best = lane;
  return best;
}

/** A line's width as the stage draws it (px, about): wide characters (CJK, emoji) take about twice a Latin letter. */
function estimatedWidth(line: LineText): number {
  const textWidth = (text: string, narrow: number) => Array.from(text).reduce((sum, character) => sum + ((character.codePointAt(0) ?? 0) >= 0x1100 ? narrow * 1.8 : narrow), 0);
  const sender = line.senderName === '' ? 0 : textWidth(line.senderName, 7) + 6;
  return textWidth(line.text, 8.6) + sender + 20;
}

export interface Heart {
  id: number;
  /** Sideways drift while rising, -1 (left) to 1 (right). */
  drift: number;
  /** Where in the palette its colour is, 0 to 1. */
  tint: number;
  /** Spreads a burst out over time. */
  delayMs: number;
  own: boolean;
}

export interface HeartField {
  readonly hearts: readonly Heart[];
  readonly made: number;
}

export const EMPTY_HEARTS: HeartField = { hearts: [], made: 0 };

/** A burst for `likes` likes: one heart each, at most MAX_HEARTS_PER_BURST, within MAX_HEARTS on screen. */
export function burst(field: HeartField, likes: number, own: boolean, random: () => number = Math.random): HeartField {
  const count = Math.min(Math.floor(likes), MAX_HEARTS_PER_BURST, MAX_HEARTS - field.hearts.length);
  if (count <= 0) return field;
  const hearts = [...field.hearts];
  let made = field.made;
  for (let index = 0; index < count; index++) {
    made++;
    hearts.push({ id: made, drift: random() * 2 - 1, tint: random(), delayMs: Math.round((index / count) * BURST_SPREAD_MS), own });
  }
  return { hearts, made };
}

/** A heart's rise ended: it leaves the stage. */
export function popHeart(field: HeartField, id: number): HeartField {
  const hearts = field.hearts.filter((heart) => heart.id !== id);
  return hearts.length === field.hearts.length ? field : { ...field, hearts };
}

/** What this user sent and already sees, whose echo from the room is still to come. */
export interface OwnEchoes {
  readonly likes: number;
  readonly lines: readonly string[];
}

export const NO_ECHOES: OwnEchoes = { likes: 0, lines: [] };

export function awaitLine(echoes: OwnEchoes, text: string): OwnEchoes {
  return { ...echoes, lines: [...echoes.lines, text].slice(-MAX_AWAITED_LINES) };
}

export function awaitLikes(echoes: OwnEchoes, likes: number): OwnEchoes {
  return { ...echoes, likes: echoes.likes + likes };
}

/** What a tick's events put on the stage: others' chat lines, and others' likes (likes are merged, so own taps are counted off). */
export interface StageNews {
  lines: LineText[];
  likes: number;
  echoes: OwnEchoes;
}

export function stageNews(events: readonly RoomEvent[], selfId: string, echoes: OwnEchoes): StageNews {
  const lines: StageNews['lines'] = [];
  let likes = 0;
  let awaitedLikes = echoes.likes;
  const awaitedLines = [...echoes.lines];
  for (const event of events) {
    if (event.kind === 'chat' && event.text !== undefined && event.text !== '') {
      const awaited = event.senderId === selfId ? awaitedLines.indexOf(event.text) : -1;
      if (awaited >= 0) awaitedLines.splice(awaited, 1);
      else lines.push({ text: event.text, senderName: event.senderName, own: event.senderId === selfId });
    } else if (event.kind === 'like') {
      const count = event.count ?? 1;
      const echoed = Math.min(count, awaitedLikes);
      awaitedLikes -= echoed;
      likes += count - echoed;
    }
  }
  return { lines, likes, echoes: { likes: awaitedLikes, lines: awaitedLines } };
}
