// LoRA targets of Open-Sora's STDiT3 (hpcaitech/Open-Sora opensora/models/stdit/stdit3.py
// module names). The family has no builder yet; the table is what `lora.targets` resolves
// against once it lands.
import { at, type LoraTargetTable } from '../../nn/lora.ts';

export const stdit3LoraTargets: LoraTargetTable = {
  qkv: [at(String.raw`attn\.qkv`)],
  q_linear: [at(String.raw`cross_attn\.q_linear`)],
  kv_linear: [at(String.raw`cross_attn\.kv_linear`)],
  proj: [at(String.raw`attn\.proj`)],
  mlp: [at(String.raw`mlp\.fc[12]`)],
  linear: [/.*/],
};
