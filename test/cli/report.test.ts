import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vplc } from './run-vplc.ts';

describe('vplc report', () => {
  it('writes report.html for a run folder and says what it holds', () => {
    const run = mkdtempSync(join(tmpdir(), 'vplc-report-'));
    const lines = [1, 2, 3].map((step) => JSON.stringify({ step, wall_time: 1700000000 + step, loss: 1 / step }));
    writeFileSync(join(run, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    mkdirSync(join(run, 'checkpoints'));
    const result = vplc(['report', run]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^wrote .*report\.html \(3 metric records, 0 videos\)\n$/);
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    expect(html).toContain('<!DOCTYPE html>');
    expect(html).toContain('loss');
  });

  it('warns about a torn last metrics line but still writes the page', () => {
    const run = mkdtempSync(join(tmpdir(), 'vplc-report-'));
    writeFileSync(join(run, 'metrics.jsonl'), `${JSON.stringify({ step: 1, wall_time: 1, loss: 1 })}\n{"step": 2, "wal`);
    const result = vplc(['report', run]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^warning: .*metrics\.jsonl:2: incomplete last line ignored/);
  });

  it('exits 1 with a clear error for a missing folder, a file, or a folder that is not a run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vplc-report-'));
    const missing = vplc(['report', join(dir, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`${join(dir, 'nope')}: error VPL7120: the run folder does not exist\nhelp: pass the folder a run wrote (runs/<name>/, holding metrics.jsonl, checkpoints/ and videos/)\n`);
    writeFileSync(join(dir, 'file.txt'), 'x');
    expect(vplc(['report', join(dir, 'file.txt')]).stderr).toMatch(/error VPL7120: this is a file, not a run folder/);
    mkdirSync(join(dir, 'empty'));
    const empty = vplc(['report', join(dir, 'empty')]);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/error VPL7120: this is not a run folder: it has none of metrics\.jsonl, checkpoints\/, videos\/, tb\//);
    expect(vplc(['report']).status).toBe(2); // usage: the argument is required
  });
});
