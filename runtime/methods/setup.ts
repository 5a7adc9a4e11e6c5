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
// aesthetic -> tiny_aesthetic, ...). Every change is listed in `notes` and printed. The shrink
// and the tiny world's weight files are shared with consistency-setup.ts and `vplc compile`/
// `explain --graph`/`diff --graph` (tiny-stand-in.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { LoweringError, lower, type LoweredProgram } from '../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../compiler/plan.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import { type ModelBuild, ModelNotBuiltError, modelBuild } from '../../stdlib/models/registry.ts';
import { buildVaeDecoder } from '../../stdlib/models/vae/index.ts';
import type { NN, WeightSource } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';
import { VplError } from '../errors.ts';
import { needsTinyStandIn, openTinyWorld, tinyStandIn } from './tiny-stand-in.ts';

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
  if (!needsTinyStandIn(input)) {
    const world = options.tiny ? undefined : await openTinyWorld(base);
    if (world) {
      ({ weights, build } = world);
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
