/**
 * The parts of docs/protocol.md a client author builds on that are easy to get
 * wrong: when a connection is closed and how that is announced, what counts as
 * activity, request ids, pipelining behind hello, which changes push
 * conversation_changed, the sender's read position, and pull / mark_read edge
 * cases. Spoken raw over WebSocket and TCP against a real server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, ManualClock, MessageType, Role, encodeFrameEntry, encodePacket, type Frame } from '@parley/protocol';
import { type ErrorFrameValue, RawConnection, type TestServer, errorOf, signedIn, startTestServer } from '../support/fixtures.js';

type ServerOptions = NonNullable<Parameters<typeof startTestServer>[1]>;

async function setup(t: Parameters<typeof startTestServer>[0], options: ServerOptions = {}): Promise<TestServer> {
  const fixture = await startTestServer(t, options);
  for (const id of ['alice', 'bob', 'carol']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'team', name: 'Team', ownerId: 'alice', memberIds: ['bob'] });
  return fixture;
}

type BodyValues = { [K in NonNullable<Frame['body']>['$case']]: Extract<NonNullable<Frame['body']>, { $case: K }>['value'] };

function bodyValue<C extends keyof BodyValues>(frame: Frame, expected: C): BodyValues[C] {
  assert.equal(frame.body?.$case, expected, `expected ${expected}, got ${frame.body?.$case}: ${JSON.stringify(frame.body?.value)?.slice(0, 120)}`);
  return (frame.body as { value: unknown }).value as BodyValues[C];
}

const isChangeOf = (conversationId: string) => (frame: Frame) =>
  frame.requestId === 0 && frame.body?.$case === 'conversationChanged' && frame.body.value.summary?.id === conversationId;

/**
 * Deadline tests run the server on a ManualClock with the default 25 s
 * heartbeat interval: a connection silent for more than 50 s of clock time is
 * closed by the server's deadline sweep, which runs every 5 s.
 */
const SILENCE_LIMIT_MS = 50_000;
const SWEEP_MS = 5_000;

for (const transport of ['ws', 'tcp'] as const) {
  describe(`protocol contract over ${transport}`, () => {
    const urlOf = (fixture: TestServer) => (transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string));

    test('a silent connection is closed with a fatal TIMEOUT after twice the heartbeat interval', async (t) => {
      const clock = new ManualClock();
      const fixture = await setup(t, { clock });
      const silent = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      clock.advance(SILENCE_LIMIT_MS);
      assert.equal(fixture.server.connectionCount(), 1, 'silent for exactly twice the interval: still open');
      clock.advance(SWEEP_MS);
      assert.equal(fixture.server.connectionCount(), 0, 'closed by the next sweep');
      const timeout = await silent.waitFor((frame) => frame.body?.$case === 'error', 2000);
      assert.equal(errorOf(timeout).name, 'TIMEOUT');
      assert.equal(errorOf(timeout).fatal, true);
      assert.equal(timeout.requestId, 0);
      await silent.waitClosed();
      if (transport === 'ws') assert.equal(silent.closeCode, 4000 + ErrorCode.TIMEOUT);
    });

    test('any request counts as activity, not only ping', async (t) => {
      const clock = new ManualClock();
      const fixture = await setup(t, { clock });
      const busy = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      // Ten times 45 s: far beyond the silence limit in all, never silent for that long.
      for (let round = 0; round < 10; round++) {
        clock.advance(SILENCE_LIMIT_MS - SWEEP_MS);
        bodyValue(await busy.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }), 'syncResult');
      }
      assert.equal(fixture.server.connectionCount(), 1);
      assert.equal(busy.closed, false);
      assert.equal(busy.frames.filter((frame) => frame.body?.$case === 'error').length, 0);
    });

    test('fatal errors close the connection; WebSocket closes carry 4000 + the code', async (t) => {
      const fixture = await setup(t);
      const refused = await RawConnection.open(urlOf(fixture));
      const error = errorOf(await refused.hello('not-a-token'));
      assert.deepEqual([error.name, error.fatal], ['UNAUTHENTICATED', true]);
      await refused.waitClosed();
      if (transport === 'ws') assert.deepEqual([refused.closeCode, refused.closeReason], [4000 + ErrorCode.UNAUTHENTICATED, 'UNAUTHENTICATED']);
    });

    test('BAD_FRAME is fatal for an undecodable or empty packet and for a first frame other than hello, not for a bad frame later', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      // A frame with no body (request_id 7 only), a second hello, a server-only frame.
      alice.sendRaw(new Uint8Array([0x0a, 0x02, 0x08, 0x07]));
      const empty = errorOf(await alice.waitFor((frame) => frame.requestId === 7));
      assert.deepEqual([empty.name, empty.fatal], ['BAD_FRAME', false]);
      const again = errorOf(await alice.hello(await fixture.api.token('alice')));
      assert.deepEqual([again.name, again.fatal], ['BAD_FRAME', false]);
      const serverFrame = errorOf(await alice.request({ $case: 'pong', value: { nonce: 1 } }));
      assert.deepEqual([serverFrame.name, serverFrame.fatal], ['BAD_FRAME', false]);
      bodyValue(await alice.request({ $case: 'ping', value: { nonce: 1 } }), 'pong');

      // A packet without frames is fatal.
      alice.sendRaw(new Uint8Array(0));
      const fatal = errorOf(await alice.waitFor((frame) => frame.body?.$case === 'error' && (frame.body.value as ErrorFrameValue).fatal));
      assert.equal(fatal.name, 'BAD_FRAME');
      await alice.waitClosed();
      if (transport === 'ws') assert.equal(alice.closeCode, 4000 + ErrorCode.BAD_FRAME);
    });

    test('request_id 0 is refused for requests, accepted for delivered', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      alice.sendRaw(encodeFrameEntry({ requestId: 0, body: { $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } } }));
      alice.sendRaw(encodeFrameEntry({ requestId: 0, body: { $case: 'delivered', value: { conversationId: 'team', seq: 1 } } }));
      const refused = await alice.waitFor((frame) => frame.body?.$case === 'error');
      assert.equal(refused.requestId, 0);
      assert.deepEqual([errorOf(refused).name, errorOf(refused).fatal], ['BAD_FRAME', false]);
      bodyValue(await alice.request({ $case: 'ping', value: { nonce: 5 } }), 'pong');
      assert.equal(alice.frames.filter((frame) => frame.body?.$case === 'syncResult').length, 0, 'the request was not run');
      assert.equal(alice.frames.filter((frame) => frame.body?.$case === 'error').length, 1, 'delivered got no answer');

      const zeroHello = await RawConnection.open(urlOf(fixture));
      zeroHello.sendRaw(encodeFrameEntry({ requestId: 0, body: { $case: 'hello', value: { protocolVersion: 1, token: await fixture.api.token('alice'), client: '' } } }));
      const fatal = errorOf(await zeroHello.waitFor((frame) => frame.body?.$case === 'error'));
      assert.deepEqual([fatal.name, fatal.fatal], ['BAD_FRAME', true]);
      await zeroHello.waitClosed();
    });

    test('requests pipelined behind hello are run after welcome', async (t) => {
      const fixture = await setup(t);
      const alice = await RawConnection.open(urlOf(fixture));
      alice.sendRaw(
        encodePacket([
          { requestId: 1, body: { $case: 'hello', value: { protocolVersion: 1, token: await fixture.api.token('alice'), client: 'pipeline' } } },
          { requestId: 2, body: { $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } } },
          { requestId: 3, body: { $case: 'ping', value: { nonce: 3 } } },
        ]),
      );
      await alice.waitFor((frame) => frame.requestId === 3);
      await alice.waitFor((frame) => frame.requestId === 2);
      assert.deepEqual([alice.frames[0]?.requestId, alice.frames[0]?.body?.$case], [1, 'welcome'], 'welcome comes first');
      bodyValue(alice.frames.find((frame) => frame.requestId === 2) as Frame, 'syncResult');
    });

    test('adding, removing and role changes push conversation_changed to the member concerned', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const bob = await signedIn(urlOf(fixture), await fixture.api.token('bob'));
      const carol = await signedIn(urlOf(fixture), await fixture.api.token('carol'));

      bodyValue(await alice.request({ $case: 'updateMembers', value: { conversationId: 'team', add: ['carol'], remove: [] } }), 'ok');
      const added = bodyValue(await carol.waitFor(isChangeOf('team')), 'conversationChanged');
      assert.equal(added.summary?.active, true);
      assert.equal(added.summary?.role, Role.ROLE_MEMBER);

      bodyValue(await alice.request({ $case: 'setRole', value: { conversationId: 'team', userId: 'bob', role: Role.ROLE_ADMIN } }), 'ok');
      const promoted = bodyValue(await bob.waitFor(isChangeOf('team')), 'conversationChanged');
      assert.equal(promoted.summary?.role, Role.ROLE_ADMIN);

      bodyValue(await alice.request({ $case: 'updateMembers', value: { conversationId: 'team', add: [], remove: ['carol'] } }), 'ok');
      const removed = await carol.waitFor((frame) => isChangeOf('team')(frame) && frame.body?.$case === 'conversationChanged' && frame.body.value.summary?.active === false);
      const summary = bodyValue(removed, 'conversationChanged').summary;
      assert.ok((summary?.leftSeq ?? 0) > 0, 'the removed member learns where its window ends');
      assert.equal(summary?.lastSeq, summary?.leftSeq);
    });

    test("a send moves the sender's read position; its other devices learn it from the pushed message", async (t) => {
      const fixture = await setup(t);
      const phone = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const laptop = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const bob = await signedIn(urlOf(fixture), await fixture.api.token('bob'));
      bodyValue(await bob.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: 'b1', text: 'hi' } }), 'sendAck');
      const before = bodyValue(await laptop.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }), 'syncResult');
      assert.equal(before.conversations.find((c) => c.id === 'team')?.unread, 1);

      const ack = bodyValue(await phone.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: 'a1', text: 'hello' } }), 'sendAck');
      const seq = ack.message?.seq as number;
      const pushed = await laptop.waitFor((frame) => frame.body?.$case === 'push' && frame.body.value.seq === seq);
      assert.equal(bodyValue(pushed, 'push').senderId, 'alice', 'the push names the user as sender: read_seq is now this seq');
      assert.equal(laptop.frames.filter(isChangeOf('team')).length, 0, 'no conversation_changed for a send');
      const after = bodyValue(await laptop.request({ $case: 'sync', value: { sinceVersion: before.version, recentLimit: 0, positions: [] } }), 'syncResult');
      const team = after.conversations.find((c) => c.id === 'team');
      assert.equal(team?.readSeq, seq);
      assert.equal(team?.unread, 0);
      assert.equal(after.totalUnread, 0);
    });

    test('system messages carry a typed event and no data, on the wire and in REST JSON', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      bodyValue(await alice.request({ $case: 'updateMembers', value: { conversationId: 'team', add: ['carol'], remove: [] } }), 'ok');
      bodyValue(await alice.request({ $case: 'setRole', value: { conversationId: 'team', userId: 'bob', role: Role.ROLE_ADMIN } }), 'ok');
      bodyValue(await alice.request({ $case: 'rename', value: { conversationId: 'team', name: 'Crew' } }), 'ok');
      const pulled = bodyValue(await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 1, toSeq: 0, limit: 0, descending: false } }), 'pullResult');
      assert.deepEqual(
        pulled.messages.map((message) => [message.type, message.data, message.system]),
        [
          [MessageType.MESSAGE_TYPE_SYSTEM, undefined, { actorId: 'alice', event: { $case: 'groupCreated', value: { name: 'Team', memberIds: ['alice', 'bob'] } } }],
          [MessageType.MESSAGE_TYPE_SYSTEM, undefined, { actorId: 'alice', event: { $case: 'membersAdded', value: { userIds: ['carol'] } } }],
          [MessageType.MESSAGE_TYPE_SYSTEM, undefined, { actorId: 'alice', event: { $case: 'roleChanged', value: { userId: 'bob', role: Role.ROLE_ADMIN } } }],
          [MessageType.MESSAGE_TYPE_SYSTEM, undefined, { actorId: 'alice', event: { $case: 'renamed', value: { name: 'Crew' } } }],
        ],
      );
      const rest = await fixture.api.call('GET', '/v1/users/alice/conversations');
      const team = (rest.body.conversations as Array<{ id: string; lastMessage?: Record<string, unknown> }>).find((c) => c.id === 'team');
      assert.deepEqual(team?.lastMessage?.system, { type: 'renamed', actorId: 'alice', name: 'Crew' });
      assert.equal(team?.lastMessage?.data, undefined);
    });

    test('pull edge cases: limit 0, from_seq 0, empty ranges; mark_read beyond last_seq', async (t) => {
      const fixture = await setup(t, { limits: { maxPullLimit: 3 } });
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      for (let index = 0; index < 4; index++) {
        bodyValue(await alice.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: `m${index}`, text: `${index}` } }), 'sendAck');
      }
      // seq 1 is the group_created notice, 2..5 the texts.
      const capped = bodyValue(await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 0, toSeq: 0, limit: 0, descending: false } }), 'pullResult');
      assert.deepEqual(capped.messages.map((m) => m.seq), [1, 2, 3], 'limit 0 means max_pull_limit; from_seq 0 means the first readable seq');
      assert.deepEqual([capped.coveredFrom, capped.coveredTo, capped.lastSeq], [1, 3, 5]);
      const rest = bodyValue(await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 4, toSeq: 0, limit: 0, descending: false } }), 'pullResult');
      assert.deepEqual([rest.coveredFrom, rest.coveredTo], [4, 5]);
      const nothing = bodyValue(await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 6, toSeq: 0, limit: 10, descending: false } }), 'pullResult');
      assert.equal(nothing.messages.length, 0);
      assert.ok(nothing.coveredFrom > nothing.coveredTo, 'an empty range is reported as covered_from > covered_to');
      assert.equal(nothing.coveredTo, 5);
      const history = bodyValue(await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 1, toSeq: 4, limit: 2, descending: true } }), 'pullResult');
      assert.deepEqual(history.messages.map((m) => m.seq), [3, 4]);
      assert.deepEqual([history.coveredFrom, history.coveredTo], [3, 4]);

      const bob = await signedIn(urlOf(fixture), await fixture.api.token('bob'));
      const read = bodyValue(await bob.request({ $case: 'markRead', value: { conversationId: 'team', seq: 99 } }), 'readResult');
      assert.deepEqual([read.readSeq, read.unread, read.summary?.lastSeq], [5, 0, 5], 'mark_read above last_seq is clamped to last_seq');
    });
  });
}

test("a direct conversation is named after the other participant and cannot be renamed", async (t) => {
  const fixture = await setup(t);
  await fixture.api.createUser('dave', 'Dave Smith');
  const alice = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  const opened = bodyValue(await alice.request({ $case: 'openDirect', value: { peerId: 'dave', subject: '' } }), 'conversationResult');
  assert.deepEqual([opened.summary?.name, opened.summary?.peerId], ['Dave Smith', 'dave']);
  const dave = await signedIn(fixture.server.wsUrl, await fixture.api.token('dave'));
  const seen = bodyValue(await dave.request({ $case: 'openDirect', value: { peerId: 'alice', subject: '' } }), 'conversationResult');
  assert.equal(seen.summary?.id, opened.summary?.id);
  assert.equal(seen.summary?.name, 'alice');
  const rename = errorOf(await alice.request({ $case: 'rename', value: { conversationId: opened.summary?.id as string, name: 'x' } }));
  assert.equal(rename.name, 'INVALID_ARGUMENT');
});

test('WebSocket pings are not activity: only protocol frames keep a connection open', async (t) => {
  const clock = new ManualClock();
  const fixture = await setup(t, { clock });
  const pinging = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  const socket = pinging.rawWebSocket as NonNullable<typeof pinging.rawWebSocket>;
  // A WebSocket ping every 5 s of clock time, each answered (so received) before the clock moves on.
  const pingedThenAdvance = async () => {
    await new Promise((resolve) => {
      socket.once('pong', resolve);
      socket.ping();
    });
    clock.advance(SWEEP_MS);
  };
  for (let moved = 0; moved < SILENCE_LIMIT_MS; moved += SWEEP_MS) await pingedThenAdvance();
  assert.equal(fixture.server.connectionCount(), 1, 'no frame for exactly twice the interval: still open');
  await pingedThenAdvance();
  assert.equal(fixture.server.connectionCount(), 0, 'pings did not keep it open');
  const timeout = await pinging.waitFor((frame) => frame.body?.$case === 'error', 2000);
  assert.equal(errorOf(timeout).name, 'TIMEOUT');
  await pinging.waitClosed();
});

test('sync with recent_limit: runs after the version or the position, placeholders in place, capped, too many positions refused', async (t) => {
  const fixture = await setup(t, { limits: { maxSyncRecent: 3 } });
  const bob = await signedIn(fixture.server.wsUrl, await fixture.api.token('bob'));
  const first = bodyValue(await bob.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }), 'syncResult');
  assert.deepEqual(first.recent, [], 'recent_limit 0: a bare list');
  const alice = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  const send = (text: string) => alice.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: text, text } });
  const base = bodyValue(await bob.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }), 'syncResult');
  const lastSeq = base.conversations.find((c) => c.id === 'team')?.lastSeq ?? 0;
  for (const text of ['one', 'two']) bodyValue(await send(text), 'sendAck');
  // A one-member message (admin API) takes a seq that bob sees as a placeholder.
  await fixture.api.call('POST', '/v1/conversations/team/messages', { senderId: 'alice', clientMsgId: 'private', text: 'for alice only', visibleTo: 'alice' });
  bodyValue(await send('three'), 'sendAck');

  const synced = bodyValue(await bob.request({ $case: 'sync', value: { sinceVersion: base.version, recentLimit: 100, positions: [] } }), 'syncResult');
  const [run] = synced.recent;
  assert.equal(run?.conversationId, 'team');
  assert.deepEqual(
    run?.messages.map((m) => (m.hidden ? 'hidden' : m.text)),
    ['two', 'hidden', 'three'],
    'the newest 3 (the server caps recent_limit), a placeholder where bob may not read',
  );
  assert.deepEqual([run?.coveredFrom, run?.coveredTo], [lastSeq + 2, lastSeq + 4]);
  assert.equal(synced.conversations.find((c) => c.id === 'team')?.lastSeq, run?.coveredTo, 'a run ends at the summary last_seq');

  const positioned = bodyValue(
    await bob.request({ $case: 'sync', value: { sinceVersion: base.version, recentLimit: 3, positions: [{ conversationId: 'team', seq: lastSeq + 3 }] } }),
    'syncResult',
  );
  assert.deepEqual(positioned.recent[0]?.messages.map((m) => m.text), ['three'], 'after the position');
  const tooMany = Array.from({ length: 1001 }, (_, n) => ({ conversationId: `c${n}`, seq: 1 }));
  const refused = errorOf(await bob.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 3, positions: tooMany } }));
  assert.deepEqual([refused.name, refused.fatal], ['TOO_LARGE', false]);
});

test('sync runs and pull answers are bounded in bytes: the newest that fit, covered ranges say where to go on', async (t) => {
  const fixture = await setup(t, { limits: { maxSyncRecentBytes: 2500, maxPullBytes: 2500 } });
  const bob = await signedIn(fixture.server.wsUrl, await fixture.api.token('bob'));
  const base = bodyValue(await bob.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }), 'syncResult');
  const start = base.conversations.find((c) => c.id === 'team')?.lastSeq ?? 0;
  const alice = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  for (let n = 0; n < 5; n++) bodyValue(await alice.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: `big${n}`, text: `${n}`.repeat(1000) } }), 'sendAck');

  const synced = bodyValue(await bob.request({ $case: 'sync', value: { sinceVersion: base.version, recentLimit: 20, positions: [] } }), 'syncResult');
  assert.deepEqual(synced.recent[0]?.messages.map((m) => m.text?.[0]), ['3', '4'], 'the newest two fit');
  assert.deepEqual([synced.recent[0]?.coveredFrom, synced.recent[0]?.coveredTo], [start + 4, start + 5]);

  const pulled = bodyValue(await bob.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: start + 1, toSeq: 0, limit: 0, descending: false } }), 'pullResult');
  assert.deepEqual(pulled.messages.map((m) => m.text?.[0]), ['0', '1']);
  assert.equal(pulled.coveredTo, start + 2, 'pull on from covered_to + 1');
  const history = bodyValue(await bob.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: start + 1, toSeq: 0, limit: 0, descending: true } }), 'pullResult');
  assert.deepEqual(history.messages.map((m) => m.text?.[0]), ['3', '4']);
  assert.equal(history.coveredFrom, start + 4, 'page on below covered_from');
  // One message larger than the budget still comes, alone: pulls always make progress.
  bodyValue(await alice.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: 'huge', text: 'x'.repeat(8000) } }), 'sendAck');
  const alone = bodyValue(await bob.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: start + 6, toSeq: 0, limit: 0, descending: false } }), 'pullResult');
  assert.deepEqual([alone.messages.length, alone.coveredTo], [1, start + 6]);
});
