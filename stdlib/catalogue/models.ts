// Base video diffusion models. Architecture facts and reference defaults follow the public
// sources (VideoCrafter2 arXiv 2401.09047, ModelScope T2V arXiv 2308.06571, Open-Sora 1.2
// hpcaitech/Open-Sora, SVD arXiv 2311.15127); the tiny_* entries are the small CPU world the
// project trains.
import type { ComponentEntry, ParamSpec } from './types.ts';

export type ModelFamily = 'unet3d' | 'stdit3' | 'svd_unet';
export type PredictionType = 'epsilon' | 'flow' | 'edm_v';

export interface ModelEntry extends ComponentEntry {
  kind: 'model';
  family: ModelFamily;
  /** Text-to-video takes prompts; image-to-video takes a conditioning image. */
  task: 't2v' | 'i2v';
  prediction: PredictionType;
  latentChannels: number;
  /** Pixels per latent cell, from the VAE. */
  spatialStride: number;
  /** Frames per latent frame, from the VAE (1: per-frame VAE). */
  temporalStride: number;
  /** Height and width must be multiples of this (VAE stride times the network's downsampling). */
  sizeMultiple: number;
  /** Frame counts must be multiples of this (Open-Sora's temporal VAE works in chunks of 17). */
  frameMultiple: number;
  /** Seconds -> frames where the model has fixed lengths (Open-Sora: 2s = 51 frames). */
  durationFrames?: Readonly<Record<number, number>>;
  defaultTextEncoder: string | null;
  defaultVae: string;
  /** Names LoRA `targets` may use for this family. */
  loraTargets: readonly string[];
  /**
   * Defaults that depend on the model, by plan path: the sampler it is usually run with and
   * the settings of its reference recipe. They override the generic catalogue defaults.
   */
  defaults: Readonly<Record<string, unknown>>;
}

/** Fields every `model` block takes, whatever the model. Their defaults come from the model. */
export const modelCommonParams: readonly ParamSpec[] = [
  { name: 'weights', doc: 'Checkpoint of the base model (safetensors, .ckpt or .pt); default: the runtime\'s weights folder for this model.', type: { kind: 'path' }, optional: true },
  { name: 'tokenizer', doc: 'The text encoder\'s CLIP tokenizer: tokenizer.json, vocab.json (with merges.txt), bpe_simple_vocab_16e6.txt.gz, or a folder holding them; default: looked for next to the weights. The tiny models use their own.', type: { kind: 'path' }, optional: true },
  { name: 'frames', doc: 'Frames per video; a duration such as `2s` is converted with `fps`.', type: { kind: 'frames' }, unit: 'frames', min: 1, max: 1024 },
  { name: 'size', doc: 'Height x width in pixels.', type: { kind: 'size' }, unit: 'pixels', min: 8, max: 4096 },
  { name: 'fps', doc: 'Frame rate the model is conditioned on and videos are written at.', type: { kind: 'int' }, unit: 'fps', min: 1, max: 120 },
  { name: 'text_encoder', doc: 'Text encoder for the prompts.', type: { kind: 'component', of: 'text_encoder' } },
  { name: 'vae', doc: 'Autoencoder between pixels and latents.', type: { kind: 'component', of: 'vae' } },
];

const unetTargets = ['attn.q', 'attn.k', 'attn.v', 'attn.out', 'temporal_attn.q', 'temporal_attn.k', 'temporal_attn.v', 'temporal_attn.out', 'ff', 'linear', 'conv', 'proj'] as const;
const stditTargets = ['qkv', 'q_linear', 'kv_linear', 'proj', 'mlp', 'linear'] as const;

const svdParams: readonly ParamSpec[] = [
  { name: 'fps_id', doc: 'Frame-rate conditioning id.', type: { kind: 'int' }, default: 6, min: 0, max: 60 },
  { name: 'motion_bucket_id', doc: 'Motion amount conditioning (higher moves more).', type: { kind: 'int' }, default: 127, min: 0, max: 255 },
  { name: 'cond_aug', doc: 'Noise added to the conditioning image.', type: { kind: 'float' }, default: 0.02, min: 0, max: 1 },
];

const vc2Defaults = {
  sampler: 'ddim', 'sampler.steps': 25, 'sampler.eta': 1.0, 'sampler.guidance': 12.0, 'sampler.use_scale': true,
};

export const models: readonly ModelEntry[] = [
  {
    kind: 'model', name: 'videocrafter2', doc: 'VideoCrafter2 text-to-video 3D UNet (epsilon, SD VAE, OpenCLIP ViT-H text).',
    family: 'unet3d', task: 't2v', prediction: 'epsilon', latentChannels: 4, spatialStride: 8, temporalStride: 1,
    sizeMultiple: 64, frameMultiple: 1, defaultTextEncoder: 'open_clip_h', defaultVae: 'sd_vae', loraTargets: unetTargets,
    params: [],
    defaults: { 'model.frames': 12, 'model.size': { height: 320, width: 512 }, 'model.fps': 24, ...vc2Defaults },
  },
  {
    kind: 'model', name: 'modelscope', doc: 'ModelScope T2V 1.7B 3D UNet (epsilon, SD VAE, OpenCLIP ViT-H text).',
    family: 'unet3d', task: 't2v', prediction: 'epsilon', latentChannels: 4, spatialStride: 8, temporalStride: 1,
    sizeMultiple: 64, frameMultiple: 1, defaultTextEncoder: 'open_clip_h', defaultVae: 'sd_vae', loraTargets: unetTargets,
    params: [],
    defaults: {
      'model.frames': 16, 'model.size': { height: 256, width: 256 }, 'model.fps': 8,
      sampler: 'dpm_solver', 'sampler.steps': 25, 'sampler.guidance': 9.0,
    },
  },
  {
    kind: 'model', name: 'opensora_1_2', doc: 'Open-Sora 1.2 STDiT3-XL/2 (rectified flow, T5-XXL text, temporal VAE).',
    family: 'stdit3', task: 't2v', prediction: 'flow', latentChannels: 4, spatialStride: 8, temporalStride: 4,
    sizeMultiple: 16, frameMultiple: 17, durationFrames: { 2: 51, 4: 102, 8: 204, 16: 408 },
    defaultTextEncoder: 't5_xxl', defaultVae: 'opensora_vae', loraTargets: stditTargets,
    params: [],
    defaults: {
      'model.frames': 51, 'model.size': { height: 480, width: 848 }, 'model.fps': 24,
      'lora.targets': ['qkv', 'q_linear', 'kv_linear'],
      sampler: 'rf_euler', 'sampler.steps': 30, 'sampler.guidance': 7.0, 'sampler.shift': true,
    },
  },
  {
    kind: 'model', name: 'svd', doc: 'Stable Video Diffusion image-to-video (EDM, v-scaling, 14 frames).',
    family: 'svd_unet', task: 'i2v', prediction: 'edm_v', latentChannels: 4, spatialStride: 8, temporalStride: 1,
    sizeMultiple: 64, frameMultiple: 1, defaultTextEncoder: null, defaultVae: 'svd_temporal_vae', loraTargets: unetTargets,
    params: svdParams,
    defaults: {
      'model.frames': 14, 'model.size': { height: 576, width: 1024 }, 'model.fps': 7,
      'objective.noise': { mode: 'edm', p_mean: -1.2, p_std: 1.2 },
      sampler: 'edm_euler', 'sampler.steps': 25, 'sampler.guidance_min': 1.0, 'sampler.guidance_max': 2.5,
    },
  },
  {
    kind: 'model', name: 'svd_xt', doc: 'Stable Video Diffusion XT image-to-video (EDM, v-scaling, 25 frames).',
    family: 'svd_unet', task: 'i2v', prediction: 'edm_v', latentChannels: 4, spatialStride: 8, temporalStride: 1,
    sizeMultiple: 64, frameMultiple: 1, defaultTextEncoder: null, defaultVae: 'svd_temporal_vae', loraTargets: unetTargets,
    params: svdParams,
    defaults: {
      'model.frames': 25, 'model.size': { height: 576, width: 1024 }, 'model.fps': 7,
      'objective.noise': { mode: 'edm', p_mean: -1.2, p_std: 1.2 },
      sampler: 'edm_euler', 'sampler.steps': 30, 'sampler.guidance_min': 1.5, 'sampler.guidance_max': 3.0,
    },
  },
  {
    kind: 'model', name: 'tiny_vc', doc: 'A small VideoCrafter2-style 3D UNet that trains on two CPU cores (the tiny world).',
    family: 'unet3d', task: 't2v', prediction: 'epsilon', latentChannels: 4, spatialStride: 4, temporalStride: 1,
    sizeMultiple: 16, frameMultiple: 1, defaultTextEncoder: 'tiny_clip', defaultVae: 'tiny_vae', loraTargets: unetTargets,
    params: [],
    defaults: {
      'model.frames': 8, 'model.size': { height: 32, width: 32 }, 'model.fps': 8,
      sampler: 'ddim', 'sampler.steps': 10, 'sampler.eta': 1.0, 'sampler.guidance': 5.0, 'sampler.use_scale': false,
    },
  },
];
