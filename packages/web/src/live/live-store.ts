/**
 * LiveRoomStore: the state of one live room page, kept from the SDK's Room.
 * It joins when started and leaves when disposed; it holds the room's
 * reliable messages (the side panel's cards, in seq order, each once), the
 * viewer count and top viewers, and what the stage shows (danmaku lines and
 * hearts, as effects.ts decides); it sends chat lines, likes and product
 * cards, and ends the live. Like the ChatStore it exposes one immutable
 * snapshot, and listeners hear once per microtask, however many events a
 * tick brought.
 *
 * The SDK does the room's hard parts (reliable messages exactly once and in
 * order, re-joining after a reconnect); nothing here second-guesses it.
 */
import { type Message, type ParleyClient, ParleyError, type Role, type Room, type RoomEvent, type RoomInfo, type RoomViewer } from '@parley/client';
import { describeError, mergeMessages } from '../chat/chat-store.js';
import { PRODUCT_CARD } from './cards.js';
import {
  DEFAULT_STAGE_WIDTH,
  type DanmakuField,
  EMPTY_DANMAKU,
  EMPTY_HEARTS,
  type HeartField,
  NO_ECHOES,
  type OwnEchoes,
  awaitLikes,
  awaitLine,
  burst,
  landLine,
  launchLines,
  nextLaunchAt,
  popHeart,
  stageNews,
} from './effects.js';

/** Cards kept (the newest), as many as the SDK keeps per room. */
const KEPT_CARDS = 200;
/** How long a refused chat line's note stays. */
const NOTICE_MS = 4000;
/**
 * A chat line refused because of a mute the page did not know of (made after
 * the join): the input opens again after this long, and a line still refused
 * closes it again.
 */
const UNKNOWN_MUTE_MS = 60_000;
/** Mutes are lifted by a timer within this bound (a longer delay would overflow setTimeout's). */
const MAX_MUTE_TIMER_MS = 86_400_000;
/** Own taps not echoed back within this long were dropped on the way: stop waiting for them. */
const LIKE_ECHO_MS = 3000;

export type LiveStatus = 'joining' | 'live' | 'ended' | 'failed';

export interface Mute {
  /** ms since epoch. */
  until: number;
  /** Whether the server said until when (at the join); otherwise `until` is when to try again. */
  known: boolean;
}

export interface LiveState {
  readonly status: LiveStatus;
  /** Why the room could not be joined (failed). */
  readonly error?: string;
  /** Known once joined. */
  readonly info?: RoomInfo;
  readonly role: Role;
  readonly mute?: Mute;
  readonly online: number;
  readonly topViewers: readonly RoomViewer[];
  /** Reliable messages, in seq order, each once. */
  readonly cards: readonly Message[];
  readonly danmaku: DanmakuField;
  readonly hearts: HeartField;
  /** Display names the room told of (chat senders, top viewers). */
  readonly names: ReadonlyMap<string, string>;
  /** Why the last chat line was refused, for a few seconds. */
  readonly notice?: string;
}

const INITIAL: LiveState = {
  status: 'joining',
  role: 'member',
  online: 0,
  topViewers: [],
  cards: [],
  danmaku: EMPTY_DANMAKU,
  hearts: EMPTY_HEARTS,
  names: new Map(),
};

export class LiveRoomStore {
  private current: LiveState = INITIAL;
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private disposed = false;
  private room: Room | undefined;
  private echoes: OwnEchoes = NO_ECHOES;
  private readonly cleanups: Array<() => void> = [];
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private muteTimer: ReturnType<typeof setTimeout> | undefined;
  private likeEchoTimer: ReturnType<typeof setTimeout> | undefined;
  private launchTimer: ReturnType<typeof setTimeout> | undefined;
  private stageWidth = DEFAULT_STAGE_WIDTH;

  constructor(
    private readonly client: ParleyClient,
    readonly roomId: string,
    private readonly selfId: string,
  ) {}

  get state(): LiveState {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins the room (waiting for the connection, as the SDK bounds it); a failure shows in state. */
  start(): void {
    this.client.joinRoom(this.roomId).then(
      (room) => this.attach(room),
      (error: unknown) => this.joinFailed(error),
    );
  }

  /** Leaves the room (if it is still joined) and stops listening. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const cleanup of this.cleanups) cleanup();
    clearTimeout(this.noticeTimer);
    clearTimeout(this.muteTimer);
    clearTimeout(this.likeEchoTimer);
    clearTimeout(this.launchTimer);
    this.listeners.clear();
    // A leave lost with the connection needs nothing more: the server dropped the membership with it.
    this.room?.leave().catch(() => undefined);
  }

  // ---- sending ----

  /** Sends a chat line; it flies across this user's stage at once. Resolves whether it was sent; a refusal shows as the notice. */
  async chat(text: string): Promise<boolean> {
    const room = this.room;
    const line = text.trim();
    if (room === undefined || line === '' || this.current.status !== 'live') return false;
    try {
      await room.chat(line);
    } catch (error) {
      this.chatRefused(error);
      return false;
    }
    if (this.disposed) return true;
    this.echoes = awaitLine(this.echoes, line);
    this.setDanmaku(launchLines(this.current.danmaku, [{ text: line, senderName: '', own: true }], Date.now(), this.stageWidth));
    return true;
  }

  /** One tap on the like button: a heart at once, the like itself coalesced with the next taps by the SDK. */
  like(): void {
    const room = this.room;
    if (room === undefined || this.current.status !== 'live') return;
    room.like();
    this.echoes = awaitLikes(this.echoes, 1);
    clearTimeout(this.likeEchoTimer);
    this.likeEchoTimer = setTimeout(() => {
      this.echoes = { ...this.echoes, likes: 0 };
    }, LIKE_ECHO_MS);
    this.set({ ...this.current, hearts: burst(this.current.hearts, 1, true) });
  }

  /** Posts a product card (host and admins): a reliable message every viewer gets. */
  async postProductCard(title: string, price: number): Promise<void> {
    await this.client.send(this.roomId, {
      text: `🛍️ ${title}`,
      content: { type: 'custom', customType: PRODUCT_CARD, data: { title, price } },
    });
  }

  /** Ends the live for everyone (host and admins). */
  async end(): Promise<void> {
    await this.client.closeRoom(this.roomId);
  }

  // ---- the stage reports its size and finished animations ----

  /** How wide the stage is (px): how long a chat line takes to cross it. */
  setStageWidth(width: number): void {
    if (width > 0) this.stageWidth = width;
  }

  landLine(id: number): void {
    // A line gone makes room for one waiting.
    this.setDanmaku(launchLines(landLine(this.current.danmaku, id), [], Date.now(), this.stageWidth));
  }

  popHeart(id: number): void {
    this.set({ ...this.current, hearts: popHeart(this.current.hearts, id) });
  }

  // ---- from the room ----

  private attach(room: Room): void {
    if (this.disposed) {
      room.leave().catch(() => undefined);
      return;
    }
    this.room = room;
    this.cleanups.push(
      room.on('message', (message) => this.set({ ...this.current, cards: keepNewest(mergeMessages(this.current.cards, [message])) })),
      room.on('events', ({ events }) => this.onEvents(events)),
      room.on('stats', ({ online, topViewers }) => this.set({ ...this.current, online, topViewers, names: withNames(this.current.names, topViewers) })),
      room.on('closed', () => this.set({ ...this.current, status: 'ended', info: room.info })),
    );
    const next: LiveState = {
      ...this.current,
      status: room.joined ? 'live' : 'ended',
      info: room.info,
      role: room.role,
      online: room.online,
      topViewers: room.topViewers,
      cards: keepNewest(mergeMessages(this.current.cards, room.messages)),
      names: withNames(this.current.names, room.topViewers),
    };
    this.set(room.mutedUntil > Date.now() ? this.muted(next, { until: room.mutedUntil, known: true }) : next);
  }

  private joinFailed(error: unknown): void {
    if (this.disposed) return;
    if (error instanceof ParleyError && error.codeName === 'ROOM_CLOSED') {
      this.set({ ...this.current, status: 'ended' });
      // What was said stays readable: the panel shows the live's last cards.
      this.client.history(this.roomId).then(
        (messages) => this.set({ ...this.current, cards: keepNewest(mergeMessages(this.current.cards, messages)) }),
        () => undefined,
      );
      return;
    }
    const explained = error instanceof ParleyError && error.codeName === 'NOT_FOUND' ? 'There is no live with that id.' : describeError(error);
    this.set({ ...this.current, status: 'failed', error: explained });
  }

  private onEvents(events: readonly RoomEvent[]): void {
    const news = stageNews(events, this.selfId, this.echoes);
    this.echoes = news.echoes;
    let names = this.current.names;
    for (const event of events) {
      if (event.kind === 'chat' && event.senderName !== '' && names.get(event.senderId) !== event.senderName) {
        if (names === this.current.names) names = new Map(names);
        (names as Map<string, string>).set(event.senderId, event.senderName);
      }
    }
    const hearts = burst(this.current.hearts, news.likes, false);
    if (hearts !== this.current.hearts || names !== this.current.names) this.set({ ...this.current, hearts, names });
    this.setDanmaku(launchLines(this.current.danmaku, news.lines, Date.now(), this.stageWidth));
  }

  /** The new danmaku state, and a timer for when a waiting line may find a free lane. */
  private setDanmaku(danmaku: DanmakuField): void {
    if (this.disposed) return;
    if (danmaku !== this.current.danmaku) this.set({ ...this.current, danmaku });
    clearTimeout(this.launchTimer);
    this.launchTimer = undefined;
    const at = nextLaunchAt(danmaku);
    if (at === undefined) return;
    this.launchTimer = setTimeout(() => this.setDanmaku(launchLines(this.current.danmaku, [], Date.now(), this.stageWidth)), Math.max(0, at - Date.now()));
  }

  private chatRefused(error: unknown): void {
    if (this.disposed) return;
    if (error instanceof ParleyError && error.codeName === 'FORBIDDEN') {
      // Muted after joining: the refusal is how the page learns of it.
      this.set(this.muted(this.current, { until: Date.now() + UNKNOWN_MUTE_MS, known: false }));
      return;
    }
    if (error instanceof ParleyError && error.codeName === 'ROOM_CLOSED') {
      this.set({ ...this.current, status: 'ended' });
      return;
    }
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      const { notice: _, ...rest } = this.current;
      this.set(rest);
    }, NOTICE_MS);
    this.set({ ...this.current, notice: describeError(error) });
  }

  /** `state` with the mute set, and a timer that lifts it when it ends (within a day: a page open longer learns it on the next join). */
  private muted(state: LiveState, mute: Mute): LiveState {
    clearTimeout(this.muteTimer);
    const remaining = mute.until - Date.now();
    if (remaining < MAX_MUTE_TIMER_MS) {
      this.muteTimer = setTimeout(() => {
        const { mute: _, ...rest } = this.current;
        this.set(rest);
      }, remaining);
    }
    return { ...state, mute };
  }

  private set(next: LiveState): void {
    this.current = next;
    if (this.notifyScheduled || this.disposed) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      if (this.disposed) return;
      for (const listener of [...this.listeners]) listener();
    });
  }
}

function keepNewest(cards: readonly Message[]): readonly Message[] {
  return cards.length > KEPT_CARDS ? cards.slice(cards.length - KEPT_CARDS) : cards;
}

/** Names from the top viewers; the server names a viewer by id when it knows no name, which is left to the app's lookup. */
function withNames(names: ReadonlyMap<string, string>, viewers: readonly RoomViewer[]): ReadonlyMap<string, string> {
  const missing = viewers.filter((viewer) => viewer.name !== '' && viewer.name !== viewer.userId && names.get(viewer.userId) !== viewer.name);
  if (missing.length === 0) return names;
  const next = new Map(names);
  for (const viewer of missing) next.set(viewer.userId, viewer.name);
  return next;
}
