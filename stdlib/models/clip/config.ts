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
  /**
   * Whether the tower has the pooled output's `text_projection` (default true). Hugging Face's
   * CLIPTextModel (ModelScope's text_encoder/) has none: it gives per-token states only.
   */
  projection?: boolean;
}

/**
 * The tokenizer a model's text tower is fed with. 'tiny': the tiny world's word tokenizer.
 * 'clip-bpe': CLIP's byte-level BPE (start 49406, end 49407, 77 slots), padded as the model's
 * reference pipeline pads, whatever files the tokenizer is read from: 'zero' as open_clip.tokenize
 * (VideoCrafter2: AILab-CVC/VideoCrafter lvdm/modules/encoders/condition.py,
 * FrozenOpenCLIPEmbedder), 'from-files' as a Hugging Face CLIPTokenizer with padding="max_length"
 * (diffusers src/diffusers/pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.py):
 * the pad token tokenizer_config.json / special_tokens_map.json name, else the end token.
 */
export type TextTokenizerSpec = { kind: 'tiny' } | { kind: 'clip-bpe'; pad: 'zero' | 'from-files' };

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

/** OpenAI CLIP ViT-L/14 (the aesthetic predictor's encoder): 1024 wide, 24 layers, 16 heads, quick_gelu, 768-d embedding. */
export const clipL14Config: ClipConfig = {
  name: 'clip_vit_l_14',
  embedDim: 768,
  text: { vocabSize: 49408, contextLength: 77, width: 768, layers: 12, heads: 12, mlpRatio: 4, activation: 'quick_gelu', contextLayer: 'last', eotToken: 49407 },
  vision: { imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, mlpRatio: 4, activation: 'quick_gelu' },
  checkpointPrefix: '',
};

/**
 * ModelScope T2V's text encoder as its diffusers folder holds it (text_encoder/, transformers'
 * CLIPTextModel): OpenCLIP ViT-H/14 with the last of its 24 layers dropped, as diffusers
 * converts an SD 2 text tower (src/diffusers/loaders/single_file_utils.py,
 * SD_2_TEXT_ENCODER_KEYS_TO_IGNORE: resblocks.23 and text_projection). The last of 23 layers
 * plus final_layer_norm is open_clip's penultimate layer plus ln_final.
 */
export const modelscopeClipConfig: ClipConfig = {
  ...openClipHConfig,
  text: { ...openClipHConfig.text, layers: 23, contextLayer: 'last', projection: false },
};

/** The tiny world's CLIP: 64 wide, 2 layers, 16 tokens of the tiny tokenizer; 32x32 images in 8x8 patches. */
export const tinyClipConfig: ClipConfig = {
  name: 'tiny_clip',
  embedDim: 64,
  text: { vocabSize: TINY_VOCAB_SIZE, contextLength: 16, width: 64, layers: 2, heads: 2, mlpRatio: 4, activation: 'gelu', contextLayer: 'last', eotToken: EOT_ID },
  vision: { imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 2, mlpRatio: 4, activation: 'gelu' },
  checkpointPrefix: 'cond_stage_model.model.',
};
