// The graph builders of every reward the lowering can build, on one parameter store: the tiny
// world's (on the tiny CLIP, under `clip.`) and the learned rewards' real networks (under
// `reward.<name>.`: stdlib/rewards/networks). Analytic rewards need none (stdlib/rewards/mix.ts
// builds them).
import { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { NN } from '../../stdlib/nn/parameters.ts';
import { embedRewardImages, networkRewardBuilders, type RewardConfigs, rewardNetworks } from '../../stdlib/rewards/networks/index.ts';
import type { RewardBuilder } from '../../stdlib/rewards/mix.ts';
import { clipImageEmbedding, tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';

export function rewardBuilders(nn: NN, build: ModelBuild, configs: RewardConfigs = {}): Record<string, RewardBuilder> {
  return { ...networkRewardBuilders(nn, configs), ...tinyRewardBuilders(nn, build.text, 'clip') };
}

/** Decoded frames [N, 3, H, W] in [-1, 1] -> the reward's L2-normalised image embeddings [N, E]. */
export type ImageEmbedder = (b: Builder, frames: Value) => Value;

/**
 * The image encoders of the learned image rewards, by reward name, on the same parameters as
 * their reward builders (the reward-hacking watch measures diversity with them:
 * compiler/lower/watch.ts). Parameters are named from the root scope, as the builders' are.
 */
export function rewardImageEmbedders(nn: NN, build: ModelBuild, configs: RewardConfigs = {}): Record<string, ImageEmbedder> {
  const tinyClip: ImageEmbedder = (b, frames) => {
    const root: NN = { ...nn, b: new Builder(b.graph) };
    return root.b.within('clip', () => clipImageEmbedding(root, build.text, frames));
  };
  const learned = Object.values(rewardNetworks).flatMap((network): [string, ImageEmbedder][] =>
    network.embedImages ? [[network.reward, (b, frames) => embedRewardImages({ ...nn, b }, network, frames, configs)!]] : [],
  );
  return { ...Object.fromEntries(learned), tiny_text_align: tinyClip, tiny_aesthetic: tinyClip };
}
