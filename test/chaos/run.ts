/**
 * `npm run chaos`: runs the chaos scenarios of docs/reliability.md one after
 * the other, prints one table row per scenario and a summary, writes the
 * results as JSON to test/chaos/results/chaos-<timestamp>.json (committed:
 * `npm run chaos:docs` renders the table of docs/reliability.md from them),
 * and exits non-zero
 * when any scenario misses the target (100% acked and delivered, 0
 * duplicates, 0 gaps, 0 order violations, unread counts that agree).
 *
 *   node --import tsx test/chaos/run.ts [--duration 30] [--users 10] [--scenario kill9,lost-acks] [--seed N] [--cluster]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chaosTable, failureDetails } from './report.js';
import { DEFAULT_OPTIONS, type ScenarioResult, chaosSeed, runScenario, scenarioNames } from './scenarios.js';

const USAGE = `Usage: npm run chaos -- [options]

  --duration S     seconds of traffic under faults per scenario (default ${DEFAULT_OPTIONS.durationMs / 1000})
  --users N        users; each has 1-3 devices, about 2N clients in all (default ${DEFAULT_OPTIONS.users})
  --interval MS    mean time between two sends of one client (default ${DEFAULT_OPTIONS.sendIntervalMs})
  --scenario LIST  comma-separated, from: ${scenarioNames().join(', ')} (default all)
  --seed N         seed for every random choice (default: PARLEY_CHAOS_SEED, else time-based; printed)
  --cluster        run against three nodes in child processes sharing PostgreSQL and NATS
                   (test/cluster/README.md says where it finds them); kill9 kills one node at a time
  --json PATH      where to write the results (default test/chaos/results/chaos-<timestamp>.json)
  --help`;

function positiveNumber(value: string | undefined, name: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`--${name} must be a positive number`);
  return number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      duration: { type: 'string', default: String(DEFAULT_OPTIONS.durationMs / 1000) },
      users: { type: 'string', default: String(DEFAULT_OPTIONS.users) },
      interval: { type: 'string', default: String(DEFAULT_OPTIONS.sendIntervalMs) },
      scenario: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const names = values.scenario === undefined ? scenarioNames() : values.scenario.split(',').map((name) => name.trim());
  for (const name of names) if (!scenarioNames().includes(name)) throw new Error(`unknown scenario ${name}; known: ${scenarioNames().join(', ')}`);
  const seed = chaosSeed(values.seed, () => Date.now() % 1_000_000);
  process.stdout.write(`chaos: seed ${seed}\n`);
  const options = {
    durationMs: positiveNumber(values.duration, 'duration') * 1000,
    users: Math.floor(positiveNumber(values.users, 'users')),
    sendIntervalMs: positiveNumber(values.interval, 'interval'),
    nodes: values.cluster ? 3 : 1,
    log: (line: string) => process.stderr.write(`  ${line}\n`),
  };
  process.stdout.write(`chaos: ${names.length} scenario(s), ${options.durationMs / 1000} s of faults each, ${options.users} users${values.cluster ? ', three nodes' : ''}\n`);

  const started = Date.now();
  const results: ScenarioResult[] = [];
  for (const [index, name] of names.entries()) {
    const result = await runScenario(name, { ...options, seed: seed + index });
    results.push(result);
    process.stdout.write(`${chaosTable([result]).split('\n').slice(2).join('\n')}\n`);
  }

  process.stdout.write(`\n${chaosTable(results)}\n\n`);
  const failed = results.filter((result) => !result.passed);
  for (const result of failed) process.stdout.write(`${failureDetails(result)}\n`);
  const totals = results.reduce(
    (sum, result) => ({
      sent: sum.sent + result.checks.sent,
      acked: sum.acked + result.checks.acked,
      deliveries: sum.deliveries + result.checks.delivered,
    }),
    { sent: 0, acked: 0, deliveries: 0 },
  );
  process.stdout.write(
    `${results.length - failed.length}/${results.length} scenarios met the target (100% delivered, 0 duplicates, 0 gaps, 0 order violations, unread agreed); ` +
      `${totals.acked}/${totals.sent} sends acked, ${totals.deliveries} deliveries checked, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`,
  );

  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const timestamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonPath = values.json === undefined ? resolve(repoRoot, 'test', 'chaos', 'results', `chaos-${timestamp}.json`) : resolve(values.json);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const machine = { node: process.version, platform: `${platform()} ${release()}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' };
  const seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(jsonPath, `${JSON.stringify({ startedAt: new Date(started).toISOString(), seconds, seed, options: { ...options, log: undefined }, machine, results }, null, 2)}\n`);
  process.stdout.write(`results written to ${jsonPath}\n`);
  return failed.length === 0 ? 0 : 1;
}

// Interrupted: exit normally, so that 'exit' handlers stop the child servers.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
