/**
 * Turns the server CPU profiles of one bench run (`direct.ts --server-cpu-prof`
 * writes them to bench/results/profiles/) into a small JSON summary: self time
 * per function and per area, for every thread of the server process. The
 * summary is what bench/README.md's "Where the time goes" is rendered from
 * (bench/render-readme.ts); the raw profiles are large and stay uncommitted.
 *
 *   node --import tsx bench/profile-summary.ts --run bench/results/NAME.json --out bench/results/SET/cpu-profile.json
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CpuProfile, summariseProfile } from './support/cpu-profile.js';

const USAGE = `Usage: node --import tsx bench/profile-summary.ts --run RESULT.json --out SUMMARY.json [options]

  --run PATH       the bench result JSON of the profiled run (its figures are referenced, not copied)
  --out PATH       where to write the summary
  --profiles DIR   where the .cpuprofile files are (default bench/results/profiles)
  --pid N          the server process whose profiles to read (default: the newest profiled process)
  --top N          functions to keep per thread (default 15)
  --note TEXT      how the run was made, for the record
  --help`;

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    out: { type: 'string' },
    profiles: { type: 'string', default: join(benchDir, 'results', 'profiles') },
    pid: { type: 'string' },
    top: { type: 'string', default: '15' },
    note: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help || values.run === undefined || values.out === undefined) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}

// node --cpu-prof names its files CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile.
const NAME = /^CPU\.(\d{8})\.(\d{6})\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/u;
const profiles = readdirSync(values.profiles)
  .map((file) => ({ file, match: NAME.exec(file) }))
  .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
  .map(({ file, match }) => ({ file, stamp: `${match[1]}${match[2]}`, pid: match[3] as string, threadId: Number(match[4]) }));
if (profiles.length === 0) throw new Error(`no .cpuprofile files in ${values.profiles}`);
const pid = values.pid ?? profiles.reduce((newest, entry) => (entry.stamp > newest.stamp ? entry : newest)).pid;
const threads = profiles.filter((entry) => entry.pid === pid).sort((a, b) => a.threadId - b.threadId);

const run = JSON.parse(readFileSync(values.run, 'utf8')) as { timestamp: string };
const summary = {
  benchmark: 'cpu-profile',
  run: relative(dirname(resolve(values.out)), resolve(values.run)),
  runTimestamp: run.timestamp,
  note: values.note,
  threads: threads.map(({ file, threadId }) => {
    const profile = JSON.parse(readFileSync(join(values.profiles, file), 'utf8')) as CpuProfile;
    return { file: basename(file), ...summariseProfile(profile, threadId === 0 ? 'main' : `worker ${threadId}`, repoRoot, Number(values.top)) };
  }),
};
writeFileSync(values.out, `${JSON.stringify(summary, null, 2)}\n`);
for (const thread of summary.threads) {
  process.stdout.write(`\n${thread.thread}: busy ${thread.busyMs} ms of ${thread.profiledMs} ms\n`);
  for (const fn of thread.functions.slice(0, 10)) process.stdout.write(`  ${String(fn.selfPercentOfBusy).padStart(5)}%  ${fn.function}  ${fn.location}\n`);
}
process.stdout.write(`\nsummary written to ${values.out}\n`);
