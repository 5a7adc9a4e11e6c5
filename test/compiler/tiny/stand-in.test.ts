// The --tiny shrink of a full-size pipeline (compiler/tiny/stand-in.ts), shared by
// `vplc run`/`sample` (both objectives) and `vplc compile`/`explain --graph`/`diff --graph`.
// Plans only: nothing is lowered here.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { modelBuild } from '../../../stdlib/models/registry.ts';
import { tinyVcConfig, type UNet3DConfig } from '../../../stdlib/models/unet3d/index.ts';
import { repoRoot } from '../../cli/run-vplc.ts';
import { needsTinyStandIn, standInRewards, tinyStandIn } from '../../../compiler/tiny/stand-in.ts';

function planOf(name: string, overrides: string[] = []): Plan {
  const result = checkFile(path.join(repoRoot, 'pipelines', `${name}.vpl`), { overrides });
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.plan!;
}

describe('tinyStandIn', () => {
  it('shrinks a reward pipeline: 32x32, at most 4 frames, 2 sampler steps, 1 x 1 videos, remat off, 1 validation prompt', () => {
    const plan = planOf('aesthetic');
    const { plan: p, build, notes } = tinyStandIn(plan, modelBuild('videocrafter2'));
    expect(notes).toEqual([
      'videocrafter2: random-initialised tiny networks of its family (UNet 32 channels, tiny VAE, tiny CLIP)',
      'size 320x512 -> 32x32, frames 12 -> 4',
      'sampler steps 25 -> 2',
      'batch 1 x accumulate 8 -> 1 x 1',
      'remat off (the small networks fit in memory)',
      'reward aesthetic -> tiny_aesthetic (random-initialised stand-in of the same kind)',
    ]);
    expect(p.derived.latent_shape).toEqual([4, 4, 8, 8]);
    expect(p.derived.effective_batch).toBe(1);
    expect(p.derived.decoded_frames).toBe(1); // random(1)
    // decoded frames follow the smaller clip: all of 12 -> all of 4
    expect(tinyStandIn(planOf('aesthetic', ['objective.decode=all']), modelBuild('videocrafter2')).plan.derived.decoded_frames).toBe(4);
    expect(p.train.validate?.prompts).toBe(1);
    expect(p.train.remat).toBe(false);
    expect(plan.model.frames).toBe(12); // the input is left alone
    // the family's own switches on the tiny world's widths
    const vc2 = modelBuild('videocrafter2').denoiser as UNet3DConfig;
    expect(build.denoiser).toMatchObject({ modelChannels: tinyVcConfig.modelChannels, fpsCond: vc2.fpsCond, useLinear: vc2.useLinear, name: `${vc2.name}-tiny` });
    expect(build.name).toBe('videocrafter2 (tiny)');
  });

  it('keeps the frame a reward pipeline decodes (frame(i))', () => {
    const { plan: p, notes } = tinyStandIn(planOf('aesthetic', ['objective.decode=frame(6)']), modelBuild('videocrafter2'));
    expect(p.model.frames).toBe(7);
    expect(notes).toContain('size 320x512 -> 32x32, frames 12 -> 7');
  });

  it('shrinks a consistency pipeline its own way: 8 frames, 1 x 2 videos, 2 prompts, decode capped, tiny_shapes for missing videos', () => {
    const plan = planOf('t2v_turbo_ms', ['train.batch=2', 'train.accumulate=5', 'objective.decode=random(12)']);
    const { plan: p, build, notes } = tinyStandIn(plan, modelBuild('modelscope'));
    expect(notes).toEqual([
      'modelscope: random-initialised tiny networks of its family (UNet 32 channels, tiny VAE, tiny CLIP)',
      'size 256x256 -> 32x32, frames 16 -> 8',
      'batch 2 x accumulate 5 -> 1 x 2',
      'reward hps -> tiny_text_align (random-initialised stand-in of the same kind)',
      'reward viclip -> tiny_text_align (random-initialised stand-in of the same kind)',
      'data video_folder "../data/webvid" is not there: tiny_shapes videos instead (smoke run)',
    ]);
    expect(p.sampler.steps).toBe(plan.sampler.steps); // the student's steps stay
    expect(p.train.remat).toBe(plan.train.remat);
    expect(p.derived.effective_batch).toBe(2);
    expect(p.objective.name === 'consistency' && p.objective.decode).toEqual({ mode: 'random', k: 8 });
    expect(p.objective.name === 'consistency' && p.objective.reward).toEqual([{ reward: 'tiny_text_align', weight: 3, params: {} }]);
    expect(p.data).toEqual({ name: 'tiny_shapes', count: 16, seed: plan.train.seed % 2 ** 31 });
    expect((build.denoiser as UNet3DConfig).fpsCond).toBe((modelBuild('modelscope').denoiser as UNet3DConfig).fpsCond);
  });

  it('merges rewards that share a stand-in and keeps built ones', () => {
    const notes: string[] = [];
    const terms = standInRewards(
      [
        { reward: 'hps', weight: 1, params: { x: 1 } },
        { reward: 'tiny_aesthetic', weight: 0.5, params: { y: 2 } },
        { reward: 'pickscore', weight: 2, params: {} },
      ],
      notes,
    );
    expect(terms).toEqual([
      { reward: 'tiny_text_align', weight: 3, params: {} },
      { reward: 'tiny_aesthetic', weight: 0.5, params: { y: 2 } },
    ]);
    expect(notes).toHaveLength(2);
  });

  it('leaves the tiny world alone', () => {
    expect(needsTinyStandIn(planOf('demo'))).toBe(false);
    expect(needsTinyStandIn(planOf('aesthetic'))).toBe(true);
  });
});
