/**
 * Summarises a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes it)
 * into self time per function and per area (Parley package, dependency, Node
 * internals, native), small enough to commit as a result file.
 */
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  /** Function name as V8 reports it; `(anonymous)` for unnamed ones. */
  function: string;
  /** Repository-relative file and 1-based line, `package@node_modules/...` for dependencies, or '' for native code. */
  location: string;
  area: string;
  selfMs: number;
  /** Share of the thread's busy time (everything but `(idle)`), in percent. */
  selfPercentOfBusy: number;
}

export interface AreaTime {
  area: string;
  selfMs: number;
  selfPercentOfBusy: number;
}

export interface ThreadSummary {
  /** `main` for the main thread, else `worker <thread id>`. */
  thread: string;
  profiledMs: number;
  /** Sampled time not in `(idle)`. */
  busyMs: number;
  samples: number;
  functions: FunctionTime[];
  areas: AreaTime[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Where a frame's code lives, for grouping: a Parley package, a dependency, Node itself, or native code. */
export function areaOf(frame: CallFrame, repoRoot: string): string {
  if (SPECIAL.has(frame.functionName) && frame.url === '') return frame.functionName;
  if (frame.url === '') return 'native (V8, Node and addon built-ins)';
  if (frame.url.startsWith('node:')) return 'Node.js internals';
  const path = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url;
  const modules = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (modules >= 0) {
    const parts = path.slice(modules + '/node_modules/'.length).split(sep);
    const name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    if (name?.startsWith('@parley/')) return name;
    return `dependency ${name}`;
  }
  const inRepo = relative(repoRoot, path).split(sep);
  if (inRepo[0] === 'packages' && inRepo[1] !== undefined) return `@parley/${inRepo[1]}`;
  if (inRepo[0] === 'bench') return 'bench harness';
  return 'other';
}

function locationOf(frame: CallFrame, repoRoot: string): string {
  if (frame.url === '') return '';
  if (frame.url.startsWith('node:')) return `${frame.url}:${frame.lineNumber + 1}`;
  const path = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url;
  const modules = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (modules >= 0) return `${path.slice(modules + 1).split(sep).join('/')}:${frame.lineNumber + 1}`;
  const inRepo = relative(repoRoot, path).split(sep).join('/');
  // Compiled Parley code: name the TypeScript source; the compiled line number would mislead there.
  const source = /^packages\/([^/]+)\/dist\/(.+)\.js$/u.exec(inRepo);
  return source === null ? `${inRepo}:${frame.lineNumber + 1}` : `packages/${source[1]}/${source[2]}.ts`;
}

const round1 = (value: number) => Math.round(value * 10) / 10;

/**
 * Self time per function: each sample's time is the delta to the next sample
 * (as Chrome DevTools counts it). Functions are keyed by name and location,
 * so one function reached through many call paths counts once.
 */
export function summariseProfile(profile: CpuProfile, thread: string, repoRoot: string, top: number): ThreadSummary {
  const frameOf = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index += 1) {
    const nodeId = profile.samples[index] as number;
    const deltaUs = profile.timeDeltas[index + 1] ?? 0;
    selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + deltaUs);
  }
  const byFunction = new Map<string, { frame: CallFrame; us: number }>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [nodeId, us] of selfUs) {
    const frame = frameOf.get(nodeId);
    if (frame === undefined) continue;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}`;
    const entry = byFunction.get(key) ?? { frame, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const percent = (us: number) => round1((us / busyUs) * 100);
  const functions = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map(({ frame, us }) => ({
      function: frame.functionName === '' ? '(anonymous)' : frame.functionName,
      location: locationOf(frame, repoRoot),
      area: areaOf(frame, repoRoot),
      selfMs: round1(us / 1000),
      selfPercentOfBusy: percent(us),
    }));
  const byArea = new Map<string, number>();
  for (const { frame, us } of byFunction.values()) {
    const area = areaOf(frame, repoRoot);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const areas = [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: round1(us / 1000), selfPercentOfBusy: percent(us) }));
  return {
    thread,
    profiledMs: round1((profile.endTime - profile.startTime) / 1000),
    busyMs: round1((totalUs - idleUs) / 1000),
    samples: profile.samples.length,
    functions,
    areas,
  };
}
