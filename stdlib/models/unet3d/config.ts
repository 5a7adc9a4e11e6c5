// Configuration of the VideoCrafter2-family 3D UNet (lvdm openaimodel3d.UNetModel). The same
// builder makes the full-size model from `videocrafter2Config` (the values of VideoCrafter's
// configs/inference_t2v_512_v2.0.yaml) and the tiny world's model from `tinyVcConfig`. The
// fields every family shares (contextDim, zeroInit, checkpointPrefix) are in ../family.ts.
import type { DenoiserConfig } from '../family.ts';

export interface UNet3DConfig extends DenoiserConfig {
  family: 'unet3d';
  inChannels: number;
  outChannels: number;
  /** Base width (model_channels); the time embedding is 4x this. */
  modelChannels: number;
  /** Width of each level = modelChannels * mult (channel_mult). */
  channelMult: readonly number[];
  /** ResBlocks per level on the way down (num_res_blocks); the way up has one more. */
  numResBlocks: number;
  /** Downsampling factors (1, 2, 4, ...) at which blocks get spatial + temporal transformers. */
  attentionResolutions: readonly number[];
  /** Attention heads: a fixed head width (num_head_channels; heads = channels / headDim) ... */
  headDim?: number;
  /** ... or a fixed head count (num_heads; head width = channels / heads). */
  heads?: number;
  /** Transformer blocks per spatial transformer (transformer_depth). */
  transformerDepth: number;
  /** Transformer blocks per temporal transformer (temporal_transformer_depth). */
  temporalTransformerDepth: number;
  /** nn.Linear proj_in/proj_out in the transformers (use_linear); else 1x1 convs. */
  useLinear: boolean;
  /** A temporal conv block after every ResBlock (temporal_conv). */
  temporalConv: boolean;
  /** A temporal transformer after every spatial transformer (temporal_attention). */
  temporalAttention: boolean;
  /**
   * The extra temporal transformer after the input conv (addition_attention, `init_attn`):
   * VideoCrafter builds it with 8 heads of num_head_channels and 1d-conv projections.
   */
  initAttention: { heads: number; headDim: number } | null;
  /** fps conditioning: sinusoidal(fps) -> MLP added to the time embedding (fps_cond). */
  fpsCond: boolean;
  /** Groups of every GroupNorm (32 in the real models; fewer for narrow tiny models). */
  normGroups: number;
}

/** VideoCrafter2 (configs/inference_t2v_512_v2.0.yaml, unet_config.params). */
export const videocrafter2Config: UNet3DConfig = {
  family: 'unet3d',
  name: 'videocrafter2',
  inChannels: 4,
  outChannels: 4,
  modelChannels: 320,
  channelMult: [1, 2, 4, 4],
  numResBlocks: 2,
  attentionResolutions: [4, 2, 1],
  headDim: 64,
  transformerDepth: 1,
  temporalTransformerDepth: 1,
  contextDim: 1024,
  useLinear: true,
  temporalConv: true,
  temporalAttention: true,
  initAttention: { heads: 8, headDim: 64 },
  fpsCond: true,
  normGroups: 32,
  zeroInit: true,
  checkpointPrefix: 'model.diffusion_model.',
};

/**
 * ModelScope T2V's UNet (arXiv 2308.06571; damo-vilab's text-to-video-ms-1.7b): 320 x [1,2,4,4], 2 blocks per level, head
 * dim 64, context 1024, an input temporal transformer, ResNet -> TemporalConv ->
 * Transformer2D -> TransformerTemporal, 1x1-conv transformer projections, no fps input.
 * The builder produces this architecture with VideoCrafter's parameter names; ModelScope's
 * diffusers folder (unet/ UNet3DConditionModel) loads through its key map (./keymaps.ts).
 */
export const modelscopeConfig: UNet3DConfig = {
  ...videocrafter2Config,
  name: 'modelscope',
  useLinear: false,
  fpsCond: false,
  checkpointPrefix: 'model.diffusion_model.',
};

/** The tiny world's model: same blocks, small widths ([1,4,8,8,8] latents in milliseconds). */
export const tinyVcConfig: UNet3DConfig = {
  family: 'unet3d',
  name: 'tiny_vc',
  inChannels: 4,
  outChannels: 4,
  modelChannels: 32,
  channelMult: [1, 2],
  numResBlocks: 1,
  attentionResolutions: [2],
  heads: 2,
  transformerDepth: 1,
  temporalTransformerDepth: 1,
  contextDim: 64,
  useLinear: true,
  temporalConv: true,
  temporalAttention: true,
  initAttention: { heads: 2, headDim: 16 },
  fpsCond: true,
  normGroups: 8,
  zeroInit: true,
  checkpointPrefix: 'model.diffusion_model.',
};

/** Heads and head width at a level of `channels` features. */
export function headsAt(config: UNet3DConfig, channels: number): { heads: number; dimHead: number } {
  if (config.headDim !== undefined) {
    if (channels % config.headDim !== 0) throw new Error(`${config.name}: ${channels} channels do not split into heads of ${config.headDim}`);
    return { heads: channels / config.headDim, dimHead: config.headDim };
  }
  if (config.heads !== undefined) {
    if (channels % config.heads !== 0) throw new Error(`${config.name}: ${channels} channels do not split into ${config.heads} heads`);
    return { heads: config.heads, dimHead: channels / config.heads };
  }
  throw new Error(`${config.name}: set headDim or heads`);
}

/** Height and width must be multiples of this (one halving per level after the first). */
export function unetSizeMultiple(config: UNet3DConfig): number {
  return 2 ** (config.channelMult.length - 1);
}
