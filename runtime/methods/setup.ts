// What `vplc run` and `vplc sample` do before any heavy work: decide where the model's weights
// come from, shrink a full-size pipeline for a `--tiny` smoke run, lower the plan and add the
// graph the method drivers need beyond the lowering's three (`decode_all`).
//
// Weights, by model:
//   tiny_vc        the tiny world's trained files (stdlib/weights/tiny/*.safetensors), or
//                  random init with --tiny (also while those files are not there yet);
//   anything else  `model.weights` in the pipeline (relative to the pipeline's folder), or by
//                  default `checkpoints/<model>/model.ckpt` under the current folder (or under
//                  $VPLC_WEIGHTS_DIR/<model>/model.ckpt). A missing file stops the run with
//                  VPL7130 before anything is compiled; --tiny needs no file.
//
// --tiny on a full-size model builds random-initialised small networks of the same family
// (the tiny world's widths, the model's own switches: fps conditioning, linear or conv
// projections), at 32x32 with at most 4 frames, 2 sampler steps, 1 video per step and 1
// validation prompt, and stands in the tiny
// learned rewards for rewards whose networks are not built (hps, pickscore -> tiny_text_align,
// aesthetic -> tiny_aesthetic, ...). Every change is listed in `notes` and printed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Builder } from '../../compiler/ir/builder.ts';
import { Graph } from '../../compiler/ir/graph.ts';
import { eliminateDeadCode } from '../../compiler/passes/dce.ts';
import { LoweringError, lower, type LoweredProgram } from '../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../compiler/plan.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/index.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import { type ModelBuild, ModelNotBuiltError, modelBuild } from '../../stdlib/models/registry.ts';
import { tinyVcConfig } from '../../stdlib/models/unet3d/index.ts';
import { buildVaeDecoder, tinyVaeConfig } from '../../stdlib/models/vae/index.ts';
import type { CheckpointTensor, NN, WeightSource } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';
import { VplError } from '../errors.ts';

/** How the run gets its networks. */
export type WeightsMode = 'tiny-random' | 'tiny-world' | 'checkpoint';

export interface RewardSetup {
  /** The plan the run uses (a --tiny smoke run of a full-size model shrinks it). */
  plan: Plan;
  lowered: LoweredProgram;
  build: ModelBuild;
  mode: WeightsMode;
  /** Where the weights came from, for the banner. */
  weightsDescription: string;
  /** Hash of what the program computes: the plan, the weights' identity. */
  hash: string;
  /** Things the user should know (substitutions of a smoke run, missing tiny weights). */
  notes: string[];
  /** The reward terms whose values make up the logged `reward` (weight * mean value). */
  terms: RewardTerm[];
}

export interface SetupOptions {
  tiny?: boolean;
  /** Only the sampling graphs (text_encode, sample_step, decode_all): `vplc sample`. */
  samplingOnly?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** fp16/bf16 lowering (train.precision) applies on a GPU; a CPU run computes in fp32. */
  device?: 'cpu' | 'cuda';
}

const NEEDS_TEXT = new Set(['tiny_text_align', 'hps', 'pickscore']);

/** The reward objective's plan, or a VPL7131 error for the other objectives. */
export function requireRewardObjective(plan: Plan, command: string): void {
  const name = plan.objective.name;
  if (name === 'reward') return;
  const lands: Record<string, string> = {
    consistency: 'T2V-Turbo consistency distillation (the consistency lowering)',
    denoise: 'the denoising fine-tuning of Stable Video Diffusion (the denoise lowering)',
  };
  throw new VplError('VPL7131', `not supported yet by ${command}: objective ${name} (lands with ${lands[name] ?? `the ${name} lowering`})`, {
    file: plan.file,
    help: '`vplc check` and `vplc explain` work on this pipeline today; `vplc run` trains `objective reward` (VADER) and `objective consistency` (T2V-Turbo) pipelines',
  });
}

/** The checkpoint a full-size model loads when `model.weights` is not given. */
export function defaultWeightsPath(model: string, env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  const root = env.VPLC_WEIGHTS_DIR ? path.resolve(cwd, env.VPLC_WEIGHTS_DIR) : path.join(cwd, 'checkpoints');
  return path.join(root, model, 'model.ckpt');
}

/** The committed tiny-world weight files (undefined while they are not there). */
async function tinyWorld(): Promise<{ paths: Record<string, string>; open: (m: 'vae' | 'clip' | 'unet' | 'aesthetic') => Promise<WeightSource>; vaeScale: number } | undefined> {
  let mod: typeof import('../../stdlib/models/tiny/weights.ts');
  try {
    mod = await import('../../stdlib/models/tiny/weights.ts');
  } catch {
    return undefined;
  }
  const paths = mod.TINY_WEIGHTS as Record<string, string>;
  if (!Object.values(paths).every((p) => fs.existsSync(p))) return undefined;
  return { paths, open: (m) => mod.openTinyWeights(m), vaeScale: mod.TINY_VAE_SCALE_FACTOR };
}

/** One WeightSource over the three tiny files, keyed as the lowering's checkpointKey asks. */
function prefixedSource(description: string, parts: { prefix: string; source: WeightSource }[]): WeightSource {
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

/** Rewards without a built network -> the tiny stand-in of the same kind (smoke runs only). */
const STAND_INS: Record<string, string> = {
  hps: 'tiny_text_align',
  pickscore: 'tiny_text_align',
  viclip: 'tiny_text_align',
  actpred: 'tiny_text_align',
  aesthetic: 'tiny_aesthetic',
  compression: 'tiny_aesthetic',
  object_detection: 'tiny_aesthetic',
};

function standInRewards(terms: RewardTerm[], notes: string[]): RewardTerm[] {
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

/** A --tiny smoke run of a full-size model: small networks of its family, a small plan. */
function tinyStandIn(plan: Plan, base: ModelBuild): { plan: Plan; build: ModelBuild; notes: string[] } {
  const notes: string[] = [];
  const build: ModelBuild = {
    ...base,
    name: `${base.name} (tiny)`,
    unet: { ...tinyVcConfig, name: `${base.unet.name}-tiny`, fpsCond: base.unet.fpsCond, useLinear: base.unet.useLinear, temporalConv: base.unet.temporalConv, temporalAttention: base.unet.temporalAttention },
    vae: tinyVaeConfig,
    text: tinyClipConfig,
  };
  const p = structuredClone(plan) as Plan;
  const [C] = plan.derived.latent_shape;
  let frames = Math.min(plan.model.frames, 4);
  if (p.objective.name === 'reward' && p.objective.decode.mode === 'frame' && p.objective.decode.i >= frames) frames = p.objective.decode.i + 1;
  const size = 32;
  const stride = 4;
  notes.push(`${plan.model.name}: random-initialised tiny networks of its family (UNet ${tinyVcConfig.modelChannels} channels, tiny VAE, tiny CLIP)`);
  notes.push(`size ${plan.model.size.height}x${plan.model.size.width} -> ${size}x${size}, frames ${plan.model.frames} -> ${frames}`);
  p.model = { ...p.model, size: { height: size, width: size }, frames };
  p.derived = { ...p.derived, latent_shape: [C, frames, size / stride, size / stride] };
  if (p.sampler.steps > 2) {
    notes.push(`sampler steps ${p.sampler.steps} -> 2`);
    p.sampler = { ...p.sampler, steps: 2 } as Plan['sampler'];
  }
  if (p.train.batch > 1 || p.train.accumulate > 1) {
    notes.push(`batch ${p.train.batch} x accumulate ${p.train.accumulate} -> 1 x 1`);
    p.train = { ...p.train, batch: 1, accumulate: 1 };
  }
  if (p.train.remat) {
    notes.push('remat off (the small networks fit in memory)');
    p.train = { ...p.train, remat: false };
  }
  if (p.train.validate && p.train.validate.prompts > 1) p.train = { ...p.train, validate: { ...p.train.validate, prompts: 1 } };
  if (p.objective.name === 'reward') p.objective = { ...p.objective, reward: standInRewards(p.objective.reward, notes) };
  p.derived = { ...p.derived, effective_batch: p.train.batch * p.train.accumulate };
  return { plan: p, build, notes };
}

function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${file}:${st.size}:${st.mtimeMs}`;
}

/** The model family's builders, or VPL7132 for a family vplc does not build yet. */
export function modelBuildFor(plan: Plan, command: string): ModelBuild {
  try {
    return modelBuild(plan.model.name);
  } catch (error) {
    if (!(error instanceof ModelNotBuiltError)) throw error;
    throw new VplError('VPL7132', `${command} cannot build this model yet: ${error.message}`, {
      file: plan.file,
      help: 'pipelines on videocrafter2, modelscope and tiny_vc run today (use --tiny for a smoke run without weights)',
    });
  }
}

/**
 * Decides the weights, shrinks for --tiny, lowers and adds `decode_all`. Throws VplError
 * (VPL7130 missing weights, VPL7131 objective, VPL7132 lowering) with the fix.
 */
export async function setupReward(input: Plan, options: SetupOptions = {}): Promise<RewardSetup> {
  const command = options.samplingOnly ? 'vplc sample' : 'vplc run';
  requireRewardObjective(input, command);
  const base = modelBuildFor(input, command);
  const notes: string[] = [];
  let plan = input;
  let build = base;
  let mode: WeightsMode;
  let weights: WeightSource | undefined;
  let weightsDescription: string;
  let identity: string;
  if (input.model.name === 'tiny_vc') {
    const world = options.tiny ? undefined : await tinyWorld();
    if (world) {
      const [unet, vae, clip, aesthetic] = await Promise.all([world.open('unet'), world.open('vae'), world.open('clip'), world.open('aesthetic')]);
      weights = prefixedSource('the tiny world weights (stdlib/weights/tiny)', [
        { prefix: base.unet.checkpointPrefix, source: unet },
        { prefix: base.vae.checkpointPrefix, source: vae },
        { prefix: base.text.checkpointPrefix, source: clip },
        // The tiny_aesthetic head's keys are its parameter names (tiny_aesthetic.*): no prefix, last.
        { prefix: '', source: aesthetic },
      ]);
      build = { ...base, vae: { ...base.vae, scaleFactor: world.vaeScale } };
      mode = 'tiny-world';
      weightsDescription = 'trained tiny-world weights (stdlib/weights/tiny)';
      identity = Object.values(world.paths).map(fileIdentity).join(',');
    } else {
      if (!options.tiny) notes.push('the tiny world weights (stdlib/weights/tiny/*.safetensors) are not there yet: random-initialised networks (as --tiny)');
      mode = 'tiny-random';
      weightsDescription = 'random init (--tiny)';
      identity = 'tiny-random';
    }
  } else if (options.tiny) {
    const shrunk = tinyStandIn(input, base);
    plan = shrunk.plan;
    build = shrunk.build;
    notes.push(...shrunk.notes);
    mode = 'tiny-random';
    weightsDescription = 'random init, tiny networks (--tiny smoke run)';
    identity = 'tiny-random';
  } else {
    const file = input.model.weights ? path.resolve(input.dir, input.model.weights) : defaultWeightsPath(input.model.name, options.env, options.cwd);
    const where = input.model.weights ? `model.weights = "${input.model.weights}" in the pipeline` : `the default place for ${input.model.name}'s weights (set model.weights, or VPLC_WEIGHTS_DIR, to use another)`;
    if (!fs.existsSync(file)) {
      throw new VplError('VPL7130', `the weights of model '${input.model.name}' are missing: ${file} does not exist (${where})`, {
        file: input.file,
        help: `put the ${input.model.name} checkpoint (safetensors, .ckpt or .pt) at ${file}, or add --tiny for a smoke run of this pipeline on random-initialised small networks of the same family`,
      });
    }
    throw new VplError('VPL7130', `loading the full-size ${input.model.name} checkpoint (${file}) is not supported by ${command} yet: its text tokenizer and reward networks are not built`, {
      file: input.file,
      help: 'add --tiny for a smoke run of this pipeline on random-initialised small networks of the same family',
    });
  }
  if (plan.objective.name !== 'reward') throw new Error('unreachable');
  const terms = plan.objective.reward;

  const precision = plan.train.precision === 'fp32' ? undefined : plan.train.precision;
  if (precision && (options.device ?? 'cpu') === 'cpu') {
    notes.push(`precision ${precision}: this CPU run computes in fp32 (onnxruntime's CPU kernels cast fp16 to fp32 inside, and have no bf16 MatMul); ${precision} applies with --device cuda`);
  }
  let lowered: LoweredProgram;
  try {
    lowered = lower(plan, { tiny: mode === 'tiny-random', build, ...(weights ? { weights } : {}), ...(precision && options.device === 'cuda' ? { precision } : {}) });
  } catch (error) {
    if (error instanceof LoweringError || (error instanceof Error && /^reward '/.test(error.message))) {
      const span = loweringSpan(plan, error.message);
      throw new VplError('VPL7132', `${command} cannot compile this pipeline: ${error.message}`, {
        file: span ? `${span.file}:${span.line}:${span.column}` : plan.file,
        help: error.message.includes('backprop = random')
          ? 'write `backprop = last(1)` (DRaFT-1, the VADER default) or `backprop = all`'
          : error.message.includes('sampler')
            ? 'use `sampler ddim { ... }` or `sampler dpm_solver { ... }` (the samplers the reward objective is lowered for)'
            : 'change the pipeline as the message says',
      });
    }
    throw error;
  }
  if (weights) {
    const problems = lowered.params.problems().filter((p) => !p.includes('.lora_'));
    if (problems.length > 0) {
      throw new VplError('VPL7130', `${weights.description} do not match the model: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`, {
        help: 'the weight files and the model configuration disagree: regenerate the tiny weights, or run with --tiny',
      });
    }
  }
  addDecodeAll(plan, lowered, build);
  if (options.samplingOnly) delete lowered.program.graphs.train_step;
  const hash = hashOf(planHash(plan), identity, mode);
  return { plan, lowered, build, mode, weightsDescription, hash, notes, terms };
}

function loweringSpan(plan: Plan, message: string): { file: string; line: number; column: number } | undefined {
  const key = message.includes('backprop') ? 'objective.backprop' : message.includes('sampler') ? 'sampler' : message.includes('decode') ? 'objective.decode' : undefined;
  const span = key ? (plan.spans[key] as unknown as { file?: string; start?: { line: number; column: number } } | undefined) : undefined;
  if (!span?.file || !span.start) return undefined;
  return { file: span.file, line: span.start.line, column: span.start.column };
}

/**
 * `decode_all`: latents [B, C, T, h, w] (+ text_embed when a reward needs it) -> every frame
 * decoded (`frames` [B T, 3, H, W], video-major), the reward values `reward.<name>` over all
 * frames and the total `loss`: validation and sampling. Same builders and parameter store as
 * the training graph, so it uses the same frozen VAE and reward weights.
 */
export function addDecodeAll(plan: Plan, lowered: LoweredProgram, build: ModelBuild): void {
  if (plan.objective.name !== 'reward') return;
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const graph = new Graph('decode_all');
  const b = new Builder(graph);
  const latents = b.input('latents', [B, C, T, h, w]);
  const terms = plan.objective.reward;
  const needsText = terms.some((t) => NEEDS_TEXT.has(t.reward));
  const text = needsText ? b.input('text_embed', [B, build.text.embedDim]) : undefined;
  const plain: NN = { b, params: lowered.params };
  const frames = b.within('vae', () => buildVaeDecoder(plain, build.vae, framesFirst(plain, latents), { scaled: true }));
  const mix = rewardMix(b, terms, { frames, framesPerVideo: T, ...(text ? { text } : {}) }, tinyRewardBuilders(plain, build.text, 'clip'));
  const mark = (v: ReturnType<Builder['input']>, name: string) => {
    const out = b.op('Identity', [v]);
    out.name = graph.uniqueName(name);
    graph.markOutput(out);
  };
  mark(frames, 'frames');
  mark(mix.loss, 'loss');
  for (const [name, v] of Object.entries(mix.rewards)) mark(v, `reward.${name}`);
  eliminateDeadCode(graph);
  lowered.program.graphs.decode_all = graph;
}
