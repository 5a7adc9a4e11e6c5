// Sizes of VideoMAE's encoder with a video-classification head (arXiv 2203.12602), in the
// vocabulary of transformers' VideoMAEConfig (huggingface/transformers
// src/transformers/models/videomae/configuration_videomae.py): the defaults there are
// videomae-base's, and MCG-NJU/videomae-base-finetuned-kinetics keeps them with 400 Kinetics
// classes and mean pooling (convert_videomae_to_pytorch.py get_videomae_config).

export interface VideoMaeConfig {
  name: string;
  /** Frames are square, imageSize x imageSize (224). */
  imageSize: number;
  /** Spatial side of a patch (16). */
  patchSize: number;
  /** Frames per tubelet (2): the patch embedding is a Conv3d with kernel = stride = [tubelet, patch, patch]. */
  tubeletSize: number;
  channels: number;
  /** hidden_size. */
  width: number;
  /** num_hidden_layers. */
  layers: number;
  /** num_attention_heads. */
  heads: number;
  /** intermediate_size. */
  mlp: number;
  /** num_labels (len(id2label)). */
  classes: number;
  /** layer_norm_eps of every encoder layer's layernorm_before / layernorm_after (1e-12). */
  layerNormEps: number;
  /** fc_norm is built as nn.LayerNorm(hidden_size) without the config's eps: torch's default 1e-5. */
  fcNormEps: number;
  /** qkv_bias: q_bias and v_bias parameters (the key projection has none; a zero bias in the reference). */
  qkvBias: boolean;
}

/** MCG-NJU/videomae-base-finetuned-kinetics: ViT-B, 16 x 16 patches, tubelets of 2 frames, 400 classes. */
export const videoMaeBaseKinetics: VideoMaeConfig = {
  name: 'videomae-base-finetuned-kinetics',
  imageSize: 224,
  patchSize: 16,
  tubeletSize: 2,
  channels: 3,
  width: 768,
  layers: 12,
  heads: 12,
  mlp: 3072,
  classes: 400,
  layerNormEps: 1e-12,
  fcNormEps: 1e-5,
  qkvBias: true,
};

/** The same key names at widths CI runs in seconds: the geometry and the 400 classes kept. */
export function reducedVideoMae(config: VideoMaeConfig): VideoMaeConfig {
  return { ...config, name: `${config.name} (reduced)`, width: 64, layers: 2, heads: 2, mlp: 256 };
}

/** Patches per frame pair: (imageSize / patchSize)^2. */
export function patchesPerTubelet(config: VideoMaeConfig): number {
  return (config.imageSize / config.patchSize) ** 2;
}
