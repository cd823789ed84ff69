/**
 * ParleyClient against a fake server over real sockets: what an application
 * relies on when the network misbehaves. Each message arrives once and in
 * order, a send whose ack was lost is retried with the same clientMsgId and
 * stored once, the client reconnects by itself and stops on fatal errors.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ParleyClient, type ClientState, type Message, type ParleyClientOptions, type ParleyError } from '../src/index.js';
import { FakeServer } from './support/fake-server.js';

const FAST_RECONNECT = { minDelayMs: 10, maxDelayMs: 50 };

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Recorded {
  client: ParleyClient;
  messages: Message[];
  states: ClientState[];
  errors: ParleyError[];
}

describe('ParleyClient over WebSocket', () => {
  let server: FakeServer;
  let url: string;
  const clients: ParleyClient[] = [];

  function connectAs(token: ParleyClientOptions['token'], extra: Partial<ParleyClientOptions> = {}): Recorded {
    const client = new ParleyClient({ url, token, reconnect: FAST_RECONNECT, requestTimeoutMs: 2000, ...extra });
    clients.push(client);
    const recorded: Recorded = { client, messages: [], states: [], errors: [] };
    client.on('message', (message) => recorded.messages.push(message));
    client.on('state', ({ state }) => recorded.states.push(state));
    client.on('error', (error) => recorded.errors.push(error));
    return recorded;
  }

  before(async () => {
    server = new FakeServer();
    url = await server.listenWebSocket();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    Object.assign(server.faults, { loseNextSendAck: false, silent: false, skipNextPushTo: undefined, failNextSendWith: undefined });
    server.heartbeatIntervalMs = 25_000;
    server.conversations.clear();
  });
  after(() => server.close());

  it('connects, loads the conversation list and reports its states', async () => {
    server.createGroup('g1', 'alice', ['bob']);
    server.post('g1', 'bob', 'hi');
    const alice = connectAs('alice');
    assert.equal(alice.client.state, 'idle');
    await alice.client.connect();
    assert.equal(alice.client.state, 'open');
    assert.equal(alice.client.userId, 'alice');
    assert.deepEqual(alice.states, ['connecting', 'open']);
    const summary = alice.client.conversation('g1');
    assert.equal(summary?.lastSeq, 1);
    assert.equal(summary?.unread, 1);
    assert.equal(alice.client.totalUnread, 1);
    assert.deepEqual(alice.client.conversations().map((s) => s.id), ['g1']);
    // The unread message arrives as an event on login.
    await waitFor(() => alice.messages.length === 1, 'the backlog');
    assert.equal(alice.messages[0]?.text, 'hi');
  });

  it('accepts a URL without the /ws path', async () => {
    const alice = connectAs('alice', { url: `${url}/` });
    await alice.client.connect();
    assert.equal(alice.client.state, 'open');
  });

  it('delivers messages from others and own sends exactly once, in seq order', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    const bob = connectAs('bob');
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    const acked = await Promise.all([alice.client.send('g', { text: 'a1' }), alice.client.send('g', { text: 'a2' })]);
    server.post('g', 'bob', 'b3');
    assert.deepEqual(acked.map((m) => m.seq), [1, 2]);
    assert.equal(acked[0]?.senderId, 'alice');
    await waitFor(() => alice.messages.length === 3 && bob.messages.length === 3, 'three messages on both');
    for (const recorded of [alice, bob]) {
      assert.deepEqual(recorded.messages.map((m) => m.seq), [1, 2, 3]);
      assert.deepEqual(recorded.messages.map((m) => m.text), ['a1', 'a2', 'b3']);
    }
    assert.equal(alice.client.conversation('g')?.unread, 1);
    // Bob's own message marks everything before it read.
    assert.equal(bob.client.conversation('g')?.unread, 0);
    assert.equal(bob.client.conversation('g')?.readSeq, 3);
    assert.equal(alice.client.conversation('g')?.readSeq, 2);
    assert.equal(alice.client.conversation('g')?.lastMessage?.text, 'b3');
  });

  it('a conversation first seen through a push is synced, then its message is emitted', async () => {
    const bob = connectAs('bob');
    await bob.client.connect();
    const conversationEvents: string[] = [];
    bob.client.on('conversation', (summary) => conversationEvents.push(summary.id));
    server.createGroup('late', 'alice', ['bob']);
    server.post('late', 'alice', 'surprise');
    await waitFor(() => bob.messages.length === 1, 'the message in the new conversation');
    assert.equal(bob.messages[0]?.text, 'surprise');
    assert.equal(bob.client.conversation('late')?.unread, 1);
    assert.ok(conversationEvents.includes('late'));
  });

  it("this device's own send to a conversation it has not seen yet is emitted once", async () => {
    const alice = connectAs('alice');
    await alice.client.connect();
    server.createGroup('fresh', 'alice', ['bob']);
    const sent = await alice.client.send('fresh', { text: 'first words' });
    await waitFor(() => alice.messages.length === 1, 'the own message event');
    assert.equal(alice.messages[0]?.id, sent.id);
    assert.equal(alice.client.conversation('fresh')?.unread, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(alice.messages.length, 1);
  });

  it('pulls a gap when a push is missing', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const bob = connectAs('bob');
    await bob.client.connect();
    server.post('g', 'alice', 'one');
    server.faults.skipNextPushTo = 'bob';
    server.post('g', 'alice', 'two');
    server.post('g', 'alice', 'three');
    await waitFor(() => bob.messages.length === 3, 'the gap to be filled');
    assert.deepEqual(bob.messages.map((m) => m.text), ['one', 'two', 'three']);
    assert.ok(bob.client.conversation('g')?.unread === 3);
  });

  it('never emits hidden placeholders, and keeps going after them', async () => {
    server.createGroup('g', 'alice', ['bob', 'carol']);
    const bob = connectAs('bob');
    await bob.client.connect();
    server.post('g', 'alice', 'for everyone');
    server.post('g', 'alice', 'for carol only', 'carol');
    server.post('g', 'alice', 'for everyone again');
    await waitFor(() => bob.messages.length === 2, 'two visible messages');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(bob.messages.map((m) => m.seq), [1, 3]);
    assert.equal(bob.client.conversation('g')?.lastSeq, 3);
    assert.equal(bob.client.conversation('g')?.unread, 2);
  });

  it('emits at most initialBacklog unread messages on first login; history has the rest', async () => {
    server.createGroup('g', 'alice', ['bob']);
    for (let i = 1; i <= 30; i++) server.post('g', 'alice', `m${i}`);
    server.maxPullLimit = 7; // several pulls are needed
    const bob = connectAs('bob', { initialBacklog: 20 });
    try {
      await bob.client.connect();
      await waitFor(() => bob.messages.length === 20, 'the backlog');
      assert.deepEqual(bob.messages.map((m) => m.seq), Array.from({ length: 20 }, (_, i) => i + 11));
      const older = await bob.client.history('g', { beforeSeq: 11, limit: 5 });
      assert.deepEqual(older.map((m) => m.seq), [6, 7, 8, 9, 10]);
      const newest = await bob.client.history('g', { limit: 3 });
      assert.deepEqual(newest.map((m) => m.seq), [28, 29, 30]);
      assert.deepEqual(await bob.client.history('g', { beforeSeq: 1 }), []);
    } finally {
      server.maxPullLimit = 500;
    }
  });

  it('retries a send whose ack was lost with the same clientMsgId, storing it once', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    await alice.client.connect();
    server.faults.loseNextSendAck = true;
    const message = await alice.client.send('g', { text: 'exactly once' });
    assert.equal(message.seq, 1);
    assert.equal(server.messagesIn('g').length, 1);
    assert.equal(server.messagesIn('g')[0]?.clientMsgId, message.clientMsgId);
    const sends = server.hellos.length;
    assert.ok(sends >= 2, 'the client reconnected');
    await waitFor(() => alice.messages.length === 1, 'the own message event');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(alice.messages.length, 1);
    assert.deepEqual(alice.states, ['connecting', 'open', 'reconnecting', 'open']);
  });

  it('keeps sends made while disconnected and delivers them in order after reconnecting', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    await alice.client.connect();
    const sends: Promise<Message>[] = [];
    alice.client.on('state', ({ state }) => {
      if (state === 'reconnecting' && sends.length === 0) {
        for (const text of ['1', '2', '3']) sends.push(alice.client.send('g', { text }));
      }
    });
    server.dropAll();
    await waitFor(() => sends.length === 3, 'the drop to be noticed');
    const sent = await Promise.all(sends);
    assert.deepEqual(sent.map((m) => m.text), ['1', '2', '3']);
    assert.deepEqual(server.messagesIn('g').map((m) => m.text), ['1', '2', '3']);
  });

  it('resumes after a reconnect with exactly what it missed', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const bob = connectAs('bob');
    await bob.client.connect();
    server.post('g', 'alice', 'before');
    await waitFor(() => bob.messages.length === 1, 'the first message');
    server.faults.silent = true; // the client must not see the drop coming
    server.dropAll();
    server.faults.silent = false;
    server.post('g', 'alice', 'missed 1');
    server.post('g', 'alice', 'missed 2');
    await waitFor(() => bob.messages.length === 3, 'the missed messages');
    assert.deepEqual(bob.messages.map((m) => m.text), ['before', 'missed 1', 'missed 2']);
  });

  it('retries rate-limited sends after retryAfterMs', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    await alice.client.connect();
    server.faults.failNextSendWith = { name: 'RATE_LIMITED', retryAfterMs: 30 };
    const started = Date.now();
    const message = await alice.client.send('g', { text: 'patient' });
    assert.equal(message.text, 'patient');
    assert.ok(Date.now() - started >= 25);
  });

  it('rejects a refused send without affecting others', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    await alice.client.connect();
    const refused = alice.client.send('nowhere', { text: 'x' });
    const fine = alice.client.send('g', { text: 'y' });
    await assert.rejects(refused, (error: ParleyError) => error.codeName === 'NOT_FOUND');
    assert.equal((await fine).text, 'y');
    await assert.rejects(alice.client.send('g', {}), (error: ParleyError) => error.codeName === 'INVALID_ARGUMENT');
  });

  it('a read on one device clears the badge on the other', async () => {
    server.createGroup('g', 'alice', ['bob']);
    server.post('g', 'alice', 'one');
    server.post('g', 'alice', 'two');
    const phone = connectAs('bob');
    const laptop = connectAs('bob');
    await Promise.all([phone.client.connect(), laptop.client.connect()]);
    assert.equal(laptop.client.totalUnread, 2);
    await phone.client.markRead('g');
    assert.equal(phone.client.conversation('g')?.unread, 0);
    assert.equal(phone.client.conversation('g')?.readSeq, 2);
    await waitFor(() => laptop.client.totalUnread === 0, 'the laptop badge to clear');
    assert.equal(laptop.client.conversation('g')?.readSeq, 2);
  });

  it('detects a silent server by heartbeat and reconnects', async () => {
    server.heartbeatIntervalMs = 40;
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    await alice.client.connect();
    server.faults.silent = true;
    await waitFor(() => alice.client.state === 'reconnecting', 'the dead connection to be noticed');
    server.faults.silent = false;
    await waitFor(() => alice.client.state === 'open', 'the reconnect');
  });

  it('stops on UNAUTHENTICATED: connect rejects and the state is closed', async () => {
    const mallory = connectAs('bad');
    await assert.rejects(mallory.client.connect(), (error: ParleyError) => error.codeName === 'UNAUTHENTICATED');
    assert.equal(mallory.client.state, 'closed');
    await assert.rejects(mallory.client.send('g', { text: 'x' }), (error: ParleyError) => error.codeName === 'CLOSED');
  });

  it('stops on TOKEN_EXPIRED with a static token', async () => {
    const alice = connectAs('expired:alice');
    await assert.rejects(alice.client.connect(), (error: ParleyError) => error.codeName === 'TOKEN_EXPIRED');
    assert.equal(alice.client.state, 'closed');
  });

  it('asks a token function again after TOKEN_EXPIRED', async () => {
    const tokens = ['expired:alice', 'alice'];
    const alice = connectAs(async () => tokens.shift() ?? 'alice');
    await alice.client.connect();
    assert.equal(alice.client.userId, 'alice');
    assert.deepEqual(server.hellos.slice(-2), ['expired:alice', 'alice']);
  });

  it('keeps retrying while the server is unreachable and connects once it is up', async () => {
    const spare = new FakeServer();
    const spareUrl = await spare.listenWebSocket();
    await spare.close();
    const alice = connectAs('alice', { url: spareUrl });
    const connected = alice.client.connect();
    await waitFor(() => alice.states.filter((s) => s === 'connecting').length >= 3, 'a few failed attempts');
    assert.equal(alice.client.state, 'connecting');
    await alice.client.close();
    await assert.rejects(connected, (error: ParleyError) => error.codeName === 'CLOSED');
  });

  it('close() rejects queued sends with CLOSED and stops reconnecting', async () => {
    server.createGroup('g', 'alice', ['bob']);
    const alice = connectAs('alice');
    const queued = alice.client.send('g', { text: 'never sent' });
    await alice.client.close();
    await assert.rejects(queued, (error: ParleyError) => error.codeName === 'CLOSED');
    assert.equal(alice.client.state, 'closed');
    await assert.rejects(alice.client.connect(), (error: ParleyError) => error.codeName === 'CLOSED');
  });
});

describe('ParleyClient over TCP', () => {
  it('speaks the same protocol with length-prefixed packets', async () => {
    const server = new FakeServer();
    const url = await server.listenTcp();
    server.createGroup('g', 'alice', ['bob']);
    const alice = new ParleyClient({ url, token: 'alice', reconnect: FAST_RECONNECT });
    const bob = new ParleyClient({ url, token: 'bob', reconnect: FAST_RECONNECT });
    const received: string[] = [];
    bob.on('message', (message) => received.push(message.text ?? ''));
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      const sent = await alice.send('g', { text: 'over tcp', data: new Uint8Array([1, 2, 3]) });
      assert.deepEqual(sent.data, new Uint8Array([1, 2, 3]));
      await waitFor(() => received.length === 1, 'the push over tcp');
      assert.deepEqual(received, ['over tcp']);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
      await server.close();
    }
  });
});

describe('ParleyClient options', () => {
  it('refuses unsupported URL schemes at construction', () => {
    assert.throws(() => new ParleyClient({ url: 'http://localhost:8080', token: 't' }), (error: ParleyError) => error.codeName === 'INVALID_ARGUMENT');
    assert.throws(() => new ParleyClient({ url: 'not a url', token: 't' }), (error: ParleyError) => error.codeName === 'INVALID_ARGUMENT');
  });
});
