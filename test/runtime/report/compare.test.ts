import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVideo } from '../../../runtime/media/video.ts';
import { renderReport, writeReport } from '../../../runtime/report/report.ts';
import { movingSquare } from '../media/fixtures.ts';

const METHODS = ['student-4-steps', 'teacher-50-steps-cfg', 'teacher-4-steps'];
const PROMPTS = ['00-a-red-circle-moving-left', '01-a-blue-square'];

let root: string;
let runDir: string;

/** A benchmark folder as bench/turbo.ts leaves it: GIFs per method, same names, and summary.json. */
async function makeCompareDir(dir: string): Promise<void> {
  const video = movingSquare(4, 24, 32);
  for (const method of METHODS) {
    for (const name of PROMPTS) {
      await writeVideo(video, { path: path.join(dir, 'videos', 'compare', method, name), fps: 8, format: 'gif' });
    }
  }
  // The summary's order (student first) is the column order, not the folders' alphabetical one.
  const summary = {
    'student-4-steps': { reward: 0.265, seconds_per_video: 0.644, label: 'student, 4 consistency steps' },
    'teacher-50-steps-cfg': { reward: 0.2968, seconds_per_video: 10.91, label: 'teacher, 50 DDIM steps + CFG' },
    'teacher-4-steps': { reward: 0.3722, seconds_per_video: 0.8695, label: 'teacher, 4 DDIM steps + CFG' },
  };
  fs.writeFileSync(path.join(dir, 'videos', 'compare', 'summary.json'), JSON.stringify(summary));
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-compare-'));
  runDir = path.join(root, 'bench turbo');
  fs.mkdirSync(runDir);
  await makeCompareDir(runDir);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('report: method comparison (videos/compare/<method>/)', () => {
  it('shows one row per prompt, one column per method, and the summary table above', () => {
    const result = writeReport(runDir);
    expect(result).toMatchObject({ videos: 6, warnings: [] });
    const html = fs.readFileSync(result.path, 'utf8');
    expect(html).toContain('id="compare"');
    const rows = html.match(/<tr class="compare-row">.*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    for (const [i, row] of rows.entries()) {
      const cells = row.match(/<td>.*?<\/td>/g) ?? [];
      expect(cells).toHaveLength(3);
      // each column holds that method's file of the same name, in summary order
      cells.forEach((cell, j) => expect(cell).toContain(`src="videos/compare/${METHODS[j]}/${PROMPTS[i]}.gif"`));
    }
    expect(rows[0]).toContain('<th scope="row">a red circle moving left</th>');
    const head = /<table class="compare"><thead><tr>(.*?)<\/tr><\/thead>/.exec(html)?.[1] ?? '';
    expect(head).toBe(`<th>prompt</th>${METHODS.map((m) => `<th>${m}</th>`).join('')}`);
    // summary table before the video rows
    const summaryAt = html.indexOf('<table class="final summary">');
    expect(summaryAt).toBeGreaterThan(0);
    expect(summaryAt).toBeLessThan(html.indexOf('<table class="compare">'));
    expect(html).toContain('<th>reward</th><th>seconds_per_video</th><th>label</th>');
    expect(html).toContain('<tr><th scope="row">teacher-50-steps-cfg</th><td>0.2968</td><td>10.91</td><td>teacher, 50 DDIM steps + CFG</td></tr>');
    // a benchmark folder has no metrics: no empty-state notes for a training run
    expect(html).not.toContain('No metrics yet');
    expect(html).not.toContain('No validation videos yet');
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('marks a method that lacks a prompt, adds folders missing from the summary, and warns on a bad summary', () => {
    const dir = path.join(root, 'partial');
    fs.cpSync(runDir, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'videos', 'compare', 'teacher-4-steps', `${PROMPTS[1]}.gif`));
    fs.mkdirSync(path.join(dir, 'videos', 'compare', 'base-4-steps'));
    fs.copyFileSync(path.join(runDir, 'videos', 'compare', METHODS[0]!, `${PROMPTS[0]}.gif`), path.join(dir, 'videos', 'compare', 'base-4-steps', `${PROMPTS[0]}.gif`));
    fs.writeFileSync(path.join(dir, 'videos', 'compare', 'summary.json'), '{"student-4-steps": ');
    const { html, videos, warnings } = renderReport(dir);
    expect(videos).toBe(6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/summary\.json: not valid JSON/);
    expect(html).not.toContain('class="final summary"');
    // without a summary, columns are in name order
    expect(html).toContain('<th>prompt</th><th>base-4-steps</th><th>student-4-steps</th><th>teacher-4-steps</th><th>teacher-50-steps-cfg</th>');
    expect(html.match(/class="missing"/g)).toHaveLength(2);
  });

  it('keeps before/after and step galleries alongside the comparison', async () => {
    const dir = path.join(root, 'both');
    fs.cpSync(runDir, dir, { recursive: true });
    const video = movingSquare(4, 24, 32);
    for (const side of ['before', 'after']) {
      await writeVideo(video, { path: path.join(dir, 'videos', side, '00-a-red-circle'), fps: 8, format: 'gif' });
    }
    await writeVideo(video, { path: path.join(dir, 'videos', 'step-000010', '00-a-red-circle'), fps: 8, format: 'gif' });
    const { html, videos } = renderReport(dir);
    expect(videos).toBe(6 + 2 + 1);
    expect(html).toContain('id="before-after"');
    expect(html).toContain('src="videos/after/00-a-red-circle.gif"');
    expect(html).toContain('id="step-10"');
  });
});

const CHROMIUM = '/usr/bin/chromium';

// As in report.test.ts: rendered in headless Chromium only where the Debian package is installed.
describe.skipIf(!fs.existsSync(CHROMIUM))('comparison page in headless Chromium', () => {
  it('loads every method video of every row', () => {
    const { path: reportPath } = writeReport(runDir);
    const profile = path.join(root, 'profile-compare');
    const flags = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, '--window-size=1200,1000',
    ];
    const dom = spawnSync(CHROMIUM, [...flags, '--dump-dom', pathToFileURL(reportPath).href], { encoding: 'utf8', timeout: 45_000 });
    expect(dom.status, dom.stderr).toBe(0);
    expect(dom.stdout).toContain('data-ready="1"');
    const rows = dom.stdout.match(/<tr class="compare-row">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const imgs = row.match(/<img [^>]*>/g) ?? [];
      expect(imgs).toHaveLength(3);
      for (const img of imgs) expect(img).toContain('data-loaded="1"');
    }
  });
});
