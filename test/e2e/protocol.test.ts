/**
 * The wire protocol spoken raw, over WebSocket and TCP: handshake, auth
 * failures, idempotent sends, authorisation, and bad input. Each case checks
 * the error code and that the server keeps serving other clients.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { ErrorCode, ManualClock, encodeFrameEntry } from '@parley/protocol';
import { RawConnection, type TestServer, errorOf, eventually, signedIn, startTestServer } from '../support/fixtures.js';

async function setup(t: Parameters<typeof startTestServer>[0], clock?: ManualClock): Promise<TestServer> {
  const fixture = await startTestServer(t, { authTimeoutMs: 500, clock });
  for (const id of ['alice', 'bob', 'eve']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'team', name: 'Team', ownerId: 'alice', memberIds: ['bob'] });
  return fixture;
}

for (const transport of ['ws', 'tcp'] as const) {
  describe(`protocol over ${transport}`, () => {
    const urlOf = (fixture: TestServer) => (transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string));

    test('hello with a valid token gets a welcome naming the user and limits', async (t) => {
      const fixture = await setup(t);
      const connection = await RawConnection.open(urlOf(fixture));
      const welcome = await connection.hello(await fixture.api.token('alice'));
      assert.equal(welcome.body?.$case, 'welcome');
      if (welcome.body?.$case !== 'welcome') return;
      assert.equal(welcome.body.value.userId, 'alice');
      assert.equal(welcome.body.value.protocolVersion, 1);
      assert.ok((welcome.body.value.limits?.maxFrameBytes ?? 0) > 0);
      connection.close();
    });

    test('forged, expired, malformed and unknown-user tokens are refused and the connection closed', async (t) => {
      // The server's clock starts on a whole second, so a 1 s token lives exactly 1000 ms of it.
      const clock = new ManualClock();
      const fixture = await setup(t, clock);
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer('parley').setExpirationTime('1h').sign(new TextEncoder().encode('not-the-server-secret'));
      const expired = await fixture.api.token('alice', 1);
      clock.advance(999);
      const stillValid = await RawConnection.open(urlOf(fixture));
      assert.equal((await stillValid.hello(expired)).body?.$case, 'welcome', 'valid until its expiry');
      stillValid.close();
      clock.advance(1);
      const cases: Array<[string, string]> = [
        [forged, 'UNAUTHENTICATED'],
        [expired, 'TOKEN_EXPIRED'],
        ['garbage', 'UNAUTHENTICATED'],
        ['', 'UNAUTHENTICATED'],
      ];
      for (const [token, name] of cases) {
        const connection = await RawConnection.open(urlOf(fixture));
        const error = errorOf(await connection.hello(token));
        assert.equal(error.name, name);
        assert.equal(error.fatal, true);
        await connection.waitClosed();
      }
    });

    test('the first frame must be hello; silence is closed after the auth deadline', async (t) => {
      // authTimeoutMs 500: the deadline sweep runs every 250 ms of clock time.
      const clock = new ManualClock();
      const fixture = await setup(t, clock);
      const eager = await RawConnection.open(urlOf(fixture));
      const error = errorOf(await eager.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } }).catch(() => eager.frames[0] as never));
      assert.equal(error.name, 'BAD_FRAME');
      await eager.waitClosed();
      const silent = await RawConnection.open(urlOf(fixture));
      await eventually(() => fixture.server.connectionCount() === 1, 2000, 'the server to accept the connection');
      clock.advance(500);
      assert.equal(fixture.server.connectionCount(), 1, 'no hello for exactly the deadline: still open');
      clock.advance(250);
      assert.equal(fixture.server.connectionCount(), 0, 'closed by the next sweep');
      const timeout = await silent.waitFor((frame) => frame.body?.$case === 'error', 2000);
      assert.equal(errorOf(timeout).name, 'AUTH_TIMEOUT');
      await silent.waitClosed();
    });

    test('a retried send returns the original message, never a second copy', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const send = { $case: 'send' as const, value: { conversationId: 'team', clientMsgId: 'retry-1', text: 'once' } };
      const first = await alice.request(send);
      const second = await alice.request(send);
      assert.equal(first.body?.$case, 'sendAck');
      assert.equal(second.body?.$case, 'sendAck');
      if (first.body?.$case !== 'sendAck' || second.body?.$case !== 'sendAck') return;
      assert.equal(second.body.value.duplicate, true);
      assert.equal(second.body.value.message?.id, first.body.value.message?.id);
      assert.equal(second.body.value.message?.seq, first.body.value.message?.seq);
      const pulled = await alice.request({ $case: 'pull', value: { conversationId: 'team', fromSeq: 1, toSeq: 0, limit: 100, descending: false } });
      if (pulled.body?.$case !== 'pullResult') return assert.fail('expected pullResult');
      assert.equal(pulled.body.value.messages.filter((m) => m.clientMsgId === 'retry-1').length, 1);
    });

    test('non-members cannot send, pull, read or list members; ids from others are refused', async (t) => {
      const fixture = await setup(t);
      const eve = await signedIn(urlOf(fixture), await fixture.api.token('eve'));
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const direct = await alice.request({ $case: 'openDirect', value: { peerId: 'bob', subject: '' } });
      if (direct.body?.$case !== 'conversationResult') return assert.fail('expected conversationResult');
      const directId = direct.body.value.summary?.id as string;
      for (const conversationId of ['team', directId]) {
        const attempts = [
          await eve.request({ $case: 'send', value: { conversationId, clientMsgId: `eve-${conversationId}`, text: 'hi' } }),
          await eve.request({ $case: 'pull', value: { conversationId, fromSeq: 1, toSeq: 0, limit: 10, descending: false } }),
          await eve.request({ $case: 'pull', value: { conversationId, fromSeq: 0, toSeq: 0, limit: 10, descending: true } }),
          await eve.request({ $case: 'markRead', value: { conversationId, seq: 0 } }),
          await eve.request({ $case: 'members', value: { conversationId } }),
          await eve.request({ $case: 'updateMembers', value: { conversationId, add: ['eve'], remove: [] } }),
          await eve.request({ $case: 'rename', value: { conversationId, name: 'mine' } }),
        ];
        for (const reply of attempts) {
          const error = errorOf(reply);
          assert.ok(['FORBIDDEN', 'INVALID_ARGUMENT'].includes(error.name), `${conversationId}: got ${error.name}`);
          assert.equal(error.fatal, false);
        }
      }
      const sync = await eve.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } });
      if (sync.body?.$case !== 'syncResult') return assert.fail('expected syncResult');
      assert.equal(sync.body.value.conversations.length, 0, 'eve sees no conversation of others');
    });

    test('bad input is answered with stable codes and the server keeps serving others', async (t) => {
      const fixture = await setup(t);
      const bob = await signedIn(urlOf(fixture), await fixture.api.token('bob'));
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const cases: Array<[NonNullable<Parameters<RawConnection['request']>[0]>, string]> = [
        [{ $case: 'send', value: { conversationId: 'team', clientMsgId: '', text: 'x' } }, 'INVALID_ARGUMENT'],
        [{ $case: 'send', value: { conversationId: 'team', clientMsgId: 'has space', text: 'x' } }, 'INVALID_ARGUMENT'],
        [{ $case: 'send', value: { conversationId: 'team', clientMsgId: 'empty' } }, 'INVALID_ARGUMENT'],
        [{ $case: 'send', value: { conversationId: 'team', clientMsgId: 'big', text: 'x'.repeat(8001) } }, 'TOO_LARGE'],
        [{ $case: 'send', value: { conversationId: 'nope', clientMsgId: 'n1', text: 'x' } }, 'NOT_FOUND'],
        [{ $case: 'send', value: { conversationId: '', clientMsgId: 'n2', text: 'x' } }, 'INVALID_ARGUMENT'],
        [{ $case: 'openDirect', value: { peerId: 'ghost', subject: '' } }, 'NOT_FOUND'],
        [{ $case: 'openDirect', value: { peerId: 'alice', subject: '' } }, 'INVALID_ARGUMENT'],
        [{ $case: 'createGroup', value: { id: 'bad id!', name: 'x', memberIds: [] } }, 'INVALID_ARGUMENT'],
        [{ $case: 'createGroup', value: { id: '', name: '', memberIds: [] } }, 'INVALID_ARGUMENT'],
        [{ $case: 'hello', value: { protocolVersion: 1, token: 'again', client: '' } }, 'BAD_FRAME'],
        [{ $case: 'welcome', value: { protocolVersion: 1, userId: 'x', sessionId: '', heartbeatIntervalMs: 0, serverVersion: '', databaseId: '' } }, 'BAD_FRAME'],
      ];
      for (const [body, name] of cases) {
        const error = errorOf(await alice.request(body));
        assert.equal(error.name, name, JSON.stringify(body).slice(0, 80));
        assert.equal(error.fatal, false);
      }
      // A frame type from the future: answered, not fatal. Field 99 is not in the schema.
      // Packet{ frames: [ Frame{ request_id: 999, field 99: "" } ] }
      alice.sendRaw(new Uint8Array([0x0a, 0x06, 0x08, 0xe7, 0x07, 0x9a, 0x06, 0x00]));
      const unknownReply = await alice.waitFor((frame) => frame.requestId === 999);
      assert.equal(errorOf(unknownReply).name, 'BAD_FRAME');
      // Garbage closes only the offender.
      alice.sendRaw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      const fatal = await alice.waitFor((frame) => frame.body?.$case === 'error' && (frame.body.value as { fatal: boolean }).fatal);
      assert.equal(errorOf(fatal).code, ErrorCode.BAD_FRAME);
      await alice.waitClosed();
      const stillServing = await bob.request({ $case: 'send', value: { conversationId: 'team', clientMsgId: 'after-garbage', text: 'still here' } });
      assert.equal(stillServing.body?.$case, 'sendAck');
    });

    test('pings are answered with pongs', async (t) => {
      const fixture = await setup(t);
      const alice = await signedIn(urlOf(fixture), await fixture.api.token('alice'));
      const pong = await alice.request({ $case: 'ping', value: { nonce: 42 } });
      assert.deepEqual(pong.body, { $case: 'pong', value: { nonce: 42 } });
    });
  });
}

test('a TCP length prefix over the frame limit is refused before any allocation', async (t) => {
  const fixture = await setup(t);
  const connection = await RawConnection.tcp(fixture.server.tcpUrl as string);
  const socket = (connection as unknown as { rawSocket: import('node:net').Socket }).rawSocket;
  socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  const error = errorOf(await connection.waitFor((frame) => frame.body?.$case === 'error'));
  assert.equal(error.name, 'TOO_LARGE');
  await connection.waitClosed();
});

test('a WebSocket message over the frame limit closes that connection only', async (t) => {
  const fixture = await startTestServer(t, { limits: { maxFrameBytes: 1024 } });
  await fixture.api.createUser('alice');
  const other = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  const big = await signedIn(fixture.server.wsUrl, await fixture.api.token('alice'));
  big.sendRaw(encodeFrameEntry({ requestId: 9, body: { $case: 'send', value: { conversationId: 'x', clientMsgId: 'big', text: 'x'.repeat(4096) } } }));
  await big.waitClosed();
  const pong = await other.request({ $case: 'ping', value: { nonce: 2 } });
  assert.equal(pong.body?.$case, 'pong');
});
