// The semantic diff: in-process on pairs of plans, the CLI and the git driver spawned once each.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSource } from '../../compiler/check/index.ts';
import { classificationTable, classify, diffPlans, formatChange, formatDiff } from '../../compiler/diff/index.ts';
import type { Plan } from '../../compiler/plan.ts';
import { format } from '../../grammar/index.ts';
import { repoRoot, vplc } from '../cli/run-vplc.ts';

const base = `pipeline base
model tiny_vc { frames = 8  size = 32x32  fps = 8 }
lora { rank = 16  alpha = 16  targets = [attn.q, attn.k] }
prompts = tiny_shapes
objective reward { reward = 1.0 * brightness  decode = random(1) }
train {
  optimizer = adamw { lr = 1e-3 }
  steps = 100
  batch = 2
}
`;
const child = `pipeline child
extends "base.vpl"
train { accumulate = 2 }
`;

/** Checks in memory: `files` maps names in one folder to their text. */
function plan(files: Record<string, string>, name: string): Plan {
  const dir = '/virtual';
  const readFile = (path: string) => {
    const text = files[nodePath.basename(path)];
    if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return text;
  };
  const result = checkSource(files[name]!, nodePath.join(dir, name), { readFile });
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.plan!;
}

describe('diffPlans', () => {
  it('finds no change in reformatting and reordering', () => {
    const reordered = `train { batch = 2  steps = 100   optimizer = adamw { lr = 0.001 } }
objective reward { decode = random(1)  reward = 1.0 * brightness }
prompts = tiny_shapes
lora { targets = [attn.q, attn.k]  alpha = 16  rank = 16 }
model tiny_vc { fps = 8  size = 32x32  frames = 8 }
pipeline base
`;
    const diff = diffPlans(plan({ 'a.vpl': base }, 'a.vpl'), plan({ 'a.vpl': reordered }, 'a.vpl'));
    expect(diff.changes).toEqual([]);
    expect(formatDiff(diff)).toBe('no semantic change');
    expect(diffPlans(plan({ 'a.vpl': base }, 'a.vpl'), plan({ 'a.vpl': format(base, 'a.vpl').text }, 'a.vpl')).changes).toEqual([]);
  });

  it('shows a default changed in the base file a pipeline extends', () => {
    const before = plan({ 'base.vpl': base, 'child.vpl': child }, 'child.vpl');
    const after = plan({ 'base.vpl': base.replace('steps = 100', 'steps = 200'), 'child.vpl': child }, 'child.vpl');
    expect(diffPlans(before, after).changes.map(formatChange)).toEqual(['~ train.steps 100 -> 200 [resumable]']);
  });

  it('classes a LoRA rank change as retrain and reports the figures it moves', () => {
    const diff = diffPlans(plan({ 'a.vpl': base }, 'a.vpl'), plan({ 'a.vpl': base.replace('rank = 16', 'rank = 8') }, 'a.vpl'));
    expect(diff.changes.map(formatChange)).toEqual(['~ lora.rank 16 -> 8 [retrain]']);
    expect(diff.cls).toBe('retrain');
    expect(diff.figures).toEqual([expect.objectContaining({ label: 'trainable LoRA parameters', new: '0.5' })]);
    expect(formatDiff(diff)).toContain('1 change (1 retrain): old checkpoints no longer apply');
  });

  it('classes a learning-rate change as resumable; batch changes move the effective batch', () => {
    const diff = diffPlans(plan({ 'a.vpl': base }, 'a.vpl'), plan({ 'a.vpl': base.replace('lr = 1e-3', 'lr = 5e-4').replace('batch = 2', 'batch = 4') }, 'a.vpl'));
    expect(diff.changes.map(formatChange)).toEqual(['~ train.optimizer.lr 0.001 -> 0.0005 [resumable]', '~ train.batch 2 -> 4 [resumable]']);
    expect(diff.cls).toBe('resumable');
    expect(diff.figures).toContainEqual(expect.objectContaining({ label: 'effective batch', old: '2 videos', new: '4 videos', note: 'x2' }));
    expect(diff.figures).toContainEqual(expect.objectContaining({ label: 'model evaluations per optimizer step' }));
  });

  it('shows an added reward term, a removed field and cosmetic changes', () => {
    const next = base
      .replace('1.0 * brightness', '1.0 * brightness + 0.5 * aesthetic')
      .replace('pipeline base', 'pipeline renamed')
      .replace('model tiny_vc {', 'sampler dpm_solver { steps = 10 }\nmodel tiny_vc {');
    const lines = diffPlans(plan({ 'a.vpl': base }, 'a.vpl'), plan({ 'a.vpl': next }, 'a.vpl')).changes.map(formatChange);
    expect(lines).toContain('+ objective.reward 0.5 * aesthetic [resumable]');
    expect(lines).toContain('- sampler.eta 1 [resumable]');
    expect(lines).toContain('~ sampler.name ddim -> dpm_solver [resumable]');
    expect(lines).toContain('~ name base -> renamed [cosmetic]');
  });

  it('keeps the classification in one prefix table, longest prefix first', () => {
    expect(classify('lora.rank').cls).toBe('retrain');
    expect(classify('lora.dropout').cls).toBe('resumable');
    expect(classify('model.name').cls).toBe('retrain');
    expect(classify('objective.name').cls).toBe('retrain');
    expect(classify('objective.decode').cls).toBe('resumable');
    expect(classify('train.checkpoint.every').cls).toBe('resumable');
    expect(classify('output.log_every').cls).toBe('cosmetic');
    expect(classify('something.new').cls).toBe('retrain');
    expect(new Set(classificationTable.map(([prefix]) => prefix)).size).toBe(classificationTable.length);
  });
});

describe('vplc diff and the git driver', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'vplc-diff-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir } });
  writeFileSync(nodePath.join(dir, 'base.vpl'), base);
  writeFileSync(nodePath.join(dir, 'pipe.vpl'), base.replace('pipeline base', 'pipeline pipe'));
  git('init', '-q');
  git('config', 'user.email', 't@example.com');
  git('config', 'user.name', 'T');
  git('config', 'diff.vpl.textconv', `"${process.execPath}" "${nodePath.join(repoRoot, 'bin/vplc.js')}" textconv`);
  writeFileSync(nodePath.join(dir, '.gitattributes'), '*.vpl diff=vpl\n');
  git('add', '.');
  git('commit', '-qm', 'first');
  writeFileSync(nodePath.join(dir, 'pipe.vpl'), base.replace('pipeline base', 'pipeline pipe').replace('rank = 16', 'rank = 8'));

  it('git diff shows the resolved lora.rank change through the textconv driver', () => {
    const out = git('diff', '--', 'pipe.vpl');
    expect(out).toMatch(/^-lora\.rank = 16$/m);
    expect(out).toMatch(/^\+lora\.rank = 8$/m);
  });

  it('vplc diff FILE --git REV and OLD NEW: changes, exit 2; none, exit 0; --json', () => {
    const changed = vplc(['diff', 'pipe.vpl', '--git', 'HEAD', '--json'], { cwd: dir });
    expect(changed.status).toBe(2);
    const json = JSON.parse(changed.stdout);
    expect(json.changes).toEqual([expect.objectContaining({ op: '~', path: 'lora.rank', old: '16', new: '8', cls: 'retrain', at: 'pipe.vpl:3:15' })]);
    expect(json.class).toBe('retrain');
    const same = vplc(['diff', 'base.vpl', 'base.vpl'], { cwd: dir });
    expect(same.status).toBe(0);
    expect(same.stdout.trim()).toBe('no semantic change');
  });
});
