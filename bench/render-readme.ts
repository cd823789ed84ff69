/**
 * Renders the figures in bench/README.md from the committed result files in
 * bench/results/, so that no figure in a table is typed by hand. The README
 * marks each generated block with a comment naming its source:
 *
 *   <!-- bench-table results=DIR columns=scenario,transport,p99,... -->
 *   ...generated...
 *   <!-- /bench-table -->
 *
 *   <!-- bench-profile summary=DIR/cpu-profile.json thread=main top=12 -->
 *   ...generated...
 *   <!-- /bench-profile -->
 *
 *   <!-- bench-first-sight results=DIR -->
 *   ...generated...
 *   <!-- /bench-first-sight -->
 *
 *   <!-- bench-versus results=DIR scenario=direct|fanout|connect|sync|media|room -->
 *   ...generated: the newest bench/results/DIR/<scenario>-*.json...
 *   <!-- /bench-versus -->
 *
 *   <!-- bench-cluster results=DIR -->
 *   ...generated: one row per direct.ts and room result in bench/results/DIR/,
 *   single node and cluster side by side...
 *   <!-- /bench-cluster -->
 *
 * direct and fanout results also get a chart, bench/results/DIR/<scenario>.svg,
 * written (and checked) alongside the README.
 *
 * A bench-table has one row per direct.ts result file (`benchmark: "direct"`)
 * in bench/results/DIR/; a bench-profile shows a profile-summary.ts summary.
 *
 *   node --import tsx bench/render-readme.ts          rewrite the blocks (npm run bench:docs)
 *   node --import tsx bench/render-readme.ts --check  exit 1 if the README differs from its results
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCount } from './support/stats.js';
import { connectTable } from './versus/connect.js';
import { directTable } from './versus/direct.js';
import { fanoutTable } from './versus/fanout.js';
import { mediaTable } from './versus/media.js';
import { roomTable } from './versus/room.js';
import { directPlot, fanoutPlot } from './versus/plot.js';
import { syncTable } from './versus/sync.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
export const README_PATH = join(benchDir, 'README.md');
export const RESULTS_DIR = join(benchDir, 'results');

/** The subset of a direct.ts result that tables show; transcribed results may lack some fields. */
interface DirectResult {
  benchmark: 'direct';
  scenario: 'fixed-rate' | 'max-throughput';
  transport: 'ws' | 'tcp';
  pairs: number;
  offeredRate: number;
  window?: number;
  durationS: number;
  measured: {
    sent?: number;
    acked?: number;
    delivered?: number;
    throughputPerS?: number;
    latencyMs: { p50?: number; p90?: number; p99?: number; max?: number };
    ackLatencyMs?: { p50?: number; p99?: number };
    server: { rssMaxMb?: number; cpuUsPerDelivered?: number; systemCpuUsPerDelivered?: number; cpuCores?: number; pullsPer1000Delivered?: number };
    generator?: { cpuCores?: number };
    /** Pull requests the SDK clients sent, per 1,000 delivered (WebSocket runs). */
    clientPullsPer1000Delivered?: number;
    otherProcessesCpuCores?: number;
  };
  check?: { missing: number; duplicates: number; misrouted: number; outOfOrder: number; unexpected: number };
  /** Set on results recovered from an older hand-typed table rather than written by direct.ts. */
  transcribed?: string;
}

interface ProfileSummary {
  benchmark: 'cpu-profile';
  run: string;
  note: string;
  threads: Array<{
    thread: string;
    profiledMs: number;
    busyMs: number;
    functions: Array<{ function: string; location: string; area: string; selfMs: number; selfPercentOfBusy: number }>;
    areas: Array<{ area: string; selfMs: number; selfPercentOfBusy: number }>;
  }>;
}

const DASH = '—';

/** Latency: one decimal below 100 ms, whole milliseconds above. */
function ms(value: number | undefined): string {
  if (value === undefined) return DASH;
  return value < 100 ? value.toFixed(1) : formatCount(value);
}

function count(value: number | undefined): string {
  return value === undefined ? DASH : formatCount(value);
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? DASH : value.toFixed(digits);
}

const COLUMNS: Record<string, { title: string; cell: (result: DirectResult) => string }> = {
  scenario: { title: 'scenario', cell: (r) => r.scenario },
  transport: { title: 'transport', cell: (r) => r.transport },
  pairs: { title: 'pairs', cell: (r) => count(r.pairs) },
  offered: { title: 'offered msg/s', cell: (r) => (r.offeredRate > 0 ? formatCount(r.offeredRate) : `max (window ${r.window ?? DASH})`) },
  duration: { title: 'duration s', cell: (r) => String(r.durationS) },
  sent: { title: 'sent', cell: (r) => count(r.measured.sent) },
  acked: { title: 'acked', cell: (r) => count(r.measured.acked) },
  delivered: { title: 'delivered', cell: (r) => count(r.measured.delivered) },
  throughput: {
    title: 'throughput msg/s',
    // The figure a max-throughput run exists for stands out.
    cell: (r) => (r.scenario === 'max-throughput' && r.measured.throughputPerS !== undefined ? `**${count(r.measured.throughputPerS)}**` : count(r.measured.throughputPerS)),
  },
  p50: { title: 'p50 ms', cell: (r) => ms(r.measured.latencyMs.p50) },
  p90: { title: 'p90 ms', cell: (r) => ms(r.measured.latencyMs.p90) },
  p99: { title: 'p99 ms', cell: (r) => ms(r.measured.latencyMs.p99) },
  max: { title: 'max ms', cell: (r) => ms(r.measured.latencyMs.max) },
  ackP99: { title: "sender's ack p99 ms", cell: (r) => ms(r.measured.ackLatencyMs?.p99) },
  rss: { title: 'server RSS MB', cell: (r) => fixed(r.measured.server.rssMaxMb, 0) },
  cpu: { title: 'server CPU µs/msg', cell: (r) => fixed(r.measured.server.cpuUsPerDelivered, 0) },
  kernelCpu: { title: 'of which kernel µs/msg', cell: (r) => fixed(r.measured.server.systemCpuUsPerDelivered, 0) },
  pulls: {
    title: 'gap pulls per 1,000 msgs',
    cell: (r) => (r.measured.clientPullsPer1000Delivered === undefined ? 'not counted' : fixed(r.measured.clientPullsPer1000Delivered, 2)),
  },
  cores: {
    title: 'server / generator / other cores',
    cell: (r) => {
      const { server, generator, otherProcessesCpuCores } = r.measured;
      if (server.cpuCores === undefined || generator?.cpuCores === undefined || otherProcessesCpuCores === undefined) return DASH;
      return `${server.cpuCores.toFixed(2)} / ${generator.cpuCores.toFixed(2)} / ${otherProcessesCpuCores.toFixed(2)}`;
    },
  },
};

const TRANSPORT_ORDER = ['ws', 'tcp'];
const SCENARIO_ORDER = ['fixed-rate', 'max-throughput'];

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

function renderTable(attributes: Record<string, string>, resultsDir: string): string {
  const dir = required(attributes, 'results', 'bench-table');
  const columns = required(attributes, 'columns', 'bench-table').split(',');
  for (const column of columns) if (COLUMNS[column] === undefined) throw new Error(`bench-table: unknown column "${column}" (known: ${Object.keys(COLUMNS).join(', ')})`);
  const results = readdirSync(join(resultsDir, dir))
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => readJson<DirectResult | ProfileSummary>(join(resultsDir, dir, file)))
    .filter((result): result is DirectResult => result.benchmark === 'direct')
    .sort(
      (a, b) =>
        TRANSPORT_ORDER.indexOf(a.transport) - TRANSPORT_ORDER.indexOf(b.transport) ||
        SCENARIO_ORDER.indexOf(a.scenario) - SCENARIO_ORDER.indexOf(b.scenario) ||
        a.offeredRate - b.offeredRate,
    );
  if (results.length === 0) throw new Error(`bench-table: no direct.ts results in bench/results/${dir}/`);
  const rows = results.map((result) => columns.map((column) => (COLUMNS[column] as (typeof COLUMNS)[string]).cell(result)));
  const transcribed = results.some((result) => result.transcribed !== undefined);
  const source = `Rendered from [results/${dir}/](results/${dir}/)${transcribed ? ' (figures transcribed from an earlier hand-typed table; those runs\u2019 own JSON was not kept)' : ''}.`;
  return `${table(
    columns.map((column) => (COLUMNS[column] as (typeof COLUMNS)[string]).title),
    rows,
  )}\n\n<sub>${source}</sub>`;
}

function renderProfile(attributes: Record<string, string>, resultsDir: string): string {
  const file = required(attributes, 'summary', 'bench-profile');
  const threadName = attributes.thread ?? 'main';
  const top = Number(attributes.top ?? '12');
  const summary = readJson<ProfileSummary>(join(resultsDir, file));
  const thread = summary.threads.find((candidate) => candidate.thread === threadName);
  if (thread === undefined) throw new Error(`bench-profile: no thread "${threadName}" in ${file}`);
  const seconds = (value: number) => (value / 1000).toFixed(1);
  const lines = [
    `The ${threadName} thread was busy ${seconds(thread.busyMs)} s of the ${seconds(thread.profiledMs)} s profiled. Self time by where the code lives:`,
    '',
    table(
      ['area', 'self ms', '% of busy'],
      thread.areas.slice(0, 8).map((area) => [area.area, formatCount(area.selfMs), area.selfPercentOfBusy.toFixed(1)]),
    ),
    '',
    `The ${top} functions with the most self time:`,
    '',
    table(
      ['#', 'function', 'where', 'self ms', '% of busy'],
      thread.functions.slice(0, top).map((fn, index) => [String(index + 1), `\`${fn.function}\``, fn.location === '' ? `native` : `\`${fn.location}\``, formatCount(fn.selfMs), fn.selfPercentOfBusy.toFixed(1)]),
    ),
    '',
    `<sub>Rendered from [results/${file}](results/${file})${summary.note === '' ? '' : ` (${summary.note.replace(/\.$/u, '')})`}.</sub>`,
  ];
  return lines.join('\n');
}

/** The part of a first-sight.ts result that the README shows. */
interface FirstSightResult {
  benchmark: 'first-sight';
  label: string;
  startedAt: string;
  seed: number;
  summaries: Array<{ variant: string; runs: number; devices: number; expected: number; missing: number; duplicates: number; outOfOrder: number; runsWithLoss: number; worstDevice: number }>;
}

/** One row per variant and result file (labelled runs: before, after, ...). */
function renderFirstSight(attributes: Record<string, string>, resultsDir: string): string {
  const dir = required(attributes, 'results', 'bench-first-sight');
  const files = readdirSync(join(resultsDir, dir))
    .filter((file) => file.endsWith('.json'))
    .sort();
  const results = files
    .map((file) => readJson<FirstSightResult>(join(resultsDir, dir, file)))
    .filter((result) => result.benchmark === 'first-sight')
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  if (results.length === 0) throw new Error(`bench-first-sight: no first-sight.ts results in bench/results/${dir}/`);
  const rows = results.flatMap((result) =>
    result.summaries.map((summary) => [
      result.label,
      summary.variant,
      String(result.seed),
      String(summary.runs),
      formatCount(summary.expected),
      formatCount(summary.missing),
      String(summary.duplicates),
      String(summary.outOfOrder),
      `${summary.runsWithLoss} of ${summary.runs}`,
      String(summary.worstDevice),
    ]),
  );
  return `${table(['label', 'variant', 'seed', 'runs', 'owed deliveries', 'missing', 'duplicates', 'out of order', 'runs with a loss', 'most missed by one device'], rows)}\n\n<sub>Rendered from [results/${dir}/](results/${dir}/).</sub>`;
}

const VERSUS_SCENARIOS = ['direct', 'fanout', 'connect', 'sync', 'media', 'room'] as const;
type VersusScenario = (typeof VERSUS_SCENARIOS)[number];

/** The newest result of a versus scenario in bench/results/DIR/. */
function versusResult(resultsDir: string, dir: string, scenario: VersusScenario): { file: string; result: any } {
  const files = readdirSync(join(resultsDir, dir))
    .filter((file) => file.startsWith(`${scenario}-`) && file.endsWith('.json'))
    .sort();
  const file = files[files.length - 1];
  if (file === undefined) throw new Error(`bench-versus: no ${scenario}-*.json in bench/results/${dir}/`);
  return { file, result: readJson(join(resultsDir, dir, file)) };
}

function renderVersus(attributes: Record<string, string>, resultsDir: string): string {
  const dir = required(attributes, 'results', 'bench-versus');
  const scenario = required(attributes, 'scenario', 'bench-versus') as VersusScenario;
  if (!VERSUS_SCENARIOS.includes(scenario)) throw new Error(`bench-versus: unknown scenario ${scenario}`);
  const { file, result } = versusResult(resultsDir, dir, scenario);
  const body =
    scenario === 'direct'
      ? directTable(result)
      : scenario === 'fanout'
        ? fanoutTable(result)
        : scenario === 'connect'
          ? connectTable(result)
          : scenario === 'media'
            ? mediaTable(result)
            : scenario === 'room'
              ? roomTable(result)
              : syncTable(result);
  const plot = scenario === 'direct' || scenario === 'fanout' ? `

![${scenario} chart](results/${dir}/${scenario}.svg)` : '';
  const checks = result.checks ?? (result.check === undefined ? undefined : { run: result.check });
  const verdict =
    checks === undefined ? '' : ` Delivery check: ${Object.values(checks as Record<string, { ok: boolean }>).every((check) => check.ok) ? 'every acknowledged message delivered once, in order' : 'FAILED'}.`;
  return `${body}${plot}

<sub>Rendered from [results/${dir}/${file}](results/${dir}/${file}), ${result.machine?.cpus ?? '?'} CPUs (${result.machine?.cpuModel ?? '?'}), Node ${result.machine?.node ?? '?'}.${verdict}</sub>`;
}

/** The part of a direct.ts or room result that the cluster table shows; results from before --nodes lack the cluster fields. */
interface ServersFields {
  timestamp?: string;
  nodes?: number;
  store?: 'sqlite' | 'postgres';
  bus?: 'local' | 'nats';
  machine?: { cpus?: number; cpuModel?: string; node?: string; loadAverage?: { start: number[]; end: number[] } };
}

type ClusterDirectResult = DirectResult &
  ServersFields & {
    measured: { server: { perNode?: Array<{ node: string; cpuCores: number; rssMaxMb: number }> } };
    check?: { drained?: boolean };
  };

interface ClusterRoomResult extends ServersFields {
  benchmark: 'room';
  options: { viewers: number; senders: number; rate: number; durationS: number };
  result: {
    viewers: number;
    acceptedEventsPerS: number;
    deliveriesPerS: number;
    reliableLatencyMs: { p50: number; p99: number };
    reliableWithin3sShare: number;
    serverCpuCores: number;
    serverCpuUsPerDelivery: number;
    serverRssMaxMb?: number;
    gaps: number;
    viewersDropped: number;
    perNode?: Array<{ node: string; cpuCores: number; rssMaxMb: number }>;
  };
}

const STORE_LABEL = { sqlite: 'SQLite', postgres: 'PostgreSQL' } as const;

function serversLabel(result: ServersFields): string {
  const nodes = result.nodes ?? 1;
  const store = STORE_LABEL[result.store ?? 'sqlite'];
  const bus = (result.bus ?? 'local') === 'nats' ? ' + NATS' : '';
  return `${nodes} node${nodes === 1 ? '' : 's'}, ${store}${bus}`;
}

/** "1.23 (0.61 + 0.62)": the sum, and each node's share when there are several. */
function perNodeCell(totalValue: number | undefined, perNode: Array<Record<string, unknown>> | undefined, field: 'cpuCores' | 'rssMaxMb', digits: number): string {
  if (totalValue === undefined) return DASH;
  const shares = perNode !== undefined && perNode.length > 1 ? ` (${perNode.map((node) => (node[field] as number).toFixed(digits)).join(' + ')})` : '';
  return `${totalValue.toFixed(digits)}${shares}`;
}

/** When the run ended, "HH:MM" UTC: tells repeats apart and lines them up with the machine's load. */
function timeCell(result: ServersFields): string {
  return result.timestamp === undefined ? DASH : result.timestamp.slice(11, 16);
}

function loadCell(result: ServersFields): string {
  const load = result.machine?.loadAverage;
  return load === undefined ? DASH : `${(load.start[0] ?? 0).toFixed(1)} → ${(load.end[0] ?? 0).toFixed(1)}`;
}

function serversOrder(result: ServersFields): number {
  return (result.nodes ?? 1) * 4 + (result.store === 'postgres' ? 2 : 0) + (result.bus === 'nats' ? 1 : 0);
}

/**
 * Single node and cluster side by side: every direct.ts and room result in
 * bench/results/DIR/, by benchmark, then servers (nodes, store, bus), then
 * fixed rate before max throughput.
 */
function renderCluster(attributes: Record<string, string>, resultsDir: string): string {
  const dir = required(attributes, 'results', 'bench-cluster');
  const files = readdirSync(join(resultsDir, dir))
    .filter((file) => file.endsWith('.json'))
    .sort();
  const read = files.map((file) => ({ file, result: readJson<ClusterDirectResult | ClusterRoomResult>(join(resultsDir, dir, file)) }));
  const direct = read
    .filter((entry): entry is { file: string; result: ClusterDirectResult } => entry.result.benchmark === 'direct')
    .sort(
      (a, b) =>
        serversOrder(a.result) - serversOrder(b.result) ||
        SCENARIO_ORDER.indexOf(a.result.scenario) - SCENARIO_ORDER.indexOf(b.result.scenario) ||
        (a.result.timestamp ?? '').localeCompare(b.result.timestamp ?? ''),
    );
  const room = read
    .filter((entry): entry is { file: string; result: ClusterRoomResult } => entry.result.benchmark === 'room')
    .sort((a, b) => serversOrder(a.result) - serversOrder(b.result) || (a.result.timestamp ?? '').localeCompare(b.result.timestamp ?? ''));
  if (direct.length + room.length === 0) throw new Error(`bench-cluster: no direct.ts or room results in bench/results/${dir}/`);
  const rows = [
    ...direct.map(({ result: r }) => {
      const c = r.check;
      const problems = c === undefined ? [] : Object.entries({ missing: c.missing, duplicates: c.duplicates, misrouted: c.misrouted, 'out of order': c.outOfOrder, unexpected: c.unexpected }).filter(([, value]) => value > 0);
      // Acked messages still undelivered when the drain gave up count as missing: say so.
      const undrained = c?.drained === false ? ['not drained'] : [];
      const verdict = c === undefined ? DASH : problems.length + undrained.length === 0 ? 'once, in order' : `**FAILED**: ${[...problems.map(([name, value]) => `${name} ${formatCount(value)}`), ...undrained].join(', ')}`;
      return [
        'direct',
        serversLabel(r),
        r.offeredRate > 0 ? `${formatCount(r.offeredRate)} msg/s, ${formatCount(r.pairs)} pairs` : `max (window ${r.window ?? DASH}), ${formatCount(r.pairs)} pairs`,
        `${count(r.measured.throughputPerS)} msg/s`,
        ms(r.measured.latencyMs.p50),
        ms(r.measured.latencyMs.p99),
        perNodeCell(r.measured.server.cpuCores, r.measured.server.perNode, 'cpuCores', 2),
        `${count(r.measured.server.cpuUsPerDelivered)} µs/msg`,
        perNodeCell(r.measured.server.rssMaxMb, r.measured.server.perNode, 'rssMaxMb', 0),
        timeCell(r),
        loadCell(r),
        verdict,
      ];
    }),
    ...room.map(({ result: r }) => {
      const x = r.result;
      const clean = x.gaps === 0 && x.viewersDropped === 0 && x.reliableWithin3sShare === 1;
      return [
        'room',
        serversLabel(r),
        `${formatCount(x.viewers)} viewers, ${formatCount(x.acceptedEventsPerS)} events/s`,
        `${formatCount(x.deliveriesPerS)} deliveries/s`,
        ms(x.reliableLatencyMs.p50),
        ms(x.reliableLatencyMs.p99),
        perNodeCell(x.serverCpuCores, x.perNode, 'cpuCores', 2),
        `${x.serverCpuUsPerDelivery.toFixed(3)} µs/delivery`,
        perNodeCell(x.serverRssMaxMb, x.perNode, 'rssMaxMb', 0),
        timeCell(r),
        loadCell(r),
        clean
          ? 'no gaps, 100% ≤ 3 s'
          : `**FAILED**: ${[
              x.gaps > 0 ? `${formatCount(x.gaps)} gaps` : '',
              x.viewersDropped > 0 ? `${formatCount(x.viewersDropped)} viewers dropped` : '',
              x.reliableWithin3sShare < 1 ? `${(x.reliableWithin3sShare * 100).toFixed(2)}% ≤ 3 s` : '',
            ]
              .filter((part) => part !== '')
              .join(', ')}`,
      ];
    }),
  ];
  const machine = [...direct, ...room][0]?.result.machine;
  const header = ['bench', 'servers', 'load', 'throughput', 'p50 ms', 'p99 ms', 'server CPU cores (per node)', 'server CPU', 'server RSS MB (per node)', 'run (UTC)', 'load avg 1 min', 'delivery check'];
  return `${table(header, rows)}

<sub>Rendered from ${files.map((file) => `[results/${dir}/${file}](results/${dir}/${file})`).join(', ')}; ${machine?.cpus ?? '?'} CPUs (${machine?.cpuModel ?? '?'}), Node ${machine?.node ?? '?'}.</sub>`;
}

/** The charts of the README's bench-versus blocks: path → SVG text. */
export function renderPlots(readme: string, resultsDir = RESULTS_DIR): Map<string, string> {
  const plots = new Map<string, string>();
  for (const match of readme.matchAll(/<!-- bench-versus results=(\S+) scenario=(direct|fanout) -->/gu)) {
    const [, dir, scenario] = match as unknown as [string, string, 'direct' | 'fanout'];
    const { result } = versusResult(resultsDir, dir, scenario);
    plots.set(join(resultsDir, dir, `${scenario}.svg`), scenario === 'direct' ? directPlot(result.rows) : fanoutPlot(result.rows));
  }
  return plots;
}

function required(attributes: Record<string, string>, name: string, block: string): string {
  const value = attributes[name];
  if (value === undefined) throw new Error(`${block}: missing ${name}=`);
  return value;
}

// The body between the markers may be empty (a new marker pair, not yet rendered).
const BLOCK = /(<!-- (bench-table|bench-profile|bench-first-sight|bench-versus|bench-cluster)((?: [a-z]+=\S+)*) -->)\n(?:[\s\S]*?\n)??(<!-- \/\2 -->)/gu;

/** The README with every generated block rendered afresh from the result files. */
export function renderReadme(readme: string, resultsDir = RESULTS_DIR): string {
  return readme.replace(BLOCK, (_whole, open: string, kind: string, attributeText: string, close: string) => {
    const attributes = Object.fromEntries(
      attributeText
        .trim()
        .split(' ')
        .filter((pair) => pair !== '')
        .map((pair) => pair.split('=', 2) as [string, string]),
    );
    const body =
      kind === 'bench-table'
        ? renderTable(attributes, resultsDir)
        : kind === 'bench-first-sight'
          ? renderFirstSight(attributes, resultsDir)
          : kind === 'bench-versus'
            ? renderVersus(attributes, resultsDir)
            : kind === 'bench-cluster'
              ? renderCluster(attributes, resultsDir)
              : renderProfile(attributes, resultsDir);
    return `${open}\n${body}\n${close}`;
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const current = readFileSync(README_PATH, 'utf8');
  const rendered = renderReadme(current);
  let plotsDiffer = false;
  for (const [path, text] of renderPlots(rendered)) {
    const existing = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (existing === text) continue;
    plotsDiffer = true;
    if (!check) writeFileSync(path, text);
  }
  if (check && plotsDiffer) {
    process.stderr.write('a chart in bench/results/ differs from its results: run npm run bench:docs\n');
    process.exit(1);
  }
  if (rendered === current) {
    process.stdout.write('bench/README.md matches bench/results/\n');
  } else if (check) {
    process.stderr.write('bench/README.md differs from bench/results/: run npm run bench:docs\n');
    process.exit(1);
  } else {
    writeFileSync(README_PATH, rendered);
    process.stdout.write('bench/README.md rewritten from bench/results/\n');
  }
}
