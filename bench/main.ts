/**
 * `npm run bench -- <scenario> [options]`: the benchmarks that measure Parley
 * against a bare-ws baseline in the same run (bench/versus/), plus the
 * SDK-driven ones. `--help` after a scenario lists its options.
 */
import { fileURLToPath } from 'node:url';
import { CONNECT_USAGE, runConnect } from './versus/connect.js';
import { DIRECT_USAGE, runDirect } from './versus/direct.js';
import { FANOUT_USAGE, runFanout } from './versus/fanout.js';
import { MEDIA_USAGE, runMedia } from './versus/media.js';
import { ROOM_USAGE, runRoom } from './versus/room.js';
import { SYNC_USAGE, runSync } from './versus/sync.js';

const USAGE = `Usage: npm run bench -- <scenario> [options]

  direct     durable 1:1 messaging vs a bare-ws relay (bench/versus/direct.ts)
  fanout     group fan-out vs a naive and a batched bare-ws relay (bench/versus/fanout.ts)
  connect    connecting and idle connections vs a bare-ws server (bench/versus/connect.ts)
  sync       reconnect sync of a user in many conversations vs direct SQLite reads (bench/versus/sync.ts)
  media      text latency alone and beside uploads and ranged downloads (bench/versus/media.ts)
  room       one live room: viewers, chatter, reliable messages, a reconnect storm (bench/versus/room.ts)
  sdk        the SDK-driven direct-message benchmark (bench/direct.ts)

Add --help after a scenario for its options. Any scenario also takes
  --server-cpu-prof   V8 CPU profiles of every server process, start to end
  --window-cpu-prof   a CPU profile of the server's main thread per measured window
both written to bench/results/profiles/.`;

const scenarios: Record<string, { usage: string; run(argv: string[]): Promise<number> }> = {
  direct: { usage: DIRECT_USAGE, run: runDirect },
  fanout: { usage: FANOUT_USAGE, run: runFanout },
  connect: { usage: CONNECT_USAGE, run: runConnect },
  sync: { usage: SYNC_USAGE, run: runSync },
  media: { usage: MEDIA_USAGE, run: runMedia },
  room: { usage: ROOM_USAGE, run: runRoom },
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
  const profilesDir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  const profile = argv.indexOf('--server-cpu-prof');
  if (profile >= 0) {
    argv.splice(profile, 1);
    process.env.BENCH_SERVER_CPU_PROF = profilesDir;
  }
  const windowProfile = argv.indexOf('--window-cpu-prof');
  if (windowProfile >= 0) {
    argv.splice(windowProfile, 1);
    process.env.BENCH_WINDOW_PROF = profilesDir;
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
