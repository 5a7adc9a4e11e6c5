import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vplc } from './run-vplc.ts';

const messy = `pipeline   messy
lora{rank=8    alpha=8}   # keep me
sampler ddim {steps=25 eta=1.0}
`;

describe('vplc fmt', () => {
  it('reports unformatted files with --check, rewrites them, and is then clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vplc-fmt-'));
    const file = join(dir, 'messy.vpl');
    writeFileSync(file, messy);
    const check = vplc(['fmt', '--check', file]);
    expect(check.status).toBe(1);
    expect(check.stdout.trim()).toBe(file);
    expect(readFileSync(file, 'utf8')).toBe(messy); // --check never writes

    const fmt = vplc(['fmt', file]);
    expect(fmt.status).toBe(0);
    const formatted = readFileSync(file, 'utf8');
    expect(formatted).toContain('  rank = 8\n');
    expect(formatted).toContain('# keep me');
    expect(vplc(['fmt', '--check', file]).status).toBe(0);
  });

  it('leaves a file with syntax errors untouched and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vplc-fmt-'));
    const file = join(dir, 'broken.vpl');
    const text = 'lora { rank = }\n';
    writeFileSync(file, text);
    const result = vplc(['fmt', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/broken\.vpl:1:\d+ - error VPL1012/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('keeps every shipped pipeline in canonical form', () => {
    const result = vplc(['fmt', '--check', 'pipelines/pickscore.vpl', 'pipelines/vader_base.vpl', 'pipelines/t2v_turbo_vc2.vpl', 'pipelines/svd_aesthetic.vpl']);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('vplc explain', () => {
  it('prints resolved values with their origin and the derived figures', () => {
    const result = vplc(['explain', 'pipelines/pickscore.vpl', 'lora.rank=8']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/lora\.rank\s+8\s+<command line>:1/);
    expect(result.stdout).toMatch(/sampler\.steps\s+25\s+pipelines\/vader_base\.vpl:\d+/);
    expect(result.stdout).toMatch(/output\.tensorboard\s+true\s+default/);
    // batch 1 x accumulate 8; 25 DDIM steps with CFG = 50 UNet calls per video
    expect(result.stdout).toMatch(/effective batch\s+8 videos/);
    expect(result.stdout).toMatch(/model evaluations per video\s+50 {2}\(2 with gradient\)/);
    expect(result.stdout).toMatch(/model evaluations per optimizer step\s+400/);
  });

  it('emits JSON with --json and refuses a pipeline with errors', () => {
    const json = vplc(['explain', '--json', 'pipelines/t2v_turbo_vc2.vpl']);
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout) as { plan: { objective: { name: string } }; figures: { label: string }[] };
    expect(parsed.plan.objective.name).toBe('consistency');
    expect(parsed.figures.map((f) => f.label)).toContain('effective batch');
    expect(vplc(['explain', 'test/cases/issue_example.vpl']).status).toBe(1);
  });
});
