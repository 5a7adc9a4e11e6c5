// `vplc run` end to end through the real binary, on the tiny world with random-initialised
// networks (--tiny) and a fixed seed: a short run of the demo pipeline made smaller on the
// command line (4 frames, 4 sampler steps, 1 video per step) with brightness as the reward, so
// the effect is robust: the validation reward must rise by at least 0.03 in 6 steps (it rises
// by ~0.1). Also the errors that stop a run before any heavy work.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../compiler/check/index.ts';
import { readMetrics } from '../../runtime/metrics/jsonl.ts';
import { setupReward } from '../../runtime/methods/reward/setup.ts';
import { readSafetensors } from '../../runtime/weights/safetensors.ts';
import { initialRewardState } from '../../runtime/methods/common/state.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const binary = path.join(repoRoot, 'bin', 'vplc.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The real binary in `cwd` (a fresh folder: runs/ and .cache/ land there). */
export function vplcIn(cwd: string, args: string[], timeout = 240_000): { status: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const r = spawnSync(process.execPath, [binary, ...args], { cwd, env, encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const demo = path.join(repoRoot, 'pipelines', 'demo.vpl');
/** The demo, smaller and with an analytic reward (the same pipeline otherwise). */
export const SMALL = ['model.frames=4', 'sampler.steps=4', 'train.batch=1', 'objective.backprop=last(1)', 'objective.decode=random(1)'];

describe('vplc run pipelines/demo.vpl --tiny (6 steps, brightness)', () => {
  const cwd = path.join(tmp, 'demo');
  const runDir = path.join(cwd, 'runs', 'demo');
  let run: ReturnType<typeof vplcIn>;
  beforeAll(() => {
    fs.mkdirSync(cwd, { recursive: true });
    run = vplcIn(cwd, ['run', demo, ...SMALL, 'objective.reward=1.0 * brightness', 'train.optimizer.lr=0.05', '--tiny', '--steps', '6']);
  }, 300_000);

  it('exits 0 and prints the banner, progress and validation', () => {
    expect(run.stderr).not.toMatch(/internal error|    at /);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/vplc run demo: VADER reward alignment/);
    expect(run.stderr).toMatch(/weights\s+random init \(--tiny\)/);
    expect(run.stderr).toMatch(/train 6\/6/);
    expect(run.stderr).toMatch(/validation at step 6: .*reward/);
  });

  it('writes the run folder: pipeline, plan, checkpoints, metrics, videos, LoRA, report', () => {
    for (const f of ['pipeline.vpl', 'plan.json', 'metrics.jsonl', 'report.html', 'lora/adapter_model.safetensors', 'lora/adapter_config.json', 'checkpoints/step-000006/lora.safetensors', 'checkpoints/step-000006/optimizer.safetensors']) {
      expect(fs.existsSync(path.join(runDir, f)), f).toBe(true);
    }
    const before = fs.readdirSync(path.join(runDir, 'videos', 'before')).sort();
    const after = fs.readdirSync(path.join(runDir, 'videos', 'after')).sort();
    expect(before.filter((f) => f.endsWith('.gif'))).toHaveLength(2);
    expect(before.filter((f) => f.endsWith('.png'))).toHaveLength(2);
    expect(after).toEqual(before); // the same prompts, for a side-by-side comparison
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'lora', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4 });
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toMatch(/videos\/after\//);
  });

  it('trains only the LoRA: the saved state holds LoRA factors and optimizer moments, and the factors moved', async () => {
    // the initial LoRA of the same lowering (seeded): A random, B zero
    const plan = checkFile(demo, { overrides: [...SMALL, 'objective.reward=1.0 * brightness', 'train.optimizer.lr=0.05'] }).plan!;
    const initial = initialRewardState((await setupReward(plan, { tiny: true })).lowered);
    const early = new Map(Object.entries(initial).map(([k, t]) => [k, { data: t.data }]));
    const late = (await readSafetensors(path.join(runDir, 'checkpoints/step-000006/lora.safetensors'))).tensors;
    const names = [...late.keys()];
    expect(names.length).toBeGreaterThan(0);
    // every trainable tensor is a LoRA factor: the base weights are frozen initializers of the graphs
    expect(names.every((n) => /\.lora_[AB]\.weight$/.test(n))).toBe(true);
    const opt = (await readSafetensors(path.join(runDir, 'checkpoints/step-000006/optimizer.safetensors'))).tensors;
    expect([...opt.keys()].every((n) => n === 'adam.step' || /^adam\.[mv]\..*\.lora_[AB]\.weight$/.test(n))).toBe(true);
    let changed = 0;
    let bNonZero = 0;
    for (const n of names) {
      const a = early.get(n)!.data as Float32Array;
      const b = late.get(n)!.data as Float32Array;
      if (a.some((v, i) => v !== b[i])) changed++;
      if (n.endsWith('lora_B.weight') && b.some((v) => v !== 0)) bNonZero++;
    }
    expect(names.sort()).toEqual([...early.keys()].filter((n) => !n.startsWith('adam.')).sort());
    expect(changed).toBe(names.length);
    expect(bNonZero).toBeGreaterThan(0); // B starts at zero
  });

  it('raises the reward: validation reward after > before + 0.03, and the training reward trends up', () => {
    const { records } = readMetrics(path.join(runDir, 'metrics.jsonl'));
    const val = records.filter((r) => r.values['val/reward'] !== undefined);
    const first = val.find((r) => r.step === 0)!.values['val/reward']!;
    const last = val.find((r) => r.step === 6)!.values['val/reward']!;
    expect(last).toBeGreaterThan(first + 0.03);
    const trainReward = records.filter((r) => r.values.reward !== undefined && r.values.loss !== undefined).map((r) => r.values.reward!);
    expect(trainReward).toHaveLength(6);
    expect(trainReward[5]! + trainReward[4]!).toBeGreaterThan(trainReward[0]! + trainReward[1]!);
    for (const r of records.filter((r) => r.values.loss !== undefined)) expect(Object.keys(r.values)).toEqual(expect.arrayContaining(['loss', 'reward', 'reward.brightness', 'grad_norm', 'lr']));
  });

  it('vplc sample --tiny --lora writes a video per prompt with the trained LoRA', () => {
    const r = vplcIn(cwd, ['sample', demo, ...SMALL, 'objective.reward=1.0 * brightness', '--tiny', '--lora', 'runs/demo', '--prompt', 'a red circle moving left', '--prompt', 'a blue square growing', '--out', 'samples']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    const files = fs.readdirSync(path.join(cwd, 'samples')).sort();
    expect(files).toEqual(['00-a-red-circle-moving-left.gif', '00-a-red-circle-moving-left.png', '01-a-blue-square-growing.gif', '01-a-blue-square-growing.png']);
    expect(r.stdout).toMatch(/wrote 4 files to samples/);
  }, 240_000);
});

describe('vplc run: problems stop the run before any heavy work', () => {
  const cwd = path.join(tmp, 'errors');
  beforeAll(() => fs.mkdirSync(cwd, { recursive: true }));

  it('pickscore.vpl without the VideoCrafter2 weights names the missing file and --tiny', () => {
    const r = vplcIn(cwd, ['run', path.join(repoRoot, 'pipelines', 'pickscore.vpl')], 60_000);
    expect(r.status).toBe(1);
    const expected = path.join(cwd, 'checkpoints', 'videocrafter2', 'model.ckpt');
    expect(r.stderr).toContain(`error VPL7130: the weights of model 'videocrafter2' are missing: ${expected} does not exist`);
    expect(r.stderr).toMatch(/help: put the videocrafter2 checkpoint .* or add --tiny/);
    expect(r.stderr).not.toMatch(/compiling|    at /);
    expect(fs.existsSync(path.join(cwd, 'runs'))).toBe(false);
  });

  it('an objective that is not lowered yet (denoise) is refused with what it lands with', () => {
    const file = path.join(cwd, 'denoise.vpl');
    fs.writeFileSync(file, `pipeline denoise_demo\nextends ${JSON.stringify(demo)}\ndata tiny_shapes { count = 8 }\nobjective denoise { }\n`);
    const r = vplcIn(cwd, ['run', file, '--tiny'], 60_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error VPL7131: not supported yet by vplc run: objective denoise \(lands with/);
    expect(r.stderr).toMatch(/help: .*objective consistency/);
  });

  it('check errors print diagnostics and exit 1; bad flags are usage errors', () => {
    const bad = vplcIn(cwd, ['run', demo, 'lora.rank=zero', '--tiny'], 60_000);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/error VPL\d+/);
    const steps = vplcIn(cwd, ['run', demo, '--tiny', '--steps', 'x'], 60_000);
    expect(steps.status).toBe(1);
    expect(steps.stderr).toMatch(/--steps must be a positive integer, got 'x'/);
  });
});
