// The denoiser interface every model family implements, so samplers and objectives never
// name a family's builder. A family is one folder under stdlib/models/<family>/ (config,
// builder, key map, LoRA target table, tiny config) plus one line in ./families.ts.
//
// A denoiser maps noisy latents at a noise level, with conditioning, to the family's
// prediction (`prediction`: epsilon for the VideoCrafter2/ModelScope UNet; velocity for
// rectified flow, EDM's v-scaled output for SVD). The lowering converts that prediction to
// what its sampler needs; the family never knows which sampler calls it.
import type { Value } from '../../tensor/ir/graph.ts';
import type { PredictionType } from '../catalogue/models.ts';
import type { NN } from '../nn/parameters.ts';
import type { LoraTargetTable } from '../nn/lora.ts';

export interface DenoiserInputs {
  /** Noisy latents [B, C, T, h, w]. */
  x: Value;
  /** The noise level [B] in the family's units (diffusion timestep 0..999 for unet3d). */
  timesteps: Value;
  /** Conditioning tokens [B, L, contextDim]. */
  context: Value;
  /** Frame rate [B] (or one number), for families conditioned on it. */
  fps?: Value | number;
  /** Added to the time features before the time MLP: [B, timeFeatureWidth] (T2V-Turbo's guidance embedding). */
  extraTimeEmbedding?: Value;
}

/** What every family's denoiser config states (the rest is the family's own). */
export interface DenoiserConfig {
  /** Which family builds it (a key of ./families.ts). */
  family: string;
  name: string;
  /** Latent channels in. */
  inChannels: number;
  /** Width of the conditioning tokens it cross-attends to. */
  contextDim: number;
  /** Zero-initialise what the reference zero-initialises (random-init tests turn it off). */
  zeroInit: boolean;
  /** Prefix of the denoiser's keys in the reference checkpoint. */
  checkpointPrefix: string;
}

export interface DenoiserFamily<C extends DenoiserConfig = DenoiserConfig> {
  name: string;
  /** What the network outputs (the catalogue's prediction types). */
  prediction(config: C): PredictionType;
  /** Builds the network under the current scope; returns the prediction, shaped like inputs.x. */
  build(nn: NN, config: C, inputs: DenoiserInputs): Value;
  /** Width of the features `extraTimeEmbedding` is added to. */
  timeFeatureWidth(config: C): number;
  /** A few words on the network's size, for messages (`UNet 320 channels`). */
  describe(config: C): string;
  /** Latent height and width must be multiples of this. */
  sizeMultiple(config: C): number;
  /** Plan LoRA target (`attn.q`, `ff`, ...) -> module-path patterns of this builder. */
  loraTargets: LoraTargetTable;
  /**
   * The family's tiny version of a full-size config: the tiny world's widths with the model's
   * own switches (conditioning, projection layout), random-initialised by `--tiny`.
   */
  shrink(config: C): C;
}
