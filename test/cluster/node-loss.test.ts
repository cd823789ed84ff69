/**
 * Losing a node of three while clients send: killed with kill -9, or
 * stopped with SIGTERM as an orchestrator would. Its clients' reconnects
 * land on the other nodes (through the relay in front of it, as through a
 * load balancer) and everything converges: every acked message present once
 * on every member device, in order, nothing lost, unread counts exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StateChange } from '@parley/client';
import { Cluster, clusterSkipReason } from './support.js';
import { assertFullGuarantee, runClusterTraffic, runDetails } from './traffic.js';

const skip = await clusterSkipReason();

test('kill -9 of a node mid-traffic: its clients move to the others and nothing acked is lost', { skip, timeout: 60_000 }, async (t) => {
  const cluster = await Cluster.start(t);
  // The first node: the admin API (tokens for reconnecting clients) fails over with it.
  const victim = 0;
  const run = await runClusterTraffic(t, cluster, {
    durationMs: 6000,
    faultAtMs: 2000,
    fault: () => cluster.kill9(victim),
  });
  assertFullGuarantee(run);
  const moved = run.devices.filter((device) => run.homeOf(device) === victim);
  assert.ok(moved.length > 0);
  for (const device of moved) {
    assert.ok(device.reconnects >= 1, `${device.key} lost its node`);
    assert.equal(device.client.state, 'open', `${device.key} is connected again`);
  }
  // Every connection now ends on a surviving node.
  const victimPorts = Object.values(cluster.node(victim).ports);
  for (const node of cluster.nodes) {
    for (const backend of [...node.relays.ws.openBackends(), ...node.relays.tcp.openBackends()]) assert.ok(!victimPorts.includes(backend), 'no connection to the dead node');
  }
  t.diagnostic(`${run.checks.sent} sends; ${moved.length} devices moved off ${cluster.node(victim).name}; converged in ${run.convergence.ms} ms`);
});

test('SIGTERM of a node mid-traffic: its clients are told to move, no error reaches the app, nothing is lost', { skip, timeout: 60_000 }, async (t) => {
  const cluster = await Cluster.start(t);
  const victim = 2;
  const states = new Map<string, StateChange[]>();
  let stopped: { code: number | null; signal: NodeJS.Signals | null; ms: number } | undefined;
  const run = await runClusterTraffic(t, cluster, {
    durationMs: 6000,
    faultAtMs: 2000,
    async fault(devices) {
      for (const device of devices) {
        const seen: StateChange[] = [];
        states.set(device.key, seen);
        device.client.on('state', (change) => seen.push(change));
      }
      stopped = await cluster.terminate(victim);
    },
  });
  assertFullGuarantee(run);
  assert.deepEqual({ code: stopped?.code, signal: stopped?.signal }, { code: 0, signal: null }, 'the node stops cleanly on SIGTERM');
  assert.ok((stopped?.ms ?? Number.POSITIVE_INFINITY) < 5000, `the node stops promptly (${stopped?.ms} ms)`);

  // No error surfaced to the application: no 'error' event, no rejected send (asserted above), no request failed.
  for (const device of run.devices) assert.deepEqual(device.backgroundErrors, [], `${device.key}: no error event\n${runDetails(run)}`);

  // What the moved clients were told: the reason on their 'reconnecting' state.
  const moved = run.devices.filter((device) => run.homeOf(device) === victim);
  const reasons = moved.map((device) => {
    const lost = (states.get(device.key) ?? []).find((change) => change.state === 'reconnecting');
    return lost?.error === undefined ? 'none' : `${lost.error.codeName}: ${lost.error.message}`;
  });
  t.diagnostic(`node stopped in ${stopped?.ms} ms; the moved clients saw: ${[...new Set(reasons)].join(' | ')}`);
  for (const [index, device] of moved.entries()) {
    assert.equal(device.client.state, 'open', `${device.key} is connected again`);
    assert.match(reasons[index] ?? '', /^UNAVAILABLE: server shutting down$/, `${device.key} was told the server is going away`);
  }
  // Others never noticed.
  for (const device of run.devices.filter((device) => run.homeOf(device) !== victim)) {
    assert.equal(
      (states.get(device.key) ?? []).some((change) => change.state === 'reconnecting'),
      false,
      `${device.key} kept its connection`,
    );
  }
});
