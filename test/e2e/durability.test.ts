/**
 * Acknowledged means durable: a server killed with SIGKILL while clients send
 * still has every acknowledged message after a restart on the same data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_KEY, RawConnection, adminApi } from '../support/fixtures.js';
import { startChildServer } from '../support/child-server.js';

test('kill -9 loses no acknowledged message', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-kill9-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { PARLEY_DATA_DIR: dataDir, PARLEY_ADMIN_KEY: ADMIN_KEY, PARLEY_PORT: '0', PARLEY_TCP_PORT: '0' };
  let child = await startChildServer(env);
  t.after(() => child.kill9());
  const api = adminApi(child.httpUrl);
  await api.createUser('alice');
  await api.createUser('bob');
  await api.createGroup({ id: 'g', name: 'G', ownerId: 'alice', memberIds: ['bob'] });
  const token = await api.token('alice');

  const acked = new Set<string>();
  const senders = await Promise.all([RawConnection.open(child.wsUrl), RawConnection.open(child.tcpUrl)]);
  for (const connection of senders) await connection.hello(token);
  let stop = false;
  const loops = senders.map(async (connection, index) => {
    for (let n = 0; !stop; n++) {
      const clientMsgId = `s${index}-${n}`;
      try {
        const reply = await connection.request({ $case: 'send', value: { conversationId: 'g', clientMsgId, text: `m ${clientMsgId}` } }, 2000);
        if (reply.body?.$case === 'sendAck') acked.add(clientMsgId);
      } catch {
        return; // connection died with the server
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await child.kill9();
  stop = true;
  await Promise.all(loops);
  assert.ok(acked.size > 20, `expected a stream of acked sends before the kill, got ${acked.size}`);

  child = await startChildServer(env);
  const reader = await RawConnection.open(child.wsUrl);
  await reader.hello(await adminApi(child.httpUrl).token('bob'));
  const stored = new Set<string>();
  const seqs: number[] = [];
  for (let from = 1; ; ) {
    const reply = await reader.request({ $case: 'pull', value: { conversationId: 'g', fromSeq: from, toSeq: 0, limit: 500, descending: false } });
    if (reply.body?.$case !== 'pullResult') return assert.fail('expected pullResult');
    for (const message of reply.body.value.messages) {
      stored.add(message.clientMsgId);
      seqs.push(message.seq);
    }
    if (reply.body.value.coveredTo >= reply.body.value.lastSeq) break;
    from = reply.body.value.coveredTo + 1;
  }
  const lost = [...acked].filter((id) => !stored.has(id));
  assert.deepEqual(lost, [], 'every acknowledged message survives');
  for (const [index, seq] of seqs.entries()) assert.equal(seq, index + 1, 'seqs stay dense after recovery');
  // The restarted server accepts new messages after the recovered ones.
  const after = await reader.request({ $case: 'send', value: { conversationId: 'g', clientMsgId: 'after-restart', text: 'back' } });
  if (after.body?.$case !== 'sendAck') return assert.fail('expected sendAck');
  assert.equal(after.body.value.message?.seq, seqs.length + 1);
});
