// The SD KL autoencoder. Parameter names are the checkpoint's (less `first_stage_model.`):
//   encoder.conv_in, encoder.down.{i}.block.{j}.{norm1,conv1,norm2,conv2,nin_shortcut},
//   encoder.down.{i}.downsample.conv, encoder.mid.{block_1,attn_1,block_2},
//   encoder.norm_out, encoder.conv_out, quant_conv, post_quant_conv, decoder.conv_in,
//   decoder.mid.*, decoder.up.{i}.block.{j}.*, decoder.up.{i}.upsample.conv, decoder.norm_out,
//   decoder.conv_out; mid attention holds norm, q, k, v, proj_out (1x1 convs).
// Every ResnetBlock and attention block is a rematerialisation segment.
import type { Value } from '../../../tensor/ir/graph.ts';
import { formatShape } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { conv2d, groupNorm, type NN, silu, upsampleNearest } from '../../nn/index.ts';
import { channelsFirst, channelsLast, framesBack, framesFirst, pointwise } from '../common.ts';
import { type VaeConfig, vaeSpatialStride } from './config.ts';

/** images [N, 3, H, W] in [-1, 1] -> the diagonal Gaussian's mean and log-variance [N, C, H/s, W/s]. */
export function buildVaeEncoder(nn: NN, config: VaeConfig, images: Value): { mean: Value; logvar: Value } {
  const { b } = nn;
  const stride = vaeSpatialStride(config);
  if (images.rank !== 4 || images.shape[1] !== config.inChannels || images.shape[2] % stride !== 0 || images.shape[3] % stride !== 0) {
    throw new ShapeError(`in ${b.scope || config.name}: the VAE encoder expects images [N, ${config.inChannels}, H, W] with H and W multiples of ${stride}, got ${formatShape(images.shape)}`);
  }
  const z = config.latentChannels;
  const moments = b.within('encoder', () => {
    let h = conv2d(nn, 'conv_in', images, { out: config.ch, kernel: 3, padding: 1 });
    config.chMult.forEach((mult, level) => {
      for (let j = 0; j < config.numResBlocks; j++) h = resnetBlock(nn, config, `down.${level}.block.${j}`, h, config.ch * mult);
      if (level !== config.chMult.length - 1) {
        // torch pads (0, 1, 0, 1) then convolves with stride 2 and no padding.
        h = conv2d(nn, `down.${level}.downsample.conv`, h, { out: h.shape[1], kernel: 3, stride: 2, padding: [0, 0, 1, 1] });
      }
    });
    h = middle(nn, config, h);
    h = silu(b, groupNorm(nn, 'norm_out', h, { groups: config.normGroups, eps: 1e-6 }));
    return conv2d(nn, 'conv_out', h, { out: 2 * z, kernel: 3, padding: 1 });
  });
  const [mean, logvar] = b.split(conv2d(nn, 'quant_conv', moments, { out: 2 * z, kernel: 1 }), 1, [z, z]);
  return { mean, logvar: b.clip(logvar, -30, 20) };
}

export interface VaeDecodeOptions {
  /** The latents are in the diffusion model's scale (multiplied by scaleFactor): divide first. */
  scaled?: boolean;
}

/** latents [N, C, h, w] -> images [N, 3, h*s, w*s] (about [-1, 1]). */
export function buildVaeDecoder(nn: NN, config: VaeConfig, latents: Value, options: VaeDecodeOptions = {}): Value {
  const { b } = nn;
  if (latents.rank !== 4 || latents.shape[1] !== config.latentChannels) {
    throw new ShapeError(`in ${b.scope || config.name}: the VAE decoder expects latents [N, ${config.latentChannels}, h, w], got ${formatShape(latents.shape)}`);
  }
  let z = latents;
  if (options.scaled && config.scaleFactor !== 1) z = b.mul(z, b.scalarLike(z, 1 / config.scaleFactor));
  z = conv2d(nn, 'post_quant_conv', z, { out: config.latentChannels, kernel: 1 });
  return b.within('decoder', () => {
    const levels = config.chMult.length;
    let h = conv2d(nn, 'conv_in', z, { out: config.ch * config.chMult[levels - 1], kernel: 3, padding: 1 });
    h = middle(nn, config, h);
    for (let level = levels - 1; level >= 0; level--) {
      for (let j = 0; j <= config.numResBlocks; j++) h = resnetBlock(nn, config, `up.${level}.block.${j}`, h, config.ch * config.chMult[level]);
      if (level !== 0) h = conv2d(nn, `up.${level}.upsample.conv`, upsampleNearest(b, h, 2), { out: h.shape[1], kernel: 3, padding: 1 });
    }
    h = silu(b, groupNorm(nn, 'norm_out', h, { groups: config.normGroups, eps: 1e-6 }));
    return conv2d(nn, 'conv_out', h, { out: config.outChannels, kernel: 3, padding: 1 });
  });
}

/** Decode video latents [B, C, T, h, w] frame by frame -> [B, 3, T, H, W]. */
export function decodeVideo(nn: NN, config: VaeConfig, latents: Value, options: VaeDecodeOptions = {}): Value {
  return framesBack(nn, buildVaeDecoder(nn, config, framesFirst(nn, latents), options), latents.shape[0]);
}

/**
 * Full-resolution pixels the VAE works on in one call: two 320x512 frames. Validation decodes
 * (and T2V-Turbo encodes) every frame of a batch, and the full-resolution activations of all of
 * them at once would outweigh the training step; in chunks, onnxruntime reuses one chunk's
 * buffers for the next. Small videos (the tiny world) still go in one call.
 */
export const VAE_CHUNK_PIXELS = 2 * 320 * 512;

/**
 * `run` over frames [N, ...] a chunk of frames at a time (the same weights: parameters are
 * looked up by name), each output concatenated along the frames in order.
 */
export function inFrameChunks(nn: NN, frames: Value, pixelsPerFrame: number, chunkPixels: number, run: (chunk: Value) => Value[]): Value[] {
  const count = frames.shape[0];
  const chunk = Math.max(1, Math.floor(chunkPixels / pixelsPerFrame));
  if (chunk >= count) return run(frames);
  const parts: Value[][] = [];
  for (let start = 0; start < count; start += chunk) parts.push(run(nn.b.slice(frames, 0, start, Math.min(count, start + chunk))));
  return parts[0]!.map((_, i) => nn.b.concat(parts.map((p) => p[i]!), 0));
}

/** latents [N, C, h, w] -> images [N, 3, H, W], at most `chunkPixels` output pixels per decoder call. */
export function decodeFramesInChunks(nn: NN, config: VaeConfig, latents: Value, options: VaeDecodeOptions & { chunkPixels?: number } = {}): Value {
  const pixels = latents.shape[2]! * latents.shape[3]! * vaeSpatialStride(config) ** 2;
  return inFrameChunks(nn, latents, pixels, options.chunkPixels ?? VAE_CHUNK_PIXELS, (chunk) => [buildVaeDecoder(nn, config, chunk, options)])[0]!;
}

/** Encode a video [B, 3, T, H, W] frame by frame (in chunks of frames) -> mean and log-variance [B, C, T, h, w]. */
export function encodeVideo(nn: NN, config: VaeConfig, video: Value, options: { chunkPixels?: number } = {}): { mean: Value; logvar: Value } {
  const frames = framesFirst(nn, video);
  const [mean, logvar] = inFrameChunks(nn, frames, frames.shape[2]! * frames.shape[3]!, options.chunkPixels ?? VAE_CHUNK_PIXELS, (chunk) => {
    const r = buildVaeEncoder(nn, config, chunk);
    return [r.mean, r.logvar];
  });
  return { mean: framesBack(nn, mean!, video.shape[0]), logvar: framesBack(nn, logvar!, video.shape[0]) };
}

function middle(nn: NN, config: VaeConfig, h: Value): Value {
  const channels = h.shape[1];
  h = resnetBlock(nn, config, 'mid.block_1', h, channels);
  h = attnBlock(nn, config, 'mid.attn_1', h);
  return resnetBlock(nn, config, 'mid.block_2', h, channels);
}

function resnetBlock(nn: NN, config: VaeConfig, name: string, x: Value, out: number): Value {
  const { b } = nn;
  const segment = b.scope ? `${b.scope}.${name}` : name;
  return b.inSegment(segment, () =>
    b.within(name, () => {
      const groups = config.normGroups;
      let h = conv2d(nn, 'conv1', silu(b, groupNorm(nn, 'norm1', x, { groups, eps: 1e-6 })), { out, kernel: 3, padding: 1 });
      h = conv2d(nn, 'conv2', silu(b, groupNorm(nn, 'norm2', h, { groups, eps: 1e-6 })), { out, kernel: 3, padding: 1 });
      const skip = x.shape[1] === out ? x : conv2d(nn, 'nin_shortcut', x, { out, kernel: 1 });
      return b.add(skip, h);
    }),
  );
}

/** Single-head self-attention over all pixels with 1x1-conv q, k, v and proj_out. */
function attnBlock(nn: NN, config: VaeConfig, name: string, x: Value): Value {
  const { b } = nn;
  const segment = b.scope ? `${b.scope}.${name}` : name;
  return b.inSegment(segment, () =>
    b.within(name, () => {
      const [, channels, height, width] = x.shape;
      const h = channelsLast(nn, groupNorm(nn, 'norm', x, { groups: config.normGroups, eps: 1e-6 })); // [N, HW, C]
      const q = pointwise(nn, 'q', h, { out: channels, convDims: 2 });
      const k = pointwise(nn, 'k', h, { out: channels, convDims: 2 });
      const v = pointwise(nn, 'v', h, { out: channels, convDims: 2 });
      const scores = b.mul(b.matmul(q, b.transpose(k, [0, 2, 1])), b.scalarLike(q, 1 / Math.sqrt(channels)));
      const attended = b.matmul(b.softmax(scores, -1), v);
      const projected = pointwise(nn, 'proj_out', attended, { out: channels, convDims: 2 });
      return b.add(x, channelsFirst(nn, projected, height, width));
    }),
  );
}
