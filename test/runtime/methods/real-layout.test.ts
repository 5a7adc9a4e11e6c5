// A full-size pipeline on a checkpoint in VideoCrafter2's real layout: a Lightning .ckpt that
// torch.save wrote (tools/checkpoints/synthetic.py: the real key names, reduced widths, random
// values) with open_clip's tokenizer file beside it (our own merges). `vplc sample` writes finite videos and
// `vplc run` with an analytic reward takes an optimizer step; a learned reward whose files are
// missing stops with the files it needs (before the checkpoint is read); a checkpoint of another size is refused with
// every mismatch named. The full widths run in bench/real_layout.ts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';
import { runReward } from '../../../runtime/methods/reward/run.ts';
import { sampleVideos } from '../../../runtime/methods/reward/sample.ts';
import { setupReward } from '../../../runtime/methods/reward/setup.ts';
import { modelBuild, reducedBuild } from '../../../stdlib/models/registry.ts';
import { FIXTURE_MERGES, fillerMerges, fixtureMergesTxt, fixtureOpenClipText, fixtureVocab } from '../../helpers/clip-bpe-fixture.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hasTorch = torchAvailable().ok;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-real-layout-'));
const ckpt = path.join(tmp, 'videocrafter2', 'model.ckpt');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** VADER's reference pipeline at its smallest, on the synthetic checkpoint. */
const SMALL = [`model.weights=${ckpt}`, 'model.frames=2', 'model.size=64x64', 'sampler.steps=2', 'train.batch=1', 'train.accumulate=1'];

function planOf(overrides: string[]) {
  const r = checkFile(path.join(repoRoot, 'pipelines', 'pickscore.vpl'), { overrides });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

// Skipped without Debian's python3-torch: the checkpoint must come from torch.save itself.
describe.skipIf(!hasTorch)('VideoCrafter2 in its real checkpoint layout (reduced widths)', () => {
  const build = reducedBuild('videocrafter2');
  beforeAll(() => {
    const r = spawnSync(PYTHON, ['tools/checkpoints/synthetic.py', '--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--out', ckpt], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    // open_clip's tokenizer file beside it: our own merges, padded to the real vocabulary's ids (49408, end 49407)
    const merges = [...FIXTURE_MERGES, ...fillerMerges(49408 - 512 - 2 - FIXTURE_MERGES.length)];
    fs.writeFileSync(path.join(path.dirname(ckpt), 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(fixtureOpenClipText(merges)));
  }, 120_000);

  it('samples finite videos', async () => {
    const setup = await setupReward(planOf([...SMALL, 'objective.reward=1.0 * brightness']), { samplingOnly: true, build });
    expect(setup.mode).toBe('checkpoint');
    expect(setup.weightsDescription).toContain('lightning');
    const frozen = [...setup.lowered.program.graphs.sample_step!.initializers.values()];
    // the UNet's big weights reach onnxruntime by reference into the .ckpt, not as JS copies
    expect(frozen.filter((init) => init.external?.file === ckpt).length).toBeGreaterThan(100);
    const outDir = path.join(tmp, 'samples');
    const result = await sampleVideos({ setup, prompts: ['a red fox running through snow'], outDir, seed: 1, cacheRoot: path.join(tmp, 'cache'), say: () => {} });
    expect(result.files.length).toBeGreaterThan(0);
    for (const file of result.files) expect(fs.statSync(file).size).toBeGreaterThan(0);
    expect(result.rewards.every((r) => Number.isFinite(r.reward))).toBe(true);
  }, 300_000);

  it('takes one optimizer step with an analytic reward', async () => {
    const setup = await setupReward(planOf([...SMALL, 'objective.reward=1.0 * brightness']), { build });
    const runDir = path.join(tmp, 'run');
    let log = '';
    const result = await runReward({ setup, runDir, steps: 1, fresh: true, handleSignals: false, stderr: { write: (t: string) => ((log += t), true) }, cacheRoot: path.join(tmp, 'cache') });
    expect(result.exitCode, log).toBe(0);
    const rec = readMetrics(path.join(runDir, 'metrics.jsonl')).records.find((r) => r.step === 1 && r.values.loss !== undefined)!;
    expect(Number.isFinite(rec.values.loss)).toBe(true);
    expect(rec.values.grad_norm).toBeGreaterThan(0);
  }, 300_000);

  it('stops before loading anything when the PickScore weights are missing, naming its files', async () => {
    const error = await setupReward(planOf(SMALL), { build, env: { VPLC_WEIGHTS_DIR: path.join(tmp, 'nothing') } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7136');
    expect((error as VplError).message).toMatch(/reward 'pickscore' needs model\.safetensors .*PickScore_v1.*its folder .*rewards\/pickscore does not exist/s);
    expect((error as VplError).help).toMatch(/pickscore\(files = "\.\.\."\)/);
  });

  it('refuses the checkpoint for the full-size networks, naming every mismatch with the file', async () => {
    const error = await setupReward(planOf([...SMALL, 'objective.reward=1.0 * brightness']), { build: modelBuild('videocrafter2') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7030');
    expect((error as VplError).message).toMatch(/shape mismatches/);
    expect((error as VplError).file).toBe(ckpt);
  });
});

describe.skipIf(!hasTorch)('ModelScope in its diffusers folder layout (reduced widths)', () => {
  const build = reducedBuild('modelscope');
  const folder = path.join(tmp, 'modelscope');
  beforeAll(() => {
    const r = spawnSync(PYTHON, ['tools/checkpoints/synthetic.py', '--layout', 'modelscope-diffusers', '--size', 'reduced', '--out', folder], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    // the slow CLIPTokenizer's files, our own merges padded to the real vocabulary's ids
    const merges = [...FIXTURE_MERGES, ...fillerMerges(49408 - 512 - 2 - FIXTURE_MERGES.length)];
    fs.mkdirSync(path.join(folder, 'tokenizer'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'tokenizer', 'vocab.json'), JSON.stringify(fixtureVocab(merges)));
    fs.writeFileSync(path.join(folder, 'tokenizer', 'merges.txt'), fixtureMergesTxt(merges));
    for (const extra of ['tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json']) fs.rmSync(path.join(folder, 'tokenizer', extra), { force: true });
  }, 120_000);

  it('samples finite videos from the folder (unet/, vae/, text_encoder/, tokenizer/)', async () => {
    const r = checkFile(path.join(repoRoot, 'pipelines', 'modelscope_aesthetic.vpl'), {
      overrides: [`model.weights=${folder}`, 'model.frames=2', 'model.size=64x64', 'sampler.steps=2', 'train.batch=1', 'train.accumulate=1', 'objective.reward=1.0 * brightness'],
    });
    if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
    const setup = await setupReward(r.plan, { samplingOnly: true, build });
    expect(setup.weightsDescription).toContain('diffusers');
    const result = await sampleVideos({ setup, prompts: ['a boat on a lake'], outDir: path.join(tmp, 'ms-samples'), seed: 1, cacheRoot: path.join(tmp, 'cache'), say: () => {} });
    expect(result.files.length).toBeGreaterThan(0);
    expect(result.rewards.every((x) => Number.isFinite(x.reward))).toBe(true);
  }, 300_000);
});

