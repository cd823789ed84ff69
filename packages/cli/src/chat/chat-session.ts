/**
 * ChatSession: the terminal chat's behaviour on top of one ParleyClient. Owns
 * the "current conversation", turns input lines into slash commands or sends,
 * prints incoming messages and connection changes, and keeps the current
 * conversation marked read as its messages are shown. It also watches at most
 * one live room: its cards print as they come, its chatter through a LiveFeed
 * that bounds how much a busy room prints.
 */
import {
  type AmendedMessage,
  type ConversationSummary,
  MAX_TEXT_PARTS,
  MUTED_FOREVER,
  type Message,
  type ParleyClient,
  ParleyError,
  type Role,
  type Room,
  type StateChange,
  isMuted,
  splitLongText,
} from '@parley/client';
import { DEFAULT_LIMITS } from '@parley/protocol';
import { describeError, parseList } from '../command.js';
import { connectFailureReason } from './connect.js';
import { formatBytes } from './bytes.js';
import {
  PLAIN_EMPHASIS,
  TERMINAL_EMPHASIS,
  clean,
  clock,
  conversationLabel,
  formatChatLine,
  formatCount,
  formatMessage,
  formatRoomCard,
  formatSearchHit,
  roomLabel,
} from './format.js';
import { LiveFeed, SUMMARY_INTERVAL_MS } from './live-feed.js';
import type { Terminal } from './terminal.js';

export const CHAT_COMMANDS_HELP = `Commands:
  /dm <userId> [subject]       open (or create) a direct chat and switch to it
  /group <groupId or name>     switch to a group you belong to
  /new-group <name> <a,b,c>    create a group with these members and switch to it
  /list                        conversations with unread counts
  /history [n]                 the last n messages here (default 20)
  /search <words>              find messages with all these words in every
                               conversation you are or were in, newest first
  /read                        mark this conversation read
  /who                         members of this conversation
  /mute [hours]                mute this conversation's notifications (for n hours,
                               or until /unmute), on all your devices
  /unmute                      notifications again
  /pin, /unpin                 keep this conversation at the top of /list
  /edit <text>                 replace the text of your last message here
  /recall                      recall your last message here, for everyone
  /react <emoji>               react to the last message from someone else here
  /thread <text>               reply in the thread of the last message from someone
                               else here (replies print as "↳ sender: text")
  /send <path>                 upload a file and send it here (photos, videos and
                               voice notes by their extension, anything else as a file)
  /live <roomId>               watch a live room and chat there: its cards (gifts,
                               products, announcements) print in full, chat lines
                               briefly, likes and joins once a second
  /like [n]                    send n likes to the live room (default 1, at most 100)
  /leave                       leave the live room
  /help                        this list
  /quit                        leave (also Ctrl-D)
Any other line is sent to the current conversation (in a live room: as a chat line).`;

const DEFAULT_HISTORY = 20;
/** Hits /search prints. */
const SEARCH_HITS = 20;
/** Cards of a live room shown on joining it (the newest); /history shows more. */
const CARDS_ON_JOIN = 5;
const MAX_LIKES_PER_COMMAND = 100;
/** How long /quit waits for unacknowledged sends before closing anyway. */
const QUIT_SEND_GRACE_MS = 3000;

/** The live room the session watches. */
interface LiveView {
  room: Room;
  label: string;
  feed: LiveFeed;
  /** The conversation that was current before the room, current again when the room is left. */
  previousConversationId: string | undefined;
  summaryTimer: NodeJS.Timeout | undefined;
  readonly unsubscribe: Array<() => void>;
}

export class ChatSession {
  private currentConversationId: string | undefined;
  /** Per conversation, the newest message of this user and of someone else shown in this session (/edit, /recall, /react). */
  private readonly lastOwn = new Map<string, Message>();
  private readonly lastOthers = new Map<string, Message>();
  private live: LiveView | undefined;
  private readonly pendingSends = new Set<Promise<unknown>>();
  private markReadScheduled = false;
  private quitting = false;
  private connectedOnce = false;
  private lastRetryReason: string | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly client: ParleyClient,
    private readonly terminal: Terminal,
  ) {
    this.unsubscribe.push(
      client.on('message', (message) => this.showMessage(message)),
      client.on('amended', (change) => this.showAmendment(change)),
      client.on('state', (change) => this.showState(change)),
      client.on('error', (error) => this.terminal.print(`! ${describeError(error)}`)),
    );
  }

  /** Handles one input line. Resolves to 'quit' when the user asked to leave. */
  async handleLine(rawLine: string): Promise<'quit' | undefined> {
    const line = rawLine.trim();
    if (line === '') return undefined;
    if (!line.startsWith('/')) {
      const live = this.currentLive();
      if (live === undefined) this.send(line);
      else this.chat(live, line);
      return undefined;
    }
    const [command = '', ...args] = line.slice(1).split(/\s+/);
    try {
      switch (command) {
        case 'dm':
          await this.openDirect(args);
          break;
        case 'group':
          await this.switchToGroup(args.join(' '));
          break;
        case 'new-group':
          await this.newGroup(args);
          break;
        case 'list':
          this.list();
          break;
        case 'history':
          await this.history(args[0]);
          break;
        case 'search':
          await this.search(line.slice(1 + command.length).trim());
          break;
        case 'read':
          if (this.currentLive() === undefined) await this.markCurrentRead(true);
          else this.terminal.print('! a live room has no unread count to mark');
          break;
        case 'who':
          await this.who();
          break;
        case 'mute':
        case 'unmute':
        case 'pin':
        case 'unpin':
          await this.changeSettings(command, args[0]);
          break;
        case 'edit':
          await this.editLast(line.slice(1 + command.length).trim());
          break;
        case 'recall':
          await this.recallLast();
          break;
        case 'react':
          await this.reactToLast(args[0]);
          break;
        case 'thread':
          await this.replyInThread(line.slice(1 + command.length).trim());
          break;
        case 'send':
          // The rest of the line is the path, spaces and all.
          this.sendFile(line.slice(1 + command.length).trim());
          break;
        case 'live':
          await this.watch(args[0]);
          break;
        case 'like':
          this.like(args[0]);
          break;
        case 'leave':
          await this.leaveLive();
          break;
        case 'help':
          this.terminal.print(CHAT_COMMANDS_HELP);
          break;
        case 'quit':
        case 'exit':
          return 'quit';
        default:
          this.terminal.print(`! unknown command /${command}; /help lists the commands`);
      }
    } catch (error) {
      this.terminal.print(`! ${describeError(error)}`);
    }
    return undefined;
  }

  /** Waits (briefly) for sends still in flight, then closes the client. */
  async close(): Promise<void> {
    this.quitting = true;
    // The connection's close takes it out of the room; only the printing stops here.
    if (this.live !== undefined) this.forgetLive(this.live);
    if (this.pendingSends.size > 0) {
      const grace = new Promise<void>((resolve) => setTimeout(resolve, QUIT_SEND_GRACE_MS).unref());
      await Promise.race([Promise.allSettled([...this.pendingSends]), grace]);
    }
    for (const stop of this.unsubscribe) stop();
    await this.client.close();
  }

  /** Called once connect() resolved: the conversation list and unread counts are known now. */
  announceConnected(): void {
    this.connectedOnce = true;
    const total = this.client.totalUnread;
    this.terminal.print(`* connected as ${this.client.userId ?? '?'}: ${this.client.conversations().length} conversations, ${total} unread (/list, /help)`);
  }

  /** The prompt: the current conversation, or a hint when there is none. */
  prompt(): string {
    return this.currentConversationId === undefined ? '(no conversation: /dm <user>)> ' : `${this.label(this.currentConversationId)}> `;
  }

  /** Uploads a file and sends it; like text sends, not awaited: the input loop stays free. */
  private sendFile(rawPath: string): void {
    const conversationId = this.currentConversationId;
    if (conversationId === undefined) {
      this.terminal.print('! no conversation selected: /dm <userId> or /group <groupId> first (/help)');
      return;
    }
    const path = rawPath.replace(/^(['"])(.*)\1$/, '$2');
    if (path === '') {
      this.terminal.print('! /send needs a file path');
      return;
    }
    const kind = mediaKindOf(path);
    let reported = -1;
    this.terminal.print(`* uploading ${clean(path)} as ${kind === 'file' ? 'a file' : `a ${kind}`}…`);
    const pending = this.client
      .sendMedia(kind, conversationId, path, {
        onProgress: ({ sentBytes, totalBytes }) => {
          // Every quarter, so that a large upload shows it moves without flooding the terminal.
          const quarter = totalBytes === 0 ? 4 : Math.floor((sentBytes / totalBytes) * 4);
          if (quarter > reported && quarter < 4) this.terminal.print(`* ${clean(path)}: ${quarter * 25}% of ${formatBytes(totalBytes)}`);
          reported = Math.max(reported, quarter);
        },
      })
      .catch((error: unknown) => {
        this.terminal.print(`! not sent to ${this.label(conversationId)} (${clean(path)}): ${describeError(error)}`);
      });
    this.pendingSends.add(pending);
    void pending.finally(() => this.pendingSends.delete(pending));
  }

  private send(text: string): void {
    const conversationId = this.currentConversationId;
    if (conversationId === undefined) {
      this.terminal.print('! no conversation selected: /dm <userId> or /group <groupId> first (/help)');
      return;
    }
    const maxChars = DEFAULT_LIMITS.maxTextChars;
    const parts = splitLongText(text, maxChars);
    if (parts === undefined) {
      this.terminal.print(`! not sent: ${text.length} characters is more than ${MAX_TEXT_PARTS} messages of ${maxChars} can carry`);
      return;
    }
    this.terminal.eraseEnteredLine(text);
    if (parts.length > 1) this.terminal.print(`* long text (${text.length} characters): sent as ${parts.length} messages`);
    // Not awaited: the input loop must not stall while a send waits for its
    // ack (or for a reconnect). The SDK keeps the sends of one connection in order.
    for (const part of parts) {
      const pending = this.client.send(conversationId, { text: part }).catch((error: unknown) => {
        this.terminal.print(`! not sent to ${this.label(conversationId)} ("${clean(part.slice(0, 40))}"): ${describeError(error)}`);
      });
      this.pendingSends.add(pending);
      void pending.finally(() => this.pendingSends.delete(pending));
    }
  }

  private async openDirect(args: string[]): Promise<void> {
    const [userId, ...subjectWords] = args;
    if (userId === undefined || userId === '') {
      this.terminal.print('! usage: /dm <userId> [subject]');
      return;
    }
    const subject = subjectWords.join(' ');
    const conversationId = await this.client.direct(userId, subject === '' ? {} : { subject });
    await this.switchTo(conversationId);
  }

  private async switchToGroup(nameOrId: string): Promise<void> {
    if (nameOrId === '') {
      this.terminal.print('! usage: /group <groupId or name>');
      return;
    }
    const groups = this.client.conversations().filter((summary) => summary.kind === 'group');
    const byId = groups.find((summary) => summary.id === nameOrId);
    const byName = groups.filter((summary) => summary.name === nameOrId);
    if (byId !== undefined) return this.switchTo(byId.id);
    if (byName.length === 1 && byName[0] !== undefined) return this.switchTo(byName[0].id);
    if (byName.length > 1) {
      this.terminal.print(`! ${byName.length} groups are called "${clean(nameOrId)}"; use an id: ${byName.map((summary) => summary.id).join(', ')}`);
      return;
    }
    // Not in the local list (yet): ask the server, which answers FORBIDDEN or NOT_FOUND if it is not ours.
    await this.client.members(nameOrId);
    await this.switchTo(nameOrId);
  }

  private async newGroup(args: string[]): Promise<void> {
    if (args.length === 0) {
      this.terminal.print('! usage: /new-group <name> <member,member,...>');
      return;
    }
    // The last word is the member list when there are two or more words, so names may contain spaces.
    const memberIds = args.length > 1 ? parseList(args[args.length - 1] ?? '') : [];
    const name = (args.length > 1 ? args.slice(0, -1) : args).join(' ');
    const group = await this.client.createGroup({ name, memberIds });
    this.terminal.print(`* created group ${clean(group.name)} (id ${group.id}, ${group.memberCount} members)`);
    await this.switchTo(group.id);
  }

  private async switchTo(conversationId: string): Promise<void> {
    this.currentConversationId = conversationId;
    const summary = this.summary(conversationId);
    const unread = summary?.unread ?? 0;
    this.terminal.setPrompt(this.prompt());
    this.terminal.print(`* now in ${this.label(conversationId)}${unread > 0 ? ` (${unread} unread, /history to see them)` : ''}`);
    await this.markCurrentRead(false);
  }

  private list(): void {
    const summaries = this.client.conversations();
    const live = this.live;
    if (summaries.length === 0 && live === undefined) {
      this.terminal.print('* no conversations yet: /dm <userId> or /new-group <name> <members>');
      return;
    }
    const roomLine =
      live === undefined ? [] : [`${live.room.id === this.currentConversationId ? '>' : ' '} ${live.label}  live, ${formatCount(live.room.online)} watching  (id ${live.room.id})`];
    const lines = summaries.map((summary) => {
      const marker = summary.id === this.currentConversationId ? '>' : ' ';
      const unread = summary.unread > 0 ? `${summary.unread} unread` : 'read';
      const id = summary.kind === 'group' ? `  (id ${summary.id}, ${summary.memberCount} members)` : '';
      const left = summary.active ? '' : '  (left)';
      const settings = `${summary.pinnedAt === undefined ? '' : '  pinned'}${isMuted(summary) ? '  muted' : ''}`;
      const last = summary.lastMessage?.text === undefined ? '' : `  last: ${clean(summary.lastMessage.senderId)}: ${clean(summary.lastMessage.text.slice(0, 40))}`;
      return `${marker} ${conversationLabel(summary, summary.id)}  ${unread}${settings}${id}${left}${last}`;
    });
    this.terminal.print(`${[...roomLine, ...lines].join('\n')}\n  total unread: ${this.client.totalUnread}`);
  }

  /** /mute [hours], /unmute, /pin, /unpin on the current conversation. */
  private async changeSettings(command: 'mute' | 'unmute' | 'pin' | 'unpin', hoursArgument: string | undefined): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined || this.currentLive() !== undefined) {
      if (conversationId !== undefined) this.terminal.print('! a live room has no settings');
      return;
    }
    const label = this.label(conversationId);
    switch (command) {
      case 'mute': {
        const hours = hoursArgument === undefined ? undefined : Number(hoursArgument);
        if (hours !== undefined && (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 366)) {
          this.terminal.print('! usage: /mute [hours], hours from 0 to 8784 (a year)');
          return;
        }
        await this.client.mute(conversationId, hours === undefined ? MUTED_FOREVER : Date.now() + Math.round(hours * 3_600_000));
        this.terminal.print(`* ${label} muted${hours === undefined ? ' until /unmute' : ` for ${hours} h`}`);
        return;
      }
      case 'unmute':
        await this.client.unmute(conversationId);
        this.terminal.print(`* ${label} notifies again`);
        return;
      case 'pin':
        await this.client.pin(conversationId);
        this.terminal.print(`* ${label} pinned`);
        return;
      case 'unpin':
        await this.client.unpin(conversationId);
        this.terminal.print(`* ${label} unpinned`);
    }
  }

  private async history(countArgument: string | undefined): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const count = countArgument === undefined ? DEFAULT_HISTORY : Number(countArgument);
    if (!Number.isInteger(count) || count < 1 || count > 500) {
      this.terminal.print('! usage: /history [n], n from 1 to 500');
      return;
    }
    const messages = await this.client.history(conversationId, { limit: count });
    if (messages.length === 0) {
      this.terminal.print('* no messages yet');
      return;
    }
    const label = this.label(conversationId);
    const format = this.live?.room.id === conversationId ? formatRoomCard : formatMessage;
    this.terminal.print(messages.map((message) => format(message, label, { withTime: true, selfId: this.client.userId })).join('\n'));
    await this.markCurrentRead(false);
  }

  /** One page of hits, newest first, the matched words emphasised. */
  private async search(query: string): Promise<void> {
    if (query === '') {
      this.terminal.print('! usage: /search <words>');
      return;
    }
    const page = await this.client.search.messages(query, { limit: SEARCH_HITS });
    if (page.hits.length === 0) {
      this.terminal.print(`* nothing found for ${clean(query)}`);
      return;
    }
    const emphasis = this.terminal.interactive ? TERMINAL_EMPHASIS : PLAIN_EMPHASIS;
    const lines = page.hits.map((hit) => formatSearchHit(hit, this.label(hit.conversationId), emphasis));
    const more = page.nextCursor === undefined ? '' : `\n* more than ${SEARCH_HITS} found: add words to narrow the search`;
    this.terminal.print(lines.join('\n') + more);
  }

  private async who(): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const room = this.currentLive()?.room;
    if (room !== undefined) {
      // A room has no member list: its audience is counted, and its most active viewers ranked.
      const top = room.topViewers.slice(0, 5).map((viewer) => `${viewer.userId} (${formatCount(viewer.score)})`);
      const active = top.length === 0 ? '' : `; most active: ${top.join(', ')}`;
      this.terminal.print(`* ${formatCount(room.online)} watching ${this.label(room.id)}; host ${room.info.hostId}${active}`);
      return;
    }
    const members = await this.client.members(conversationId);
    const described = members.map((member) => (member.role === 'member' ? member.userId : `${member.userId} (${member.role})`));
    this.terminal.print(`* ${members.length} in ${this.label(conversationId)}: ${described.join(', ')}`);
  }

  private async markCurrentRead(announce: boolean): Promise<void> {
    const conversationId = this.requireCurrent();
    // Rooms have no read positions.
    if (conversationId === undefined || conversationId === this.live?.room.id) return;
    await this.client.markRead(conversationId);
    if (announce) this.terminal.print(`* ${this.label(conversationId)} marked read (total unread ${this.client.totalUnread})`);
  }

  private showMessage(message: Message): void {
    if (message.type === 'user') {
      const own = message.senderId === this.client.userId;
      (own ? this.lastOwn : this.lastOthers).set(message.conversationId, message);
    }
    this.terminal.print(formatMessage(message, this.label(message.conversationId), { selfId: this.client.userId }));
    if (message.conversationId === this.currentConversationId && message.senderId !== this.client.userId) this.scheduleMarkRead();
  }

  private showAmendment(change: AmendedMessage): void {
    const label = this.label(change.conversationId);
    const who = change.actorId === this.client.userId ? 'you' : change.actorId;
    switch (change.change) {
      case 'recalled':
        this.terminal.print(`[${label}] * ${who} recalled message ${change.seq}`);
        break;
      case 'edited':
        this.terminal.print(`[${label}] * ${who} edited message ${change.seq}: ${clean(change.text)}`);
        break;
      case 'reacted':
        if (change.added) this.terminal.print(`[${label}] * ${who} reacted ${clean(change.emoji)} to message ${change.seq}`);
        break;
      case 'deleted':
        break;
    }
  }

  private async editLast(text: string): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const last = this.lastOwn.get(conversationId);
    if (last === undefined) return this.terminal.print('! none of your messages here in this session to edit');
    if (text === '') return this.terminal.print('! usage: /edit <new text>');
    await this.client.edit(conversationId, last.seq, text);
  }

  private async recallLast(): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const last = this.lastOwn.get(conversationId);
    if (last === undefined) return this.terminal.print('! none of your messages here in this session to recall');
    await this.client.recall(conversationId, last.seq);
    this.lastOwn.delete(conversationId);
  }

  private async reactToLast(emoji: string | undefined): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const last = this.lastOthers.get(conversationId);
    if (last === undefined) return this.terminal.print('! no message from someone else here in this session to react to');
    if (emoji === undefined) return this.terminal.print('! usage: /react <emoji>');
    await this.client.react(conversationId, last.seq, emoji);
  }

  private async replyInThread(text: string): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const last = this.lastOthers.get(conversationId);
    if (last === undefined) return this.terminal.print('! no message from someone else here in this session to reply to');
    if (text === '') return this.terminal.print('! usage: /thread <text>');
    this.terminal.eraseEnteredLine(text);
    // A reply to a reply goes into the same thread: threads do not nest.
    await this.client.send(conversationId, { text, threadRoot: last.threadRoot ?? last.seq });
  }

  /** One mark_read for a burst of shown messages, not one per message. */
  private scheduleMarkRead(): void {
    if (this.markReadScheduled) return;
    this.markReadScheduled = true;
    setTimeout(() => {
      this.markReadScheduled = false;
      if (this.quitting || this.client.state !== 'open') return;
      this.markCurrentRead(false).catch((error: unknown) => this.terminal.print(`! mark read failed: ${describeError(error)}`));
    }, 50);
  }

  private showState({ state, error }: StateChange): void {
    if (this.quitting) return;
    const reason = error === undefined ? '' : `: ${describeError(error)}`;
    switch (state) {
      case 'open':
        this.lastRetryReason = undefined;
        // The first connection is announced by announceConnected(), once the first sync has landed.
        if (this.connectedOnce) this.terminal.print(`* reconnected as ${this.client.userId ?? '?'}`);
        break;
      case 'reconnecting':
        this.terminal.print(`* connection lost${reason}; reconnecting...`);
        break;
      case 'closed':
        this.terminal.print(`* disconnected${reason}`);
        break;
      case 'connecting':
        // Before the first connection, connect.ts reports; afterwards each
        // failed attempt would repeat the same line, so only a new reason is shown.
        if (error !== undefined && this.connectedOnce) {
          const why = connectFailureReason(error);
          if (why !== this.lastRetryReason) this.terminal.print(`* still reconnecting: ${why}`);
          this.lastRetryReason = why;
        }
        break;
      case 'idle':
        break;
    }
  }

  /**
   * /live <roomId>: joins the room (leaving the one watched before) and makes
   * it the current conversation. Without an id, or with the watched room's,
   * switches back to the watched room.
   */
  private async watch(roomId: string | undefined): Promise<void> {
    const watched = this.live;
    if (roomId === undefined || roomId === watched?.room.id) {
      if (watched === undefined) {
        this.terminal.print('! usage: /live <roomId>');
        return;
      }
      if (this.currentLive() === undefined) watched.previousConversationId = this.currentConversationId;
      this.currentConversationId = watched.room.id;
      this.terminal.setPrompt(this.prompt());
      this.terminal.print(`* now in ${this.describeRoom(watched.room)}`);
      return;
    }
    // Joined before the old room is left, so that a mistyped id leaves the watched room alone.
    const room = await this.client.joinRoom(roomId);
    const previousConversationId = this.currentLive() === undefined ? this.currentConversationId : watched?.previousConversationId;
    if (watched !== undefined) {
      this.forgetLive(watched);
      this.terminal.print(`* left ${watched.label}`);
    }
    // From here to the listeners nothing waits: the new room's first batch cannot come unheard.
    const live: LiveView = {
      room,
      label: roomLabel(room.info.name, room.id),
      feed: new LiveFeed({ selfId: this.client.userId ?? '', online: room.online }),
      previousConversationId,
      summaryTimer: undefined,
      unsubscribe: [],
    };
    this.live = live;
    this.currentConversationId = room.id;
    const selfId = this.client.userId;
    live.unsubscribe.push(
      room.on('message', (message) => this.terminal.print(formatRoomCard(message, live.label, { selfId }))),
      room.on('events', ({ events, skipped }) => {
        for (const line of live.feed.add(events, skipped, Date.now())) this.terminal.print(line);
        this.scheduleSummary(live);
      }),
      room.on('stats', ({ online }) => {
        live.feed.setOnline(online);
        this.scheduleSummary(live);
      }),
      room.on('closed', () => {
        this.forgetLive(live);
        this.terminal.print(`* ${live.label} has ended${this.backIn()}`);
      }),
    );
    this.terminal.setPrompt(this.prompt());
    const earlier = room.messages.length > CARDS_ON_JOIN ? ` (${room.messages.length - CARDS_ON_JOIN} earlier: /history)` : '';
    this.terminal.print(`* now in ${this.describeRoom(room)} (/like, /leave)${earlier}`);
    const recent = room.messages.slice(-CARDS_ON_JOIN);
    if (recent.length > 0) this.terminal.print(recent.map((message) => formatRoomCard(message, live.label, { withTime: true, selfId })).join('\n'));
    await watched?.room.leave();
  }

  /** `▶Spring sale (id live-1): host sam, 12 watching; you are a viewer` */
  private describeRoom(room: Room): string {
    const muted = room.mutedUntil > Date.now() ? `; muted until ${clock(room.mutedUntil)}` : '';
    return `${this.label(room.id)} (id ${room.id}): host ${room.info.hostId}, ${formatCount(room.online)} watching; you are ${ROOM_ROLES[room.role]}${muted}`;
  }

  /** A chat line to the room; like text sends, not awaited. Printed once the server took it. */
  private chat(live: LiveView, text: string): void {
    const room = live.room;
    this.terminal.eraseEnteredLine(text);
    live.feed.expectEcho(text);
    const selfId = this.client.userId ?? '';
    const pending = room.chat(text).then(
      () => this.terminal.print(formatChatLine(selfId, text)),
      (error: unknown) => {
        live.feed.cancelEcho(text);
        const muted = error instanceof ParleyError && error.codeName === 'FORBIDDEN' && room.mutedUntil > Date.now();
        const why = muted ? `you are muted here until ${clock(room.mutedUntil)}` : describeError(error);
        this.terminal.print(`! not sent to ${live.label} ("${clean(text.slice(0, 40))}"): ${why}`);
      },
    );
    this.pendingSends.add(pending);
    void pending.finally(() => this.pendingSends.delete(pending));
  }

  private like(countArgument: string | undefined): void {
    const live = this.live;
    if (live === undefined) {
      this.terminal.print('! not in a live room: /live <roomId> first');
      return;
    }
    const count = countArgument === undefined ? 1 : Number(countArgument);
    if (!Number.isInteger(count) || count < 1 || count > MAX_LIKES_PER_COMMAND) {
      this.terminal.print(`! usage: /like [n], n from 1 to ${MAX_LIKES_PER_COMMAND}`);
      return;
    }
    // Taps are merged by the SDK and by the server; they come back in the summary line (♥ +n likes).
    live.room.like(count);
  }

  private async leaveLive(): Promise<void> {
    const live = this.live;
    if (live === undefined) {
      this.terminal.print('! not in a live room');
      return;
    }
    this.forgetLive(live);
    await live.room.leave();
    this.terminal.print(`* left ${live.label}${this.backIn()}`);
  }

  /** Stops printing the room and, when it was current, makes the conversation before it current again. */
  private forgetLive(live: LiveView): void {
    if (this.live !== live) return;
    for (const stop of live.unsubscribe) stop();
    clearTimeout(live.summaryTimer);
    this.live = undefined;
    if (this.currentConversationId === live.room.id) {
      this.currentConversationId = live.previousConversationId;
      this.terminal.setPrompt(this.prompt());
    }
  }

  /** "; back in @bob" after leaving a room, when a conversation is current again. */
  private backIn(): string {
    return this.currentConversationId === undefined ? '' : `; back in ${this.label(this.currentConversationId)}`;
  }

  /** Merged likes, joins, counts and held-back chatter print at most once a second. */
  private scheduleSummary(live: LiveView): void {
    if (live.summaryTimer !== undefined || !live.feed.pending) return;
    live.summaryTimer = setTimeout(() => {
      live.summaryTimer = undefined;
      if (this.live !== live || this.quitting) return;
      for (const line of live.feed.summary()) this.terminal.print(line);
    }, SUMMARY_INTERVAL_MS);
  }

  /** The watched room, when it is the current conversation. */
  private currentLive(): LiveView | undefined {
    return this.live !== undefined && this.live.room.id === this.currentConversationId ? this.live : undefined;
  }

  private requireCurrent(): string | undefined {
    if (this.currentConversationId === undefined) this.terminal.print('! no conversation selected: /dm <userId> or /group <groupId> first');
    return this.currentConversationId;
  }

  private summary(conversationId: string): ConversationSummary | undefined {
    return this.client.conversations().find((summary) => summary.id === conversationId);
  }

  private label(conversationId: string): string {
    if (conversationId === this.live?.room.id) return this.live.label;
    return conversationLabel(this.summary(conversationId), conversationId);
  }
}

const ROOM_ROLES: Record<Role, string> = { owner: 'the host', admin: 'an admin', member: 'a viewer' };

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif']);
const VIDEO_EXTENSIONS = new Set(['mp4', 'm4v', 'mov', 'webm', 'mkv']);
const VOICE_EXTENSIONS = new Set(['ogg', 'oga', 'opus', 'm4a', 'mp3', 'wav', 'aac']);

/** What a file is sent as, by its extension; the server checks the bytes either way. */
export function mediaKindOf(path: string): 'image' | 'video' | 'voice' | 'file' {
  const extension = path.toLowerCase().split('.').pop() ?? '';
  if (IMAGE_EXTENSIONS.has(extension)) return 'image';
  if (VIDEO_EXTENSIONS.has(extension)) return 'video';
  if (VOICE_EXTENSIONS.has(extension)) return 'voice';
  return 'file';
}
