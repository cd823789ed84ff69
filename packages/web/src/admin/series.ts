/**
 * The dashboard's charts as plain data: each node's connections and messages
 * in and out per second over the last two minutes, built from successive
 * overviews. A node's counters are totals since it started; a rate is the
 * difference between two of its snapshots over the time between them (its
 * own clock, so clocks that differ between nodes do not matter). No timers,
 * no DOM: the page feeds it every overview it gets.
 */
import type { Overview } from './admin-api.js';

/** How much history a chart shows. */
export const CHART_WINDOW_MS = 120_000;

export interface Sample {
  /** The node's snapshot time. */
  at: number;
  connections: number;
  /** Undefined on a node's first sample, and after it restarted: no earlier total to take from. */
  inPerSecond: number | undefined;
  outPerSecond: number | undefined;
}

export interface NodeSeries {
  samples: readonly Sample[];
  /** The snapshot the last sample came from. */
  last: { at: number; startedAt: number; messagesIn: number; messagesOut: number };
}

export type SeriesByNode = ReadonlyMap<string, NodeSeries>;

export const NO_SERIES: SeriesByNode = new Map();

/**
 * The series with this overview's snapshots added. A snapshot seen before
 * (the same node time) adds nothing; nodes the overview no longer lists are
 * dropped.
 */
export function addOverview(series: SeriesByNode, overview: Pick<Overview, 'nodes'>, windowMs = CHART_WINDOW_MS): SeriesByNode {
  const next = new Map<string, NodeSeries>();
  for (const node of overview.nodes) {
    const known = series.get(node.nodeId);
    if (known !== undefined && known.last.at === node.at) {
      next.set(node.nodeId, known);
      continue;
    }
    const previous = known !== undefined && known.last.startedAt === node.startedAt && known.last.at < node.at ? known.last : undefined;
    const seconds = previous === undefined ? 0 : (node.at - previous.at) / 1000;
    const sample: Sample = {
      at: node.at,
      connections: node.connections.total,
      inPerSecond: previous === undefined ? undefined : Math.max(0, node.messagesIn - previous.messagesIn) / seconds,
      outPerSecond: previous === undefined ? undefined : Math.max(0, node.messagesOut - previous.messagesOut) / seconds,
    };
    const kept = (previous === undefined ? [] : (known?.samples ?? [])).filter((old) => old.at > node.at - windowMs);
    next.set(node.nodeId, {
      samples: [...kept, sample],
      last: { at: node.at, startedAt: node.startedAt, messagesIn: node.messagesIn, messagesOut: node.messagesOut },
    });
  }
  return next;
}

/** The newest rate of a series, or undefined before there is one. */
export function latestRate(series: NodeSeries | undefined, which: 'inPerSecond' | 'outPerSecond'): number | undefined {
  const samples = series?.samples ?? [];
  return samples[samples.length - 1]?.[which];
}

/** A rate as people read it: "0", "0.4", "12", "1.2k". */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined) return '–';
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  if (perSecond >= 10 || perSecond === 0) return String(Math.round(perSecond));
  return perSecond.toFixed(1);
}

/** Bytes as MB with one decimal. */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** How long a node has run: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function formatUptime(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
