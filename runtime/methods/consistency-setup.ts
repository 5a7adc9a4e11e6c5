// What `vplc run` / `vplc sample` do for an `objective consistency` pipeline (T2V-Turbo) before
// any heavy work: pick the weights, shrink a full-size pipeline for a --tiny smoke run, lower
// the plan (compiler/lower/consistency.ts) and add `decode_all` (every frame decoded and scored
// with the objective's rewards: validation, sampling, the benchmark).
//
// Weights follow runtime/methods/setup.ts: tiny_vc uses the trained tiny-world files
// (stdlib/weights/tiny/*.safetensors) when all three are there, so the teacher is the trained
// tiny UNet; otherwise (and with --tiny) every network is random-initialised from train.seed,
// and a full-size model becomes small networks of its family at 32x32 with tiny stand-in rewards
// (tiny-stand-in.ts, shared with setup.ts: at most 8 frames, 1 x 2 videos per step, 2
// validation prompts, decode random(k) capped at the frames, tiny_shapes videos when the
// pipeline's video_folder is not there).
//
// `vaeIdentity` names the frozen VAE (the weight file's content hash, or the seeded random init
// and config): it is part of every latent-cache key (latent-cache.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { type ConsistencyLoweredProgram, LoweringError, lowerConsistency } from '../../compiler/lower/index.ts';
import { type Plan, planHash, type RewardTerm } from '../../compiler/plan.ts';
import { lookupComponent } from '../../stdlib/catalogue/index.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { buildVaeDecoder } from '../../stdlib/models/vae/index.ts';
import type { NN, WeightSource } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';
import { VplError } from '../errors.ts';
import { modelBuildFor, type WeightsMode } from './setup.ts';
import { needsTinyStandIn, openTinyWorld, tinyStandIn } from './tiny-stand-in.ts';

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

/** The trained tiny-world files (tiny-stand-in.ts), identified by their contents (latent-cache keys). */
async function tinyWorldWeights(base: ModelBuild): Promise<{ weights: WeightSource; build: ModelBuild; vaeIdentity: string; identity: string } | undefined> {
  const world = await openTinyWorld(base);
  if (!world) return undefined;
  const fileHash = (p: string) => sha(fs.readFileSync(p));
  return {
    weights: world.weights,
    build: world.build,
    vaeIdentity: `tiny_vae:${fileHash(world.paths.vae)}:${world.vaeScale}`,
    identity: Object.values(world.paths).map(fileHash).join(','),
  };
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
  if (!needsTinyStandIn(input)) {
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
    const shrunk = tinyStandIn(input, base);
    ({ plan, build } = shrunk);
    notes.push(...shrunk.notes);
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
