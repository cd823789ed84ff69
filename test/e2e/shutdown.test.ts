/**
 * Shutdown: with a drain time, the node first fails its readiness check
 * while still serving everyone, so a load balancer stops sending it new
 * connections; then it tells its clients to move, each at its own moment,
 * and ends every connection (one that opened TCP to the HTTP port and never
 * sent a request would otherwise hold close() until Node's header timeout, a
 * minute, ran out).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { RawConnection, errorOf, startTestServer } from '../support/fixtures.js';

test('close() ends a connection that never sent a request, and resolves', async () => {
  const fixture = await startTestServer(undefined);
  const silent = connect(Number(new URL(fixture.server.httpUrl).port), '127.0.0.1');
  await once(silent, 'connect');
  const ended = once(silent, 'close');
  await fixture.close();
  await ended;
  assert.equal(silent.destroyed, true);
});

test('a stopping server tells each client to come back at its own moment, spread over the time one node would take to admit them all', async () => {
  // 10 hellos a second: 20 clients are spread over 2 s.
  const fixture = await startTestServer(undefined, { limits: { connectsPerSecond: 10, connectBurst: 100 } });
  await fixture.api.createUser('ann');
  const token = await fixture.api.token('ann');
  const connections = await Promise.all(Array.from({ length: 20 }, () => RawConnection.open(fixture.server.wsUrl)));
  for (const connection of connections) assert.equal((await connection.hello(token)).body?.$case, 'welcome');
  await fixture.close();
  const hints = await Promise.all(
    connections.map(async (connection) => {
      const frame = await connection.waitFor((candidate) => candidate.body?.$case === 'error');
      const error = errorOf(frame);
      assert.equal(error.name, 'UNAVAILABLE');
      assert.equal(error.fatal, true);
      return error.retryAfterMs;
    }),
  );
  assert.ok(hints.every((hint) => hint >= 0 && hint <= 2000), `within 2 s: ${hints.join(', ')}`);
  assert.ok(new Set(hints).size > 10, 'not one moment for all');
});

test('a draining node answers /readyz with 503 "draining" and keeps serving its clients until the drain time is over', async () => {
  const fixture = await startTestServer(undefined, { nodeId: 'n1', drainSeconds: 1.5 });
  await fixture.api.createUser('ann');
  await fixture.api.createUser('bob');
  const ann = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token('ann'), reconnect: false });
  try {
    await ann.connect();
    const dm = await ann.direct('bob');
    const started = Date.now();
    const closed = fixture.close();
    const readiness = await fetch(`${fixture.server.httpUrl}/readyz`);
    assert.equal(readiness.status, 503);
    assert.deepEqual(await readiness.json(), { status: 'draining', node: 'n1', store: true, bus: true });
    const sent = await ann.send(dm, { text: 'still served while draining' });
    assert.equal(sent.seq, 1);
    const late = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token('bob'), reconnect: false });
    await late.connect(); // a client the balancer sent before it noticed is served too
    late.close();
    await closed;
    assert.ok(Date.now() - started >= 1400, 'close() waited out the drain time');
  } finally {
    ann.close();
  }
});
