// Line charts as inline SVG, drawn here rather than in the browser so the page needs no
// script to show its curves and the drawing can be tested without a browser. The SVG is
// embedded in HTML, so it carries no xmlns (and the page no URL at all).
import { formatCount } from '../progress/banner.ts';
import { escapeHtml } from './html.ts';

export interface ChartSeries {
  name: string;
  /** [step, value] pairs in step order; non-finite values leave a gap in the line. */
  points: ReadonlyArray<readonly [number, number]>;
  /** Drawn dashed: a threshold rather than a measurement. */
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  width?: number;
  height?: number;
  /** Most points drawn per series; longer series are thinned evenly (the last point is kept). */
  maxPoints?: number;
}

/** Series colours (the Tableau 10 set): distinct, and readable on white. */
export const SERIES_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const MARGIN = { top: 30, right: 16, bottom: 36, left: 62 };

/** About `count` round tick values (1, 2 or 5 times a power of ten) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function formatTick(value: number): string {
  if (Math.abs(value) >= 1e4) return formatCount(value);
  return String(Number(value.toPrecision(4)));
}

function thin(points: ChartSeries['points'], maxPoints: number): ChartSeries['points'] {
  if (points.length <= maxPoints) return points;
  const stride = points.length / (maxPoints - 1);
  const kept = Array.from({ length: maxPoints - 1 }, (_, i) => points[Math.floor(i * stride)]!);
  kept.push(points[points.length - 1]!);
  return kept;
}

/** The chart as an `<svg class="chart">` element. */
export function renderLineChart(series: readonly ChartSeries[], options: ChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 280;
  const maxPoints = options.maxPoints ?? 800;
  const drawn = series.map((s) => ({ name: s.name, points: thin(s.points, maxPoints), dashed: s.dashed === true }));
  const finite = drawn.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const title = escapeHtml(options.title);
  const open = `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}">`;
  const heading = `<text class="chart-title" x="${MARGIN.left}" y="18">${title}</text>`;
  if (finite.length === 0) {
    return `${open}${heading}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="empty">no finite values</text></svg>`;
  }

  let [xMin, xMax] = [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))];
  let [yMin, yMax] = [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMax === yMin) {
    const pad = Math.abs(yMin) * 0.1 || 1;
    [yMin, yMax] = [yMin - pad, yMax + pad];
  } else {
    const pad = (yMax - yMin) * 0.05;
    [yMin, yMax] = [yMin - pad, yMax + pad];
  }
  // Legend rows sit above the plot, right-aligned; the plot starts below the last one.
  const top = MARGIN.top + (drawn.length > 1 ? 14 * (drawn.length - 1) : 0);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  const r = (v: number) => v.toFixed(1);

  const parts: string[] = [open, heading];
  parts.push(`<rect class="plot" x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}"/>`);
  for (const t of niceTicks(yMin, yMax)) {
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${r(sy(t))}" y2="${r(sy(t))}"/>`);
    parts.push(`<text class="tick" x="${MARGIN.left - 6}" y="${r(sy(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax).filter((t) => Number.isInteger(t) || xMax - xMin < 5)) {
    parts.push(`<line class="grid" x1="${r(sx(t))}" x2="${r(sx(t))}" y1="${top}" y2="${top + plotH}"/>`);
    parts.push(`<text class="tick" x="${r(sx(t))}" y="${top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<text class="axis-label" x="${MARGIN.left + plotW / 2}" y="${height - 4}" text-anchor="middle">step</text>`);

  drawn.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    // Split at non-finite values so a NaN shows as a gap rather than a line to nowhere.
    const segments: string[][] = [[]];
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) segments[segments.length - 1]!.push(`${r(sx(x))},${r(sy(y))}`);
      else if (segments[segments.length - 1]!.length > 0) segments.push([]);
    }
    parts.push(`<g class="series" data-series="${escapeHtml(s.name)}" stroke="${colour}" fill="${colour}">`);
    for (const segment of segments) {
      if (segment.length === 1) {
        const [cx, cy] = segment[0]!.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="3"/>`);
      } else if (segment.length > 1) {
        parts.push(`<polyline fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${segment.join(' ')}"/>`);
      }
    }
    parts.push('</g>');
    const lx = width - MARGIN.right - 150;
    const ly = 12 + i * 14;
    if (drawn.length > 1) {
      parts.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${colour}"/>`);
      parts.push(`<text class="legend" x="${lx + 14}" y="${ly + 1}">${escapeHtml(s.name)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}
