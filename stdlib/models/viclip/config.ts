// Sizes of ViCLIP (arXiv 2307.06942, InternVid), the video-text model of T2V-Turbo's video
// reward, as Ji4chenLi/t2v-turbo viclip/viclip.py builds it (the same code as OpenGVLab/InternVideo
// Data/InternVid/viclip/): size 'l' is clip_joint_l14 (viclip_vision.py: ViT-L/14 at 224, a
// Conv3d patch embedding with temporal kernel 1, 8 frames, 1024 wide, 24 layers, 16 heads, output
// 768) and clip_text_l14 (viclip_text.py: CLIP-L's text transformer, 768 wide, 12 layers, 12
// heads, projection 768) with max_txt_l = 32 tokens. Both towers use QuickGELU. Drop path (0.1)
// and dropout are training-only: the model is used in eval mode.
import type { ClipTextConfig, ClipVisionConfig } from '../clip/config.ts';

export interface ViClipConfig {
  name: string;
  /** Width of the joint embedding (vision proj and text_projection outputs). */
  embedDim: number;
  /** Frames of a clip: the length of the temporal positional embedding (video_input_num_frames). */
  frames: number;
  /** The space-time vision transformer (its blocks are open_clip's ResidualAttentionBlock). */
  vision: ClipVisionConfig;
  /** The text transformer (CLIP_TEXT: open_clip's text tower at context 32). */
  text: ClipTextConfig;
}

/** ViClip-InternVid-10M-FLT.pth: ViCLIP-L/14, 8 frames, text context 32, embedding 768. */
export const viclipL14Config: ViClipConfig = {
  name: 'viclip_l14',
  embedDim: 768,
  frames: 8,
  vision: { imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, mlpRatio: 4, activation: 'quick_gelu' },
  text: { vocabSize: 49408, contextLength: 32, width: 768, layers: 12, heads: 12, mlpRatio: 4, activation: 'quick_gelu', contextLayer: 'last', eotToken: 49407 },
};

/**
 * The same key names at CI widths: both towers 64 wide, 2 layers, 2 heads, embedding 64; the
 * image size, patch, frames, context and vocabulary stay (what files and tokenizers see).
 */
export const viclipReducedConfig: ViClipConfig = {
  ...viclipL14Config,
  name: 'viclip_l14 (reduced)',
  embedDim: 64,
  vision: { ...viclipL14Config.vision, width: 64, layers: 2, heads: 2 },
  text: { ...viclipL14Config.text, width: 64, layers: 2, heads: 2 },
};
