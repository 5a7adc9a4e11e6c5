// What `vplc run` and `vplc sample` do for an `objective reward` pipeline (VADER) before any
// heavy work: resolve the weights (../common/weights.ts: the tiny world, a --tiny shrink, or the
// checkpoint), then lower the plan (compiler/methods/reward). The program's identity hashes the
// plan and the weight files' size and time stamp (cheap: the tiny world's files are read anyway).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { frozenWeightDtype, LoweringError, type LoweredProgram, lowerReward } from '../../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../../compiler/plan.ts';
import type { ModelBuild } from '../../../stdlib/models/registry.ts';
import { RewardMixError } from '../../../stdlib/rewards/mix.ts';
import { VplError } from '../../../diagnostics/error.ts';
import type { PromptTokenizer } from '../common/tokenizer.ts';
import type { RewardConfigs } from '../../../stdlib/rewards/networks/index.ts';
import type { RewardPromptReaders } from '../common/conditioning.ts';
import { checkWeightsMatch, resolveRunWeights, type WeightsMode } from '../common/weights.ts';
import { WATCH_GRAPH } from '../../../compiler/lower/watch.ts';

export type { WeightsMode } from '../common/weights.ts';

export interface RewardSetup {
  /** The plan the run uses (a --tiny smoke run of a full-size model shrinks it). */
  plan: Plan;
  lowered: LoweredProgram;
  build: ModelBuild;
  mode: WeightsMode;
  /** The prompts' tokenizer (../common/tokenizer.ts). */
  tokenizer: PromptTokenizer;
  /** What the learned rewards read of the prompts (their own tokenizers, a classifier's classes). */
  readers?: RewardPromptReaders;
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
  /** The networks a checkpoint loads into (tests: reduced widths). */
  build?: ModelBuild;
  /** Per learned reward, the sizes its files are loaded at (tests: the networks' reduced ones). */
  rewardConfigs?: RewardConfigs;
}

function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${file}:${st.size}:${st.mtimeMs}`;
}

/** Resolves the weights, shrinks for --tiny and lowers. Throws VplError (VPL7130 weights, VPL7132 lowering) with the fix. */
export async function setupReward(input: Plan, options: SetupOptions = {}): Promise<RewardSetup> {
  const command = options.samplingOnly ? 'vplc sample' : 'vplc run';
  if (input.objective.name !== 'reward') throw new Error(`setupReward: objective '${input.objective.name}' is not 'reward'`);
  // what the graphs compute in: train.precision on a GPU, where frozen weights are stored in it too
  const gpuPrecision = input.train.precision !== 'fp32' && options.device === 'cuda' ? input.train.precision : undefined;
  const resolved = await resolveRunWeights(input, { command, tiny: options.tiny, env: options.env, cwd: options.cwd, ...(options.build ? { build: options.build } : {}), ...(options.rewardConfigs ? { rewardConfigs: options.rewardConfigs } : {}), dtype: frozenWeightDtype(gpuPrecision) });
  const { plan, build, mode, weights, world, tokenizer, readers, description, notes } = resolved;
  const identity = resolved.identity ?? (world ? Object.values(world.paths).map(fileIdentity).join(',') : 'tiny-random');
  if (plan.objective.name !== 'reward') throw new Error('unreachable');
  const terms = plan.objective.reward;

  const precision = plan.train.precision === 'fp32' ? undefined : plan.train.precision;
  if (precision && (options.device ?? 'cpu') === 'cpu') {
    notes.push(`precision ${precision}: this CPU run computes in fp32 (onnxruntime's CPU kernels cast fp16 to fp32 inside, and have no bf16 MatMul); ${precision} applies with --device cuda`);
  }
  let lowered: LoweredProgram;
  try {
    lowered = lowerReward(plan, { tiny: mode === 'tiny-random', build, ...(options.rewardConfigs ? { rewardConfigs: options.rewardConfigs } : {}), ...(weights ? { weights } : {}), ...(gpuPrecision ? { precision: gpuPrecision } : {}), ...(options.device === 'cuda' ? { fusedAttention: true } : {}) });
  } catch (error) {
    if (error instanceof LoweringError || error instanceof RewardMixError) {
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
  checkWeightsMatch(lowered.params.problems().filter((p) => !p.includes('.lora_')), weights);
  if (options.samplingOnly) {
    delete lowered.program.graphs.train_step;
    delete lowered.program.graphs[WATCH_GRAPH];
  }
  const hash = hashOf(planHash(plan), identity, mode);
  return { plan, lowered, build, mode, tokenizer, ...(readers ? { readers } : {}), weightsDescription: description, hash, notes: [...notes], terms };
}

function loweringSpan(plan: Plan, message: string): { file: string; line: number; column: number } | undefined {
  const key = message.includes('backprop') ? 'objective.backprop' : message.includes('sampler') ? 'sampler' : message.includes('decode') ? 'objective.decode' : undefined;
  const span = key ? (plan.spans[key] as unknown as { file?: string; start?: { line: number; column: number } } | undefined) : undefined;
  if (!span?.file || !span.start) return undefined;
  return { file: span.file, line: span.start.line, column: span.start.column };
}
