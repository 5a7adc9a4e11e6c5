// ViCLIP's two towers with the checkpoint's parameter names (Ji4chenLi/t2v-turbo viclip/):
//   vision_encoder.  viclip_vision.py VisionTransformer: conv1 (Conv3d [W, 3, 1, p, p], no bias),
//                    class_embedding [W], positional_embedding [grid^2 + 1, W] (spatial),
//                    temporal_positional_embedding [1, frames, W], ln_pre,
//                    transformer.resblocks.{i} (open_clip's block, QuickGELU), ln_post, proj [W, E]
//   text_encoder.    viclip_text.py CLIP_TEXT: open_clip's text tower (../clip/clip.ts) at context 32
// The vision tower attends jointly over every frame's patches: one sequence of
// 1 + frames * grid^2 tokens, the class token first; the video embedding is that class token
// after ln_post, projected (no pooling over frames).
import { formatShape, type Value } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { init, layerNorm, type NN, parameter } from '../../nn/index.ts';
import { buildClipTextEncoder, residualBlock } from '../clip/clip.ts';
import type { ClipConfig } from '../clip/config.ts';
import type { ViClipConfig } from './config.ts';

export interface ViClipVideoOutput {
  /** The projected class token [B, embedDim] (not normalised). */
  pooled: Value;
  /** Every token after the last block [B, 1 + frames * grid^2, width] (before ln_post). */
  tokens: Value;
}

/**
 * video [B, T, 3, S, S] (ImageNet-normalised frames, as get_vid_feat_with_grad takes them) -> the
 * video embedding. T is config.frames, or 1: a single image, which the reference gives the mean
 * of the temporal embedding (VisionTransformer.forward, `x.size(1) == 1`). Parameters under
 * `vision_encoder.`.
 */
export function buildViClipVideoEncoder(nn: NN, config: ViClipConfig, video: Value): ViClipVideoOutput {
  const { b } = nn;
  const v = config.vision;
  if (video.rank !== 5 || video.shape[2] !== 3 || video.shape[3] !== v.imageSize || video.shape[4] !== v.imageSize) {
    throw new ShapeError(`in ${b.scope || config.name}: the video encoder expects frames [B, T, 3, ${v.imageSize}, ${v.imageSize}], got ${formatShape(video.shape)}`);
  }
  const [batch, frames] = video.shape;
  if (frames !== config.frames && frames !== 1) {
    throw new ShapeError(`in ${b.scope || config.name}: the temporal embedding has ${config.frames} positions, got ${frames} frames (it takes ${config.frames}, or 1 for an image)`);
  }
  const grid = v.imageSize / v.patchSize;
  if (!Number.isInteger(grid)) throw new ShapeError(`in ${b.scope || config.name}: image size ${v.imageSize} is not a multiple of the patch size ${v.patchSize}`);
  const patches = grid * grid;
  const width = v.width;
  return b.within('vision_encoder', () => {
    const dtype = video.dtype;
    const scale = width ** -0.5;
    // The Conv3d's kernel equals its stride (1, p, p): each frame's non-overlapping p x p patches
    // times the kernel as one matrix, a MatMul (no Conv, so it runs in every float type).
    const p = v.patchSize;
    const kernel = parameter(nn, 'conv1.weight', [width, 3, 1, p, p], { init: init.kaimingUniform(), dtype });
    const cells = b.reshape(video, [batch * frames, 3, grid, p, grid, p]);
    const rows = b.reshape(b.transpose(cells, [0, 2, 4, 1, 3, 5]), [batch * frames, patches, 3 * p * p]); // row-major patches, (c, y, x) within
    let x = b.matmul(rows, b.transpose(b.reshape(kernel, [width, 3 * p * p]), [1, 0])); // [B T, P, W]
    const position = parameter(nn, 'positional_embedding', [patches + 1, width], { init: init.normal(scale), dtype });
    x = b.add(x, b.slice(position, 0, 1, patches + 1));
    const temporal = parameter(nn, 'temporal_positional_embedding', [1, config.frames, width], { init: init.zeros(), dtype });
    const perFrame = frames === 1 ? b.reduceMean(temporal, [1], true) : temporal; // [1, T, W]
    x = b.add(b.reshape(x, [batch, frames, patches, width]), b.reshape(perFrame, [1, frames, 1, width]));
    // The reference's token order: patch-major, frame-minor ('(b n) t m -> b (n t) m')
    x = b.reshape(b.transpose(x, [0, 2, 1, 3]), [batch, patches * frames, width]);
    // The class token carries the spatial embedding's first row and no temporal one.
    const cls = b.add(parameter(nn, 'class_embedding', [width], { init: init.normal(scale), dtype }), b.reshape(b.slice(position, 0, 0, 1), [width]));
    x = b.concat([b.expand(b.reshape(cls, [1, 1, width]), [batch, 1, width]), x], 1);
    x = layerNorm(nn, 'ln_pre', x);
    b.within('transformer', () => {
      for (let i = 0; i < v.layers; i++) x = residualBlock(nn, `resblocks.${i}`, x, v, undefined);
    });
    const cls0 = b.reshape(b.slice(x, 1, 0, 1), [batch, width]);
    const pooled = b.matmul(layerNorm(nn, 'ln_post', cls0), parameter(nn, 'proj', [width, config.embedDim], { init: init.normal(scale), dtype }));
    return { pooled, tokens: x };
  });
}

/** The text tower as ../clip/clip.ts builds it (the vision half of the ClipConfig is not read). */
export function viclipTextClipConfig(config: ViClipConfig): ClipConfig {
  return { name: `${config.name} text`, embedDim: config.embedDim, text: config.text, vision: config.vision, checkpointPrefix: '' };
}

/** tokens [B, 32] int64 -> the projected end-token state [B, embedDim] (not normalised). Parameters under `text_encoder.`. */
export function buildViClipTextEncoder(nn: NN, config: ViClipConfig, tokens: Value): Value {
  return nn.b.within('text_encoder', () => {
    const out = buildClipTextEncoder(nn, viclipTextClipConfig(config), tokens);
    if (!out.pooled) throw new Error(`${config.name}: the text tower has no projection`);
    return out.pooled;
  });
}
