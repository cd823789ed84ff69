/**
 * A race the chaos runs found, reproduced on purpose: a device marks a
 * conversation read while another member's message commits in the same
 * server batch. The read's answer counts unread messages only up to where the
 * conversation stood at the read, and can overtake the pushed message; the
 * device must still end up with the server's count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { eventually, startTestServer } from '../support/fixtures.js';

test('a read that crosses an incoming message still ends with the server’s unread count', async (t) => {
  const fixture = await startTestServer(t);
  await fixture.api.createUser('alice');
  await fixture.api.createUser('bob');
  const client = (userId: string) => {
    const each = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId) });
    t.after(() => each.close());
    return each;
  };
  const alice = client('alice');
  const bob = client('bob');
  await Promise.all([alice.connect(), bob.connect()]);
  const conversationId = await bob.direct('alice');
  const serverTotal = async () => (await fixture.api.call('GET', '/v1/users/alice/conversations')).body.totalUnread as number;

  const rounds = 20;
  let disagreed = 0;
  for (let round = 0; round < rounds; round++) {
    await bob.send(conversationId, { text: `before ${round}` });
    await eventually(() => alice.conversation(conversationId)?.lastSeq === bob.conversation(conversationId)?.lastSeq);
    // The read goes out first, the message right behind it: both usually land in one commit batch.
    const reading = alice.markRead(conversationId);
    await Promise.all([reading, bob.send(conversationId, { text: `crossing ${round}` })]);
    const settled = await eventually(async () => alice.totalUnread === (await serverTotal()), 2000).then(
      () => true,
      () => false,
    );
    if (!settled) disagreed += 1;
  }
  assert.equal(disagreed, 0, `alice's badge disagreed with the server after ${disagreed} of ${rounds} crossings`);
  assert.equal(alice.conversation(conversationId)?.unread, 1, 'the crossing message is unread');
});
