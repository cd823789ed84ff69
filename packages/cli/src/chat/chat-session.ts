/**
 * ChatSession: the terminal chat's behaviour on top of one ParleyClient. Owns
 * the "current conversation", turns input lines into slash commands or sends,
 * prints incoming messages and connection changes, and keeps the current
 * conversation marked read as its messages are shown.
 */
import { type ConversationSummary, MAX_TEXT_PARTS, type Message, type ParleyClient, type StateChange, splitLongText } from '@parley/client';
import { DEFAULT_LIMITS } from '@parley/protocol';
import { describeError, parseList } from '../command.js';
import { connectFailureReason } from './connect.js';
import { formatBytes } from './bytes.js';
import { clean, conversationLabel, formatMessage } from './format.js';
import type { Terminal } from './terminal.js';

export const CHAT_COMMANDS_HELP = `Commands:
  /dm <userId> [subject]       open (or create) a direct chat and switch to it
  /group <groupId or name>     switch to a group you belong to
  /new-group <name> <a,b,c>    create a group with these members and switch to it
  /list                        conversations with unread counts
  /history [n]                 the last n messages here (default 20)
  /read                        mark this conversation read
  /who                         members of this conversation
  /send <path>                 upload a file and send it here (photos, videos and
                               voice notes by their extension, anything else as a file)
  /help                        this list
  /quit                        leave (also Ctrl-D)
Any other line is sent to the current conversation.`;

const DEFAULT_HISTORY = 20;
/** How long /quit waits for unacknowledged sends before closing anyway. */
const QUIT_SEND_GRACE_MS = 3000;

export class ChatSession {
  private currentConversationId: string | undefined;
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
      client.on('state', (change) => this.showState(change)),
      client.on('error', (error) => this.terminal.print(`! ${describeError(error)}`)),
    );
  }

  /** Handles one input line. Resolves to 'quit' when the user asked to leave. */
  async handleLine(rawLine: string): Promise<'quit' | undefined> {
    const line = rawLine.trim();
    if (line === '') return undefined;
    if (!line.startsWith('/')) {
      this.send(line);
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
        case 'read':
          await this.markCurrentRead(true);
          break;
        case 'who':
          await this.who();
          break;
        case 'send':
          // The rest of the line is the path, spaces and all.
          this.sendFile(line.slice(1 + command.length).trim());
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
    if (summaries.length === 0) {
      this.terminal.print('* no conversations yet: /dm <userId> or /new-group <name> <members>');
      return;
    }
    const lines = summaries.map((summary) => {
      const marker = summary.id === this.currentConversationId ? '>' : ' ';
      const unread = summary.unread > 0 ? `${summary.unread} unread` : 'read';
      const id = summary.kind === 'group' ? `  (id ${summary.id}, ${summary.memberCount} members)` : '';
      const left = summary.active ? '' : '  (left)';
      const last = summary.lastMessage?.text === undefined ? '' : `  last: ${clean(summary.lastMessage.senderId)}: ${clean(summary.lastMessage.text.slice(0, 40))}`;
      return `${marker} ${conversationLabel(summary, summary.id)}  ${unread}${id}${left}${last}`;
    });
    this.terminal.print(`${lines.join('\n')}\n  total unread: ${this.client.totalUnread}`);
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
    this.terminal.print(messages.map((message) => formatMessage(message, label, { withTime: true, selfId: this.client.userId })).join('\n'));
    await this.markCurrentRead(false);
  }

  private async who(): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    const members = await this.client.members(conversationId);
    const described = members.map((member) => (member.role === 'member' ? member.userId : `${member.userId} (${member.role})`));
    this.terminal.print(`* ${members.length} in ${this.label(conversationId)}: ${described.join(', ')}`);
  }

  private async markCurrentRead(announce: boolean): Promise<void> {
    const conversationId = this.requireCurrent();
    if (conversationId === undefined) return;
    await this.client.markRead(conversationId);
    if (announce) this.terminal.print(`* ${this.label(conversationId)} marked read (total unread ${this.client.totalUnread})`);
  }

  private showMessage(message: Message): void {
    this.terminal.print(formatMessage(message, this.label(message.conversationId), { selfId: this.client.userId }));
    if (message.conversationId === this.currentConversationId && message.senderId !== this.client.userId) this.scheduleMarkRead();
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

  private requireCurrent(): string | undefined {
    if (this.currentConversationId === undefined) this.terminal.print('! no conversation selected: /dm <userId> or /group <groupId> first');
    return this.currentConversationId;
  }

  private summary(conversationId: string): ConversationSummary | undefined {
    return this.client.conversations().find((summary) => summary.id === conversationId);
  }

  private label(conversationId: string): string {
    return conversationLabel(this.summary(conversationId), conversationId);
  }
}

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
