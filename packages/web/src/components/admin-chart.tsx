/**
 * LineChart: a small SVG line chart of the last two minutes (the admin
 * dashboard's node cards). Drawn here rather than by a chart library: a few
 * polylines are all it takes. Colours come from CSS classes (the page's
 * policy allows no inline styles in markup); the figures are also in the
 * legend as text, and in the chart's label for screen readers.
 */
import { CHART_WINDOW_MS } from '../admin/series.js';

export interface ChartLine {
  label: string;
  /** CSS class giving the line its colour (admin-line-*). */
  tone: 'a' | 'b';
  points: ReadonlyArray<{ at: number; value: number | undefined }>;
  /** The latest value, as shown in the legend. */
  latest: string;
}

interface LineChartProps {
  title: string;
  lines: readonly ChartLine[];
  /** The right edge of the chart (the newest snapshot's time). */
  endAt: number;
  testId?: string;
}

const WIDTH = 300;
const HEIGHT = 64;

export function LineChart({ title, lines, endAt, testId }: LineChartProps) {
  const startAt = endAt - CHART_WINDOW_MS;
  let peak = 0;
  for (const line of lines) for (const point of line.points) if (point.value !== undefined && point.value > peak) peak = point.value;
  const top = niceCeiling(peak);
  const x = (at: number) => ((at - startAt) / CHART_WINDOW_MS) * WIDTH;
  const y = (value: number) => HEIGHT - (value / top) * (HEIGHT - 4) - 2;
  const summary = `${title}, last 2 minutes: ${lines.map((line) => `${line.label} ${line.latest}`).join(', ')}`;
  return (
    <figure class="admin-chart" data-testid={testId}>
      <figcaption>
        <span class="admin-chart-title">{title}</span>
        <span class="admin-chart-legend">
          {lines.map((line) => (
            <span key={line.label} class={`admin-legend admin-tone-${line.tone}`} data-testid={testId === undefined ? undefined : `${testId}-${line.tone}`}>
              {line.label} <strong>{line.latest}</strong>
            </span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={summary}>
        <line class="admin-chart-grid" x1={0} x2={WIDTH} y1={y(top)} y2={y(top)} />
        <line class="admin-chart-grid" x1={0} x2={WIDTH} y1={y(0)} y2={y(0)} />
        {lines.map((line) => {
          const points = line.points.filter((point) => point.value !== undefined && point.at >= startAt);
          if (points.length === 0) return null;
          // One point alone still shows, as a short flat line up to now.
          const drawn = points.length === 1 ? [...points, { at: endAt, value: points[0]?.value }] : points;
          return (
            <polyline
              key={line.label}
              class={`admin-chart-line admin-tone-${line.tone}`}
              vector-effect="non-scaling-stroke"
              points={drawn.map((point) => `${x(point.at).toFixed(1)},${y(point.value ?? 0).toFixed(1)}`).join(' ')}
            />
          );
        })}
      </svg>
      <span class="admin-chart-scale muted">max {formatScale(top)}</span>
    </figure>
  );
}

/** 1, 2, 5, 10, 20, 50, … : a top for the scale that reads well. */
function niceCeiling(value: number): number {
  if (value <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function formatScale(value: number): string {
  return value >= 1000 ? `${value / 1000}k` : String(value);
}
