/**
 * The chaos scenarios of docs/reliability.md, shortened for `npm test`: the
 * same population shape, faults and checks as `npm run chaos`, with fewer
 * clients and a few seconds of faults each (about a minute for all eight), then
 * two of them on a three-node cluster (skipped, and said so, without
 * PostgreSQL and NATS outside CI).
 * Every scenario must meet the target: every send acked, every acked message
 * delivered to every member device exactly once, no gaps, no order
 * violations, unread counts that agree with the server and the messages. A failure prints the seed and the first
 * problems found; `npm run chaos -- --scenario NAME --seed N` replays the same
 * random choices (timing differs). The seed is fixed (1) unless
 * PARLEY_CHAOS_SEED says otherwise, and printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterSkipReason } from '../cluster/support.js';
import { assertDeliveredOnce } from './checks.js';
import { chaosTable, failureDetails } from './report.js';
import { type ScenarioResult, chaosSeed, runScenario, scenarioNames } from './scenarios.js';

/** Fixed, so that `npm test` makes the same random choices every time; PARLEY_CHAOS_SEED=N replays another seed. */
const DEFAULT_SEED = 1;
const baseSeed = chaosSeed(undefined, () => DEFAULT_SEED);
process.stdout.write(`chaos: seed ${baseSeed} (scenario n runs with seed ${baseSeed} + n; PARLEY_CHAOS_SEED=N to change)\n`);
// Before any test is declared: tests declared after an await would not run.
const clusterSkip = await clusterSkipReason();

for (const [index, name] of scenarioNames().entries()) {
  test(`chaos: ${name} converges with every message delivered once, in order`, { timeout: 60_000 }, async (t) => {
    const result = await runScenario(name, {
      users: 6,
      durationMs: 4_000,
      readTailMs: 1_000,
      convergeDeadlineMs: 10_000,
      seed: baseSeed + index,
    });
    assertTarget(t, result, 100);
  });
}

// Two of them again on three nodes (child processes sharing PostgreSQL and NATS, each
// connection sent to the next node): nodes killed in turn, and resets and stalls that
// move every client from node to node.
for (const [index, name] of ['kill9', 'resets-stalls'].entries()) {
  test(`chaos on three nodes: ${name} converges with every message delivered once, in order`, { skip: clusterSkip, timeout: 60_000 }, async (t) => {
    const result = await runScenario(name, {
      users: 6,
      durationMs: 4_000,
      readTailMs: 1_000,
      convergeDeadlineMs: 15_000,
      seed: baseSeed + scenarioNames().length + index,
      nodes: 3,
    });
    // Nodes in child processes take fewer sends per second than one in-process server.
    assertTarget(t, result, 60);
  });
}

function assertTarget(t: { diagnostic(message: string): void }, result: ScenarioResult, minimumSends: number): void {
  t.diagnostic(`seed ${result.seed}`);
  t.diagnostic(chaosTable([result]).split('\n').slice(2).join(''));
  const { checks } = result;
  const details = failureDetails(result);
  assert.ok(checks.sent > minimumSends, `a meaningful load (${checks.sent} sends)`);
  assertDeliveredOnce(checks, result.convergence.converged, details);
  assert.equal(checks.membershipMismatches, 0, details);
  assert.ok(result.passed, details);
}
