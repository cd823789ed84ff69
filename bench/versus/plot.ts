/**
 * SVG charts of versus results, written next to the result files by
 * `npm run bench:docs` (render-readme.ts) so that the README shows them.
 * Hand-rolled: a few lines and bars on a labelled grid, no dependency.
 */
import { TARGET_LABEL, type TargetKind } from './common.js';
import type { DirectRow } from './direct.js';
import type { FanoutRow } from './fanout.js';

const COLORS: Record<TargetKind, string> = { parley: '#1f6feb', 'ws-relay': '#d1242f', 'ws-batched': '#8250df' };
const WIDTH = 360;
const HEIGHT = 240;
const MARGIN = { left: 60, right: 16, top: 28, bottom: 44 };

interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

function xmlText(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function label(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return String(Math.round(value * 100) / 100);
}

/** One line chart at (x0, 0) of the SVG, x and y from 0. */
function lineChart(x0: number, title: string, xTitle: string, yTitle: string, series: Series[]): string {
  const xMax = niceMax(Math.max(...series.flatMap((s) => s.points.map(([x]) => x))));
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map(([, y]) => y))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => x0 + MARGIN.left + (x / xMax) * plotW;
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [`<text x="${x0 + WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${xmlText(title)}</text>`];
  for (let tick = 0; tick <= 4; tick++) {
    const y = (yMax * tick) / 4;
    const x = (xMax * tick) / 4;
    parts.push(`<line x1="${px(0)}" x2="${px(xMax)}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${px(0) - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`);
    parts.push(`<text x="${px(x)}" y="${py(0) + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  parts.push(`<text x="${x0 + MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">${xmlText(xTitle)}</text>`);
  parts.push(`<text x="${x0 + 14}" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${MARGIN.top + plotH / 2})">${xmlText(yTitle)}</text>`);
  for (const s of series) {
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  return parts.join('\n');
}

function legend(y: number, entries: Array<{ label: string; color: string }>): string {
  return entries
    .map((entry, index) => `<rect x="${MARGIN.left + index * 170}" y="${y - 9}" width="10" height="10" fill="${entry.color}"/><text x="${MARGIN.left + index * 170 + 14}" y="${y}">${xmlText(entry.label)}</text>`)
    .join('\n');
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img">\n<title>${xmlText(title)}</title>\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

/** Delivered msg/s and p99 latency against offered load (the fixed-rate rows). */
export function directPlot(rows: readonly DirectRow[]): string {
  const targets = [...new Set(rows.map((row) => row.target))];
  const fixed = rows.filter((row) => row.offeredRate > 0);
  const seriesOf = (value: (row: DirectRow) => number): Series[] =>
    targets.map((target) => ({
      label: TARGET_LABEL[target],
      color: COLORS[target],
      points: fixed.filter((row) => row.target === target).map((row) => [row.offeredRate, value(row)] as [number, number]),
    }));
  const body = [
    lineChart(0, 'Delivered vs offered', 'offered msg/s', 'delivered msg/s', seriesOf((row) => row.throughputPerS)),
    lineChart(WIDTH, 'p99 one-way latency', 'offered msg/s', 'p99 ms', seriesOf((row) => row.latencyMs.p99)),
    lineChart(2 * WIDTH, 'Server CPU per message', 'offered msg/s', 'µs per message', seriesOf((row) => row.serverCpuUsPerMsg)),
    legend(HEIGHT + 14, targets.map((target) => ({ label: TARGET_LABEL[target], color: COLORS[target] }))),
  ].join('\n');
  return svg(3 * WIDTH, HEIGHT + 24, 'Direct messages: delivered rate, p99 latency and server CPU against offered load', body);
}

/** Server CPU per delivery and deliveries/s, per group size and mode, as bars. */
export function fanoutPlot(rows: readonly FanoutRow[]): string {
  const barH = 16;
  const gap = 6;
  const labelW = 290;
  const chartW = 300;
  const cpuMax = niceMax(Math.max(...rows.map((row) => row.serverCpuUsPerDelivery)));
  const rateMax = niceMax(Math.max(...rows.map((row) => row.deliveriesPerS)));
  const parts: string[] = [
    `<text x="${labelW + chartW / 2}" y="16" text-anchor="middle" font-weight="bold">Server CPU µs per delivery</text>`,
    `<text x="${labelW + chartW + 20 + chartW / 2}" y="16" text-anchor="middle" font-weight="bold">Deliveries/s</text>`,
  ];
  rows.forEach((row, index) => {
    const y = 28 + index * (barH + gap);
    parts.push(`<text x="${labelW - 6}" y="${y + barH - 4}" text-anchor="end">${xmlText(`${TARGET_LABEL[row.target]}, ${row.members} members, ${row.mode}`)}</text>`);
    const cpuW = (row.serverCpuUsPerDelivery / cpuMax) * chartW;
    const rateW = (row.deliveriesPerS / rateMax) * chartW;
    parts.push(`<rect x="${labelW}" y="${y}" width="${cpuW.toFixed(1)}" height="${barH}" fill="${COLORS[row.target]}"/>`);
    parts.push(`<text x="${labelW + cpuW + 4}" y="${y + barH - 4}">${row.serverCpuUsPerDelivery}</text>`);
    parts.push(`<rect x="${labelW + chartW + 20}" y="${y}" width="${rateW.toFixed(1)}" height="${barH}" fill="${COLORS[row.target]}"/>`);
    parts.push(`<text x="${labelW + chartW + 24 + rateW}" y="${y + barH - 4}">${label(row.deliveriesPerS)}</text>`);
  });
  return svg(labelW + 2 * chartW + 80, 36 + rows.length * (barH + gap), 'Group fan-out: server CPU per delivery and deliveries per second', parts.join('\n'));
}
