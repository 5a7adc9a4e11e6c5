// The reward-hacking watch, compiler side: its settings as the plan gives them, and the small
// frozen graph `watch` that every program of an objective with validation holds (reward,
// consistency). At each validation the runtime (runtime/methods/common/watch.ts) feeds it the
// frames decode_all decoded and reads:
//
//   inputs   frames [N, 3, H, W] in [-1, 1] (decode_all's `frames`, N = videos x frames,
//            video-major); what the held-out reward reads of the prompt, as decode_all
//            declares it for its terms (./reward-inputs.ts: text_embed [B, E], ...)
//   outputs  embedding [N, E']  per-frame image embeddings, L2-normalised: under the image
//                               encoder of the mix's first reward that has one
//                               (rewardImageEmbedders), else the held-out reward's; with none,
//                               pixels: each frame average-pooled to 8x8 and flattened (3 x 64)
//            reward.<watch>     the held-out reward's mean value over the frames (when set)
//
// Built on the lowering's parameter store, like decode_all, so the encoder and the held-out
// reward read the same frozen weights as the rewards of the mix.
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { eliminateCommonSubexpressions } from '../../tensor/passes/cse.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { lookupComponent, lookupParam } from '../../stdlib/catalogue/index.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { NN, ParameterStore } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import type { RewardConfigs } from '../../stdlib/rewards/networks/index.ts';
import { l2normalize } from '../../stdlib/rewards/tiny.ts';
import type { Plan, PlanScalar, RewardTerm } from '../plan.ts';
import { LoweringError } from './contract.ts';
import { rewardBuilders, rewardImageEmbedders } from './reward-builders.ts';
import { declareRewardPromptInputs } from './reward-inputs.ts';
import { nameOutput } from './training-step.ts';

export const WATCH_GRAPH = 'watch';

/** Side of the pooled frame of the pixel embedding (8 x 8 x 3 values per frame). */
export const PIXEL_EMBEDDING_SIDE = 8;

export interface WatchSettings {
  /** The held-out reward, scored at validation and never trained on (weight 1, unused). */
  heldOut: RewardTerm | null;
  onHacking: 'warn' | 'stop';
  /** Warn when diversity falls below (1 - diversityDrop) x its first value. */
  diversityDrop: number;
}

/** What the watch graph of a program measures, for the runtime's messages. */
export interface WatchInfo {
  /** The reward whose image encoder gives the embeddings, or 'pixels'. */
  embedding: string;
  /** The held-out reward (its output is `reward.<heldOut>`). */
  heldOut?: string;
}

/**
 * The watch's settings of a plan (undefined for an objective without validation rewards: denoise).
 * A field a plan lacks (one saved before the watch existed) takes its catalogue default.
 */
export function watchSettings(plan: Plan): WatchSettings | undefined {
  const o = plan.objective;
  if (o.name === 'denoise') return undefined;
  const params = lookupComponent('objective', o.name)!.params;
  const fallback = <T>(name: string): T => lookupParam(params, name)!.default as T;
  const watch = o.watch ?? null;
  let heldOut: RewardTerm | null = null;
  if (watch) {
    const { name, ...rest } = watch;
    heldOut = { reward: name, weight: 1, params: rest as Record<string, PlanScalar> };
  }
  return { heldOut, onHacking: o.on_hacking ?? fallback('on_hacking'), diversityDrop: o.diversity_drop ?? fallback('diversity_drop') };
}

/** Which reward's image encoder the watch embeds with: the mix's first that has one, else the held-out's. */
export function watchEmbeddingReward(terms: readonly RewardTerm[], heldOut: RewardTerm | null, embedders: Readonly<Record<string, unknown>>): string | undefined {
  return [...terms.map((t) => t.reward), ...(heldOut ? [heldOut.reward] : [])].find((name) => name in embedders);
}

/** Frames [N, 3, H, W] -> [N, 3 x 8 x 8]: each frame average-pooled to 8x8, flattened, L2-normalised. */
export function pixelEmbedding(b: Builder, frames: Value): Value {
  const side = PIXEL_EMBEDDING_SIDE;
  let x = frames;
  const [n, c, h, w] = x.shape as [number, number, number, number];
  // a side that is not a multiple of 8 is first resized to the next one
  const [H, W] = [Math.ceil(h / side) * side, Math.ceil(w / side) * side];
  if (H !== h || W !== w) x = b.resize(x, [1, 1, H / h, W / w], 'linear');
  const pooled = b.averagePool(x, [H / side, W / side], { strides: [H / side, W / side] });
  return l2normalize(b, b.reshape(pooled, [n, c * side * side]));
}

export interface WatchGraph {
  graph: Graph;
  info: WatchInfo;
}

export function buildWatchGraph(plan: Plan, params: ParameterStore, build: ModelBuild, terms: readonly RewardTerm[], settings: WatchSettings, options: { rewardConfigs?: RewardConfigs } = {}): WatchGraph {
  const [, T] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const { height: H, width: W } = plan.model.size;
  const graph = new Graph(WATCH_GRAPH);
  const b = new Builder(graph);
  const frames = b.input('frames', [B * T, 3, H, W]);
  const heldOut = settings.heldOut;
  const configs = options.rewardConfigs ?? {};
  const prompt = heldOut ? declareRewardPromptInputs(b, [heldOut], B, build, configs) : {};
  const plain: NN = { b, params };
  const embedders = rewardImageEmbedders(plain, build, configs);
  const encoder = watchEmbeddingReward(terms, heldOut, embedders);
  const embedding = encoder ? b.cast(embedders[encoder]!(b, frames), 'float32') : b.within('pixels', () => pixelEmbedding(b, frames));
  nameOutput(graph, embedding, 'embedding');
  if (heldOut) {
    if (terms.some((t) => t.reward === heldOut.reward)) throw new LoweringError(`watch = ${heldOut.reward} is a term of the reward mix: a held-out reward must not be trained on`);
    const mix = rewardMix(b, [heldOut], { frames, framesPerVideo: T, ...prompt }, rewardBuilders(plain, build, configs));
    nameOutput(graph, mix.rewards[heldOut.reward]!, `reward.${heldOut.reward}`);
  }
  // the held-out reward may run the encoder the embedding already ran (the tiny CLIP): once
  eliminateCommonSubexpressions(graph);
  eliminateDeadCode(graph);
  return { graph, info: { embedding: encoder ?? 'pixels', ...(heldOut ? { heldOut: heldOut.reward } : {}) } };
}

/** The watch graph's interface texts (LoweredProgram.interfaces.watch). */
export function watchDocs(info: WatchInfo): Record<string, string> {
  return {
    frames: 'output: decode_all/frames of the validation batch [B T, 3, H, W] in [-1, 1] (video-major)',
    text_embed: 'output: text_encode/text_embed of the validation prompts',
    embedding: info.embedding === 'pixels'
      ? 'L2-normalised per-frame embedding of pixels: each frame average-pooled to 8x8, flattened (the diversity of the reward-hacking watch)'
      : `L2-normalised per-frame image embedding under ${info.embedding}'s image encoder (the diversity of the reward-hacking watch)`,
    ...(info.heldOut ? { [`reward.${info.heldOut}`]: `mean value of the held-out reward ${info.heldOut} (objective.watch; never trained on)` } : {}),
  };
}
