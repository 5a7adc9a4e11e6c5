// Configuration of the Stable Diffusion KL autoencoder (lvdm/ldm AutoencoderKL with the
// Encoder/Decoder of ae_modules.py), applied to video frame by frame.

export interface VaeConfig {
  name: string;
  /** Pixel channels in and out. */
  inChannels: number;
  outChannels: number;
  /** Base width (ch) and per-level multipliers (ch_mult); spatial stride = 2^(levels - 1). */
  ch: number;
  chMult: readonly number[];
  /** ResnetBlocks per encoder level (the decoder has one more). */
  numResBlocks: number;
  /** Latent channels (z_channels = embed_dim). */
  latentChannels: number;
  normGroups: number;
  /** Latents are multiplied by this before the diffusion model sees them. */
  scaleFactor: number;
  /** Prefix of the autoencoder's keys in the reference checkpoint. */
  checkpointPrefix: string;
}

/** SD VAE as VideoCrafter2 uses it (first_stage_config: ch 128, [1,2,4,4], 2 blocks, z 4). */
export const sdVaeConfig: VaeConfig = {
  name: 'sd_vae',
  inChannels: 3,
  outChannels: 3,
  ch: 128,
  chMult: [1, 2, 4, 4],
  numResBlocks: 2,
  latentChannels: 4,
  normGroups: 32,
  scaleFactor: 0.18215,
  checkpointPrefix: 'first_stage_model.',
};

/** The tiny world's VAE: widths [16, 32, 32], 4x spatial stride (catalogue tiny_vae), scale 1. */
export const tinyVaeConfig: VaeConfig = {
  name: 'tiny_vae',
  inChannels: 3,
  outChannels: 3,
  ch: 16,
  chMult: [1, 2, 2],
  numResBlocks: 1,
  latentChannels: 4,
  normGroups: 8,
  scaleFactor: 1.0,
  checkpointPrefix: 'first_stage_model.',
};

/** SD's latent scale factor. */
export const SD_VAE_SCALE_FACTOR = 0.18215;

export function vaeSpatialStride(config: VaeConfig): number {
  return 2 ** (config.chMult.length - 1);
}
