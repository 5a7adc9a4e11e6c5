// What the plan's rewards read of the prompt, as graph inputs of every graph that scores frames
// (train_step, decode_all, the consistency step, watch):
//   text_embed         [B, E]    the base model's pooled text embedding, for the tiny world's
//                                text rewards (they share the tiny CLIP with the model)
//   text_embed.<name>  [B, E_r]  a learned reward's own text tower's embedding (text_encode
//                                computes it from tokens.<name>, the reward's own tokenizer's ids)
//   label.<name>       [B] int64 the class each prompt names, for a classifier reward (actpred)
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { rewardNeedsText } from '../../stdlib/catalogue/index.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { RewardInputs } from '../../stdlib/rewards/mix.ts';
import { type AnyRewardNetwork, configOf, type RewardConfigs, rewardNetworkOf } from '../../stdlib/rewards/networks/index.ts';
import type { Plan, RewardTerm } from '../plan.ts';
import { watchSettings } from './watch.ts';

/** The learned rewards of `terms` that have their own network, in order. */
export function rewardNetworksOf(terms: readonly { reward: string }[]): AnyRewardNetwork[] {
  return terms.flatMap((t) => {
    const network = rewardNetworkOf(t.reward);
    return network ? [network] : [];
  });
}

/** Whether a term reads the base model's text embedding (a text reward without a network of its own). */
export function needsBaseText(terms: readonly { reward: string }[]): boolean {
  return terms.some((t) => rewardNeedsText(t.reward) && !rewardNetworkOf(t.reward));
}

/** The width of a text reward's own embedding at its config. */
export function ownTextWidth(network: AnyRewardNetwork, configs: RewardConfigs = {}): number {
  if (!network.textEmbedDim) throw new Error(`internal: ${network.reward} declares no text embedding width`);
  return network.textEmbedDim(configOf(network, configs));
}

/** Declares the prompt inputs the terms read on `b`'s graph (B prompts) and returns them for the reward mix. */
export function declareRewardPromptInputs(b: Builder, terms: readonly RewardTerm[], B: number, build: ModelBuild, configs: RewardConfigs = {}): Pick<RewardInputs, 'text' | 'own'> {
  const text = needsBaseText(terms) ? b.input('text_embed', [B, build.text.embedDim]) : undefined;
  const own: Record<string, { text?: Value; label?: Value }> = {};
  for (const network of rewardNetworksOf(terms)) {
    if (network.prompt?.kind === 'text') own[network.reward] = { text: b.input(`text_embed.${network.reward}`, [B, ownTextWidth(network, configs)]) };
    if (network.prompt?.kind === 'class') own[network.reward] = { label: b.input(`label.${network.reward}`, [B], 'int64') };
  }
  return { ...(text ? { text } : {}), own };
}

/** The terms and the watch's held-out reward (its text tower is in text_encode too). */
export function withHeldOut(plan: Plan, terms: readonly RewardTerm[]): RewardTerm[] {
  const heldOut = watchSettings(plan)?.heldOut;
  return heldOut ? [...terms, heldOut] : [...terms];
}

/** Where each of those inputs comes from, for the schedules (program.json, `explain --graph`). */
export function rewardPromptFeeds(terms: readonly RewardTerm[]): Record<string, string> {
  const feeds: Record<string, string> = {};
  if (needsBaseText(terms)) feeds.text_embed = 'output:text_encode/text_embed';
  for (const network of rewardNetworksOf(terms)) {
    if (network.prompt?.kind === 'text') feeds[`text_embed.${network.reward}`] = `output:text_encode/text_embed.${network.reward}`;
    if (network.prompt?.kind === 'class') feeds[`label.${network.reward}`] = `data:the class each prompt names (${network.prompt.labels} id2label)`;
  }
  return feeds;
}

/** The interface text of a prompt input, undefined for other names. */
export function rewardPromptDoc(name: string): string | undefined {
  if (name.startsWith('text_embed.')) return `output: text_encode/${name} (the ${name.slice(11)} reward's own text tower)`;
  if (name.startsWith('tokens.')) return `the prompts as ${name.slice(7)}'s own tokenizer encodes them`;
  if (name.startsWith('label.')) return `the class each prompt names, by ${name.slice(6)}'s class ids`;
  return undefined;
}
