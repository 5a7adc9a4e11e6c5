// Configuration of CLIP-style text and image encoders (OpenCLIP's CLIP: TextTransformer and
// VisionTransformer).
import { EOT_ID, TINY_VOCAB_SIZE } from './tiny-tokenizer.ts';

export interface ClipTextConfig {
  vocabSize: number;
  /** Tokens per prompt (context_length). */
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  /** MLP width = width * mlpRatio. */
  mlpRatio: number;
  /** 'gelu' (OpenCLIP ViT-H) or 'quick_gelu' (OpenAI CLIP: x * sigmoid(1.702 x)). */
  activation: 'gelu' | 'quick_gelu';
  /**
   * Which hidden states the diffusion model cross-attends to: the last layer, or the
   * penultimate one (VideoCrafter's FrozenOpenCLIPEmbedder layer 'penultimate'); ln_final is
   * applied either way.
   */
  contextLayer: 'last' | 'penultimate';
  /** Id of the end-of-text token whose state is pooled (OpenCLIP: the largest id, 49407). */
  eotToken: number;
}

export interface ClipVisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  activation: 'gelu' | 'quick_gelu';
}

export interface ClipConfig {
  name: string;
  /** Width of the joint embedding (text_projection / visual.proj output). */
  embedDim: number;
  text: ClipTextConfig;
  vision: ClipVisionConfig;
  /** Prefix of the text tower in VideoCrafter's checkpoint (visual keys live in separate CLIP files). */
  checkpointPrefix: string;
}

/** OpenCLIP ViT-H/14 (laion2b): text 1024 wide, 24 layers, 16 heads, 77 tokens; image 1280 wide, 32 layers. */
export const openClipHConfig: ClipConfig = {
  name: 'open_clip_h',
  embedDim: 1024,
  text: { vocabSize: 49408, contextLength: 77, width: 1024, layers: 24, heads: 16, mlpRatio: 4, activation: 'gelu', contextLayer: 'penultimate', eotToken: 49407 },
  vision: { imageSize: 224, patchSize: 14, width: 1280, layers: 32, heads: 16, mlpRatio: 4, activation: 'gelu' },
  checkpointPrefix: 'cond_stage_model.model.',
};

/** The tiny world's CLIP: 64 wide, 2 layers, 16 tokens of the tiny tokenizer; 32x32 images in 8x8 patches. */
export const tinyClipConfig: ClipConfig = {
  name: 'tiny_clip',
  embedDim: 64,
  text: { vocabSize: TINY_VOCAB_SIZE, contextLength: 16, width: 64, layers: 2, heads: 2, mlpRatio: 4, activation: 'gelu', contextLayer: 'last', eotToken: EOT_ID },
  vision: { imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 2, mlpRatio: 4, activation: 'gelu' },
  checkpointPrefix: 'cond_stage_model.model.',
};
