/**
 * A tiny in-memory Parley server for the SDK's tests: real WebSocket (ws, port
 * 0) and TCP listeners speaking the wire protocol, with just enough behaviour
 * (dense seqs, clientMsgId dedupe, sync, pull, read positions, pushes) and
 * switches to inject faults (lost acks, silence, skipped pushes). The real
 * server's end-to-end tests live elsewhere; this one exists so the client's
 * reconnect and retry logic can be exercised over real sockets.
 *
 * Tokens are user ids; "bad" is refused, "expired:<user>" is expired.
 */
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  ConversationKind,
  LengthPrefixedReader,
  MessageType,
  Role,
  decodePacket,
  encodeFrameEntry,
  errorInfoByName,
  lengthPrefixed,
  type ConversationSummary,
  type ErrorName,
  type Frame,
  type FrameBody,
  type Message,
} from '@parley/protocol';
import { WebSocketServer, type WebSocket } from 'ws';

interface Membership {
  role: Role;
  readSeq: number;
  firstSeq: number;
  leftSeq: number;
  version: number;
}

interface Conversation {
  id: string;
  kind: ConversationKind;
  name: string;
  members: Map<string, Membership>;
  messages: Message[];
  version: number;
}

export interface FakeConnection {
  userId: string | undefined;
  write(frame: Frame): void;
  close(): void;
  /** Frames received from the client, in order. */
  received: Frame[];
}

export interface FaultSwitches {
  /** Store the next send, then drop the connection instead of acknowledging it. */
  loseNextSendAck?: boolean;
  /** Answer nothing at all (not even pongs), as a dead peer would. */
  silent?: boolean;
  /** Do not push the next message to this user. */
  skipNextPushTo?: string;
  /** Answer sends with this error once. */
  failNextSendWith?: { name: ErrorName; retryAfterMs?: number };
}

export class FakeServer {
  readonly conversations = new Map<string, Conversation>();
  readonly connections = new Set<FakeConnection>();
  readonly faults: FaultSwitches = {};
  /** Every hello the server saw, in order (token per connection). */
  readonly hellos: string[] = [];
  heartbeatIntervalMs = 25_000;
  maxPullLimit = 500;
  private version = 0;
  private nextMessageId = 1;
  private readonly stored = new Map<string, Message>();
  private wss: WebSocketServer | undefined;
  private tcp: TcpServer | undefined;
  private readonly sockets = new Set<Socket>();

  async listenWebSocket(): Promise<string> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws', perMessageDeflate: false });
    this.wss = wss;
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (socket: WebSocket) => {
      const connection: FakeConnection = {
        userId: undefined,
        received: [],
        write: (frame) => socket.send(encodeFrameEntry(frame)),
        close: () => socket.terminate(),
      };
      this.connections.add(connection);
      socket.on('message', (data: Buffer) => this.receive(connection, new Uint8Array(data)));
      socket.on('close', () => this.connections.delete(connection));
    });
    return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  }

  async listenTcp(): Promise<string> {
    const tcp = createServer((socket) => {
      this.sockets.add(socket);
      const reader = new LengthPrefixedReader(1 << 20);
      const connection: FakeConnection = {
        userId: undefined,
        received: [],
        write: (frame) => socket.write(lengthPrefixed(encodeFrameEntry(frame))),
        close: () => socket.destroy(),
      };
      this.connections.add(connection);
      socket.on('data', (chunk) => {
        for (const packet of reader.push(chunk)) this.receive(connection, packet);
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.connections.delete(connection);
      });
    });
    this.tcp = tcp;
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
    return `tcp://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
  }

  /** Drops every client connection (the server stays up). */
  dropAll(): void {
    for (const connection of [...this.connections]) connection.close();
  }

  async close(): Promise<void> {
    this.dropAll();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => (this.wss === undefined ? resolve() : this.wss.close(() => resolve()))),
      new Promise<void>((resolve) => (this.tcp === undefined ? resolve() : this.tcp.close(() => resolve()))),
    ]);
  }

  // ---- data setup and inspection ----

  createGroup(id: string, ownerId: string, memberIds: string[], name = id): void {
    const members = new Map<string, Membership>();
    const version = ++this.version;
    members.set(ownerId, { role: Role.ROLE_OWNER, readSeq: 0, firstSeq: 1, leftSeq: 0, version });
    for (const memberId of memberIds) members.set(memberId, { role: Role.ROLE_MEMBER, readSeq: 0, firstSeq: 1, leftSeq: 0, version });
    this.conversations.set(id, { id, kind: ConversationKind.CONVERSATION_KIND_GROUP, name, members, messages: [], version });
  }

  /** Commits a message as `senderId` and pushes it, as if another client sent it. */
  post(conversationId: string, senderId: string, text: string, visibleTo = ''): Message {
    return this.commit(conversationId, senderId, `srv-${this.nextMessageId}`, { text }, visibleTo, undefined);
  }

  messagesIn(conversationId: string): Message[] {
    return this.conversations.get(conversationId)?.messages ?? [];
  }

  // ---- protocol ----

  private receive(connection: FakeConnection, packet: Uint8Array): void {
    for (const frame of decodePacket(packet)) {
      connection.received.push(frame);
      if (this.faults.silent) continue;
      this.handle(connection, frame);
    }
  }

  private reply(connection: FakeConnection, requestId: number, body: FrameBody): void {
    connection.write({ requestId, body });
  }

  private error(connection: FakeConnection, requestId: number, name: ErrorName, fatal = false, retryAfterMs = 0): void {
    const info = errorInfoByName(name);
    this.reply(connection, requestId, { $case: 'error', value: { code: info.code, name, message: name.toLowerCase(), retryAfterMs, fatal } });
    if (fatal) setTimeout(() => connection.close(), 10);
  }

  private handle(connection: FakeConnection, frame: Frame): void {
    const body = frame.body;
    if (body === undefined) return;
    const id = frame.requestId;
    if (connection.userId === undefined) {
      if (body.$case !== 'hello') return this.error(connection, id, 'BAD_FRAME', true);
      this.hellos.push(body.value.token);
      if (body.value.token === 'bad') return this.error(connection, id, 'UNAUTHENTICATED', true);
      if (body.value.token.startsWith('expired:')) return this.error(connection, id, 'TOKEN_EXPIRED', true);
      connection.userId = body.value.token;
      return this.reply(connection, id, {
        $case: 'welcome',
        value: {
          protocolVersion: 1,
          userId: connection.userId,
          sessionId: `s${this.hellos.length}`,
          heartbeatIntervalMs: this.heartbeatIntervalMs,
          limits: { maxFrameBytes: 262144, maxTextChars: 8000, maxDataBytes: 65536, maxPullLimit: this.maxPullLimit, maxGroupMembers: 1000 },
          serverVersion: 'fake',
        },
      });
    }
    const userId = connection.userId;
    switch (body.$case) {
      case 'ping':
        return this.reply(connection, id, { $case: 'pong', value: { nonce: body.value.nonce } });
      case 'sync': {
        const since = body.value.sinceVersion;
        const conversations = [...this.conversations.values()]
          .filter((c) => c.members.has(userId) && Math.max(c.version, c.members.get(userId)?.version ?? 0) > since)
          .map((c) => this.summary(c, userId));
        return this.reply(connection, id, {
          $case: 'syncResult',
          value: { version: this.version, conversations, totalUnread: conversations.reduce((n, s) => n + s.unread, 0) },
        });
      }
      case 'pull': {
        const conversation = this.conversations.get(body.value.conversationId);
        const member = conversation?.members.get(userId);
        if (conversation === undefined || member === undefined) return this.error(connection, id, 'FORBIDDEN');
        const lastSeq = conversation.messages.length;
        const readableTo = member.leftSeq > 0 ? Math.min(lastSeq, member.leftSeq) : lastSeq;
        const limit = Math.min(body.value.limit || this.maxPullLimit, this.maxPullLimit);
        const to = Math.min(body.value.toSeq === 0 ? readableTo : body.value.toSeq, readableTo);
        const from = Math.max(body.value.fromSeq, member.firstSeq, 1);
        if (body.value.descending) {
          const messages = conversation.messages
            .filter((m) => m.seq >= from && m.seq <= to && (m.visibleTo === '' || m.visibleTo === userId))
            .slice(-limit);
          return this.reply(connection, id, {
            $case: 'pullResult',
            value: { messages, coveredFrom: messages[0]?.seq ?? 0, coveredTo: to, lastSeq },
          });
        }
        const coveredTo = Math.min(to, from + limit - 1);
        const messages = conversation.messages.filter((m) => m.seq >= from && m.seq <= coveredTo).map((m) => this.asSeenBy(m, userId));
        return this.reply(connection, id, {
          $case: 'pullResult',
          value: { messages, coveredFrom: from, coveredTo: coveredTo >= from ? coveredTo : 0, lastSeq },
        });
      }
      case 'send': {
        if (this.faults.failNextSendWith !== undefined) {
          const { name, retryAfterMs } = this.faults.failNextSendWith;
          this.faults.failNextSendWith = undefined;
          return this.error(connection, id, name, false, retryAfterMs ?? 0);
        }
        const conversation = this.conversations.get(body.value.conversationId);
        if (conversation === undefined) return this.error(connection, id, 'NOT_FOUND');
        const member = conversation.members.get(userId);
        if (member === undefined || member.leftSeq > 0) return this.error(connection, id, 'FORBIDDEN');
        const key = `${userId}\u0000${body.value.clientMsgId}`;
        const original = this.stored.get(key);
        if (original !== undefined) {
          return this.reply(connection, id, { $case: 'sendAck', value: { message: original, duplicate: true } });
        }
        const content: { text?: string; data?: Uint8Array } = {};
        if (body.value.text !== undefined) content.text = body.value.text;
        if (body.value.data !== undefined) content.data = body.value.data;
        const message = this.commit(conversation.id, userId, body.value.clientMsgId, content, '', connection);
        if (this.faults.loseNextSendAck) {
          this.faults.loseNextSendAck = false;
          connection.close();
          return;
        }
        return this.reply(connection, id, { $case: 'sendAck', value: { message, duplicate: false } });
      }
      case 'markRead': {
        const conversation = this.conversations.get(body.value.conversationId);
        const member = conversation?.members.get(userId);
        if (conversation === undefined || member === undefined) return this.error(connection, id, 'FORBIDDEN');
        const lastSeq = conversation.messages.length;
        const seq = body.value.seq === 0 ? lastSeq : Math.min(body.value.seq, lastSeq);
        member.readSeq = Math.max(member.readSeq, seq);
        member.version = ++this.version;
        const summary = this.summary(conversation, userId);
        this.reply(connection, id, {
          $case: 'readResult',
          value: { conversationId: conversation.id, readSeq: member.readSeq, unread: summary.unread, totalUnread: summary.unread },
        });
        for (const other of this.connections) {
          if (other !== connection && other.userId === userId) {
            other.write({ requestId: 0, body: { $case: 'conversationChanged', value: { summary, totalUnread: summary.unread } } });
          }
        }
        return;
      }
      case 'delivered':
        return;
      default:
        return this.error(connection, id, 'INVALID_ARGUMENT');
    }
  }

  private commit(
    conversationId: string,
    senderId: string,
    clientMsgId: string,
    content: { text?: string; data?: Uint8Array },
    visibleTo: string,
    sendingConnection: FakeConnection | undefined,
  ): Message {
    const conversation = this.conversations.get(conversationId);
    if (conversation === undefined) throw new Error(`no conversation ${conversationId}`);
    const message: Message = {
      id: `m${this.nextMessageId++}`,
      conversationId,
      seq: conversation.messages.length + 1,
      senderId,
      clientMsgId,
      type: MessageType.MESSAGE_TYPE_USER,
      ...content,
      createdAt: Date.now(),
      visibleTo,
      hidden: false,
    };
    conversation.messages.push(message);
    conversation.version = ++this.version;
    this.stored.set(`${senderId}\u0000${clientMsgId}`, message);
    const sender = conversation.members.get(senderId);
    if (sender !== undefined) sender.readSeq = message.seq;
    for (const connection of this.connections) {
      if (connection === sendingConnection || connection.userId === undefined || !conversation.members.has(connection.userId)) continue;
      if (this.faults.skipNextPushTo === connection.userId) {
        this.faults.skipNextPushTo = undefined;
        continue;
      }
      connection.write({ requestId: 0, body: { $case: 'push', value: this.asSeenBy(message, connection.userId) } });
    }
    return message;
  }

  private asSeenBy(message: Message, userId: string): Message {
    if (message.visibleTo === '' || message.visibleTo === userId) return message;
    return {
      id: '',
      conversationId: message.conversationId,
      seq: message.seq,
      senderId: '',
      clientMsgId: '',
      type: MessageType.MESSAGE_TYPE_UNSPECIFIED,
      createdAt: 0,
      visibleTo: '',
      hidden: true,
    };
  }

  private summary(conversation: Conversation, userId: string): ConversationSummary {
    const member = conversation.members.get(userId) as Membership;
    const visible = conversation.messages.filter((m) => m.visibleTo === '' || m.visibleTo === userId);
    const unread = visible.filter(
      (m) => m.seq > member.readSeq && m.senderId !== userId && m.type === MessageType.MESSAGE_TYPE_USER,
    ).length;
    const summary: ConversationSummary = {
      id: conversation.id,
      kind: conversation.kind,
      name: conversation.name,
      subject: '',
      peerId: '',
      lastSeq: conversation.messages.length,
      readSeq: member.readSeq,
      unread,
      role: member.role,
      firstSeq: member.firstSeq,
      leftSeq: member.leftSeq,
      active: member.leftSeq === 0,
      updatedAt: visible[visible.length - 1]?.createdAt ?? 1,
      memberCount: conversation.members.size,
    };
    const lastMessage = visible[visible.length - 1];
    if (lastMessage !== undefined) summary.lastMessage = lastMessage;
    return summary;
  }
}
