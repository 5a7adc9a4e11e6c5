// `decode_all`, the graph validation and sampling run after the last sampler step, for every
// method: latents [B, C, T, h, w] (+ what the rewards read of the prompt: ./reward-inputs.ts) ->
// every frame decoded (`frames` [B T, 3, H, W] in [-1, 1], video-major) and, when the
// objective has rewards, their values `reward.<name>` over all frames and the total `loss`.
// Built on the lowering's parameter store, so it reads the same frozen VAE and reward weights
// as the training graph.
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { decodeFramesInChunks } from '../../stdlib/models/vae/index.ts';
import type { NN, ParameterStore } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import type { RewardConfigs } from '../../stdlib/rewards/networks/index.ts';
import { rewardBuilders } from './reward-builders.ts';
import { declareRewardPromptInputs } from './reward-inputs.ts';
import type { Plan, RewardTerm } from '../plan.ts';
import { nameOutput } from './training-step.ts';

export function buildDecodeAllGraph(plan: Plan, params: ParameterStore, build: ModelBuild, terms: readonly RewardTerm[], options: { chunkPixels?: number; rewardConfigs?: RewardConfigs } = {}): Graph {
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const graph = new Graph('decode_all');
  const b = new Builder(graph);
  const latents = b.input('latents', [B, C, T, h, w]);
  const prompt = declareRewardPromptInputs(b, terms, B, build, options.rewardConfigs);
  const plain: NN = { b, params };
  const frames: Value = b.within('vae', () => decodeFramesInChunks(plain, build.vae, framesFirst(plain, latents), { scaled: true, ...options }));
  nameOutput(graph, frames, 'frames');
  if (terms.length > 0) {
    const mix = rewardMix(b, [...terms], { frames, framesPerVideo: T, ...prompt }, rewardBuilders(plain, build, options.rewardConfigs));
    nameOutput(graph, mix.loss, 'loss');
    for (const [name, v] of Object.entries(mix.rewards)) nameOutput(graph, v, `reward.${name}`);
  }
  eliminateDeadCode(graph);
  return graph;
}
