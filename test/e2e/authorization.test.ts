/**
 * The authorisation matrix: every operation, on both transports and on the
 * REST API, tried by an outsider, a removed member, and holders of expired,
 * forged and revoked tokens. Nothing of the conversation leaks, and the error
 * code is the same for the same situation everywhere.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { type Frame, ManualClock } from '@parley/protocol';
import { RawConnection, type TestServer, startTestServer } from '../support/fixtures.js';

type Body = NonNullable<Frame['body']>;

interface World {
  fixture: TestServer;
  directId: string;
  /** Seq of the last message in the group, sent after the removal. */
  secretSeq: number;
}

async function buildWorld(t: Parameters<typeof startTestServer>[0], clock?: ManualClock): Promise<World> {
  const fixture = await startTestServer(t, { clock });
  for (const id of ['owner', 'member', 'removed', 'outsider', 'peer']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'secret', name: 'Secret', ownerId: 'owner', memberIds: ['member', 'removed'] });
  const owner = await RawConnection.open(fixture.server.wsUrl);
  await owner.hello(await fixture.api.token('owner'));
  await owner.request({ $case: 'send', value: { conversationId: 'secret', clientMsgId: 'before', text: 'visible to removed' } });
  await owner.request({ $case: 'updateMembers', value: { conversationId: 'secret', add: [], remove: ['removed'] } });
  const secret = await owner.request({ $case: 'send', value: { conversationId: 'secret', clientMsgId: 'after', text: 'the secret' } });
  const direct = await owner.request({ $case: 'openDirect', value: { peerId: 'peer', subject: '' } });
  if (secret.body?.$case !== 'sendAck' || direct.body?.$case !== 'conversationResult') throw new Error('setup failed');
  const directId = direct.body.value.summary?.id as string;
  await owner.request({ $case: 'send', value: { conversationId: directId, clientMsgId: 'dm-secret', text: 'the secret' } });
  owner.close();
  return { fixture, directId, secretSeq: secret.body.value.message?.seq ?? 0 };
}

/** Operations on a conversation, each with the error an unauthorised caller must get. */
function operations(conversationId: string, secretSeq: number): Array<[string, Body]> {
  return [
    ['send', { $case: 'send', value: { conversationId, clientMsgId: `intruder-${Math.random()}`, text: 'x' } }],
    ['pull ascending', { $case: 'pull', value: { conversationId, fromSeq: 1, toSeq: 0, limit: 100, descending: false } }],
    ['pull the secret seq', { $case: 'pull', value: { conversationId, fromSeq: secretSeq, toSeq: secretSeq, limit: 1, descending: false } }],
    ['history', { $case: 'pull', value: { conversationId, fromSeq: 0, toSeq: 0, limit: 100, descending: true } }],
    ['members', { $case: 'members', value: { conversationId } }],
    ['add members', { $case: 'updateMembers', value: { conversationId, add: ['outsider'], remove: [] } }],
    ['remove members', { $case: 'updateMembers', value: { conversationId, add: [], remove: ['member'] } }],
    ['rename', { $case: 'rename', value: { conversationId, name: 'hijacked' } }],
    ['set role', { $case: 'setRole', value: { conversationId, userId: 'outsider', role: 3 } }],
  ];
}

function leaks(frame: Frame): boolean {
  return JSON.stringify(frame).includes('the secret');
}

for (const transport of ['ws', 'tcp'] as const) {
  describe(`authorisation over ${transport}`, () => {
    const urlOf = (world: World) => (transport === 'ws' ? world.fixture.server.wsUrl : (world.fixture.server.tcpUrl as string));

    test('an outsider is refused everything on groups and direct conversations alike', async (t) => {
      const world = await buildWorld(t);
      const outsider = await RawConnection.open(urlOf(world));
      await outsider.hello(await world.fixture.api.token('outsider'));
      for (const conversationId of ['secret', world.directId]) {
        for (const [name, body] of operations(conversationId, world.secretSeq)) {
          const reply = await outsider.request(body);
          assert.ok(!leaks(reply), `${name} leaked`);
          assert.equal(reply.body?.$case, 'error', `${name} on ${conversationId}`);
          const error = reply.body?.value as { name: string; fatal: boolean };
          const expected = conversationId !== 'secret' && ['add members', 'remove members', 'rename', 'set role'].includes(name) ? 'INVALID_ARGUMENT' : 'FORBIDDEN';
          assert.equal(error.name, expected, `${name} on ${conversationId}`);
          assert.equal(error.fatal, false);
        }
        const read = await outsider.request({ $case: 'markRead', value: { conversationId, seq: 0 } });
        assert.equal((read.body?.value as { name: string }).name, 'FORBIDDEN');
      }
      const sync = await outsider.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } });
      assert.ok(!leaks(sync));
    });

    test('a removed member reads up to the removal and nothing after; cannot act', async (t) => {
      const world = await buildWorld(t);
      const removed = await RawConnection.open(urlOf(world));
      await removed.hello(await world.fixture.api.token('removed'));
      for (const [name, body] of operations('secret', world.secretSeq)) {
        const reply = await removed.request(body);
        assert.ok(!leaks(reply), `${name} leaked to a removed member`);
        if (body.$case === 'pull') {
          assert.equal(reply.body?.$case, 'pullResult', name);
          if (reply.body?.$case === 'pullResult') assert.ok(reply.body.value.messages.every((m) => m.seq < world.secretSeq));
        } else {
          assert.equal(reply.body?.$case, 'error', name);
          assert.equal((reply.body?.value as { name: string }).name, 'FORBIDDEN', name);
        }
      }
      const sync = await removed.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } });
      assert.ok(!leaks(sync));
      if (sync.body?.$case === 'syncResult') {
        const summary = sync.body.value.conversations.find((c) => c.id === 'secret');
        assert.equal(summary?.active, false);
        assert.ok((summary?.lastSeq ?? 0) < world.secretSeq);
      }
    });

    test('expired, forged, revoked and foreign tokens never get a session', async (t) => {
      const clock = new ManualClock();
      const world = await buildWorld(t, clock);
      const { fixture } = world;
      const expired = await fixture.api.token('member', 1);
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('member').setIssuer('parley').setExpirationTime('1h').sign(new TextEncoder().encode('guess'));
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"member","iss":"parley"}').toString('base64url')}.`;
      const toRevoke = await fixture.api.token('removed');
      // Revocation refuses tokens issued before it in clock time: let a millisecond pass.
      clock.advance(1);
      await fixture.api.call('POST', '/v1/users/removed/revoke');
      // The 1 s token, minted on a whole second of the clock, is past its expiry.
      clock.advance(1_000);
      for (const [token, name] of [
        [expired, 'TOKEN_EXPIRED'],
        [forged, 'UNAUTHENTICATED'],
        [unsigned, 'UNAUTHENTICATED'],
        [toRevoke, 'UNAUTHENTICATED'],
      ] as const) {
        const connection = await RawConnection.open(urlOf(world));
        const reply = await connection.hello(token);
        assert.equal((reply.body?.value as { name: string }).name, name);
        // Nothing sent behind a refused hello is processed.
        await connection.waitClosed();
        assert.ok(!connection.frames.some(leaks));
      }
    });
  });
}

test('the REST API refuses user tokens and bad keys on every route', async (t) => {
  const world = await buildWorld(t);
  const userToken = await world.fixture.api.token('owner');
  const routes: Array<[string, string, unknown]> = [
    ['POST', '/v1/users', { id: 'x' }],
    ['GET', '/v1/users/owner', undefined],
    ['POST', '/v1/users/owner/tokens', {}],
    ['POST', '/v1/users/owner/revoke', undefined],
    ['GET', '/v1/users/owner/conversations', undefined],
    ['POST', '/v1/groups', { name: 'G', ownerId: 'owner' }],
    ['GET', '/v1/groups/secret/members', undefined],
    ['POST', '/v1/groups/secret/members', { userIds: ['outsider'] }],
    ['DELETE', '/v1/groups/secret/members/member', undefined],
    ['PATCH', '/v1/groups/secret', { name: 'x' }],
    ['POST', '/v1/conversations/secret/messages', { senderId: 'owner', text: 'x' }],
  ];
  for (const [method, path, body] of routes) {
    for (const key of [userToken, null, 'test-admin-key-but-longer', 'TEST-ADMIN-KEY']) {
      const response = await world.fixture.api.call(method, path, body, key);
      assert.equal(response.status, 401, `${method} ${path}`);
      assert.equal(response.body.error.name, 'UNAUTHENTICATED');
      assert.ok(!JSON.stringify(response.body).includes('the secret'));
    }
  }
});
