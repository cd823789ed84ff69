/**
 * Chaos-harness traffic across a cluster: the population of test/chaos
 * (users with one to three devices, direct conversations and groups) spread
 * over the nodes — device n connects to node n mod 3, on WebSocket or TCP in
 * turn — sending and reading while a test's fault fires, then the same
 * convergence wait and the same checks as the chaos suite (test/chaos/checks.ts):
 * every acked message shown once to every member device, in order, no gaps,
 * unread counts equal to the server's.
 */
import assert from 'node:assert/strict';
import { type CheckResult, assertDeliveredOnce } from '../chaos/checks.js';
import { type Convergence, type Device, type PopulationPlan, awaitConvergence, collect, connectDevices, createPopulation, planPopulation, readEverything, startTraffic } from '../chaos/harness.js';
import { seededRandom } from '../support/random.js';
import { type Cleanup, type Cluster, sleep } from './support.js';

export interface ClusterRunOptions {
  /** Users in the population (devices: about twice as many). Default 6. */
  users?: number;
  /** How long devices send, fault included. Default 6000 ms. */
  durationMs?: number;
  /** When the fault starts, from the start of traffic. Default a third of durationMs. */
  faultAtMs?: number;
  /** The fault; traffic flows on while it runs. */
  fault?: (devices: readonly Device[]) => Promise<void>;
  /** After sending stops, how long devices only read. Default 500 ms. */
  readTailMs?: number;
  /** How long the devices may take to converge. Default 20000 ms. */
  convergeDeadlineMs?: number;
  /** Mean time between two sends of one device. Default 200 ms. */
  sendIntervalMs?: number;
  seed?: number;
  /** Progress lines (convergence reports). */
  log?: (line: string) => void;
}

export interface ClusterTraffic {
  plan: PopulationPlan;
  devices: Device[];
  /** Every state change of each device after it connected, with the time since traffic started: "+2.1s reconnecting (UNAVAILABLE: ...)". */
  states: Map<string, string[]>;
  /** Node index each device was sent to first. */
  homeOf(device: Device): number;
}

export interface ClusterRun extends ClusterTraffic {
  convergence: Convergence;
  checks: CheckResult;
}

/** Builds the population, runs traffic with the fault, then waits for convergence and checks. Devices are closed after the test. */
export async function runClusterTraffic(t: Cleanup, cluster: Cluster, options: ClusterRunOptions = {}): Promise<ClusterRun> {
  const traffic = await driveTraffic(t, cluster, options);
  return { ...traffic, ...(await convergeAndCheck(cluster, traffic, options.convergeDeadlineMs ?? 20_000, options.log)) };
}

/** Builds the population, connects its devices and runs traffic with the fault; ends after every device marked everything read. */
export async function driveTraffic(t: Cleanup, cluster: Cluster, options: ClusterRunOptions = {}): Promise<ClusterTraffic> {
  const durationMs = options.durationMs ?? 6000;
  const random = seededRandom(options.seed ?? 1);
  const plan = planPopulation(options.users ?? 6);
  await createPopulation(plan, cluster.api, cluster.node(0).url('ws'));
  const nodeCount = cluster.nodes.length;
  const devices = await connectDevices(plan, (spec) => ({
    url: cluster.node(spec.ordinal % nodeCount).url(spec.transport),
    token: () => cluster.api.token(spec.userId),
  }));
  t.after(() => Promise.all(devices.map((device) => device.client.close())));

  const started = Date.now();
  const states = new Map<string, string[]>();
  for (const device of devices) {
    const seen: string[] = [];
    states.set(device.key, seen);
    device.client.on('state', ({ state, error }) => {
      seen.push(`+${((Date.now() - started) / 1000).toFixed(1)}s ${state}${error === undefined ? '' : ` (${error.codeName}: ${error.message})`}`);
    });
  }
  const traffic = startTraffic(devices, { sendIntervalMs: options.sendIntervalMs ?? 200, readIntervalMs: 600, maxPendingPerDevice: 40, random });
  try {
    if (options.fault !== undefined) {
      await sleep(options.faultAtMs ?? durationMs / 3);
      await options.fault(devices);
    }
    await sleep(Math.max(0, durationMs - (Date.now() - started)));
    traffic.stopSending();
    await sleep(options.readTailMs ?? 500);
  } finally {
    traffic.stop();
  }
  await readEverything(devices);
  return { plan, devices, states, homeOf: (device) => device.spec.ordinal % nodeCount };
}

/** Waits until every device converged (or the deadline), then runs the checks. */
export async function convergeAndCheck(
  cluster: Cluster,
  traffic: ClusterTraffic,
  deadlineMs: number,
  log?: (line: string) => void,
): Promise<{ convergence: Convergence; checks: CheckResult }> {
  const convergence = await awaitConvergence(traffic.devices, cluster.api, traffic.plan.users, deadlineMs, log);
  const checks = await collect(traffic.devices, cluster.api, traffic.plan.users);
  return { convergence, checks };
}

/** What went wrong, for the assertion messages. */
export function runDetails(run: ClusterRun): string {
  const { checks, convergence } = run;
  const lines = [
    `sent ${checks.sent}, acked ${checks.acked}, rejected ${checks.rejected}, pending ${checks.pending}; delivered ${checks.delivered}/${checks.expectedDeliveries}; ` +
      `duplicates ${checks.duplicates}, gaps ${checks.gaps}, order violations ${checks.orderViolations}, unread mismatches ${checks.unreadMismatches}`,
  ];
  if (!convergence.converged) lines.push(`did not converge in ${convergence.ms} ms: ${convergence.reason ?? '?'}`);
  for (const problem of checks.problems.slice(0, 10)) lines.push(`- ${problem}`);
  for (const device of run.devices) for (const error of device.backgroundErrors.slice(0, 2)) lines.push(`${device.key} error event: ${error}`);
  for (const device of run.devices) {
    const states = run.states.get(device.key) ?? [];
    if (states.length > 0) lines.push(`${device.key} states: ${states.slice(0, 6).join(', ')}${states.length > 6 ? ', ...' : ''}`);
  }
  const rejected = run.devices.flatMap((device) => device.sends.filter((send) => send.status === 'rejected').map((send) => `${device.key}: ${send.error}`));
  for (const line of rejected.slice(0, 5)) lines.push(`rejected send ${line}`);
  return lines.join('\n');
}

/**
 * The full guarantee: every send acked, every acked message shown to every
 * member device exactly once, in order, without gaps, stored once (a send
 * stored twice would show twice), unread counts equal to the server's, and
 * each device's sends stored in the order it made them.
 */
export function assertFullGuarantee(run: ClusterRun, minimumSends = 100): void {
  const { checks } = run;
  const details = runDetails(run);
  assert.ok(checks.sent >= minimumSends, `a meaningful load (${checks.sent} sends)\n${details}`);
  assertDeliveredOnce(checks, run.convergence.converged, details);
}
