/**
 * ParleyClient against a real Parley server on port 0: what an application
 * relies on, above all when the network misbehaves. Each message arrives once
 * and in order, a send whose ack was lost is retried with the same
 * clientMsgId and stored once, a missing push is pulled, the client
 * reconnects by itself and stops on fatal errors. Faults come from the
 * FaultProxy (resets, dead NATs, cut acks, refused connections) or, for a
 * push that never leaves the server, from a Bus adapter that loses one event;
 * long protocol waits run on a ManualClock.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import {
  type ClientState,
  ManualClock,
  type Message,
  ParleyClient,
  type ParleyClientOptions,
  ParleyError,
} from '@parley/client';
import { type Bus, type BusEvent, type BusHandler, LocalBus, type ServerOptions } from '@parley/server';
import { WebSocket } from 'ws';
// The browser entry (bundlers pick it by the `browser` condition; the
// `./browser` subpath names it for everyone else, Node tests included).
import { ParleyClient as BrowserParleyClient } from '@parley/client/browser';
import { proxyInFront } from '../support/devices.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';

const FAST_RECONNECT = { minDelayMs: 10, maxDelayMs: 50 };

interface Device {
  client: ParleyClient;
  messages: Message[];
  states: ClientState[];
  errors: ParleyError[];
}

/** A client that records what it emits; closed after the test. Not connected yet. */
function device(t: TestContext, url: string, token: ParleyClientOptions['token'], extra: Partial<ParleyClientOptions> = {}): Device {
  const client = new ParleyClient({ url, token, reconnect: FAST_RECONNECT, requestTimeoutMs: 5000, ...extra });
  t.after(() => client.close());
  const recorded: Device = { client, messages: [], states: [], errors: [] };
  client.on('message', (message) => recorded.messages.push(message));
  client.on('state', ({ state }) => recorded.states.push(state));
  client.on('error', (error) => recorded.errors.push(error));
  return recorded;
}

/** A token function that mints a fresh token for `userId` on every (re)connect. */
function tokenOf(fixture: TestServer, userId: string): () => Promise<string> {
  return () => fixture.api.token(userId);
}

/** A server with these users; closed (and its data removed) after the test. */
async function serverWith(t: TestContext, userIds: string[], options: ServerOptions = {}): Promise<TestServer> {
  const fixture = await startTestServer(t, options);
  for (const id of userIds) await fixture.api.createUser(id);
  return fixture;
}

/** Posts a message as `senderId` through the admin API, as the integrator's backend (or another client) would. */
async function post(fixture: TestServer, conversationId: string, senderId: string, text: string, visibleTo?: string): Promise<Message> {
  const body: Record<string, string> = { senderId, text };
  if (visibleTo !== undefined) body.visibleTo = visibleTo;
  const { status, body: reply } = await fixture.api.call('POST', `/v1/conversations/${conversationId}/messages`, body);
  if (status !== 201) throw new Error(`post: ${status} ${JSON.stringify(reply)}`);
  return reply.message as Message;
}

/** The user messages a device emitted (group creation events left out), optionally of one conversation. */
function userMessages(recorded: Device, conversationId?: string): Message[] {
  return recorded.messages.filter((message) => message.type === 'user' && (conversationId === undefined || message.conversationId === conversationId));
}

const textsOf = (messages: readonly Message[]) => messages.map((message) => message.text);
const seqsOf = (messages: readonly Message[]) => messages.map((message) => message.seq);
const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

function isCode(codeName: string): (error: unknown) => boolean {
  return (error) => error instanceof ParleyError && error.codeName === codeName;
}

/** Moves a manual clock in steps, letting real I/O run between them. */
async function advance(clock: ManualClock, totalMs: number, stepMs = 1_000): Promise<void> {
  for (let moved = 0; moved < totalMs; moved += stepMs) {
    clock.advance(Math.min(stepMs, totalMs - moved));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A Bus that can lose the next committed message event, as an at-most-once
 * cluster bus may: the message is stored, but no node pushes it to anyone.
 */
class LossyBus implements Bus {
  private readonly inner = new LocalBus();
  private messagesToLose = 0;

  loseNextMessage(): void {
    this.messagesToLose += 1;
  }

  publish(event: BusEvent): void {
    if (event.type === 'message' && this.messagesToLose > 0) {
      this.messagesToLose -= 1;
      return;
    }
    this.inner.publish(event);
  }

  subscribe(handler: BusHandler): () => void {
    return this.inner.subscribe(handler);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('SDK against a real server: connecting and receiving', () => {
  test('connects, loads the conversation list and reports its states', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ id: 'g1', name: 'g1', ownerId: 'alice', memberIds: ['bob'] });
    await post(fixture, groupId, 'bob', 'hi');
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'));
    assert.equal(alice.client.state, 'idle');
    await alice.client.connect();
    assert.equal(alice.client.state, 'open');
    assert.equal(alice.client.userId, 'alice');
    assert.deepEqual(alice.states, ['connecting', 'open']);
    const summary = alice.client.conversation(groupId);
    assert.equal(summary?.lastSeq, 2, 'the creation event, then the message');
    assert.equal(summary?.unread, 1);
    assert.equal(alice.client.totalUnread, 1);
    assert.deepEqual(alice.client.conversations().map((s) => s.id), [groupId]);
    // The unread message arrives as an event on login, after the group's creation event it follows.
    await eventually(() => alice.messages.length === 2, 3000, 'the backlog');
    assert.deepEqual(seqsOf(alice.messages), [1, 2]);
    assert.equal(alice.messages[0]?.system?.type, 'group_created');
    assert.equal(alice.messages[1]?.text, 'hi');
  });

  test('accepts a WebSocket URL without the /ws path', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    const bare = fixture.server.wsUrl.replace(/\/ws$/, '');
    for (const url of [bare, `${bare}/`]) {
      const alice = device(t, url, tokenOf(fixture, 'alice'));
      await alice.client.connect();
      assert.equal(alice.client.state, 'open', url);
      await alice.client.close();
    }
  });

  test('delivers messages from others and own sends exactly once, in seq order', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'));
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    const acked = await Promise.all([alice.client.send(groupId, { text: 'a1' }), alice.client.send(groupId, { text: 'a2' })]);
    await post(fixture, groupId, 'bob', 'b3');
    assert.deepEqual(seqsOf(acked), [2, 3]);
    assert.equal(acked[0]?.senderId, 'alice');
    await eventually(() => userMessages(alice).length === 3 && userMessages(bob).length === 3, 3000, 'three messages on both');
    await settle();
    for (const recorded of [alice, bob]) {
      assert.deepEqual(seqsOf(userMessages(recorded)), [2, 3, 4]);
      assert.deepEqual(textsOf(userMessages(recorded)), ['a1', 'a2', 'b3']);
    }
    assert.equal(alice.client.conversation(groupId)?.unread, 1);
    // Bob's own message marks everything before it read.
    assert.equal(bob.client.conversation(groupId)?.unread, 0);
    assert.equal(bob.client.conversation(groupId)?.readSeq, 4);
    assert.equal(alice.client.conversation(groupId)?.readSeq, 3);
    assert.equal(alice.client.conversation(groupId)?.lastMessage?.text, 'b3');
  });

  test('a conversation first seen through a push is synced, then its message is emitted', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    const conversationEvents: string[] = [];
    bob.client.on('conversation', (summary) => conversationEvents.push(summary.id));
    const groupId = await fixture.api.createGroup({ name: 'late', ownerId: 'alice', memberIds: ['bob'] });
    await post(fixture, groupId, 'alice', 'surprise');
    await eventually(() => userMessages(bob).length === 1, 3000, 'the message in the new conversation');
    assert.equal(userMessages(bob)[0]?.text, 'surprise');
    // Everything from bob's join is emitted, in order: the creation event, then the message.
    assert.deepEqual(seqsOf(bob.messages), [1, 2]);
    assert.equal(bob.client.conversation(groupId)?.unread, 1);
    assert.ok(conversationEvents.includes(groupId));
  });

  test("this device's own send to a conversation it has not seen yet is emitted once", async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'));
    await alice.client.connect();
    const groupId = await fixture.api.createGroup({ name: 'fresh', ownerId: 'alice', memberIds: ['bob'] });
    const sent = await alice.client.send(groupId, { text: 'first words' });
    await eventually(() => userMessages(alice).length === 1, 3000, 'the own message event');
    assert.equal(userMessages(alice)[0]?.id, sent.id);
    assert.equal(alice.client.conversation(groupId)?.unread, 0);
    await settle();
    assert.equal(userMessages(alice).length, 1);
    assert.deepEqual(seqsOf(alice.messages), [1, 2]);
  });

  test('pulls a gap when a push is missing', async (t) => {
    const bus = new LossyBus();
    const fixture = await serverWith(t, ['alice', 'bob'], { bus });
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    await post(fixture, groupId, 'alice', 'one');
    await eventually(() => userMessages(bob).length === 1, 3000, 'the first push');
    bus.loseNextMessage();
    await post(fixture, groupId, 'alice', 'two');
    await settle();
    assert.equal(userMessages(bob).length, 1, 'the push of "two" never left the server');
    await post(fixture, groupId, 'alice', 'three');
    await eventually(() => userMessages(bob).length === 3, 3000, 'the gap to be filled');
    assert.deepEqual(textsOf(userMessages(bob)), ['one', 'two', 'three']);
    assert.deepEqual(seqsOf(userMessages(bob)), [2, 3, 4]);
    assert.equal(bob.client.conversation(groupId)?.unread, 3);
  });

  test('never emits hidden placeholders, and keeps going after them', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob', 'carol']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob', 'carol'] });
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    await post(fixture, groupId, 'alice', 'for everyone');
    await post(fixture, groupId, 'alice', 'for carol only', 'carol');
    await post(fixture, groupId, 'alice', 'for everyone again');
    await eventually(() => userMessages(bob).length === 2, 3000, 'two visible messages');
    await settle();
    assert.deepEqual(seqsOf(userMessages(bob)), [2, 4]);
    assert.ok(!bob.messages.some((message) => message.seq === 3));
    assert.equal(bob.client.conversation(groupId)?.lastSeq, 4);
    assert.equal(bob.client.conversation(groupId)?.unread, 2);
  });

  test('emits at most initialBacklog unread messages on first login; history has the rest', async (t) => {
    // A small pull limit, so that the backlog takes several pulls.
    const fixture = await serverWith(t, ['alice', 'bob'], { limits: { maxPullLimit: 7 } });
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    for (let i = 1; i <= 30; i++) await post(fixture, groupId, 'alice', `m${i}`); // seqs 2..31
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'), { initialBacklog: 20 });
    await bob.client.connect();
    await eventually(() => bob.messages.length === 20, 3000, 'the backlog');
    await settle();
    assert.deepEqual(seqsOf(bob.messages), Array.from({ length: 20 }, (_, i) => i + 12), 'the newest 20 of seqs 2..31');
    const older = await bob.client.history(groupId, { beforeSeq: 12, limit: 5 });
    assert.deepEqual(seqsOf(older), [7, 8, 9, 10, 11]);
    const newest = await bob.client.history(groupId, { limit: 3 });
    assert.deepEqual(seqsOf(newest), [29, 30, 31]);
    assert.deepEqual(await bob.client.history(groupId, { beforeSeq: 1 }), []);
    assert.equal(bob.messages.length, 20, 'history emits no events');
  });

  test('a read on one device clears the badge on the other', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    await post(fixture, groupId, 'alice', 'one');
    await post(fixture, groupId, 'alice', 'two');
    const phone = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    const laptop = device(t, fixture.server.tcpUrl as string, tokenOf(fixture, 'bob'));
    await Promise.all([phone.client.connect(), laptop.client.connect()]);
    assert.equal(laptop.client.totalUnread, 2);
    await phone.client.markRead(groupId);
    assert.equal(phone.client.conversation(groupId)?.unread, 0);
    assert.equal(phone.client.conversation(groupId)?.readSeq, 3);
    await eventually(() => laptop.client.totalUnread === 0, 3000, 'the laptop badge to clear');
    assert.equal(laptop.client.conversation(groupId)?.readSeq, 3);
  });
});

describe('SDK against a real server: sending', () => {
  test('retries a send whose ack was lost with the same clientMsgId, storing it once', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    const alice = device(t, url, tokenOf(fixture, 'alice'));
    await alice.client.connect();
    // The server stores the message and acks it; the connection is cut inside the ack.
    proxy.cutNextAck();
    const message = await alice.client.send(groupId, { text: 'exactly once' });
    assert.equal(proxy.stats.ackCuts, 1);
    assert.ok(proxy.stats.connections >= 2, 'the client reconnected');
    assert.equal(message.seq, 2);
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    const stored = (await bob.client.history(groupId)).filter((m) => m.type === 'user');
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.id, message.id);
    assert.equal(stored[0]?.clientMsgId, message.clientMsgId);
    await eventually(() => userMessages(alice).length === 1, 3000, 'the own message event');
    await settle();
    assert.equal(userMessages(alice).length, 1);
    assert.deepEqual(alice.states, ['connecting', 'open', 'reconnecting', 'open']);
  });

  test('keeps sends made while disconnected and delivers them in order after reconnecting', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    const alice = device(t, url, tokenOf(fixture, 'alice'));
    await alice.client.connect();
    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    await eventually(() => alice.client.state === 'reconnecting', 3000, 'the drop to be noticed');
    const sends = ['1', '2', '3'].map((text) => alice.client.send(groupId, { text }));
    await settle(100);
    assert.equal(alice.client.state, 'reconnecting', 'still cut off while the sends wait');
    proxy.set({ refuseConnections: false });
    const sent = await Promise.all(sends);
    assert.deepEqual(textsOf(sent), ['1', '2', '3']);
    assert.deepEqual(seqsOf(sent), [2, 3, 4]);
    const stored = (await alice.client.history(groupId)).filter((m) => m.type === 'user');
    assert.deepEqual(textsOf(stored), ['1', '2', '3']);
  });

  test('resumes after a reconnect with exactly what it missed', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    const bob = device(t, url, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    await post(fixture, groupId, 'alice', 'before');
    await eventually(() => userMessages(bob).length === 1, 3000, 'the first message');
    // Cut off with no warning; what is posted meanwhile never reaches the old connection.
    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    await post(fixture, groupId, 'alice', 'missed 1');
    await post(fixture, groupId, 'alice', 'missed 2');
    proxy.set({ refuseConnections: false });
    await eventually(() => userMessages(bob).length === 3, 3000, 'the missed messages');
    await settle();
    assert.deepEqual(textsOf(userMessages(bob)), ['before', 'missed 1', 'missed 2']);
    assert.deepEqual(seqsOf(userMessages(bob)), [2, 3, 4]);
  });

  test('retries a rate-limited send after retryAfterMs', async (t) => {
    // Server and client share one manual clock: the server's token bucket refills
    // as it moves, and the client's retry waits on it.
    const clock = new ManualClock();
    const fixture = await serverWith(t, ['alice', 'bob'], { clock, limits: { sendBurstPerUser: 1, sendsPerSecondPerUser: 1 } });
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'), { clock });
    await alice.client.connect();
    const first = await alice.client.send(groupId, { text: 'first' });
    const settled: { message?: Message; error?: unknown } = {};
    alice.client.send(groupId, { text: 'patient' }).then(
      (message) => (settled.message = message),
      (error: unknown) => (settled.error = error),
    );
    await settle(200);
    assert.deepEqual(settled, {}, 'refused with RATE_LIMITED and waiting for its retry');
    await advance(clock, 900, 100);
    await settle(100);
    assert.deepEqual(settled, {}, 'not retried before retryAfterMs');
    // Past retryAfterMs: the retry goes out and is accepted (a few more steps in case the refusal came late).
    for (let step = 0; step < 30 && settled.message === undefined && settled.error === undefined; step++) {
      await advance(clock, 100, 100);
      await settle(20);
    }
    await eventually(() => settled.message !== undefined || settled.error !== undefined, 3000, 'the retried send');
    assert.equal(settled.error, undefined);
    assert.equal(settled.message?.text, 'patient');
    assert.equal(settled.message?.seq, first.seq + 1);
  });

  test('rejects a refused send without affecting others', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'));
    await alice.client.connect();
    const refused = alice.client.send('nowhere', { text: 'x' });
    const fine = alice.client.send(groupId, { text: 'y' });
    await assert.rejects(refused, isCode('NOT_FOUND'));
    assert.equal((await fine).text, 'y');
    await assert.rejects(alice.client.send(groupId, {}), isCode('INVALID_ARGUMENT'));
  });

  test('close() rejects queued sends with CLOSED and stops reconnecting', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const alice = device(t, fixture.server.wsUrl, tokenOf(fixture, 'alice'));
    const queued = alice.client.send(groupId, { text: 'never sent' });
    await alice.client.close();
    await assert.rejects(queued, isCode('CLOSED'));
    assert.equal(alice.client.state, 'closed');
    await assert.rejects(alice.client.connect(), isCode('CLOSED'));
    const bob = device(t, fixture.server.wsUrl, tokenOf(fixture, 'bob'));
    await bob.client.connect();
    assert.deepEqual((await bob.client.history(groupId)).filter((m) => m.type === 'user'), []);
  });
});

describe('SDK against a real server: connection faults and fatal errors', () => {
  test('detects a silent server by heartbeat and reconnects', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    const clock = new ManualClock();
    const alice = device(t, url, tokenOf(fixture, 'alice'), { clock });
    await alice.client.connect();
    // A dead NAT: the connection stays open but nothing passes, and no FIN or RST says so.
    proxy.stallAll();
    await advance(clock, 45_000);
    assert.equal(alice.client.state, 'open', 'less than twice the 25 s heartbeat interval: still open');
    await advance(clock, 10_000);
    await eventually(() => alice.client.state === 'reconnecting', 3000, 'the dead connection to be noticed');
    // The new connection goes through; the reconnect backoff runs on the same clock.
    for (let step = 0; step < 40 && alice.client.state !== 'open'; step++) await advance(clock, 100, 100);
    await eventually(() => alice.client.state === 'open', 3000, 'the reconnect');
    assert.equal(proxy.stats.connections, 2);
  });

  test('stops on UNAUTHENTICATED: connect rejects and the state is closed', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    const mallory = device(t, fixture.server.wsUrl, 'not-a-token');
    await assert.rejects(mallory.client.connect(), isCode('UNAUTHENTICATED'));
    assert.equal(mallory.client.state, 'closed');
    await assert.rejects(mallory.client.send('g', { text: 'x' }), isCode('CLOSED'));
  });

  test('stops on TOKEN_EXPIRED with a static token', async (t) => {
    const clock = new ManualClock();
    const fixture = await serverWith(t, ['alice'], { clock });
    const expired = await fixture.api.token('alice', 1);
    clock.advance(2_000);
    const alice = device(t, fixture.server.wsUrl, expired);
    await assert.rejects(alice.client.connect(), isCode('TOKEN_EXPIRED'));
    assert.equal(alice.client.state, 'closed');
  });

  test('asks a token function again after TOKEN_EXPIRED', async (t) => {
    const clock = new ManualClock();
    const fixture = await serverWith(t, ['alice'], { clock });
    const expired = await fixture.api.token('alice', 1);
    clock.advance(2_000);
    const handedOut: string[] = [];
    const alice = device(t, fixture.server.wsUrl, async () => {
      const token = handedOut.length === 0 ? expired : await fixture.api.token('alice');
      handedOut.push(token);
      return token;
    });
    const failures: string[] = [];
    alice.client.on('state', ({ error }) => {
      if (error !== undefined) failures.push(error.codeName);
    });
    await alice.client.connect();
    assert.equal(alice.client.userId, 'alice');
    assert.equal(handedOut.length, 2);
    assert.deepEqual(failures, ['TOKEN_EXPIRED']);
  });

  test('keeps retrying while the server is unreachable and connects once it is back', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    proxy.set({ refuseConnections: true });
    const alice = device(t, url, tokenOf(fixture, 'alice'));
    const connected = alice.client.connect();
    await eventually(() => proxy.stats.refused >= 3, 3000, 'a few failed attempts');
    assert.equal(alice.client.state, 'connecting');
    proxy.set({ refuseConnections: false });
    await connected;
    assert.equal(alice.client.state, 'open');
  });

  test('networkLost() drops the connection at once; reconnectNow() skips the backoff when the network is back', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    // A long backoff: without reconnectNow() the next attempt would be up to a minute away.
    const alice = device(t, url, tokenOf(fixture, 'alice'), { reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    await alice.client.connect();
    alice.client.reconnectNow();
    assert.equal(alice.client.state, 'open', 'reconnectNow() leaves an open connection alone');

    proxy.set({ refuseConnections: true });
    alice.client.networkLost();
    assert.equal(alice.client.state, 'reconnecting', 'no wait for the heartbeat');
    const sent = alice.client.send(groupId, { text: 'typed while offline' });
    alice.client.reconnectNow(); // still refused: the attempt fails and a long backoff starts again
    await eventually(() => proxy.stats.refused >= 1, 3000, 'the refused attempt');
    proxy.set({ refuseConnections: false });
    const started = Date.now();
    alice.client.reconnectNow();
    await eventually(() => alice.client.state === 'open', 3000, 'the reconnect');
    assert.ok(Date.now() - started < 3000);
    assert.equal((await sent).text, 'typed while offline');
    assert.deepEqual(
      (await fixture.api.call('GET', `/v1/conversations/${groupId}/messages?after=1`)).body.messages.map((message: Message) => message.text),
      ['typed while offline'],
      'stored once',
    );
  });

  test('close() while the server is unreachable rejects connect() with CLOSED', async (t) => {
    const fixture = await serverWith(t, ['alice']);
    const proxy = await proxyInFront(fixture, t);
    const url = proxy.urlFor(fixture.server.wsUrl);
    proxy.set({ refuseConnections: true });
    const alice = device(t, url, tokenOf(fixture, 'alice'));
    const connected = alice.client.connect();
    await eventually(() => proxy.stats.refused >= 2, 3000, 'a few failed attempts');
    await alice.client.close();
    await assert.rejects(connected, isCode('CLOSED'));
    // An attempt already on its way when close() ran may still reach the proxy; none may start after.
    await settle(150);
    const refused = proxy.stats.refused;
    await settle(300);
    assert.equal(proxy.stats.refused, refused, 'no attempt after close()');
  });
});

describe('SDK against a real server: transports and entries', () => {
  test('speaks the same protocol over TCP with length-prefixed packets', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const tcpUrl = fixture.server.tcpUrl as string;
    const alice = device(t, tcpUrl, tokenOf(fixture, 'alice'));
    const bob = device(t, tcpUrl, tokenOf(fixture, 'bob'));
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    const sent = await alice.client.send(groupId, { text: 'over tcp', data: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(sent.data, new Uint8Array([1, 2, 3]));
    await eventually(() => userMessages(bob).length === 1, 3000, 'the push over tcp');
    assert.deepEqual(textsOf(userMessages(bob)), ['over tcp']);
    assert.deepEqual(userMessages(bob)[0]?.data, new Uint8Array([1, 2, 3]));
  });

  test('the browser entry connects with an injected WebSocket constructor', async (t) => {
    const fixture = await serverWith(t, ['alice', 'bob']);
    const groupId = await fixture.api.createGroup({ name: 'g', ownerId: 'alice', memberIds: ['bob'] });
    const client = new BrowserParleyClient({ url: fixture.server.wsUrl, token: tokenOf(fixture, 'alice'), WebSocket });
    t.after(() => client.close());
    await client.connect();
    const message = await client.send(groupId, { text: 'from a browser' });
    assert.equal(message.seq, 2);
  });
});

describe('SDK options', () => {
  test('refuses unsupported URL schemes at construction', () => {
    assert.throws(() => new ParleyClient({ url: 'http://localhost:8080', token: 't' }), isCode('INVALID_ARGUMENT'));
    assert.throws(() => new ParleyClient({ url: 'not a url', token: 't' }), isCode('INVALID_ARGUMENT'));
  });
});
