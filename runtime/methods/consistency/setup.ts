// What `vplc run` / `vplc sample` do for an `objective consistency` pipeline (T2V-Turbo) before
// any heavy work: pick the weights, shrink a full-size pipeline for a --tiny smoke run, and
// lower the plan (compiler/methods/consistency; its decode_all decodes and scores every frame
// for validation, sampling and the benchmark).
//
// Weights as for every method (../common/weights.ts): with the trained tiny-world files the
// teacher is the trained tiny UNet; otherwise (and with --tiny) every network is
// random-initialised from train.seed, and a full-size model becomes small networks of its
// family with the consistency objective's shrink (compiler/methods/consistency: at most 8
// frames, 1 x 2 videos per step, 2 validation prompts, tiny_shapes videos when the pipeline's
// video_folder is not there).
//
// `vaeIdentity` names the frozen VAE (the weight file's content hash, or the seeded random init
// and config): it is part of every latent-cache key (latent-cache.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { type ConsistencyLoweredProgram, frozenWeightDtype, LoweringError, lowerConsistency } from '../../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../../compiler/plan.ts';
import type { ModelBuild } from '../../../stdlib/models/registry.ts';
import type { Device } from '../../session.ts';
import type { WeightSource } from '../../../stdlib/nn/parameters.ts';
import { RewardMixError } from '../../../stdlib/rewards/mix.ts';
import { VplError } from '../../../diagnostics/error.ts';
import type { PromptTokenizer } from '../common/tokenizer.ts';
import { checkWeightsMatch, resolveRunWeights, type WeightsMode } from '../common/weights.ts';
import { WATCH_GRAPH } from '../../../compiler/lower/watch.ts';
import type { RewardConfigs } from '../../../stdlib/rewards/networks/index.ts';
import type { RewardPromptReaders } from '../common/conditioning.ts';

export interface ConsistencySetup {
  plan: Plan;
  lowered: ConsistencyLoweredProgram;
  build: ModelBuild;
  mode: WeightsMode;
  /** The prompts' tokenizer (../common/tokenizer.ts). */
  tokenizer: PromptTokenizer;
  /** What the learned rewards read of the prompts (their own tokenizers, a classifier's classes). */
  readers?: RewardPromptReaders;
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
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** The networks a checkpoint loads into (tests: reduced widths). */
  build?: ModelBuild;
  /** Where the graphs run: train.precision applies on cuda only (the CPU kernels compute in fp32). */
  device?: Device;
  /** Per learned reward, the sizes its files are loaded at (tests: the networks' reduced ones). */
  rewardConfigs?: RewardConfigs;
}

type ConsistencyObjective = Extract<Plan['objective'], { name: 'consistency' }>;

const sha = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\n');
  return h.digest('hex');
};

/** Lowers a consistency pipeline. Throws VplError (VPL7130/7132) with the fix. */
export async function setupConsistency(input: Plan, options: ConsistencySetupOptions = {}): Promise<ConsistencySetup> {
  const command = options.samplingOnly ? 'vplc sample' : 'vplc run';
  if (input.objective.name !== 'consistency') throw new Error(`setupConsistency: objective '${input.objective.name}' is not 'consistency'`);
  // what the graphs compute in: train.precision on a GPU, where frozen weights are stored in it too
  const gpuPrecision = input.train.precision !== 'fp32' && options.device === 'cuda' ? input.train.precision : undefined;
  const resolved = await resolveRunWeights(input, { command, tiny: options.tiny, env: options.env, cwd: options.cwd, ...(options.build ? { build: options.build } : {}), ...(options.rewardConfigs ? { rewardConfigs: options.rewardConfigs } : {}), dtype: frozenWeightDtype(gpuPrecision) });
  const { plan, build, mode, weights, world, tokenizer, readers } = resolved;
  const notes = [...resolved.notes];
  if (plan.train.precision !== 'fp32' && (options.device ?? 'cpu') === 'cpu') {
    notes.push(`precision ${plan.train.precision}: this CPU run computes in fp32 (onnxruntime's CPU kernels cast fp16 to fp32 inside, and have no bf16 MatMul); ${plan.train.precision} applies with --device cuda`);
  }
  // the files by content: the latent cache must not serve latents of another VAE
  const fileHash = (p: string) => sha(fs.readFileSync(p));
  const identity = resolved.identity ?? (world ? Object.values(world.paths).map(fileHash).join(',') : 'tiny-random');
  const vaeIdentity = world
    ? `tiny_vae:${fileHash(world.paths.vae)}:${world.vaeScale}`
    : resolved.identity
      ? `checkpoint:${resolved.identity}:${JSON.stringify(build.vae)}`
      : `random:${plan.train.seed}:${JSON.stringify(build.vae)}`;
  const weightsDescription = world ? `${resolved.description}: the teacher is the trained tiny UNet` : resolved.description;
  let lowered: ConsistencyLoweredProgram;
  try {
    lowered = lowerConsistency(plan, { tiny: mode === 'tiny-random', build, ...(options.rewardConfigs ? { rewardConfigs: options.rewardConfigs } : {}), ...(weights ? { weights } : {}), ...(gpuPrecision ? { precision: gpuPrecision } : {}), ...(options.device === 'cuda' ? { fusedAttention: true } : {}) });
  } catch (error) {
    if (error instanceof LoweringError || error instanceof RewardMixError) {
      throw new VplError('VPL7132', `${command} cannot compile this pipeline: ${error.message}`, { file: plan.file, help: 'change the pipeline as the message says' });
    }
    throw error;
  }
  checkWeightsMatch(lowered.params.problems().filter((p) => !p.includes('.lora_') && !p.includes('guidance_embedding')), weights);
  if (options.samplingOnly) {
    delete lowered.program.graphs.train_step;
    delete lowered.program.graphs.encode_video;
    delete lowered.program.graphs[WATCH_GRAPH];
  }
  const terms = (plan.objective as ConsistencyObjective).reward;
  const hash = sha(planHash(plan), identity, mode);
  return { plan, lowered, build, mode, tokenizer, ...(readers ? { readers } : {}), weightsDescription, hash, vaeIdentity, ...(weights ? { weights } : {}), notes, terms };
}
