import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { eventually, startTestServer } from '../support/fixtures.js';

test('a read racing a message', async (t) => {
  const fixture = await startTestServer(t);
  await fixture.api.createUser('alice'); await fixture.api.createUser('bob');
  const mk = (user: string) => { const c = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(user) }); t.after(() => c.close()); return c; };
  const alice = mk('alice'); const bob = mk('bob');
  await Promise.all([alice.connect(), bob.connect()]);
  const dm = await bob.direct('alice');
  let mismatches = 0;
  for (let round = 0; round < 100; round++) {
    await bob.send(dm, { text: `a${round}` });
    await eventually(() => alice.conversation(dm)?.lastSeq === bob.conversation(dm)?.lastSeq);
    const reading = alice.markRead(dm);
    await Promise.all([reading, bob.send(dm, { text: `b${round}` })]);
    await eventually(() => alice.conversation(dm)?.lastSeq === bob.conversation(dm)?.lastSeq);
    const agree = async () => (await fixture.api.call('GET', '/v1/users/alice/conversations')).body.totalUnread === alice.totalUnread;
    if (!(await eventually(agree, 1000).then(() => true, () => false))) mismatches++;
  }
  console.log('mismatches', mismatches);
  assert.equal(mismatches, 0);
});
