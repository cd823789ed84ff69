/**
 * PostgreSQL unreachable for three seconds mid-traffic: every node's path to
 * it goes through a relay that resets every connection and refuses new ones,
 * as when the database restarts or the network to it drops. Sends meanwhile
 * fail with a retryable error — never a false ack — and succeed once it is
 * back; the SDK sends them again with the same clientMsgId, so each is
 * stored once, in the order the device made them, and every device
 * converges with exact unread counts. Meanwhile the nodes tell a load
 * balancer they are not ready, and still tell a liveness probe they live.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Frame, errorInfo } from '@parley/protocol';
import { type RawConnection, signedIn } from '../support/fixtures.js';
import { Cluster, POSTGRES_URL, Relay, clusterSkipReason, sleep, waitForReadiness } from './support.js';
import { assertFullGuarantee, runClusterTraffic } from './traffic.js';

const skip = await clusterSkipReason({ postgres: true });

const OUTAGE_MS = 3000;

test('PostgreSQL cut off for 3 s mid-traffic: sends fail retryably, never a false ack, then succeed once', { skip, timeout: 60_000 }, async (t) => {
  const postgres = new URL(POSTGRES_URL);
  const relay = await Relay.start([Number(postgres.port || 5432)]);
  t.after(() => relay.close());
  postgres.hostname = '127.0.0.1';
  postgres.port = String(relay.port);
  const cluster = await Cluster.start(t, { postgresUrl: postgres.toString() });

  let during: Frame | undefined;
  let after: Frame | undefined;
  let repeated: Frame | undefined;
  let recoveredAfterMs = 0;
  const ready: { during: number[]; after: number[] } = { during: [], after: [] };
  let aliveDuring: Array<{ status: number; users: unknown }> = [];
  const run = await runClusterTraffic(t, cluster, {
    durationMs: 7000,
    faultAtMs: 1500,
    convergeDeadlineMs: 20_000,
    async fault() {
      // A raw connection shows what the SDK hides: the server's answer to a send made during the outage.
      const probe: RawConnection = await signedIn(cluster.node(0).url('tcp'), await cluster.api.token('u00'));
      t.after(() => probe.close());
      const send = { $case: 'send' as const, value: { conversationId: 'everyone', clientMsgId: 'probe-during-outage', text: 'probe' } };
      relay.cut();
      const cutAt = Date.now();
      during = await probe.request(send, 15_000);
      ready.during = await Promise.all(cluster.nodes.map((node) => waitForReadiness(node, 503, 1500)));
      aliveDuring = await Promise.all(
        cluster.nodes.map(async (node) => {
          const response = await fetch(`http://127.0.0.1:${node.ports.ws}/healthz`, { signal: AbortSignal.timeout(2000) });
          return { status: response.status, users: ((await response.json()) as { users: unknown }).users };
        }),
      );
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
      relay.restore();
      const restoredAt = Date.now();
      // The node's pool reconnects on demand: the same send, again, until it is acked.
      for (;;) {
        after = await probe.request(send, 15_000);
        if (after.body?.$case === 'sendAck' || Date.now() - restoredAt > 10_000) break;
        await sleep(100);
      }
      recoveredAfterMs = Date.now() - restoredAt;
      ready.after = await Promise.all(cluster.nodes.map((node) => waitForReadiness(node, 200, 5000)));
      // A repeat waits for the conversation like any send (the dedupe check runs under its lock): seconds under load.
      repeated = await probe.request(send, 15_000);
    },
  });

  t.diagnostic(`the send during the outage got: ${describe(during)}; acked ${recoveredAfterMs} ms after PostgreSQL came back`);
  t.diagnostic(`/readyz during the outage ${ready.during.join(', ')}, after ${ready.after.join(', ')}`);
  assert.deepEqual(ready.during, [503, 503, 503], 'every node says it is not ready while PostgreSQL is away');
  assert.deepEqual(ready.after, [200, 200, 200], 'and ready again once it is back');
  assert.deepEqual(aliveDuring, Array(3).fill({ status: 200, users: null }), '/healthz: alive, the user count left out');
  assert.equal(during?.body?.$case, 'error', `a send during the outage is refused, not acked: ${describe(during)}`);
  if (during?.body?.$case === 'error') {
    assert.equal(errorInfo(during.body.value.code).retryable, true, `the error says "try again": ${describe(during)}`);
    assert.equal(during.body.value.fatal, false, 'the connection stays open');
  }
  assert.equal(after?.body?.$case, 'sendAck', `the same send succeeds once PostgreSQL is back: ${describe(after)}`);
  assert.equal(repeated?.body?.$case, 'sendAck');
  if (after?.body?.$case === 'sendAck' && repeated?.body?.$case === 'sendAck') {
    assert.equal(repeated.body.value.message?.id, after.body.value.message?.id, 'a repeat returns the stored message');
  }

  // Every SDK send made during the outage was retried until acked, stored once, in its device's order.
  assertFullGuarantee(run);
  const errors = run.devices.flatMap((device) => device.backgroundErrors.map((error) => `${device.key}: ${error}`));
  t.diagnostic(`${run.checks.sent} sends; converged in ${run.convergence.ms} ms; error events: ${errors.length === 0 ? 'none' : errors.slice(0, 5).join(' | ')}`);
  assert.deepEqual(errors, [], 'no error reaches the application');
});

function describe(frame: Frame | undefined): string {
  if (frame?.body === undefined) return 'nothing';
  if (frame.body.$case === 'error') return `error ${errorInfo(frame.body.value.code).name} (${frame.body.value.message}), fatal ${frame.body.value.fatal}`;
  return frame.body.$case;
}
