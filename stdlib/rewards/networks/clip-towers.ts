// What the CLIP rewards (PickScore, HPSv2, the LAION aesthetic predictor) share: the reduced sizes
// of their towers, the image features of decoded frames after the reference preprocessing, the
// text features of a reward's own tokens, and cosine similarity frame by video.
import type { Builder } from '../../../tensor/ir/builder.ts';
import type { Value } from '../../../tensor/ir/graph.ts';
import { buildClipImageEncoder, buildClipTextEncoder, type ClipConfig } from '../../models/clip/index.ts';
import type { NN } from '../../nn/index.ts';
import { type PreprocessSpec, referencePreprocess } from '../preprocess.ts';
import { l2normalize } from '../tiny.ts';

/**
 * `config` at widths a CI machine runs in seconds, with the same key names and the same
 * tokenizer-facing sizes (vocabulary, context) and image geometry (224 in 14-pixel patches).
 */
export function reducedClip(config: ClipConfig, embedDim = 64): ClipConfig {
  return {
    ...config,
    name: `${config.name} (reduced)`,
    embedDim,
    text: { ...config.text, width: 64, layers: 2, heads: 2 },
    vision: { ...config.vision, width: 64, layers: 2, heads: 2 },
  };
}

/** L2-normalised image embeddings [N, E] of decoded frames [N, 3, H, W] in [-1, 1]. */
export function clipImageFeatures(nn: NN, config: ClipConfig, frames: Value, spec: PreprocessSpec): Value {
  if (spec.size !== config.vision.imageSize) throw new Error(`${config.name}: preprocessing makes ${spec.size}x${spec.size} images, the image tower takes ${config.vision.imageSize}`);
  return l2normalize(nn.b, buildClipImageEncoder(nn, config, referencePreprocess(nn.b, frames, spec)).pooled);
}

/** The pooled, projected text embedding [B, E] of tokens [B, L] (not normalised). */
export function clipTextFeatures(nn: NN, config: ClipConfig, tokens: Value): Value {
  const out = buildClipTextEncoder(nn, config, tokens);
  if (!out.pooled) throw new Error(`${config.name}: the text tower has no projection`);
  return out.pooled;
}

/** cos(image of each frame, text of its video) [N] from normalised image rows [N, E] and text [videos, E]. */
export function cosinePerFrame(b: Builder, image: Value, text: Value, framesPerVideo: number): Value {
  const [videos, e] = text.shape;
  if (e !== image.shape[1]) throw new Error(`text embedding width ${e} is not the image embedding's ${image.shape[1]}`);
  const t = l2normalize(b, b.cast(text, image.dtype));
  const perFrame = b.reshape(b.expand(b.unsqueeze(t, [1]), [videos, framesPerVideo, e]), [videos * framesPerVideo, e]);
  return b.reduceSum(b.mul(image, perFrame), [-1], false);
}

/** The report's component of a CLIP key in either naming (transformers or open_clip). */
export function clipComponentOf(key: string): string {
  return /^(vision_model\.|visual_projection|visual\.)/.test(key) ? 'visual' : key === 'logit_scale' ? 'scale' : 'text';
}
