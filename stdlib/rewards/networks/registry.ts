// The learned rewards vplc loads real networks for: one line per reward, its network in its own
// file here. The lowerings build them through networkRewardBuilders; the runtime opens their
// files through runtime/methods/common/reward-networks.ts.
import { Builder } from '../../../tensor/ir/builder.ts';
import type { Value } from '../../../tensor/ir/graph.ts';
import type { NN } from '../../nn/index.ts';
import type { RewardBuilder } from '../mix.ts';
import { actpred } from './actpred.ts';
import { aesthetic } from './aesthetic.ts';
import { hps } from './hps.ts';
import type { AnyRewardNetwork } from './network.ts';
import { rewardScope } from './network.ts';
import { pickscore } from './pickscore.ts';
import { viclip } from './viclip.ts';

export const rewardNetworks: Readonly<Record<string, AnyRewardNetwork>> = {
  pickscore,
  hps,
  aesthetic,
  actpred,
  viclip,
};

/** The network of a learned reward (undefined: vplc has none for it). */
export function rewardNetworkOf(reward: string): AnyRewardNetwork | undefined {
  return rewardNetworks[reward];
}

/** Per reward, the config its graphs are built at (default each network's published sizes). */
export type RewardConfigs = Readonly<Record<string, unknown>>;

export function configOf(network: AnyRewardNetwork, configs: RewardConfigs = {}): unknown {
  return configs[network.reward] ?? network.config;
}

/** `nn` at the root scope of `bb`'s graph, then inside the reward's scope. */
function inScope<T>(nn: NN, bb: Builder, reward: string, f: (scoped: NN) => T): T {
  const root: NN = { ...nn, b: new Builder(bb.graph) };
  return root.b.within(rewardScope(reward), () => f(root));
}

/** The reward-mix builders of every network (their parameters under `reward.<name>.`). */
export function networkRewardBuilders(nn: NN, configs: RewardConfigs = {}): Record<string, RewardBuilder> {
  return Object.fromEntries(
    Object.values(rewardNetworks).map((network) => {
      const build: RewardBuilder = (bb, inputs, params) => {
        const own = inputs.own?.[network.reward] ?? {};
        if (network.prompt?.kind === 'text' && !own.text) throw new Error(`${network.reward} needs its own text embedding (input text_embed.${network.reward})`);
        if (network.prompt?.kind === 'class' && !own.label) throw new Error(`${network.reward} needs the class of each prompt (input label.${network.reward})`);
        return inScope(nn, bb, network.reward, (scoped) => network.score(scoped, configOf(network, configs), { frames: inputs.frames, framesPerVideo: inputs.framesPerVideo, ...own }, params));
      };
      return [network.reward, build];
    }),
  );
}

/** A network's text tower on tokens [B, L] -> [B, E], under its scope (text_encode builds these). */
export function encodeRewardText(nn: NN, network: AnyRewardNetwork, tokens: Value, configs: RewardConfigs = {}): Value {
  if (!network.encodeText) throw new Error(`${network.reward} has no text tower`);
  return inScope(nn, nn.b, network.reward, (scoped) => network.encodeText!(scoped, configOf(network, configs), tokens));
}

/** A network's image embeddings [N, E] of frames, under its scope (undefined when it has none). */
export function embedRewardImages(nn: NN, network: AnyRewardNetwork, frames: Value, configs: RewardConfigs = {}): Value | undefined {
  if (!network.embedImages) return undefined;
  return inScope(nn, nn.b, network.reward, (scoped) => network.embedImages!(scoped, configOf(network, configs), frames));
}
