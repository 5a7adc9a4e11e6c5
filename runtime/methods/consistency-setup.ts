// What `vplc run` / `vplc sample` do for an `objective consistency` pipeline (T2V-Turbo) before
// any heavy work: pick the weights, shrink a full-size pipeline for a --tiny smoke run, lower
// the plan (compiler/lower/consistency.ts) and add `decode_all` (every frame decoded and scored
// with the objective's rewards: validation, sampling, the benchmark).
//
// Weights follow runtime/methods/setup.ts: tiny_vc uses the trained tiny-world files
// (stdlib/weights/tiny/*.safetensors) when all three are there, so the teacher is the trained
// tiny UNet; otherwise (and with --tiny) every network is random-initialised from train.seed,
// and a full-size model becomes small networks of its family at 32x32 with tiny stand-in rewards.
//
// `vaeIdentity` names the frozen VAE (the weight file's content hash, or the seeded random init
// and config): it is part of every latent-cache key (latent-cache.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Builder } from '../../compiler/ir/builder.ts';
import { Graph, type Value } from '../../compiler/ir/graph.ts';
import { eliminateDeadCode } from '../../compiler/passes/dce.ts';
import { type ConsistencyLoweredProgram, LoweringError, lowerConsistency } from '../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../compiler/plan.ts';
import { lookupComponent } from '../../stdlib/catalogue/index.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/index.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { tinyVcConfig } from '../../stdlib/models/unet3d/index.ts';
import { buildVaeDecoder, tinyVaeConfig } from '../../stdlib/models/vae/index.ts';
import type { CheckpointTensor, NN, WeightSource } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';
import { VplError } from '../errors.ts';
import { modelBuildFor, type WeightsMode } from './setup.ts';

export interface ConsistencySetup {
  plan: Plan;
  lowered: ConsistencyLoweredProgram;
  build: ModelBuild;
  mode: WeightsMode;
  weightsDescription: string;
  /** Hash of what the program computes (plan + weights identity). */
  hash: string;
  /** Identity of the frozen VAE (latent-cache keys). */
  vaeIdentity: string;
  /** The weight source the lowering used (undefined: seeded random init); the benchmark's teacher reuses it. */
  weights?: WeightSource;
  notes: string[];
  terms: RewardTerm[];
}

export interface ConsistencySetupOptions {
  tiny?: boolean;
  /** Only text_encode, consistency_step and decode_all (`vplc sample`, the benchmark). */
  samplingOnly?: boolean;
}

type ConsistencyObjective = Extract<Plan['objective'], { name: 'consistency' }>;

const STAND_INS: Record<string, string> = {
  hps: 'tiny_text_align', pickscore: 'tiny_text_align', viclip: 'tiny_text_align', actpred: 'tiny_text_align',
  aesthetic: 'tiny_aesthetic', compression: 'tiny_aesthetic', object_detection: 'tiny_aesthetic',
};

const sha = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\n');
  return h.digest('hex');
};

/** Whether a reward reads the prompt's text embedding. */
export function rewardNeedsText(name: string): boolean {
  const m = lookupComponent('reward', name)?.modality;
  return m === 'image_text' || m === 'video_text';
}

async function tinyWorldWeights(base: ModelBuild): Promise<{ weights: WeightSource; build: ModelBuild; vaeIdentity: string; identity: string } | undefined> {
  let mod: typeof import('../../stdlib/models/tiny/weights.ts');
  try {
    mod = await import('../../stdlib/models/tiny/weights.ts');
  } catch {
    return undefined;
  }
  const paths = mod.TINY_WEIGHTS;
  if (!Object.values(paths).every((p) => fs.existsSync(p))) return undefined;
  const [unet, vae, clip, aesthetic] = await Promise.all([mod.openTinyWeights('unet'), mod.openTinyWeights('vae'), mod.openTinyWeights('clip'), mod.openTinyWeights('aesthetic')]);
  const parts = [
    { prefix: base.unet.checkpointPrefix, source: unet as WeightSource },
    { prefix: base.vae.checkpointPrefix, source: vae as WeightSource },
    { prefix: base.text.checkpointPrefix, source: clip as WeightSource },
    // The tiny_aesthetic head's keys are its parameter names (tiny_aesthetic.*): no prefix, last.
    { prefix: '', source: aesthetic as WeightSource },
  ];
  const weights: WeightSource = {
    description: 'the tiny world weights (stdlib/weights/tiny)',
    get(key: string): CheckpointTensor | undefined {
      for (const { prefix, source } of parts) if (key.startsWith(prefix)) return source.get(key.slice(prefix.length));
      return undefined;
    },
    *keys() {
      for (const { prefix, source } of parts) for (const k of source.keys()) yield `${prefix}${k}`;
    },
  };
  const fileHash = (p: string) => sha(fs.readFileSync(p));
  return {
    weights,
    build: { ...base, vae: { ...base.vae, scaleFactor: mod.TINY_VAE_SCALE_FACTOR } },
    vaeIdentity: `tiny_vae:${fileHash(paths.vae)}:${mod.TINY_VAE_SCALE_FACTOR}`,
    identity: Object.values(paths).map(fileHash).join(','),
  };
}

/** A --tiny smoke run of a full-size model: tiny networks of its family, a small plan. */
function shrink(plan: Plan, base: ModelBuild, notes: string[]): { plan: Plan; build: ModelBuild } {
  const build: ModelBuild = {
    ...base,
    name: `${base.name} (tiny)`,
    unet: { ...tinyVcConfig, name: `${base.unet.name}-tiny`, fpsCond: base.unet.fpsCond, useLinear: base.unet.useLinear, temporalConv: base.unet.temporalConv, temporalAttention: base.unet.temporalAttention },
    vae: tinyVaeConfig,
    text: tinyClipConfig,
  };
  const p = structuredClone(plan) as Plan;
  const [C] = plan.derived.latent_shape;
  const frames = Math.min(plan.model.frames, 8);
  notes.push(`${plan.model.name}: random-initialised tiny networks of its family (UNet ${tinyVcConfig.modelChannels} channels, tiny VAE, tiny CLIP)`);
  notes.push(`size ${plan.model.size.height}x${plan.model.size.width} -> 32x32, frames ${plan.model.frames} -> ${frames}`);
  p.model = { ...p.model, size: { height: 32, width: 32 }, frames };
  p.derived = { ...p.derived, latent_shape: [C, frames, 8, 8] };
  if (p.train.batch > 1 || p.train.accumulate > 2) {
    notes.push(`batch ${p.train.batch} x accumulate ${p.train.accumulate} -> 1 x ${Math.min(p.train.accumulate, 2)}`);
    p.train = { ...p.train, batch: 1, accumulate: Math.min(p.train.accumulate, 2) };
  }
  if (p.train.validate && p.train.validate.prompts > 2) p.train = { ...p.train, validate: { ...p.train.validate, prompts: 2 } };
  const objective = p.objective as ConsistencyObjective;
  const terms: RewardTerm[] = [];
  for (const term of objective.reward) {
    const name = STAND_INS[term.reward] ?? term.reward;
    if (name !== term.reward) notes.push(`reward ${term.reward} -> ${name} (random-initialised stand-in of the same kind)`);
    const same = terms.find((t) => t.reward === name);
    if (same) same.weight += term.weight;
    else terms.push({ reward: name, weight: term.weight, params: name === term.reward ? term.params : {} });
  }
  const decode = objective.decode.mode === 'random' ? { ...objective.decode, k: Math.min(objective.decode.k, frames) } : objective.decode;
  p.objective = { ...objective, reward: terms, decode };
  if (p.data?.name === 'video_folder' && !fs.existsSync(path.resolve(p.dir, p.data.path))) {
    notes.push(`data video_folder "${p.data.path}" is not there: tiny_shapes videos instead (smoke run)`);
    p.data = { name: 'tiny_shapes', count: 16, seed: p.train.seed % 2 ** 31 };
  }
  p.derived = { ...p.derived, effective_batch: p.train.batch * p.train.accumulate };
  return { plan: p, build };
}

/** Lowers a consistency pipeline and adds decode_all. Throws VplError (VPL7130/7132) with the fix. */
export async function setupConsistency(input: Plan, options: ConsistencySetupOptions = {}): Promise<ConsistencySetup> {
  const command = options.samplingOnly ? 'vplc sample' : 'vplc run';
  if (input.objective.name !== 'consistency') throw new Error(`setupConsistency: objective '${input.objective.name}' is not 'consistency'`);
  const base = modelBuildFor(input, command);
  const notes: string[] = [];
  let plan = input;
  let build = base;
  let mode: WeightsMode;
  let weights: WeightSource | undefined;
  let weightsDescription: string;
  let identity: string;
  let vaeIdentity: string;
  if (input.model.name === 'tiny_vc') {
    const world = options.tiny ? undefined : await tinyWorldWeights(base);
    if (world) {
      ({ weights, build, vaeIdentity, identity } = world);
      mode = 'tiny-world';
      weightsDescription = 'trained tiny-world weights (stdlib/weights/tiny): the teacher is the trained tiny UNet';
    } else {
      if (!options.tiny) notes.push('the tiny world weights (stdlib/weights/tiny/*.safetensors) are not all there yet: random-initialised networks (as --tiny)');
      mode = 'tiny-random';
      weightsDescription = 'random init (--tiny)';
      identity = 'tiny-random';
      vaeIdentity = `random:${input.train.seed}:${JSON.stringify(base.vae)}`;
    }
  } else if (options.tiny) {
    ({ plan, build } = shrink(input, base, notes));
    mode = 'tiny-random';
    weightsDescription = 'random init, tiny networks (--tiny smoke run)';
    identity = 'tiny-random';
    vaeIdentity = `random:${plan.train.seed}:${JSON.stringify(build.vae)}`;
  } else {
    throw new VplError('VPL7130', `loading the full-size ${input.model.name} checkpoint is not supported by ${command} yet: its text tokenizer and reward networks are not built`, {
      file: input.file,
      help: 'add --tiny for a smoke run of this pipeline on random-initialised small networks of the same family',
    });
  }
  let lowered: ConsistencyLoweredProgram;
  try {
    lowered = lowerConsistency(plan, { tiny: mode === 'tiny-random', build, ...(weights ? { weights } : {}) });
  } catch (error) {
    if (error instanceof LoweringError || (error instanceof Error && /^reward '/.test(error.message))) {
      throw new VplError('VPL7132', `${command} cannot compile this pipeline: ${error.message}`, { file: plan.file, help: 'change the pipeline as the message says' });
    }
    throw error;
  }
  if (weights) {
    const problems = lowered.params.problems().filter((p) => !p.includes('.lora_') && !p.includes('guidance_embedding'));
    if (problems.length > 0) {
      throw new VplError('VPL7130', `${weights.description} do not match the model: ${problems.slice(0, 5).join('; ')}`, {
        help: 'the weight files and the model configuration disagree: regenerate the tiny weights, or run with --tiny',
      });
    }
  }
  addConsistencyDecodeAll(plan, lowered, build);
  if (options.samplingOnly) {
    delete lowered.program.graphs.train_step;
    delete lowered.program.graphs.encode_video;
  }
  const terms = (plan.objective as ConsistencyObjective).reward;
  const hash = sha(planHash(plan), identity, mode);
  return { plan, lowered, build, mode, weightsDescription, hash, vaeIdentity, ...(weights ? { weights } : {}), notes, terms };
}

/**
 * `decode_all`: latents [B, C, T, h, w] (+ text_embed when a reward reads text) -> frames
 * [B T, 3, H, W] in [-1, 1] (video-major), `reward.<name>` (mean over every frame) and `loss`.
 * Same parameter store as train_step, so the same frozen VAE and reward networks.
 */
export function addConsistencyDecodeAll(plan: Plan, lowered: ConsistencyLoweredProgram, build: ModelBuild): void {
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const graph = new Graph('decode_all');
  const b = new Builder(graph);
  const latents = b.input('latents', [B, C, T, h, w]);
  const terms = (plan.objective as ConsistencyObjective).reward;
  const text = terms.some((t) => rewardNeedsText(t.reward)) ? b.input('text_embed', [B, build.text.embedDim]) : undefined;
  const plain: NN = { b, params: lowered.params };
  const frames = b.within('vae', () => buildVaeDecoder(plain, build.vae, framesFirst(plain, latents), { scaled: true }));
  const mark = (v: Value, name: string) => {
    const out = b.op('Identity', [v]);
    out.name = graph.uniqueName(name);
    graph.markOutput(out);
  };
  mark(frames, 'frames');
  if (terms.length > 0) {
    const mix = rewardMix(b, terms, { frames, framesPerVideo: T, ...(text ? { text } : {}) }, tinyRewardBuilders(plain, build.text, 'clip'));
    mark(mix.loss, 'loss');
    for (const [name, v] of Object.entries(mix.rewards)) mark(v, `reward.${name}`);
  }
  eliminateDeadCode(graph);
  lowered.program.graphs.decode_all = graph;
}
