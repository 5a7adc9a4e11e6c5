// The tiny stand-ins of a model family, shared by every command that takes `--tiny`
// (`vplc run`/`sample` through setup.ts and consistency-setup.ts, and `vplc compile`,
// `explain --graph`, `diff --graph` through cli/commands/lowering.ts):
//
//   tinyStandIn      a full-size pipeline (videocrafter2, modelscope) -> random-initialised small
//                    networks of its family (the tiny world's widths, the family's own switches:
//                    fps conditioning, linear or conv projections, temporal layers) and a small
//                    plan: 32x32, few frames, a small batch, tiny stand-in rewards for rewards
//                    whose networks are not built. Every change is listed in `notes`.
//   openTinyWorld    the tiny world's trained weight files (stdlib/weights/tiny) as one
//                    WeightSource keyed by the lowering's checkpoint prefixes.
//
// tiny_vc is the tiny world itself: it needs no shrinking (`needsTinyStandIn`).
//
// What a smoke run shrinks depends on the objective (SHRINK_RULES): the reward objective
// (VADER) backpropagates through the sampler and the decoder, so it keeps at most 4 frames,
// 2 sampler steps and 1 video per step; the consistency objective (T2V-Turbo) keeps 8 frames
// and 2 accumulated videos, and needs training videos.
import { decodeCount } from '../../compiler/check/build.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan, RewardTerm } from '../../compiler/plan.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/index.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { tinyVcConfig } from '../../stdlib/models/unet3d/index.ts';
import { tinyVaeConfig } from '../../stdlib/models/vae/index.ts';
import type { CheckpointTensor, WeightSource } from '../../stdlib/nn/parameters.ts';

/** The model that is already tiny (the tiny world); every other model is shrunk for --tiny. */
export const TINY_MODEL = 'tiny_vc';

/** Whether `--tiny` replaces the pipeline's model with small networks of its family. */
export function needsTinyStandIn(plan: Plan): boolean {
  return plan.model.name !== TINY_MODEL;
}

/** Side of the smoke run's square frames, and the VAE's spatial stride. */
const TINY_SIZE = 32;
const VAE_STRIDE = 4;

/** Rewards without a built network -> the tiny stand-in of the same kind (smoke runs only). */
export const STAND_INS: Readonly<Record<string, string>> = {
  hps: 'tiny_text_align',
  pickscore: 'tiny_text_align',
  viclip: 'tiny_text_align',
  actpred: 'tiny_text_align',
  aesthetic: 'tiny_aesthetic',
  compression: 'tiny_aesthetic',
  object_detection: 'tiny_aesthetic',
};

/** The terms with stand-ins for unbuilt rewards (terms naming the same stand-in merge, weights summed). */
export function standInRewards(terms: RewardTerm[], notes: string[]): RewardTerm[] {
  const out: RewardTerm[] = [];
  for (const term of terms) {
    const name = STAND_INS[term.reward] ?? term.reward;
    if (name !== term.reward) notes.push(`reward ${term.reward} -> ${name} (random-initialised stand-in of the same kind)`);
    const same = out.find((t) => t.reward === name);
    if (same) same.weight += term.weight;
    else out.push({ reward: name, weight: term.weight, params: name === term.reward ? term.params : {} });
  }
  return out;
}

/** Small networks of `base`'s family: the tiny world's widths, the family's own switches. */
export function tinyFamilyBuild(base: ModelBuild): ModelBuild {
  return {
    ...base,
    name: `${base.name} (tiny)`,
    unet: { ...tinyVcConfig, name: `${base.unet.name}-tiny`, fpsCond: base.unet.fpsCond, useLinear: base.unet.useLinear, temporalConv: base.unet.temporalConv, temporalAttention: base.unet.temporalAttention },
    vae: tinyVaeConfig,
    text: tinyClipConfig,
  };
}

/** How a smoke run shrinks a plan: one entry per objective. */
export interface ShrinkRule {
  /** Frames kept at most. */
  maxFrames: number;
  /** Frames the objective needs whatever maxFrames says (the reward's decode frame(i) keeps frame i). */
  minFrames?: (plan: Plan) => number;
  /** Sampler steps kept at most (undefined: the sampler is left alone). */
  samplerSteps?: number;
  /** Micro-batches accumulated at most; the batch becomes 1. */
  accumulate: number;
  /** Whether rematerialisation is switched off (the small networks fit in memory). */
  rematOff: boolean;
  /** Validation prompts kept at most. */
  validationPrompts: number;
  /** The objective's own changes, after the common ones (the plan `p` is a copy: change it in place). */
  finish?: (p: Plan, frames: number, notes: string[]) => void;
}

export const SHRINK_RULES: Readonly<Record<'reward' | 'consistency', ShrinkRule>> = {
  reward: {
    maxFrames: 4,
    minFrames: (plan) => (plan.objective.name === 'reward' && plan.objective.decode.mode === 'frame' ? plan.objective.decode.i + 1 : 0),
    samplerSteps: 2,
    accumulate: 1,
    rematOff: true,
    validationPrompts: 1,
  },
  consistency: {
    maxFrames: 8,
    accumulate: 2,
    rematOff: false,
    validationPrompts: 2,
    finish(p, frames, notes) {
      if (p.objective.name === 'consistency' && p.objective.decode.mode === 'random') {
        p.objective = { ...p.objective, decode: { ...p.objective.decode, k: Math.min(p.objective.decode.k, frames) } };
      }
      if (p.data?.name === 'video_folder' && !fs.existsSync(path.resolve(p.dir, p.data.path))) {
        notes.push(`data video_folder "${p.data.path}" is not there: tiny_shapes videos instead (smoke run)`);
        p.data = { name: 'tiny_shapes', count: 16, seed: p.train.seed % 2 ** 31 };
      }
    },
  },
};

/** The objectives a --tiny smoke run can shrink a full-size pipeline for. */
export function canShrink(plan: Plan): plan is Plan & { objective: { name: 'reward' | 'consistency' } } {
  return plan.objective.name in SHRINK_RULES;
}

export interface TinyStandIn {
  plan: Plan;
  build: ModelBuild;
  /** What changed, one line each, as `vplc run --tiny` prints them (`note: ...`). */
  notes: string[];
}

/** A --tiny smoke run of a full-size model: small networks of its family, a small plan. */
export function tinyStandIn(plan: Plan, base: ModelBuild): TinyStandIn {
  if (!canShrink(plan)) throw new Error(`tinyStandIn: objective '${plan.objective.name}' has no smoke-run shrink`);
  const rule = SHRINK_RULES[plan.objective.name];
  const notes: string[] = [];
  const build = tinyFamilyBuild(base);
  const p = structuredClone(plan) as Plan;
  const [C] = plan.derived.latent_shape;
  const frames = Math.max(Math.min(plan.model.frames, rule.maxFrames), rule.minFrames?.(plan) ?? 0);
  notes.push(`${plan.model.name}: random-initialised tiny networks of its family (UNet ${tinyVcConfig.modelChannels} channels, tiny VAE, tiny CLIP)`);
  notes.push(`size ${plan.model.size.height}x${plan.model.size.width} -> ${TINY_SIZE}x${TINY_SIZE}, frames ${plan.model.frames} -> ${frames}`);
  p.model = { ...p.model, size: { height: TINY_SIZE, width: TINY_SIZE }, frames };
  p.derived = { ...p.derived, latent_shape: [C, frames, TINY_SIZE / VAE_STRIDE, TINY_SIZE / VAE_STRIDE] };
  if (rule.samplerSteps !== undefined && p.sampler.steps > rule.samplerSteps) {
    notes.push(`sampler steps ${p.sampler.steps} -> ${rule.samplerSteps}`);
    p.sampler = { ...p.sampler, steps: rule.samplerSteps } as Plan['sampler'];
  }
  if (p.train.batch > 1 || p.train.accumulate > rule.accumulate) {
    const accumulate = Math.min(p.train.accumulate, rule.accumulate);
    notes.push(`batch ${p.train.batch} x accumulate ${p.train.accumulate} -> 1 x ${accumulate}`);
    p.train = { ...p.train, batch: 1, accumulate };
  }
  if (rule.rematOff && p.train.remat) {
    notes.push('remat off (the small networks fit in memory)');
    p.train = { ...p.train, remat: false };
  }
  if (p.train.validate && p.train.validate.prompts > rule.validationPrompts) p.train = { ...p.train, validate: { ...p.train.validate, prompts: rule.validationPrompts } };
  if (p.objective.name === 'reward' || p.objective.name === 'consistency') p.objective = { ...p.objective, reward: standInRewards(p.objective.reward, notes) };
  rule.finish?.(p, frames, notes);
  // the figures the checker derived, for the small plan (plan.json of a smoke run shows them)
  const decoded = 'decode' in p.objective && p.derived.decoded_frames > 0 ? decodeCount(p.objective.decode, frames) : p.derived.decoded_frames;
  p.derived = { ...p.derived, effective_batch: p.train.batch * p.train.accumulate, decoded_frames: decoded };
  return { plan: p, build, notes };
}

/** One WeightSource over several, each keyed under a prefix (the first matching prefix wins). */
export function prefixedSource(description: string, parts: { prefix: string; source: WeightSource }[]): WeightSource {
  return {
    description,
    get(key: string): CheckpointTensor | undefined {
      for (const { prefix, source } of parts) if (key.startsWith(prefix)) return source.get(key.slice(prefix.length));
      return undefined;
    },
    *keys() {
      for (const { prefix, source } of parts) for (const k of source.keys()) yield `${prefix}${k}`;
    },
  };
}

export interface TinyWorld {
  /** The committed files, by network (unet, vae, clip, aesthetic). */
  paths: Readonly<Record<'vae' | 'clip' | 'unet' | 'aesthetic', string>>;
  /** Every file as one source, keyed as the lowering's checkpointKey asks. */
  weights: WeightSource;
  /** `base` with the trained VAE's latent scale factor. */
  build: ModelBuild;
  vaeScale: number;
}

/** The tiny world's trained weight files for the networks of `base` (tiny_vc); undefined while they are not all there. */
export async function openTinyWorld(base: ModelBuild): Promise<TinyWorld | undefined> {
  let mod: typeof import('../../stdlib/models/tiny/weights.ts');
  try {
    mod = await import('../../stdlib/models/tiny/weights.ts');
  } catch {
    return undefined;
  }
  const paths = mod.TINY_WEIGHTS;
  if (!Object.values(paths).every((p) => fs.existsSync(p))) return undefined;
  const [unet, vae, clip, aesthetic] = await Promise.all([mod.openTinyWeights('unet'), mod.openTinyWeights('vae'), mod.openTinyWeights('clip'), mod.openTinyWeights('aesthetic')]);
  const weights = prefixedSource('the tiny world weights (stdlib/weights/tiny)', [
    { prefix: base.unet.checkpointPrefix, source: unet },
    { prefix: base.vae.checkpointPrefix, source: vae },
    { prefix: base.text.checkpointPrefix, source: clip },
    // The tiny_aesthetic head's keys are its parameter names (tiny_aesthetic.*): no prefix, last.
    { prefix: '', source: aesthetic },
  ]);
  const vaeScale = mod.TINY_VAE_SCALE_FACTOR;
  return { paths, weights, build: { ...base, vae: { ...base.vae, scaleFactor: vaeScale } }, vaeScale };
}
