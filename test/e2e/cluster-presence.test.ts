/**
 * Presence and per-user limits over a cluster: two nodes sharing PostgreSQL
 * and NATS (a schema and a subject prefix of this run's own). Who is online
 * is known on every node, a user on both nodes counts once, and the
 * connection limit counts the user's connections on every node. Skipped, with
 * the reason, where PostgreSQL or NATS does not answer; under CI they must.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { natsSkipReason, postgresSkipReason } from '../../packages/server/test/support/cluster-services.js';
import { RawConnection, type TestServer, eventually } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';

const skip = (await natsSkipReason()) ?? (await postgresSkipReason());

function twoNodes(t: TestContext, limits: { maxConnectionsPerUser?: number } = {}): Promise<[TestServer, TestServer]> {
  return startTwoNodes(t, ['ann', 'bob'], { limits });
}

async function presence(node: TestServer, userId: string): Promise<{ online: boolean; connections: number; nodes: string[] }> {
  const answer = await node.api.call('GET', `/v1/users/${userId}/presence`);
  assert.equal(answer.status, 200);
  return answer.body;
}

async function helloOn(url: string, token: string): Promise<{ connection: RawConnection; answer: string; code?: string }> {
  const connection = await RawConnection.open(url);
  const reply = await connection.hello(token);
  return { connection, answer: reply.body?.$case ?? '', code: (reply.body?.value as { name?: string } | undefined)?.name };
}

describe('presence and limits across nodes', { skip }, () => {
  test('who is online is known on every node; a user on two nodes counts once; leaving shows everywhere', async (t) => {
    const [a, b] = await twoNodes(t);
    const token = await a.api.token('ann');
    assert.deepEqual(await presence(b, 'ann'), { userId: 'ann', online: false, connections: 0, nodes: [] });
    const first = await helloOn(a.server.wsUrl, token);
    assert.equal(first.answer, 'welcome');
    await eventually(async () => (await presence(b, 'ann')).connections === 1, 3000, 'node b sees ann on node a');
    assert.deepEqual((await presence(b, 'ann')).nodes, ['a']);
    const second = await helloOn(b.server.tcpUrl as string, token);
    assert.equal(second.answer, 'welcome');
    await eventually(async () => (await presence(a, 'ann')).connections === 2, 3000, 'node a sees both');
    assert.deepEqual((await presence(a, 'ann')).nodes.sort(), ['a', 'b']);
    const overview = await a.api.call('GET', '/v1/admin/overview');
    assert.equal(overview.body.totals.usersOnline, 1, 'one user, however many nodes hold her');
    first.connection.close();
    await eventually(async () => (await presence(b, 'ann')).connections === 1, 3000, 'node b sees ann leave node a');
    assert.deepEqual((await presence(b, 'ann')).nodes, ['b']);
    second.connection.close();
    await eventually(async () => !(await presence(a, 'ann')).online, 3000, 'offline everywhere');
  });

  test('the connection limit counts every node: a third connection is refused on either node until one closes', async (t) => {
    const [a, b] = await twoNodes(t, { maxConnectionsPerUser: 2 });
    const token = await a.api.token('ann');
    const onA = await helloOn(a.server.wsUrl, token);
    const onB = await helloOn(b.server.wsUrl, token);
    assert.deepEqual([onA.answer, onB.answer], ['welcome', 'welcome']);
    await eventually(async () => (await presence(a, 'ann')).connections === 2 && (await presence(b, 'ann')).connections === 2, 3000, 'both nodes count two');
    for (const node of [a, b]) {
      const third = await helloOn(node.server.tcpUrl as string, token);
      assert.deepEqual([third.answer, third.code], ['error', 'LIMIT_EXCEEDED']);
      third.connection.close();
    }
    // Another user is not affected.
    const bob = await helloOn(a.server.wsUrl, await a.api.token('bob'));
    assert.equal(bob.answer, 'welcome');
    onB.connection.close();
    await eventually(async () => (await presence(a, 'ann')).connections === 1, 3000, 'node a sees the close on node b');
    const again = await helloOn(a.server.wsUrl, token);
    assert.equal(again.answer, 'welcome');
    for (const open of [onA, bob, again]) open.connection.close();
  });
});
