// Where a run's networks come from, decided once for every method before anything is
// compiled:
//
//   tiny_vc        the tiny world's trained files (stdlib/weights/tiny/*.safetensors), or
//                  random init with --tiny (also while those files are not all there);
//   anything else  with --tiny: random-initialised small networks of the same family and a
//                  shrunk plan (compiler/tiny/stand-in.ts), every change listed in `notes`;
//                  without: `model.weights` in the pipeline (relative to the pipeline's folder)
//                  or by default `checkpoints/<model>/` under the current folder (or
//                  $VPLC_WEIGHTS_DIR/<model>/; see defaultWeightsPath). A missing file stops
//                  the run with VPL7130 before anything is compiled; a learned reward's
//                  missing files with VPL7136 (./reward-networks.ts opens them, with their own
//                  tokenizers); a checkpoint that does not match the networks with VPL7030
//                  listing every problem (strict: a weight is never silently random-initialised).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan } from '../../../compiler/plan.ts';
import { needsTinyStandIn, tinyStandIn } from '../../../compiler/tiny/stand-in.ts';
import { type ModelBuild, ModelNotBuiltError, modelBuild } from '../../../stdlib/models/registry.ts';
import type { WeightSource } from '../../../stdlib/nn/parameters.ts';
import type { DType } from '../../../tensor/ir/dtype.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { openTinyWorld, type TinyWorld } from '../../weights/tiny-world.ts';
import { loadReportError } from '../../weights/load-report.ts';
import { openModelCheckpoint } from '../../weights/model-checkpoint.ts';
import type { RewardConfigs } from '../../../stdlib/rewards/networks/index.ts';
import type { RewardPromptReaders } from './conditioning.ts';
import { openRewardNetworks, rewardPromptReaders, unionSource } from './reward-networks.ts';
import { type PromptTokenizer, resolvePromptTokenizer } from './tokenizer.ts';

/** How the run gets its networks. */
export type WeightsMode = 'tiny-random' | 'tiny-world' | 'checkpoint';

export interface RunWeights {
  /** The plan the run uses (a --tiny smoke run of a full-size model shrinks it). */
  plan: Plan;
  build: ModelBuild;
  mode: WeightsMode;
  /** The checkpoint tensors (undefined: seeded random init). */
  weights?: WeightSource;
  /** The prompts' tokenizer (./tokenizer.ts): the tiny world's, or the model's CLIP BPE. */
  tokenizer: PromptTokenizer;
  /** The tiny world's files, when they are the weights. */
  world?: TinyWorld;
  /** Where the weights came from, for the banner. */
  description: string;
  /** Things the user should know (the substitutions of a smoke run, missing tiny weights). */
  notes: string[];
  /** What identifies the weight files (path, size, time stamp) in the program's hash; undefined: the tiny world's or random. */
  identity?: string;
  /** What the learned rewards read of the prompts (their own tokenizers, a classifier's classes). */
  readers?: RewardPromptReaders;
}

export interface RunWeightsOptions {
  tiny?: boolean;
  /** `vplc run` or `vplc sample`, for messages. */
  command: string;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** The networks a checkpoint is loaded into (default the model's own; tests load reduced-width builds). */
  build?: ModelBuild;
  /**
   * The dtype the lowering stores frozen weights in (compiler/lower/contract.ts
   * frozenWeightDtype; default float32): a checkpoint's tensors come in it, those already in it
   * by reference.
   */
  dtype?: DType;
  /** Per learned reward, the sizes its files are loaded at (tests: the networks' reduced ones). */
  rewardConfigs?: RewardConfigs;
}

/**
 * The checkpoint a full-size model loads when `model.weights` is not given, under
 * `checkpoints/<model>/` (or $VPLC_WEIGHTS_DIR/<model>/): `model.ckpt` (VideoCrafter2's file
 * name), else `model.safetensors`, else the folder itself when it is a diffusers folder
 * (`model_index.json`: ModelScope). When none is there, the first (what the message names).
 */
export function defaultWeightsPath(model: string, env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  const dir = path.join(weightsRoot(env, cwd), model);
  for (const file of DEFAULT_WEIGHT_FILES) if (fs.existsSync(path.join(dir, file))) return path.join(dir, file);
  if (fs.existsSync(path.join(dir, 'model_index.json'))) return dir;
  return path.join(dir, DEFAULT_WEIGHT_FILES[0]);
}

const DEFAULT_WEIGHT_FILES = ['model.ckpt', 'model.safetensors'] as const;

/** Where downloaded weights live by default: $VPLC_WEIGHTS_DIR, else `checkpoints/` in the current folder. */
export function weightsRoot(env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  return env.VPLC_WEIGHTS_DIR ? path.resolve(cwd, env.VPLC_WEIGHTS_DIR) : path.join(cwd, 'checkpoints');
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

export async function resolveRunWeights(input: Plan, options: RunWeightsOptions): Promise<RunWeights> {
  const { command } = options;
  const base = modelBuildFor(input, command);
  if (!needsTinyStandIn(input)) {
    const world = options.tiny ? undefined : await openTinyWorld(base);
    if (world) {
      const tokenizer = await resolvePromptTokenizer(input, world.build);
      return { plan: input, build: world.build, mode: 'tiny-world', weights: world.weights, world, tokenizer, description: 'trained tiny-world weights (stdlib/weights/tiny)', notes: [] };
    }
    const notes = options.tiny ? [] : ['the tiny world weights (stdlib/weights/tiny/*.safetensors) are not all there yet: random-initialised networks (as --tiny)'];
    return { plan: input, build: base, mode: 'tiny-random', tokenizer: await resolvePromptTokenizer(input, base), description: 'random init (--tiny)', notes };
  }
  if (options.tiny) {
    const shrunk = tinyStandIn(input, base);
    const tokenizer = await resolvePromptTokenizer(shrunk.plan, shrunk.build);
    return { plan: shrunk.plan, build: shrunk.build, mode: 'tiny-random', tokenizer, description: 'random init, tiny networks (--tiny smoke run)', notes: shrunk.notes };
  }
  const file = input.model.weights ? path.resolve(input.dir, input.model.weights) : defaultWeightsPath(input.model.name, options.env, options.cwd);
  const where = input.model.weights ? `model.weights = "${input.model.weights}" in the pipeline` : `the default place for ${input.model.name}'s weights (set model.weights, or VPLC_WEIGHTS_DIR, to use another)`;
  if (!fs.existsSync(file)) {
    throw new VplError('VPL7130', `the weights of model '${input.model.name}' are missing: ${file} does not exist (${where})`, {
      file: input.file,
      help: `put the ${input.model.name} checkpoint at ${file} (VideoCrafter2: its model.ckpt, or the same tensors as .safetensors; ModelScope: its diffusers folder with model_index.json; see the README), or add --tiny for a smoke run of this pipeline on random-initialised small networks of the same family`,
    });
  }
  // the rewards' files first: a missing one stops the run before the model's gigabytes are read
  const rewards = await openRewardNetworks(input, command, { env: options.env, cwd: options.cwd, ...(options.dtype ? { dtype: options.dtype } : {}), ...(options.rewardConfigs ? { configs: options.rewardConfigs } : {}) });
  const build = options.build ?? base;
  const checkpoint = await openModelCheckpoint(build, file, options.dtype ? { dtype: options.dtype } : {});
  const problem = loadReportError(checkpoint.report);
  if (problem) {
    await checkpoint.close();
    await rewards.close();
    throw problem;
  }
  const tokenizer = await resolvePromptTokenizer(input, build, file);
  // the checkpoint stays open for the process: the lowering reads the tensors it converts
  // through checkpoint.source, and onnxruntime reads the rest from the file itself
  return {
    plan: input,
    build,
    mode: 'checkpoint',
    weights: unionSource([checkpoint.source, ...rewards.sources]),
    tokenizer,
    readers: rewardPromptReaders(rewards),
    description: [`${file} (${checkpoint.layout})`, ...rewards.descriptions].join('; '),
    identity: [...checkpoint.files, ...rewards.files].map(fileIdentity).join(','),
    notes: [],
  };
}

function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${path.resolve(file)}:${st.size}:${st.mtimeMs}`;
}

/**
 * The weight files do not match the networks (names or shapes): VPL7030 listing the first
 * problems. LoRA factors and other trainable additions are the lowering's own, never a file's.
 */
export function checkWeightsMatch(problems: readonly string[], weights: WeightSource | undefined): void {
  if (!weights || problems.length === 0) return;
  throw new VplError('VPL7030', `${weights.description} do not match the model: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`, {
    help: 'the weight files and the model configuration disagree: regenerate the tiny weights, or run with --tiny',
  });
}
