import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsWriter } from '../../../runtime/metrics/jsonl.ts';
import { decodePng } from '../../../runtime/media/png.ts';
import { validationVideoName, writeVideo } from '../../../runtime/media/video.ts';
import { ReportError, captionFromFileName, renderReport, writeReport } from '../../../runtime/report/report.ts';
import { movingSquare } from '../media/fixtures.ts';

let root: string;
let runDir: string;

/** A run directory as `vplc run` leaves it: metrics, a torn last line, GIFs by step, before/after. */
async function makeRunDir(dir: string): Promise<void> {
  const writer = new MetricsWriter(path.join(dir, 'metrics.jsonl'));
  for (let step = 1; step <= 40; step++) {
    writer.log(step, { loss: 1 / step + 0.1, reward: Math.log(step), lr: 1e-4 }, 1000 + step * 2);
  }
  writer.close();
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"step":41,"wall');
  const video = movingSquare(4, 48, 64);
  for (const step of [0, 40]) {
    for (const [i, prompt] of ['a red circle moving left', 'a <blue> square'].entries()) {
      await writeVideo(video, { path: path.join(dir, 'videos', validationVideoName(step, i, prompt)), fps: 8, format: 'gif' });
    }
  }
  await writeVideo(video, { path: path.join(dir, 'videos', 'before', '00-a-red-circle'), fps: 8, format: 'gif' });
  await writeVideo(video, { path: path.join(dir, 'videos', 'after', '00-a-red-circle'), fps: 8, format: 'gif' });
  fs.mkdirSync(path.join(dir, 'tb'));
  fs.mkdirSync(path.join(dir, 'checkpoints'));
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-report-'));
  runDir = path.join(root, 'run 1');
  fs.mkdirSync(runDir);
  await makeRunDir(runDir);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('writeReport', () => {
  it('writes report.html with curves, final values and videos grouped by step', () => {
    const result = writeReport(runDir);
    expect(result).toMatchObject({ path: path.join(runDir, 'report.html'), records: 40, videos: 6 });
    const html = fs.readFileSync(result.path, 'utf8');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(3); // Loss, Reward, lr
    expect(html).toContain('data-series="loss"');
    expect(html).toMatch(/<th scope="row">reward<\/th><td>3\.6889<\/td><td>40<\/td>/);
    expect(html.indexOf('Step 0<')).toBeLessThan(html.indexOf('Step 40<'));
    expect(html).toContain('src="videos/step-000040/01-a-blue-square.gif"');
    expect(html).toContain('id="before-after"');
    expect(html).toContain('src="videos/before/00-a-red-circle.gif"');
    expect(html).not.toMatch(/https?:\/\//); // self-contained: no network
    expect(html).not.toContain('.tmp-');
  });

  it('reports the torn last line of metrics.jsonl', () => {
    const { warnings, html } = renderReport(runDir);
    expect(warnings).toEqual([`${path.join(runDir, 'metrics.jsonl')}:41: incomplete last line ignored (the run stopped mid-write)`]);
    expect(html).toContain('class="warning"');
  });

  it('says so for a run with no metrics or videos yet', () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    const { records, videos } = writeReport(empty);
    expect([records, videos]).toEqual([0, 0]);
    const html = fs.readFileSync(path.join(empty, 'report.html'), 'utf8');
    expect(html).toContain('No metrics yet');
    expect(html).toContain('No validation videos yet');
    expect(html).not.toContain('<svg');
  });

  it('still writes a page when metrics.jsonl is damaged, naming the line', () => {
    const damaged = path.join(root, 'damaged');
    fs.mkdirSync(damaged);
    fs.writeFileSync(path.join(damaged, 'metrics.jsonl'), '{"step":1,"wall_time":1,"loss":1}\nnot json\n{"step":2,"wall_time":2,"loss":1}\n');
    const { warnings } = writeReport(damaged);
    expect(warnings[0]).toContain('metrics.jsonl:2: not valid JSON');
  });

  it('rejects a missing run directory with a clear message', () => {
    expect(() => writeReport(path.join(root, 'nope'))).toThrow(ReportError);
    expect(() => writeReport(path.join(root, 'nope'))).toThrow(/run directory '.*nope' does not exist/);
  });

  it('shows MP4 files as looping <video> elements and points at TensorBoard', () => {
    const mp4Run = path.join(root, 'mp4');
    fs.mkdirSync(path.join(mp4Run, 'videos', 'step-000010'), { recursive: true });
    fs.mkdirSync(path.join(mp4Run, 'tb'));
    fs.writeFileSync(path.join(mp4Run, 'videos', 'step-000010', '00-a-cat.mp4'), 'not decoded here');
    fs.writeFileSync(path.join(mp4Run, 'videos', 'step-000010', 'notes.txt'), 'ignored');
    const { html, videos } = renderReport(mp4Run);
    expect(videos).toBe(1);
    expect(html).toContain('<video class="media" src="videos/step-000010/00-a-cat.mp4" autoplay loop muted');
    expect(html).toContain(`tensorboard --logdir ${path.join(mp4Run, 'tb')}`);
    expect(html).not.toContain('notes.txt');
  });

  it('captions videos from their file names', () => {
    expect(captionFromFileName('03-a-red-circle-moving-left.gif')).toBe('a red circle moving left');
  });
});

const CHROMIUM = '/usr/bin/chromium';
const chromiumFlags = (profile: string) => [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--user-data-dir=${profile}`, '--window-size=1200,1600',
];

// Headless Chromium (Debian package `chromium`) is a system tool that CI installs; without it
// the page cannot be rendered here, so these checks are skipped rather than faked.
describe.skipIf(!fs.existsSync(CHROMIUM))('report.html in headless Chromium', () => {
  it('draws the charts and loads every video', () => {
    const { path: reportPath } = writeReport(runDir);
    const url = pathToFileURL(reportPath).href;
    const dom = spawnSync(CHROMIUM, [...chromiumFlags(path.join(root, 'profile-dom')), '--dump-dom', url], {
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(dom.status, dom.stderr).toBe(0);
    expect(dom.stdout).toContain('data-ready="1"');
    const charts = dom.stdout.match(/<svg class="chart"[^>]*>/g) ?? [];
    expect(charts).toHaveLength(3);
    for (const chart of charts) expect(chart).toContain('data-rendered="1"');
    const media = dom.stdout.match(/<img [^>]*>/g) ?? [];
    expect(media).toHaveLength(6);
    for (const img of media) expect(img).toContain('data-loaded="1"');
  });

  it('renders a screenshot that is not blank where the curves and videos are', () => {
    const { path: reportPath } = writeReport(runDir);
    const shot = path.join(root, 'shot.png');
    const run = spawnSync(CHROMIUM, [...chromiumFlags(path.join(root, 'profile-shot')), `--screenshot=${shot}`, pathToFileURL(reportPath).href], {
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const image = decodePng(fs.readFileSync(shot), shot);
    expect([image.width, image.height]).toEqual([1200, 1600]);
    /** Counts pixels within `tolerance` of a colour in rows [y0, y1). */
    const count = (rgb: readonly number[], y0: number, y1: number, tolerance = 24) => {
      let n = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = 0; x < image.width; x++) {
          const o = (y * image.width + x) * 4;
          if (rgb.every((v, c) => Math.abs(image.data[o + c]! - v) <= tolerance)) n++;
        }
      }
      return n;
    };
    // The charts sit in the upper part of the page: the first series colour draws the curves.
    expect(count([0x1f, 0x77, 0xb4], 0, 800)).toBeGreaterThan(300);
    // The GIFs (a red square on blue) appear further down.
    expect(count([51, 51, 179], 800, 1600)).toBeGreaterThan(5000);
    expect(count([255, 0, 0], 800, 1600)).toBeGreaterThan(200);
  });
});
