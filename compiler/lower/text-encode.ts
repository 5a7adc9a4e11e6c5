// The `text_encode` graph every method's program starts with: the frozen text encoder of the
// model's family, tokens [B, L] int64 -> context [B, L, D] (the UNet's cross-attention input) and
// text_embed [B, E] (pooled, for the tiny world's text rewards); and, for each learned reward with a
// text tower of its own (PickScore, HPS, ViCLIP), tokens.<name> [B, L_r] (its own tokenizer's ids)
// -> text_embed.<name> [B, E_r]. The runtime runs it for the batch's prompts and once for the empty
// prompt (-> uncond_context).
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { buildClipTextEncoder } from '../../stdlib/models/clip/index.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { ParameterStore } from '../../stdlib/nn/parameters.ts';
import { encodeRewardText, type RewardConfigs } from '../../stdlib/rewards/networks/index.ts';
import { rewardNetworksOf } from './reward-inputs.ts';
import { nameOutput } from './training-step.ts';

export function buildTextEncodeGraph(params: ParameterStore, build: ModelBuild, batch: number, rewards: { terms?: readonly { reward: string }[]; configs?: RewardConfigs } = {}): Graph {
  const graph = new Graph('text_encode');
  const b = new Builder(graph);
  const tokens = b.input('tokens', [batch, build.text.text.contextLength], 'int64');
  const out = b.within('clip', () => buildClipTextEncoder({ b, params }, build.text, tokens));
  nameOutput(graph, out.tokens, 'context');
  // a tower without a pooled projection (ModelScope's CLIPTextModel) gives no text_embed
  if (out.pooled) nameOutput(graph, out.pooled, 'text_embed');
  for (const network of rewardNetworksOf(rewards.terms ?? [])) {
    if (network.prompt?.kind !== 'text') continue;
    const own = b.input(`tokens.${network.reward}`, [batch, network.prompt.contextLength], 'int64');
    nameOutput(graph, encodeRewardText({ b, params }, network, own, rewards.configs), `text_embed.${network.reward}`);
  }
  eliminateDeadCode(graph);
  return graph;
}
