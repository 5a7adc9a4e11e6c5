// The tiny world's learned rewards, on the tiny CLIP:
//   tiny_text_align  cos(image embedding of each decoded frame, the prompt's text embedding)
//   tiny_aesthetic   an MLP head (64 -> 32 -> GELU -> 1) on the L2-normalised image embedding
// Their preprocessing is the catalogue's `tiny_clip` (stdlib/catalogue/rewards.ts): frames as
// decoded, in [-1, 1], bilinear resize to the encoder's image size when it differs.
// NOTE: until the project's trained tiny_clip / tiny_aesthetic weights are committed, these are
// built from the parameter store as it is configured (random init in --tiny smoke runs), so
// their values carry no meaning yet; the graphs, gradients and loss forms are the real ones.
import { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { buildClipImageEncoder, type ClipConfig } from '../models/clip/index.ts';
import { gelu, linear, type NN } from '../nn/index.ts';
import { PIXEL_NORMS } from '../catalogue/rewards.ts';
import { toUnitRange } from './analytic.ts';
import type { RewardBuilder } from './mix.ts';

export const CLIP_MEAN = PIXEL_NORMS.clip.mean;
export const CLIP_STD = PIXEL_NORMS.clip.std;

/**
 * Decoded frames [N, 3, H, W] in [-1, 1] -> CLIP input [N, 3, S, S]: [0, 1] (clamped), bilinear
 * resize to S x S when the frames differ, CLIP mean/std.
 */
export function clipPreprocess(b: Builder, frames: Value, size: number): Value {
  let x = toUnitRange(b, frames);
  const [, , h, w] = x.shape;
  if (h !== size || w !== size) x = b.resize(x, [1, 1, size / h, size / w], 'linear');
  const mean = b.constantOf([...CLIP_MEAN], [1, 3, 1, 1], x.dtype, 'clip_mean');
  const std = b.constantOf([...CLIP_STD], [1, 3, 1, 1], x.dtype, 'clip_std');
  return b.div(b.sub(x, mean), std);
}

/** x / |x| along the last axis. */
export function l2normalize(b: Builder, x: Value): Value {
  return b.div(x, b.sqrt(b.add(b.reduceSum(b.mul(x, x), [-1], true), b.scalarLike(x, 1e-12))));
}

/**
 * Per-frame L2-normalised image embeddings [N, E] of the tiny CLIP. It was trained on frames as
 * the decoder emits them, in [-1, 1] (tools/tiny-world/train-clip.ts), so they go in as they
 * are (resized if needed); `clipPreprocess` is the real CLIP's input mapping.
 */
export function clipImageEmbedding(nn: NN, config: ClipConfig, frames: Value): Value {
  const { b } = nn;
  const [, , h, w] = frames.shape;
  const size = config.vision.imageSize;
  const x = h === size && w === size ? frames : b.resize(frames, [1, 1, size / h, size / w], 'linear');
  return l2normalize(b, buildClipImageEncoder(nn, config, x).pooled);
}

/**
 * The tiny rewards as reward-mix builders. `clipScope` is where the CLIP parameters live (the
 * same scope as the text encoder, so the image and text towers are one model). Parameters are
 * named from the root scope (a second Builder on the same graph), not from the reward's scope.
 */
export function tinyRewardBuilders(nn: NN, config: ClipConfig, clipScope = 'clip'): Record<string, RewardBuilder> {
  const cache = new Map<Value, Value>();
  const rooted = (bb: Builder): NN => ({ ...nn, b: new Builder(bb.graph) });
  const embed = (bb: Builder, frames: Value) => {
    let e = cache.get(frames);
    if (!e) {
      const root = rooted(bb);
      e = root.b.within(clipScope, () => clipImageEmbedding(root, config, frames));
      cache.set(frames, e);
    }
    return e;
  };
  return {
    tiny_text_align: (bb, { frames, framesPerVideo, text }) => {
      if (!text) throw new Error('tiny_text_align needs the prompt text embedding (train_step input text_embed)');
      const img = embed(bb, frames); // [N, E]
      const videos = text.shape[0];
      const t = l2normalize(bb, text);
      const perFrame = bb.reshape(bb.expand(bb.unsqueeze(t, [1]), [videos, framesPerVideo, t.shape[1]]), [videos * framesPerVideo, t.shape[1]]);
      return bb.reduceSum(bb.mul(img, perFrame), [-1], false);
    },
    tiny_aesthetic: (bb, { frames }) => {
      const img = embed(bb, frames);
      const root = rooted(bb);
      const score = root.b.within('tiny_aesthetic', () => linear(root, '2', gelu(root.b, linear(root, '0', img, { out: 32 })), { out: 1 }));
      return bb.reshape(score, [img.shape[0]]);
    },
  };
}
