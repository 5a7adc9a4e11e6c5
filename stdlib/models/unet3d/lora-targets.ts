// LoRA targets of the VideoCrafter2-family 3D UNet, over the builder's module paths (lvdm
// naming, ./unet.ts; the same names as the checkpoint keys):
//   spatial transformers  input_blocks.N.1 | middle_block.1 | output_blocks.N.1
//   temporal transformers input_blocks.N.2 | middle_block.2 | output_blocks.N.2 | init_attn.0
//   inside: proj_in, transformer_blocks.D.{attn1 (self), attn2 (cross; self in temporal ones)}.{to_q,to_k,to_v,to_out.0},
//           ff.net.0.proj, ff.net.2, proj_out
//   attn.q             -> <spatial>.transformer_blocks.D.attn{1,2}.to_q
//   temporal_attn.q    -> <temporal>.transformer_blocks.D.attn{1,2}.to_q      (k, v, out alike)
//   ff                 -> <any transformer>.transformer_blocks.D.ff.net.{0.proj,2}
//   proj               -> <any transformer>.proj_{in,out}: nn.Linear with use_linear, else (and
//                         always in init_attn) 1x1 Conv2d/Conv1d, adapted as convs
//   linear             -> every nn.Linear (time/fps MLPs, emb_layers, attention, ff, linear proj_in/out)
//   conv               -> every conv (input/output convs, ResBlock convs and skips, down/up
//                         sampling, temporal conv3d (3,1,1), conv proj_in/proj_out)
// T2V-Turbo's "every linear and conv" is targets = [linear, conv].
import { at, type LoraTargetTable } from '../../nn/lora.ts';

const SPATIAL = String.raw`(?:input_blocks\.\d+\.1|middle_block\.1|output_blocks\.\d+\.1)`;
const TEMPORAL = String.raw`(?:input_blocks\.\d+\.2|middle_block\.2|output_blocks\.\d+\.2|init_attn\.0)`;
const BLOCK = String.raw`\.transformer_blocks\.\d+`;
const proj = { q: 'to_q', k: 'to_k', v: 'to_v', out: String.raw`to_out\.0` } as const;

export const unet3dLoraTargets: LoraTargetTable = {
  ...Object.fromEntries(Object.entries(proj).map(([k, p]) => [`attn.${k}`, [at(`${SPATIAL}${BLOCK}\\.attn[12]\\.${p}`)]])),
  ...Object.fromEntries(Object.entries(proj).map(([k, p]) => [`temporal_attn.${k}`, [at(`${TEMPORAL}${BLOCK}\\.attn[12]\\.${p}`)]])),
  ff: [at(String.raw`transformer_blocks\.\d+\.ff\.net\.(?:0\.proj|2)`)],
  proj: [at(String.raw`proj_(?:in|out)`)],
  linear: [/.*/],
  conv: [/.*/],
};
