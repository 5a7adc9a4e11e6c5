// `vplc check-weights`: the report of a pipeline's model checkpoint and the exit codes, on
// tiny_vc checkpoints in VideoCrafter2's Lightning layout written here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelBuild } from '../../stdlib/models/registry.ts';
import { lightningKey, lightningTensors, writeTorchFile } from '../runtime/weights/helpers/checkpoint-layouts.ts';
import { vplc } from './run-vplc.ts';

const dir = mkdtempSync(join(tmpdir(), 'vplc-check-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = modelBuild('tiny_vc');
const good = join(dir, 'tiny.ckpt');
const broken = join(dir, 'broken.ckpt');
const pipeline = join(dir, 'demo.vpl');

beforeAll(async () => {
  const tensors = lightningTensors(build, { unet: 'F16' });
  await writeTorchFile(good, tensors);
  const gone = lightningKey(build, 'vae.post_quant_conv.bias');
  await writeTorchFile(broken, [...tensors.filter((t) => t.key !== gone), { key: 'first_stage_model.post_quant_conv.biass', shape: [4], dtype: 'F32' }]);
  // demo.vpl's model with model.weights pointing at the good file (relative to the pipeline)
  writeFileSync(pipeline, 'pipeline demo_weights\n\nmodel tiny_vc {\n  frames = 8\n  size = 32x32\n  fps = 8\n  weights = "tiny.ckpt"\n}\n\nlora {\n  rank = 4\n}\n\nprompts = tiny_shapes\n\nsampler ddim {\n  steps = 4\n}\n\nobjective reward {\n  reward = 1.0 * brightness\n}\n');
}, 60_000);

describe('vplc check-weights', () => {
  it('finds model.weights relative to the pipeline, prints the layout and counts per component, and exits 0 when clean', () => {
    const result = vplc(['check-weights', pipeline]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`tiny.ckpt: lightning checkpoint for model 'tiny_vc'`);
    expect(result.stdout).toMatch(/^ {2}component +matched +missing +unexpected +mismatched +absent +size +dtypes$/m);
    expect(result.stdout).toMatch(/^ {2}unet +\d+ +0 +0 +0 +0 +[\d.]+ (KiB|MiB) +F16 \d+$/m);
    expect(result.stdout).toMatch(/^ {2}clip +\d+ +0 +0 +0 +0 +[\d.]+ (KiB|MiB) +F32 \d+$/m);
    expect(result.stdout).toMatch(/ignored:\n {2}12 keys .*noise schedule/);
    expect(result.stdout).toMatch(/^ok: all \d+ parameters match$/m);
  }, 120_000);

  it('prints every problem by name with its file and "did you mean", and exits 1 (--weights overrides model.weights)', () => {
    const result = vplc(['check-weights', pipeline, '--weights', broken]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^ {2}vae +\d+ +1 +1 +0 /m);
    expect(result.stdout).toContain('missing (1):\n  vae.post_quant_conv.bias [4] (looked for first_stage_model.post_quant_conv.bias)');
    expect(result.stdout).toContain(`unexpected (1):\n  first_stage_model.post_quant_conv.biass F32 [4] in ${broken} (did you mean first_stage_model.post_quant_conv.bias?)`);
    expect(result.stderr).toMatch(/broken\.ckpt: error VPL7030: the checkpoint does not match model 'tiny_vc': 1 missing, 1 unexpected/);
  }, 120_000);

  it('gives the report as JSON', () => {
    const result = vplc(['check-weights', pipeline, '--json']);
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout) as { clean: boolean; layout: string; counts: Record<string, { matched: number }>; report: { missing: unknown[] } };
    expect(json.clean).toBe(true);
    expect(json.layout).toBe('lightning');
    expect(json.counts.vae.matched).toBeGreaterThan(0);
    expect(json.report.missing).toEqual([]);
  }, 120_000);

  it('names the missing file and the fix (VPL7130), and what tiny_vc loads without a checkpoint', () => {
    // (an override's path is taken relative to the current folder)
    const missing = vplc(['check-weights', pipeline, 'model.weights=nope.ckpt']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/demo\.vpl: error VPL7130: the weights of model 'tiny_vc' are missing: .*nope\.ckpt does not exist \(model\.weights = ".*nope\.ckpt" in the pipeline\)/);
    expect(missing.stderr).toMatch(/help: put the tiny_vc checkpoint .* or give another with --weights/);
    const shipped = vplc(['check-weights', 'pipelines/demo.vpl']);
    expect(shipped.status).toBe(0);
    expect(shipped.stdout).toMatch(/tiny world's shipped weights/);
  }, 120_000);
});
