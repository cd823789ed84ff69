/**
 * A model test of the sync engine and the conversation list together, under
 * random interleavings of what a connection can deliver: pushes (delayed
 * behind replies, as a server that coalesces pushes may), pull and sync
 * results computed from snapshots taken at any moment, reads from the user's
 * other devices, sends from this device and from the others, hidden messages,
 * conversations born mid-stream, and reconnects that drop everything in
 * flight.
 *
 * The server side is a trivially correct model: arrays of messages and a read
 * position. The client side is the SDK's pure parts, wired the way the client
 * wires them (first sight tracked from the summary with initialSyncedSeq, held
 * pushes, gap pulls, catch-up after sync). After the run settles, what the
 * client emitted and shows must agree with the model exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConversationList } from '../src/conversations.js';
import { SyncEngine, initialSyncedSeq, type SyncStep } from '../src/sync-engine.js';
import type { ConversationSummary, Message } from '../src/types.js';

const SELF = 'me';
const PEER = 'peer';
const BACKLOG = 1_000;
const PULL_LIMIT = 3;

interface ModelMessage {
  seq: number;
  hidden: boolean;
  conversationId: string;
  senderId: string;
  type: 'user' | 'system';
}

interface ModelConversation {
  id: string;
  messages: ModelMessage[];
  firstSeq: number;
  readSeq: number;
  /** Created after this client's first sync. */
  bornLive: boolean;
}

type Frame =
  | { kind: 'push'; message: ModelMessage }
  | { kind: 'sync'; summaries: ConversationSummary[] }
  | { kind: 'changed'; summary: ConversationSummary }
  | { kind: 'pull'; conversationId: string; messages: ModelMessage[]; coveredFrom: number; coveredTo: number; lastSeq: number };

type Request = { kind: 'sync' } | { kind: 'pull'; conversationId: string; fromSeq: number; toSeq: number };

/** The server, trivially: every message of every conversation, and this user's read positions. */
class ServerModel {
  readonly conversations = new Map<string, ModelConversation>();

  summary(conversation: ModelConversation): ConversationSummary {
    const lastSeq = conversation.messages.length;
    const visible = conversation.messages.filter((message) => message.seq >= conversation.firstSeq && !message.hidden);
    const last = visible[visible.length - 1];
    const unread = visible.filter((message) => message.type === 'user' && message.senderId !== SELF && message.seq > conversation.readSeq).length;
    const summary: ConversationSummary = {
      id: conversation.id,
      kind: 'group',
      name: conversation.id,
      lastSeq,
      readSeq: conversation.readSeq,
      unread,
      role: 'member',
      firstSeq: conversation.firstSeq,
      active: true,
      updatedAt: lastSeq,
      memberCount: 2,
      attributes: {},
    };
    if (last !== undefined) summary.lastMessage = toPublic(last);
    return summary;
  }

  append(conversation: ModelConversation, senderId: string, type: 'user' | 'system', hidden: boolean): ModelMessage {
    const message: ModelMessage = { seq: conversation.messages.length + 1, hidden, conversationId: conversation.id, senderId, type };
    conversation.messages.push(message);
    // Sending marks the conversation read for the sender, on every device.
    if (senderId === SELF) conversation.readSeq = message.seq;
    return message;
  }

  pull(request: Extract<Request, { kind: 'pull' }>): Frame {
    const conversation = this.conversations.get(request.conversationId) as ModelConversation;
    const lastSeq = conversation.messages.length;
    const low = Math.max(request.fromSeq, conversation.firstSeq, 1);
    const high = Math.min(request.toSeq, lastSeq);
    const messages = conversation.messages.slice(low - 1, high).slice(0, PULL_LIMIT);
    const coveredTo = messages.length === PULL_LIMIT ? (messages[messages.length - 1] as ModelMessage).seq : high;
    return { kind: 'pull', conversationId: conversation.id, messages, coveredFrom: low, coveredTo, lastSeq };
  }
}

function toPublic(message: ModelMessage): Message {
  return {
    id: `${message.conversationId}/${message.seq}`,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    clientMsgId: `${message.conversationId}/${message.seq}`,
    type: message.type,
    createdAt: message.seq,
  };
}

/** The SDK's pure parts, wired as ParleyClient wires them. */
class ClientModel {
  readonly engine = new SyncEngine<ModelMessage>();
  readonly list = new ConversationList();
  readonly emitted = new Map<string, number[]>();
  /** Messages that reached this client (pushes and acks), per conversation. */
  readonly received = new Map<string, Set<number>>();
  /** Where each conversation started for the 'login' rule, when it was first seen at login. */
  readonly loginStart = new Map<string, number>();
  hasBeenOpen = false;
  syncInFlight = false;
  syncAgain = false;
  readonly requests: Request[] = [];

  requestSync(): void {
    if (this.syncInFlight) {
      this.syncAgain = true;
      return;
    }
    this.syncInFlight = true;
    this.requests.push({ kind: 'sync' });
  }

  deliver(frame: Frame): void {
    switch (frame.kind) {
      case 'push': {
        const { message } = frame;
        const seen = this.received.get(message.conversationId) ?? new Set<number>();
        this.received.set(message.conversationId, seen);
        seen.add(message.seq);
        const result = this.engine.receive(message.conversationId, message);
        if (result.untracked) {
          this.requestSync();
          return;
        }
        this.applyStep(message.conversationId, result);
        this.maybePull(message.conversationId);
        return;
      }
      case 'sync': {
        this.syncInFlight = false;
        for (const summary of frame.summaries) this.applyServerSummary(summary, true);
        this.hasBeenOpen = true;
        for (const conversationId of this.engine.conversationsWantingPull()) this.maybePull(conversationId);
        if (this.syncAgain) {
          this.syncAgain = false;
          this.requestSync();
        }
        return;
      }
      case 'changed':
        this.applyServerSummary(frame.summary, false);
        return;
      case 'pull': {
        const step = this.engine.applyPull(frame.conversationId, frame);
        this.applyStep(frame.conversationId, step);
        this.maybePull(frame.conversationId);
        return;
      }
    }
  }

  reconnect(): void {
    this.requests.length = 0;
    this.syncInFlight = false;
    this.syncAgain = false;
    this.engine.abortPulls();
    this.requestSync();
  }

  private applyServerSummary(summary: ConversationSummary, catchUp: boolean): void {
    this.list.applyServerSummary(summary);
    const merged = this.list.get(summary.id) as ConversationSummary;
    if (!this.engine.isTracked(summary.id)) {
      const mode = this.hasBeenOpen ? 'live' : 'login';
      const start = initialSyncedSeq(merged, BACKLOG, mode);
      if (mode === 'login') this.loginStart.set(summary.id, start);
      this.applyStep(summary.id, this.engine.track(summary.id, start, merged.lastSeq));
    } else if (catchUp) {
      this.engine.catchUp(summary.id, merged.lastSeq);
    }
    this.maybePull(summary.id);
  }

  private applyStep(conversationId: string, step: SyncStep<ModelMessage>): void {
    for (const message of step.messages) {
      this.list.applyMessage(toPublic(message), SELF);
      const seqs = this.emitted.get(conversationId) ?? [];
      this.emitted.set(conversationId, seqs);
      seqs.push(message.seq);
    }
    if (step.lastAppliedSeq > 0) this.list.advanceLastSeq(conversationId, step.lastAppliedSeq);
  }

  private maybePull(conversationId: string): void {
    const range = this.engine.startPull(conversationId);
    if (range !== undefined) this.requests.push({ kind: 'pull', conversationId, ...range });
  }
}

/** One step of the run, chosen by fast-check. */
type Operation =
  | { op: 'send'; conversation: number; sender: 'peer' | 'self-other-device' | 'self-this-device'; hidden: boolean; system: boolean }
  | { op: 'create'; firstSeqOffset: number }
  | { op: 'flushPushes' }
  | { op: 'serve' }
  | { op: 'deliver' }
  | { op: 'readElsewhere'; back: number }
  | { op: 'reconnect' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      conversation: fc.nat(3),
      sender: fc.constantFrom('peer' as const, 'self-other-device' as const, 'self-this-device' as const),
      hidden: fc.boolean(),
      system: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('create' as const), firstSeqOffset: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'flushPushes' as const }) },
  { weight: 4, arbitrary: fc.constant({ op: 'serve' as const }) },
  { weight: 6, arbitrary: fc.constant({ op: 'deliver' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('readElsewhere' as const), back: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reconnect' as const }) },
);

interface Run {
  server: ServerModel;
  client: ClientModel;
}

function run(initialMessages: number, initialRead: number, operations: Operation[]): Run {
  const server = new ServerModel();
  const client = new ClientModel();
  const order: ModelConversation[] = [];
  const channel: Frame[] = [];
  /** Pushes committed but not yet written to the connection (a server coalescing writes). */
  let pendingPushes: Frame[] = [];

  // One conversation exists before the client logs in.
  const existing: ModelConversation = { id: 'c0', messages: [], firstSeq: 1, readSeq: 0, bornLive: false };
  server.conversations.set(existing.id, existing);
  order.push(existing);
  for (let index = 0; index < initialMessages; index += 1) server.append(existing, index % 3 === 0 ? SELF : PEER, 'user', false);
  existing.readSeq = Math.max(existing.readSeq, Math.min(initialRead, existing.messages.length));

  client.requestSync();

  const serveOne = (): void => {
    const request = client.requests.shift();
    if (request === undefined) return;
    if (request.kind === 'sync') channel.push({ kind: 'sync', summaries: order.map((conversation) => server.summary(conversation)) });
    else channel.push(server.pull(request));
  };
  const commit = (conversation: ModelConversation, senderId: string, type: 'user' | 'system', hidden: boolean, thisDevice: boolean): void => {
    const message = server.append(conversation, senderId, type, hidden);
    if (message.seq < conversation.firstSeq) return;
    // The sending device gets its own message in the ack, in order with the replies.
    if (thisDevice) channel.push({ kind: 'push', message });
    else pendingPushes.push({ kind: 'push', message });
  };

  for (const step of operations) {
    switch (step.op) {
      case 'send': {
        const conversation = order[step.conversation % order.length] as ModelConversation;
        const thisDevice = step.sender === 'self-this-device';
        // This device only sends in conversations it knows about.
        if (thisDevice && !client.engine.isTracked(conversation.id)) break;
        const senderId = step.sender === 'peer' ? PEER : SELF;
        commit(conversation, senderId, step.system ? 'system' : 'user', step.hidden && !thisDevice && senderId === PEER, thisDevice);
        break;
      }
      case 'create': {
        // A conversation born mid-stream; the user may join after its first messages.
        const conversation: ModelConversation = {
          id: `c${order.length}`,
          messages: [],
          firstSeq: 1 + step.firstSeqOffset,
          readSeq: 0,
          bornLive: client.hasBeenOpen,
        };
        server.conversations.set(conversation.id, conversation);
        order.push(conversation);
        for (let index = 0; index < step.firstSeqOffset; index += 1) server.append(conversation, PEER, 'user', false);
        conversation.readSeq = step.firstSeqOffset;
        commit(conversation, PEER, 'system', false, false);
        break;
      }
      case 'flushPushes':
        channel.push(...pendingPushes);
        pendingPushes = [];
        break;
      case 'serve':
        serveOne();
        break;
      case 'deliver': {
        const frame = channel.shift();
        if (frame !== undefined) client.deliver(frame);
        break;
      }
      case 'readElsewhere': {
        const conversation = order[order.length - 1] as ModelConversation;
        const target = Math.max(conversation.readSeq, conversation.messages.length - step.back);
        if (target > conversation.readSeq) {
          conversation.readSeq = target;
          pendingPushes.push({ kind: 'changed', summary: server.summary(conversation) });
        }
        break;
      }
      case 'reconnect':
        channel.length = 0;
        pendingPushes = [];
        client.reconnect();
        break;
    }
  }

  // Settle: everything committed is written, every request answered, and a
  // last sync brings the summaries up to date, as a client that stays
  // connected would see it.
  const settle = (): void => {
    for (let guard = 0; guard < 10_000; guard += 1) {
      channel.push(...pendingPushes);
      pendingPushes = [];
      if (channel.length > 0) client.deliver(channel.shift() as Frame);
      else if (client.requests.length > 0) serveOne();
      else return;
    }
    assert.fail('did not settle');
  };
  settle();
  client.requestSync();
  settle();
  return { server, client };
}

function checkAgainstModel({ server, client }: Run): void {
  let total = 0;
  for (const conversation of server.conversations.values()) {
    const emitted = client.emitted.get(conversation.id) ?? [];
    const visible = conversation.messages.filter((message) => message.seq >= conversation.firstSeq && !message.hidden).map((message) => message.seq);

    // Once, in order.
    for (let index = 1; index < emitted.length; index += 1) {
      assert.ok((emitted[index] as number) > (emitted[index - 1] as number), `${conversation.id}: emitted out of order or twice: ${emitted.join(',')}`);
    }
    // No hole: from its first emitted message on, a conversation shows every visible message.
    const first = emitted[0];
    if (first !== undefined) {
      assert.deepEqual(emitted, visible.filter((seq) => seq >= first), `${conversation.id}: a hole in what was emitted`);
    }
    // Where it starts: a conversation first seen after login shows everything
    // from the user's join; one seen at login everything after its start.
    const start = conversation.bornLive ? conversation.firstSeq - 1 : (client.loginStart.get(conversation.id) ?? 0);
    assert.deepEqual(
      emitted.filter((seq) => seq > start),
      visible.filter((seq) => seq > start),
      `${conversation.id}: not every message after its start (${start}) was emitted`,
    );
    // Every message that reached this client after it started is emitted.
    for (const seq of client.received.get(conversation.id) ?? []) {
      if (seq > start && visible.includes(seq)) assert.ok(emitted.includes(seq), `${conversation.id}: received ${seq} but never emitted it`);
    }

    // The list agrees with the server.
    const expected = server.summary(conversation);
    const shown = client.list.get(conversation.id);
    assert.ok(shown !== undefined, `${conversation.id}: missing from the list`);
    assert.equal(shown.lastSeq, expected.lastSeq, `${conversation.id}: lastSeq`);
    assert.equal(shown.readSeq, expected.readSeq, `${conversation.id}: readSeq`);
    assert.equal(shown.unread, expected.unread, `${conversation.id}: unread`);
    assert.equal(client.engine.syncedSeq(conversation.id), expected.lastSeq, `${conversation.id}: synced`);
    total += expected.unread;
  }
  assert.equal(client.list.totalUnread, total, 'total unread');
}

describe('sync engine and conversation list against a model', () => {
  it('emit every message once, in order, without holes, and agree with the server, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.nat(8), fc.nat(8), fc.array(operation, { minLength: 10, maxLength: 150, size: 'max' }), (initialMessages, initialRead, operations) => {
        checkAgainstModel(run(initialMessages, initialRead, operations));
      }),
      { numRuns: 2000 },
    );
  });

  it('a conversation met mid-stream, its pushes behind a sync answer that already counts them read', () => {
    // The first-sight race: this user's other device sends 1 and 2; push 1
    // arrives, the sync it triggers is answered after 2 was committed (read,
    // since the user sent it), and push 2 arrives after that answer.
    const operations: Operation[] = [
      { op: 'serve' },
      { op: 'deliver' },
      { op: 'create', firstSeqOffset: 0 },
      { op: 'flushPushes' },
      { op: 'deliver' },
      { op: 'send', conversation: 1, sender: 'self-other-device', hidden: false, system: false },
      { op: 'send', conversation: 1, sender: 'self-other-device', hidden: false, system: false },
      { op: 'serve' },
      { op: 'flushPushes' },
      { op: 'deliver' },
    ];
    const result = run(0, 0, operations);
    checkAgainstModel(result);
    assert.deepEqual(result.client.emitted.get('c1'), [1, 2, 3]);
  });
});
