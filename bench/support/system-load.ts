/**
 * Whole-machine CPU use from /proc/stat (Linux), so that a report can say how
 * much CPU other processes took while the benchmark ran: on a shared 2-core
 * machine that, more than anything, explains a noisy latency tail.
 */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  /** Jiffies spent not idle (iowait counts as idle). */
  busy: number;
  total: number;
}

/** Undefined where /proc/stat does not exist. */
export function readCpuTimes(): CpuTimes | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  if (line === undefined || !line.startsWith('cpu ')) return undefined;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Average number of busy cores between two readings. */
export function busyCores(start: CpuTimes | undefined, end: CpuTimes | undefined, cpuCount: number): number {
  if (start === undefined || end === undefined || end.total <= start.total) return Number.NaN;
  return ((end.busy - start.busy) / (end.total - start.total)) * cpuCount;
}
