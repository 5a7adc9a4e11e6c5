// Text encoders and VAEs: chosen by the model by default, replaceable in the `model` block.
import type { ComponentEntry } from './types.ts';

export interface TextEncoderEntry extends ComponentEntry {
  kind: 'text_encoder';
  /** Width of the token embeddings the model cross-attends to. */
  contextDim: number;
  maxTokens: number;
}

export interface VaeEntry extends ComponentEntry {
  kind: 'vae';
  latentChannels: number;
  spatialStride: number;
  temporalStride: number;
  /** Latents are multiplied by this after encoding (per channel when a list). */
  latentScale: number | readonly number[];
  latentShift?: readonly number[];
}

export const textEncoders: readonly TextEncoderEntry[] = [
  { kind: 'text_encoder', name: 'open_clip_h', doc: 'OpenCLIP ViT-H/14 text tower, penultimate layer, 77 x 1024.', contextDim: 1024, maxTokens: 77, params: [] },
  { kind: 'text_encoder', name: 't5_xxl', doc: 'T5-v1.1-XXL encoder, 300 x 4096 (Open-Sora).', contextDim: 4096, maxTokens: 300, params: [] },
  { kind: 'text_encoder', name: 'tiny_clip', doc: 'The tiny world\'s small CLIP-style text encoder.', contextDim: 64, maxTokens: 16, params: [] },
];

export const vaes: readonly VaeEntry[] = [
  { kind: 'vae', name: 'sd_vae', doc: 'Stable Diffusion per-frame VAE: 4 channels, 8x spatial, scale 0.18215.', latentChannels: 4, spatialStride: 8, temporalStride: 1, latentScale: 0.18215, params: [] },
  {
    kind: 'vae', name: 'opensora_vae', doc: 'SDXL VAE then a temporal VAE: 8x spatial, 4x temporal (17 frames -> 5 latents).',
    latentChannels: 4, spatialStride: 8, temporalStride: 4, latentScale: [3.85, 2.32, 2.33, 3.06], latentShift: [-0.1, 0.34, 0.27, 0.98], params: [],
  },
  { kind: 'vae', name: 'svd_temporal_vae', doc: 'SVD VAE with a temporal decoder (Conv3d (3,1,1) blocks merged by a learned alpha).', latentChannels: 4, spatialStride: 8, temporalStride: 1, latentScale: 0.18215, params: [] },
  { kind: 'vae', name: 'tiny_vae', doc: 'The tiny world\'s small per-frame VAE: 4 channels, 4x spatial.', latentChannels: 4, spatialStride: 4, temporalStride: 1, latentScale: 1.0, params: [] },
];
