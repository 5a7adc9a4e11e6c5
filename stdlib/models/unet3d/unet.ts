// The VideoCrafter2-family 3D UNet: eps = unet(x [B, C, T, H, W], timesteps, text tokens, fps).
//
// Layout follows lvdm's openaimodel3d.UNetModel: every spatial layer works on frames folded
// into the batch ([(B T), C, H, W]); temporal layers unfold them. Parameter names are the real
// checkpoint keys less `model.diffusion_model.` (config.checkpointPrefix):
//   time_embed.{0,2}, fps_embedding.{0,2}, input_blocks.0.0 (conv), init_attn.0 (temporal
//   transformer), input_blocks.N.{0: ResBlock, 1: SpatialTransformer, 2: TemporalTransformer},
//   input_blocks.N.0.op (downsample), middle_block.{0..3}, output_blocks.N.{...}, .conv
//   (upsample), out.{0,2}. A ResBlock holds in_layers.{0,2}, emb_layers.1, out_layers.{0,3},
//   skip_connection and `temopral_conv.conv{1..4}` (sic: the checkpoint's spelling).
// Every ResBlock and transformer is a rematerialisation segment named by its scope.
import type { Value } from '../../../tensor/ir/graph.ts';
import { formatShape } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { attention, conv2d, conv3d, feedForward, groupNorm, init, layerNorm, linear, type NN, silu, sinusoidalTimestepEmbedding, upsampleNearest } from '../../nn/index.ts';
import type { ConvHook } from '../../nn/conv.ts';
import { channelsFirst, channelsLast, framesBack, framesFirst, pointwise, repeatInterleave } from '../common.ts';
import type { DenoiserInputs } from '../family.ts';
import { headsAt, type UNet3DConfig, unetSizeMultiple } from './config.ts';

/** The denoiser inputs (../family.ts): fps is required when config.fpsCond; extraTimeEmbedding is [B, modelChannels]. */
export type UNet3DInputs = DenoiserInputs;

/** What the blocks share while one UNet is built. */
interface Ctx {
  nn: NN;
  config: UNet3DConfig;
  /** Videos in the batch (B); tensors carry B*T rows. */
  batch: number;
  /** Time embedding per frame [(B T), 4 modelChannels]. */
  emb: Value;
  /** Text per frame [(B T), L, D]. */
  context: Value;
}

/** Build the UNet; returns the prediction [B, outChannels, T, H, W]. */
export function buildUNet3D(nn: NN, config: UNet3DConfig, inputs: UNet3DInputs): Value {
  const { b } = nn;
  const { x, timesteps, context } = inputs;
  const where = b.scope || config.name;
  if (x.rank !== 5 || x.shape[1] !== config.inChannels) {
    throw new ShapeError(`in ${where}: the UNet expects latents [B, ${config.inChannels}, T, H, W], got ${formatShape(x.shape)}`);
  }
  const [batch, , frames, height, width] = x.shape;
  const multiple = unetSizeMultiple(config);
  if (height % multiple !== 0 || width % multiple !== 0) {
    throw new ShapeError(`in ${where}: latent height and width must be multiples of ${multiple}, got ${height}x${width}`);
  }
  if (timesteps.rank !== 1 || timesteps.shape[0] !== batch) throw new ShapeError(`in ${where}: timesteps must be [${batch}], got ${formatShape(timesteps.shape)}`);
  if (context.rank !== 3 || context.shape[0] !== batch || context.shape[2] !== config.contextDim) {
    throw new ShapeError(`in ${where}: context must be [${batch}, L, ${config.contextDim}], got ${formatShape(context.shape)}`);
  }
  const mc = config.modelChannels;
  const embDim = 4 * mc;
  const dtype = x.dtype;

  // Time (and fps) embedding.
  let tFeatures = sinusoidalTimestepEmbedding(b, timesteps, mc, { flipSinToCos: true, downscaleFreqShift: 0, dtype });
  if (inputs.extraTimeEmbedding) {
    const extra = inputs.extraTimeEmbedding;
    if (extra.rank !== 2 || extra.shape[0] !== batch || extra.shape[1] !== mc) {
      throw new ShapeError(`in ${where}: extraTimeEmbedding must be [${batch}, ${mc}], got ${formatShape(extra.shape)}`);
    }
    tFeatures = b.add(tFeatures, b.cast(extra, dtype));
  }
  const mlp = (name: string, features: Value) =>
    b.within(name, () => linear(nn, '2', silu(b, linear(nn, '0', features, { out: embDim })), { out: embDim }));
  let emb = mlp('time_embed', tFeatures);
  if (config.fpsCond) {
    if (inputs.fps === undefined) throw new ShapeError(`in ${where}: ${config.name} is conditioned on fps; give fps [${batch}] or a number`);
    const fps = typeof inputs.fps === 'number' ? b.full([batch], inputs.fps, 'float32') : inputs.fps;
    if (fps.rank !== 1 || fps.shape[0] !== batch) throw new ShapeError(`in ${where}: fps must be [${batch}], got ${formatShape(fps.shape)}`);
    emb = b.add(emb, mlp('fps_embedding', sinusoidalTimestepEmbedding(b, fps, mc, { flipSinToCos: true, downscaleFreqShift: 0, dtype })));
  }

  const ctx: Ctx = {
    nn,
    config,
    batch,
    emb: repeatInterleave(nn, emb, frames),
    context: repeatInterleave(nn, b.cast(context, dtype), frames),
  };

  let h = framesFirst(nn, x);
  const skips: Value[] = [];
  const transformersAt = (name: string, h: Value, ds: number, channels: number): Value => {
    if (!config.attentionResolutions.includes(ds)) return h;
    const { heads, dimHead } = headsAt(config, channels);
    h = spatialTransformer(ctx, `${name}.1`, h, heads, dimHead);
    if (config.temporalAttention) h = temporalTransformerOnFrames(ctx, `${name}.2`, h, heads, dimHead, config.temporalTransformerDepth, config.useLinear);
    return h;
  };

  // Down.
  let block = 0;
  h = conv2d(nn, 'input_blocks.0.0', h, { out: mc, kernel: 3, padding: 1 });
  skips.push(h);
  if (config.initAttention) {
    const { heads, headDim } = config.initAttention;
    // lvdm builds init_attn without use_linear: its projections are Conv1d(k=1).
    h = temporalTransformerOnFrames(ctx, 'init_attn.0', h, heads, headDim, config.transformerDepth, false);
  }
  skips[0] = h;
  let channels = mc;
  let ds = 1;
  config.channelMult.forEach((mult, level) => {
    for (let i = 0; i < config.numResBlocks; i++) {
      const name = `input_blocks.${++block}`;
      h = resBlock(ctx, `${name}.0`, h, mult * mc);
      channels = mult * mc;
      h = transformersAt(name, h, ds, channels);
      skips.push(h);
    }
    if (level !== config.channelMult.length - 1) {
      const name = `input_blocks.${++block}.0`;
      h = b.within(name, () => conv2d(nn, 'op', h, { out: channels, kernel: 3, stride: 2, padding: 1 }));
      skips.push(h);
      ds *= 2;
    }
  });

  // Middle.
  {
    const { heads, dimHead } = headsAt(config, channels);
    h = resBlock(ctx, 'middle_block.0', h, channels);
    h = spatialTransformer(ctx, 'middle_block.1', h, heads, dimHead);
    let next = 2;
    if (config.temporalAttention) h = temporalTransformerOnFrames(ctx, `middle_block.${next++}`, h, heads, dimHead, config.temporalTransformerDepth, config.useLinear);
    h = resBlock(ctx, `middle_block.${next}`, h, channels);
  }

  // Up.
  let outBlock = 0;
  for (let level = config.channelMult.length - 1; level >= 0; level--) {
    const mult = config.channelMult[level];
    for (let i = 0; i <= config.numResBlocks; i++) {
      const name = `output_blocks.${outBlock++}`;
      const skip = skips.pop() as Value;
      h = b.concat([h, skip], 1);
      h = resBlock(ctx, `${name}.0`, h, mult * mc);
      channels = mult * mc;
      const before = h;
      h = transformersAt(name, h, ds, channels);
      if (level > 0 && i === config.numResBlocks) {
        const index = h === before ? 1 : config.temporalAttention ? 3 : 2;
        h = b.within(`${name}.${index}`, () => conv2d(nn, 'conv', upsampleNearest(b, h, 2), { out: channels, kernel: 3, padding: 1 }));
        ds /= 2;
      }
    }
  }

  const zero = config.zeroInit ? { weightInit: init.zeros(), biasInit: init.zeros() } : {};
  h = b.within('out', () => {
    const normed = silu(b, groupNorm(nn, '0', h, { groups: config.normGroups }));
    return conv2d(nn, '2', normed, { out: config.outChannels, kernel: 3, padding: 1, ...zero });
  });
  return framesBack(nn, h, batch);
}

// ------------------------------------------------------------------ blocks

/** lvdm ResBlock (+ its temporal conv block) on [(B T), C, H, W]. */
function resBlock(ctx: Ctx, name: string, x: Value, out: number): Value {
  const { nn, config } = ctx;
  const { b } = nn;
  const zero = config.zeroInit ? { weightInit: init.zeros(), biasInit: init.zeros() } : {};
  return b.inSegment(name, () =>
    b.within(name, () => {
      const groups = config.normGroups;
      let h = conv2d(nn, 'in_layers.2', silu(b, groupNorm(nn, 'in_layers.0', x, { groups })), { out, kernel: 3, padding: 1 });
      const e = linear(nn, 'emb_layers.1', silu(b, ctx.emb), { out });
      h = b.add(h, b.reshape(e, [e.shape[0], out, 1, 1]));
      h = conv2d(nn, 'out_layers.3', silu(b, groupNorm(nn, 'out_layers.0', h, { groups })), { out, kernel: 3, padding: 1, ...zero });
      const skip = x.shape[1] === out ? x : conv2d(nn, 'skip_connection', x, { out, kernel: 1 });
      h = b.add(skip, h);
      if (config.temporalConv) h = framesFirst(nn, temporalConvBlock(nn, config, 'temopral_conv', framesBack(nn, h, ctx.batch)));
      return h;
    }),
  );
}

/**
 * lvdm TemporalConvBlock on [B, C, T, H, W]: four GroupNorm -> SiLU -> Conv3d (3,1,1), the last
 * one zero-initialised so the block starts as the identity, plus the residual. (The dropout of
 * conv2..4 sits at index 2, so their convs are `.3`.)
 */
export function temporalConvBlock(nn: NN, config: Pick<UNet3DConfig, 'normGroups' | 'zeroInit'>, name: string, x: Value): Value {
  const { b } = nn;
  return b.within(name, () => {
    const channels = x.shape[1];
    let h = x;
    for (let i = 1; i <= 4; i++) {
      const last = i === 4;
      const zero = last && config.zeroInit ? { weightInit: init.zeros(), biasInit: init.zeros() } : {};
      h = silu(b, groupNorm(nn, `conv${i}.0`, h, { groups: config.normGroups }));
      h = conv3d(nn, `conv${i}.${i === 1 ? 2 : 3}`, h, { out: channels, kernel: [3, 1, 1], padding: [1, 0, 0], ...zero });
    }
    return b.add(h, x);
  });
}

/**
 * A transformer's proj_in / proj_out on [..., in]: an nn.Linear (use_linear; through `linear`, so
 * the linear hook sees it) or a 1x1 Conv1d/Conv2d stored as such and computed as a matmul over
 * the last axis (through the conv hook, channels-last). Same parameters either way.
 */
function projection(nn: NN, name: string, x: Value, options: { out: number; convDims: 0 | 1 | 2; zeroInit?: boolean }): Value {
  const { b } = nn;
  const { out, convDims } = options;
  if (convDims === 0) return linear(nn, name, x, { out, ...(options.zeroInit ? { weightInit: init.zeros(), biasInit: init.zeros() } : {}) });
  const y = pointwise(nn, name, x, options);
  const hook = (nn as NN & { convHook?: ConvHook }).convHook;
  if (!hook) return y;
  const ones = Array<number>(convDims).fill(1);
  const layer = { in: x.shape[x.rank - 1], out, kernel: ones, strides: ones, pads: [...ones, ...ones].fill(0), dilations: ones, groups: 1, layout: 'channels-last' as const };
  return b.within(name, () => hook(nn, x, y, { path: b.scope, ...layer }));
}

/** BasicTransformerBlock: self-attention, cross-attention (self when no context), GEGLU FF. */
function transformerBlock(nn: NN, name: string, x: Value, heads: number, dimHead: number, context: Value | undefined): Value {
  const { b } = nn;
  return b.within(name, () => {
    let h = b.add(attention(nn, 'attn1', layerNorm(nn, 'norm1', x), { heads, dimHead }), x);
    h = b.add(attention(nn, 'attn2', layerNorm(nn, 'norm2', h), { heads, dimHead, context }), h);
    return b.add(feedForward(nn, 'ff', layerNorm(nn, 'norm3', h), { activation: 'geglu' }), h);
  });
}

/** lvdm SpatialTransformer on [(B T), C, H, W] with the text context. */
function spatialTransformer(ctx: Ctx, name: string, x: Value, heads: number, dimHead: number): Value {
  const { nn, config } = ctx;
  const { b } = nn;
  return b.inSegment(name, () =>
    b.within(name, () => {
      const [, channels, height, width] = x.shape;
      const inner = heads * dimHead;
      const convDims = config.useLinear ? 0 : 2;
      let h = channelsLast(nn, groupNorm(nn, 'norm', x, { groups: config.normGroups, eps: 1e-6 }));
      h = projection(nn, 'proj_in', h, { out: inner, convDims });
      for (let d = 0; d < config.transformerDepth; d++) h = transformerBlock(nn, `transformer_blocks.${d}`, h, heads, dimHead, ctx.context);
      h = projection(nn, 'proj_out', h, { out: channels, convDims, zeroInit: config.zeroInit });
      return b.add(channelsFirst(nn, h, height, width), x);
    }),
  );
}

/** lvdm TemporalTransformer (self-attention over frames at every pixel) on [(B T), C, H, W]. */
function temporalTransformerOnFrames(ctx: Ctx, name: string, x: Value, heads: number, dimHead: number, depth: number, useLinear: boolean): Value {
  const { nn, config } = ctx;
  const { b } = nn;
  return b.inSegment(name, () =>
    b.within(name, () => {
      const video = framesBack(nn, x, ctx.batch); // [B, C, T, H, W]
      const [batch, channels, frames, height, width] = video.shape;
      const inner = heads * dimHead;
      const convDims = useLinear ? 0 : 1;
      const normed = groupNorm(nn, 'norm', video, { groups: config.normGroups, eps: 1e-6 });
      // 'b c t h w -> (b h w) t c'
      let h = b.reshape(b.transpose(normed, [0, 3, 4, 2, 1]), [batch * height * width, frames, channels]);
      h = projection(nn, 'proj_in', h, { out: inner, convDims });
      for (let d = 0; d < depth; d++) h = transformerBlock(nn, `transformer_blocks.${d}`, h, heads, dimHead, undefined);
      h = projection(nn, 'proj_out', h, { out: channels, convDims, zeroInit: config.zeroInit });
      const back = b.transpose(b.reshape(h, [batch, height, width, frames, channels]), [0, 4, 3, 1, 2]);
      return framesFirst(nn, b.add(back, video));
    }),
  );
}
