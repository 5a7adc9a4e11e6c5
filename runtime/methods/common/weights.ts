// Where a run's networks come from, decided once for every method before anything is
// compiled:
//
//   tiny_vc        the tiny world's trained files (stdlib/weights/tiny/*.safetensors), or
//                  random init with --tiny (also while those files are not all there);
//   anything else  with --tiny: random-initialised small networks of the same family and a
//                  shrunk plan (compiler/tiny/stand-in.ts), every change listed in `notes`;
//                  without: `model.weights` in the pipeline (relative to the pipeline's folder)
//                  or by default `checkpoints/<model>/model.ckpt` under the current folder (or
//                  $VPLC_WEIGHTS_DIR/<model>/model.ckpt). A missing file stops the run with
//                  VPL7130 before anything is compiled.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan } from '../../../compiler/plan.ts';
import { needsTinyStandIn, tinyStandIn } from '../../../compiler/tiny/stand-in.ts';
import { type ModelBuild, ModelNotBuiltError, modelBuild } from '../../../stdlib/models/registry.ts';
import type { WeightSource } from '../../../stdlib/nn/parameters.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { openTinyWorld, type TinyWorld } from '../../weights/tiny-world.ts';

/** How the run gets its networks. */
export type WeightsMode = 'tiny-random' | 'tiny-world' | 'checkpoint';

export interface RunWeights {
  /** The plan the run uses (a --tiny smoke run of a full-size model shrinks it). */
  plan: Plan;
  build: ModelBuild;
  mode: WeightsMode;
  /** The checkpoint tensors (undefined: seeded random init). */
  weights?: WeightSource;
  /** The tiny world's files, when they are the weights. */
  world?: TinyWorld;
  /** Where the weights came from, for the banner. */
  description: string;
  /** Things the user should know (the substitutions of a smoke run, missing tiny weights). */
  notes: string[];
}

export interface RunWeightsOptions {
  tiny?: boolean;
  /** `vplc run` or `vplc sample`, for messages. */
  command: string;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** The checkpoint a full-size model loads when `model.weights` is not given. */
export function defaultWeightsPath(model: string, env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  const root = env.VPLC_WEIGHTS_DIR ? path.resolve(cwd, env.VPLC_WEIGHTS_DIR) : path.join(cwd, 'checkpoints');
  return path.join(root, model, 'model.ckpt');
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
      return { plan: input, build: world.build, mode: 'tiny-world', weights: world.weights, world, description: 'trained tiny-world weights (stdlib/weights/tiny)', notes: [] };
    }
    const notes = options.tiny ? [] : ['the tiny world weights (stdlib/weights/tiny/*.safetensors) are not all there yet: random-initialised networks (as --tiny)'];
    return { plan: input, build: base, mode: 'tiny-random', description: 'random init (--tiny)', notes };
  }
  if (options.tiny) {
    const shrunk = tinyStandIn(input, base);
    return { plan: shrunk.plan, build: shrunk.build, mode: 'tiny-random', description: 'random init, tiny networks (--tiny smoke run)', notes: shrunk.notes };
  }
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
