// The run report: one static HTML page summarising a run directory.
//
// Run directory layout assumed (written by `vplc run`):
//   <run>/
//     metrics.jsonl          one JSON object per logged step (runtime/metrics/jsonl.ts)
//     tb/                    TensorBoard event files (runtime/metrics/tensorboard.ts)
//     videos/step-000080/    validation videos at that step: NN-<prompt-slug>.gif|.mp4|.png
//                            (runtime/media/video.ts validationVideoName)
//     videos/before/         the validation prompts sampled before training ...
//     videos/after/          ... and after; files with the same name are compared side by side
//     checkpoints/           LoRA and optimizer state (not read here)
//     report.html            written by writeReport
//
// The page is self-contained: inline CSS, curves as inline SVG, no network or CDN. Videos
// are linked by relative path, so the page works wherever the run directory is copied.
// A short inline script only marks charts and media as shown (data-rendered, data-loaded),
// which lets tests and tools check the page in a headless browser.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MetricsFileError, type MetricsRecord, readMetrics } from '../metrics/jsonl.ts';
import { type ChartSeries, renderLineChart } from './chart.ts';
import { escapeHtml, relativeUrl } from './html.ts';

export interface ReportResult {
  /** The written report.html. */
  path: string;
  records: number;
  videos: number;
  /** Problems the page reports too (a torn metrics line, a damaged file). */
  warnings: string[];
}

export class ReportError extends Error {
  override name = 'ReportError';
}

interface VideoFile {
  /** Relative to the run directory, with '/' separators. */
  relativePath: string;
  kind: 'image' | 'video';
  caption: string;
}

const MEDIA_KINDS: Readonly<Record<string, VideoFile['kind']>> = {
  '.gif': 'image',
  '.png': 'image',
  '.mp4': 'video',
  '.webm': 'video',
};

/** '03-a-red-circle-moving-left.gif' -> 'a red circle moving left'. */
export function captionFromFileName(fileName: string): string {
  return path.parse(fileName).name.replace(/^\d+-/, '').replace(/-/g, ' ');
}

function listMedia(runDir: string, folder: string): VideoFile[] {
  const dir = path.join(runDir, folder);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && path.extname(e.name).toLowerCase() in MEDIA_KINDS)
    .map((e) => e.name)
    .sort()
    .map((name) => ({
      relativePath: `${folder}/${name}`,
      kind: MEDIA_KINDS[path.extname(name).toLowerCase()]!,
      caption: captionFromFileName(name),
    }));
}

/** Validation video folders as [step, folder] in step order. */
function stepFolders(runDir: string): Array<[number, string]> {
  const videosDir = path.join(runDir, 'videos');
  if (!fs.existsSync(videosDir)) return [];
  return fs
    .readdirSync(videosDir, { withFileTypes: true })
    .flatMap((e): Array<[number, string]> => {
      const match = e.isDirectory() ? /^step-(\d+)$/.exec(e.name) : null;
      return match ? [[Number(match[1]), `videos/${e.name}`]] : [];
    })
    .sort((a, b) => a[0] - b[0]);
}

function mediaElement(file: VideoFile): string {
  const src = escapeHtml(relativeUrl(file.relativePath));
  const alt = escapeHtml(file.caption);
  if (file.kind === 'image') {
    return `<img class="media" src="${src}" alt="${alt}" loading="eager" onload="this.dataset.loaded='1'" onerror="this.dataset.loaded='error'">`;
  }
  return `<video class="media" src="${src}" autoplay loop muted playsinline controls onloadeddata="this.dataset.loaded='1'" onerror="this.dataset.loaded='error'"></video>`;
}

function figure(file: VideoFile, label = file.caption): string {
  return `<figure>${mediaElement(file)}<figcaption>${escapeHtml(label)}</figcaption></figure>`;
}

/** Metric names split into charts: losses together, rewards together, each other metric alone. */
function chartGroups(names: readonly string[]): Array<{ title: string; names: string[] }> {
  const losses = names.filter((n) => /loss/i.test(n));
  const rewards = names.filter((n) => !/loss/i.test(n) && /reward|score/i.test(n));
  const others = names.filter((n) => !losses.includes(n) && !rewards.includes(n));
  return [
    ...(losses.length ? [{ title: 'Loss', names: losses }] : []),
    ...(rewards.length ? [{ title: 'Reward', names: rewards }] : []),
    ...others.map((n) => ({ title: n, names: [n] })),
  ];
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function metricsSection(records: readonly MetricsRecord[]): string {
  if (records.length === 0) {
    return '<section id="metrics"><h2>Metrics</h2><p class="empty">No metrics yet: metrics.jsonl is missing or empty. ' +
      'The run has not logged its first step; reload this page after it has (or run <code>vplc report</code> again).</p></section>';
  }
  const names = [...new Set(records.flatMap((r) => Object.keys(r.values)))];
  const charts = chartGroups(names).map((group) => {
    const series: ChartSeries[] = group.names.map((name) => ({
      name,
      points: records.filter((r) => name in r.values).map((r) => [r.step, r.values[name]!] as const),
    }));
    return renderLineChart(series, { title: group.title });
  });
  const rows = names.map((name) => {
    const withValue = records.filter((r) => name in r.values);
    const last = withValue[withValue.length - 1]!;
    const finite = withValue.map((r) => r.values[name]!).filter(Number.isFinite);
    const min = finite.length ? formatNumber(Math.min(...finite)) : '–';
    const max = finite.length ? formatNumber(Math.max(...finite)) : '–';
    return `<tr><th scope="row">${escapeHtml(name)}</th><td>${formatNumber(last.values[name]!)}</td><td>${last.step}</td><td>${min}</td><td>${max}</td><td>${withValue.length}</td></tr>`;
  });
  return `<section id="metrics"><h2>Metrics</h2><div class="charts">${charts.join('')}</div>
<h3>Final values</h3>
<table class="final"><thead><tr><th>metric</th><th>last</th><th>at step</th><th>min</th><th>max</th><th>points</th></tr></thead>
<tbody>${rows.join('')}</tbody></table></section>`;
}

function videosSection(runDir: string): { html: string; count: number } {
  const parts: string[] = [];
  let count = 0;
  const before = listMedia(runDir, 'videos/before');
  const after = listMedia(runDir, 'videos/after');
  if (before.length > 0 && after.length > 0) {
    const afterByName = new Map(after.map((f) => [path.parse(f.relativePath).name, f]));
    const pairs = before.flatMap((b) => {
      const a = afterByName.get(path.parse(b.relativePath).name);
      return a ? [[b, a] as const] : [];
    });
    count += pairs.length * 2;
    parts.push('<section id="before-after"><h2>Before and after</h2>');
    if (pairs.length === 0) parts.push('<p class="empty">videos/before and videos/after hold no files with the same name.</p>');
    for (const [b, a] of pairs) {
      parts.push(`<div class="pair"><h3>${escapeHtml(b.caption)}</h3>${figure(b, 'before')}${figure(a, 'after')}</div>`);
    }
    parts.push('</section>');
  }
  const steps = stepFolders(runDir);
  parts.push('<section id="videos"><h2>Validation videos</h2>');
  if (steps.length === 0) parts.push('<p class="empty">No validation videos yet (videos/step-*/ is empty or missing).</p>');
  for (const [step, folder] of steps) {
    const files = listMedia(runDir, folder);
    count += files.length;
    parts.push(`<div class="step" id="step-${step}"><h3>Step ${step}</h3><div class="gallery">${files.map((f) => figure(f)).join('')}</div></div>`);
  }
  parts.push('</section>');
  return { html: parts.join('\n'), count };
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1b1b1b; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 14px 0 6px; } .meta { color: #555; } .empty { color: #777; font-style: italic; }
.warning { background: #fff4e5; border-left: 4px solid #f0a020; padding: 6px 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid #e3e3e3; }
svg.chart .plot { fill: #fafafa; stroke: #ccc; } svg.chart .grid { stroke: #e6e6e6; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #444; } svg.chart .chart-title { font-size: 13px; font-weight: 600; fill: #222; }
table.final { border-collapse: collapse; } table.final th, table.final td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
table.final th[scope=row], table.final thead th:first-child { text-align: left; }
.gallery, .pair { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.pair h3 { flex-basis: 100%; } figure { margin: 0; }
.media { width: 192px; image-rendering: pixelated; background: #000; display: block; }
figcaption { max-width: 192px; font-size: 12px; color: #444; }
`;

// Marks each chart once its lines have a size, and each medium once it loaded: a check a
// headless browser can read back (--dump-dom), since a static page has no other signal.
const SCRIPT = `
for (const svg of document.querySelectorAll('svg.chart')) {
  const lines = svg.querySelectorAll('polyline, circle');
  const drawn = Array.from(lines).some((l) => { const b = l.getBBox(); return b.width > 0 || b.height > 0; });
  svg.dataset.rendered = drawn ? '1' : '0';
}
document.body.dataset.ready = '1';
`;

/** Builds the page's HTML from the run directory (reads only). */
export function renderReport(runDir: string): { html: string; records: number; videos: number; warnings: string[] } {
  const warnings: string[] = [];
  const metricsPath = path.join(runDir, 'metrics.jsonl');
  let records: MetricsRecord[] = [];
  try {
    const contents = readMetrics(metricsPath);
    records = contents.records;
    if (contents.tornLine) {
      warnings.push(`${metricsPath}:${contents.tornLine.lineNumber}: incomplete last line ignored (the run stopped mid-write)`);
    }
  } catch (error) {
    if (!(error instanceof MetricsFileError)) throw error;
    warnings.push(error.message);
  }
  const videos = videosSection(runDir);
  const name = path.basename(path.resolve(runDir));
  const meta: string[] = [];
  if (records.length > 0) {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    meta.push(`steps ${first.step}–${last.step}`, `${records.length} metric records`);
    if (last.wallTime > first.wallTime) meta.push(`${formatSeconds(last.wallTime - first.wallTime)} logged`);
  }
  meta.push(`report written ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC`);
  const tensorboardHint = fs.existsSync(path.join(runDir, 'tb'))
    ? `<p class="meta">TensorBoard: <code>tensorboard --logdir ${escapeHtml(path.join(runDir, 'tb'))}</code></p>`
    : '';
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vplc run ${escapeHtml(name)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>vplc run: ${escapeHtml(name)}</h1>
<p class="meta">${meta.map(escapeHtml).join(' · ')}</p>
${tensorboardHint}
${warnings.map((w) => `<p class="warning">${escapeHtml(w)}</p>`).join('\n')}
${metricsSection(records)}
${videos.html}
<script>${SCRIPT}</script>
</body>
</html>
`;
  return { html, records: records.length, videos: videos.count, warnings };
}

/** Writes `<runDir>/report.html` (atomically) and returns what it holds. */
export function writeReport(runDir: string): ReportResult {
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) {
    throw new ReportError(
      `run directory '${runDir}' does not exist; pass the folder a run wrote (the one holding metrics.jsonl and videos/)`,
    );
  }
  const { html, records, videos, warnings } = renderReport(runDir);
  const file = path.join(runDir, 'report.html');
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, html);
  fs.renameSync(temp, file);
  return { path: file, records, videos, warnings };
}
