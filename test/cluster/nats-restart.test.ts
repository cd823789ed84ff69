/**
 * NATS, the nodes' only path to each other, dies mid-traffic and comes back
 * on the same port two seconds later. Sends keep committing meanwhile (the
 * store is shared) and are acked; their pushes are lost with NATS. Sending
 * stops the moment NATS is back, so no later message in the same
 * conversation reveals a gap: what was missed must come back by itself,
 * to devices that never lost their connection to their node. Meanwhile the
 * nodes tell a load balancer they are not ready.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, NatsProcess, clusterSkipReason, sleep, waitForReadiness } from './support.js';
import { assertFullGuarantee, convergeAndCheck, driveTraffic } from './traffic.js';

const skip = await clusterSkipReason({ natsServerBinary: true });

test('NATS killed and restarted mid-traffic: connected devices catch up by themselves, nothing acked is lost', { skip, timeout: 60_000 }, async (t) => {
  const nats = await NatsProcess.start();
  t.after(() => nats.kill());
  const cluster = await Cluster.start(t, { natsUrl: nats.url });
  const outage = { from: 0, to: 0 };
  const ready: { during: number[]; after: number[] } = { during: [], after: [] };
  const traffic = await driveTraffic(t, cluster, {
    faultAtMs: 2000,
    // Sending stops as NATS comes back: see the module comment.
    durationMs: 2000,
    async fault() {
      outage.from = Date.now();
      await nats.kill();
      ready.during = await Promise.all(cluster.nodes.map((node) => waitForReadiness(node, 503, 1500)));
      await sleep(Math.max(0, 2000 - (Date.now() - outage.from)));
      await nats.restart();
      outage.to = Date.now();
    },
  });
  ready.after = await Promise.all(cluster.nodes.map((node) => waitForReadiness(node, 200, 5000)));
  t.diagnostic(`NATS down for ${outage.to - outage.from} ms; /readyz during the outage ${ready.during.join(', ')}, after ${ready.after.join(', ')}`);
  assert.deepEqual(ready.during, [503, 503, 503], 'every node says it is not ready while NATS is away');
  assert.deepEqual(ready.after, [200, 200, 200], 'and ready again once it is back');

  // No reconnect, no later message: the nodes tell their devices what changed while the bus was away.
  const run = { ...traffic, ...(await convergeAndCheck(cluster, traffic, 15_000)) };
  t.diagnostic(`${run.checks.sent} sends; converged ${run.convergence.ms} ms after sending stopped`);
  assertFullGuarantee(run);
  for (const device of run.devices) assert.equal(device.reconnects, 0, `${device.key} kept its connection`);
});
