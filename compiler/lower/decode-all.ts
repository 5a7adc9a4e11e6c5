// `decode_all`, the graph validation and sampling run after the last sampler step, for every
// method: latents [B, C, T, h, w] (+ text_embed [B, E] when a reward reads the prompt) ->
// every frame decoded (`frames` [B T, 3, H, W] in [-1, 1], video-major) and, when the
// objective has rewards, their values `reward.<name>` over all frames and the total `loss`.
// Built on the lowering's parameter store, so it reads the same frozen VAE and reward weights
// as the training graph.
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { rewardNeedsText } from '../../stdlib/catalogue/index.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { buildVaeDecoder } from '../../stdlib/models/vae/index.ts';
import type { NN, ParameterStore } from '../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { rewardBuilders } from './reward-builders.ts';
import type { Plan, RewardTerm } from '../plan.ts';
import { nameOutput } from './training-step.ts';

/**
 * Pixels the VAE decodes in one call: two 320x512 frames. Validation decodes every frame of every
 * video (12 at VADER's reference size), and the decoder's full-resolution activations for all of
 * them at once would need more memory than the training step; in chunks, onnxruntime reuses one
 * chunk's buffers for the next. Small videos (the tiny world) still decode in one call.
 */
export const DECODE_CHUNK_PIXELS = 2 * 320 * 512;

/** Frames [N, C, h, w] decoded a chunk of frames at a time (same weights), concatenated in order. */
function decodeInChunks(nn: NN, build: ModelBuild, latents: Value, chunkPixels: number): Value {
  const { b } = nn;
  const [count, , h, w] = latents.shape;
  const stride = 2 ** (build.vae.chMult.length - 1);
  const pixels = h * w * stride ** 2;
  const chunk = Math.max(1, Math.floor(chunkPixels / pixels));
  if (chunk >= count) return buildVaeDecoder(nn, build.vae, latents, { scaled: true });
  const parts: Value[] = [];
  for (let start = 0; start < count; start += chunk) {
    parts.push(buildVaeDecoder(nn, build.vae, b.slice(latents, 0, start, Math.min(count, start + chunk)), { scaled: true }));
  }
  return b.concat(parts, 0);
}

export function buildDecodeAllGraph(plan: Plan, params: ParameterStore, build: ModelBuild, terms: readonly RewardTerm[], options: { chunkPixels?: number } = {}): Graph {
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const graph = new Graph('decode_all');
  const b = new Builder(graph);
  const latents = b.input('latents', [B, C, T, h, w]);
  const text = terms.some((t) => rewardNeedsText(t.reward)) ? b.input('text_embed', [B, build.text.embedDim]) : undefined;
  const plain: NN = { b, params };
  const frames: Value = b.within('vae', () => decodeInChunks(plain, build, framesFirst(plain, latents), options.chunkPixels ?? DECODE_CHUNK_PIXELS));
  nameOutput(graph, frames, 'frames');
  if (terms.length > 0) {
    const mix = rewardMix(b, [...terms], { frames, framesPerVideo: T, ...(text ? { text } : {}) }, rewardBuilders(plain, build));
    nameOutput(graph, mix.loss, 'loss');
    for (const [name, v] of Object.entries(mix.rewards)) nameOutput(graph, v, `reward.${name}`);
  }
  eliminateDeadCode(graph);
  return graph;
}
