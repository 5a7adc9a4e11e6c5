// The key map of VideoMAEForVideoClassification's files (huggingface/transformers
// src/transformers/models/videomae/modeling_videomae.py; MCG-NJU/videomae-base-finetuned-kinetics
// on Hugging Face: config.json + model.safetensors or pytorch_model.bin). The builder
// (./videomae.ts) uses transformers' own names, so every parameter is read under its own key:
//
//   videomae.embeddings.patch_embeddings.projection.{weight [W, 3, tubelet, patch, patch], bias [W]}
//   videomae.encoder.layer.{i}.attention.attention.{query,key,value}.weight [W, W]
//   videomae.encoder.layer.{i}.attention.attention.{q_bias,v_bias} [W]      (qkv_bias)
//   videomae.encoder.layer.{i}.attention.output.dense.{weight [W, W], bias}
//   videomae.encoder.layer.{i}.intermediate.dense.{weight [M, W], bias [M]}
//   videomae.encoder.layer.{i}.output.dense.{weight [W, M], bias [W]}
//   videomae.encoder.layer.{i}.{layernorm_before,layernorm_after}.{weight,bias} [W]
//   fc_norm.{weight,bias} [W], classifier.{weight [classes, W], bias [classes]}
//
// The state dict has nothing else: the position table is a plain tensor attribute (not a
// registered buffer), there is no class token, and with use_mean_pooling `videomae.layernorm` is
// None. So each module is read under its own name and any other key is reported unexpected.
import type { KeyMap } from '../keymap.ts';

export const VIDEOMAE_LAYOUT = 'transformers VideoMAEForVideoClassification';

/** The state dict's top-level modules: the encoder and the head. */
const MODULES = ['videomae.', 'fc_norm.', 'classifier.'] as const;

/** vplc names <- the keys of a VideoMAEForVideoClassification state dict, under `part`. */
export function videoMaeClassifierKeyMap(part = ''): KeyMap {
  return { layout: VIDEOMAE_LAYOUT, blocks: MODULES.map((m) => ({ target: m, source: part + m })), ignore: [] };
}

/** The report's component of a key: the classification head, or the video encoder. */
export function videoMaeComponentOf(key: string): string {
  return /^(fc_norm|classifier)\./.test(key) ? 'head' : 'video';
}
