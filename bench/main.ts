/**
 * `npm run bench -- <scenario> [options]`: the benchmarks that measure Parley
 * against a bare-ws baseline in the same run (bench/versus/), plus the
 * SDK-driven ones. `--help` after a scenario lists its options.
 */
import { DIRECT_USAGE, runDirect } from './versus/direct.js';
import { FANOUT_USAGE, runFanout } from './versus/fanout.js';

const USAGE = `Usage: npm run bench -- <scenario> [options]

  direct     durable 1:1 messaging vs a bare-ws relay (bench/versus/direct.ts)
  fanout     group fan-out vs a naive and a batched bare-ws relay (bench/versus/fanout.ts)
  sdk        the SDK-driven direct-message benchmark (bench/direct.ts)

Add --help after a scenario for its options.`;

const scenarios: Record<string, { usage: string; run(argv: string[]): Promise<number> }> = {
  direct: { usage: DIRECT_USAGE, run: runDirect },
  fanout: { usage: FANOUT_USAGE, run: runFanout },
};

async function main(): Promise<number> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === 'sdk') {
    process.argv.splice(2, 1);
    await import('./direct.js');
    return 0;
  }
  const scenario = name === undefined ? undefined : scenarios[name];
  if (scenario === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return name === undefined || name === '--help' ? 0 : 2;
  }
  if (argv.includes('--help')) {
    process.stdout.write(`${scenario.usage}\n`);
    return 0;
  }
  return scenario.run(argv);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
