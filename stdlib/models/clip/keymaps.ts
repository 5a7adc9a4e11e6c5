// Key maps of the CLIP text tower's checkpoints (names relative to the encoder: no `clip.`).
//
//   lightning     open_clip's own names (mlfoundations/open_clip src/open_clip/model.py CLIP,
//                 transformer.py ResidualAttentionBlock): the builder's names.
//   transformers  CLIPTextModel (huggingface/transformers src/transformers/models/clip/
//                 modeling_clip.py): text_model.embeddings, text_model.encoder.layers.{i} with
//                 separate q/k/v projections that open_clip packs into in_proj_weight, and
//                 text_model.final_layer_norm. The same correspondence as diffusers'
//                 src/diffusers/loaders/single_file_utils.py convert_open_clip_checkpoint.
import type { Block, Leaf } from '../keymap.ts';
import type { ClipConfig } from './config.ts';

/** open_clip ResidualAttentionBlock <- CLIPEncoderLayer. */
export const encoderLayerLeaves: readonly Leaf[] = [
  { target: 'ln_1.', from: 'layer_norm1.' },
  { target: 'ln_2.', from: 'layer_norm2.' },
  { target: 'mlp.c_fc.', from: 'mlp.fc1.' },
  { target: 'mlp.c_proj.', from: 'mlp.fc2.' },
  { target: 'attn.out_proj.', from: 'self_attn.out_proj.' },
  // nn.MultiheadAttention packs [q; k; v] along the output axis.
  { target: 'attn.in_proj_weight', from: { concat: ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'], axis: 0 } },
  { target: 'attn.in_proj_bias', from: { concat: ['self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias'], axis: 0 } },
];

export function clipTextLightningBlocks(): Block[] {
  return [{ target: '', source: '' }];
}

/** vplc (open_clip) names <- CLIPTextModel keys, for `config.text.layers` layers. */
export function clipTextTransformersBlocks(config: ClipConfig): Block[] {
  const blocks: Block[] = [
    { target: 'token_embedding.', source: 'text_model.embeddings.token_embedding.' },
    { target: 'positional_embedding', source: 'text_model.embeddings.position_embedding.weight' },
    { target: 'ln_final.', source: 'text_model.final_layer_norm.' },
    {
      target: 'text_projection',
      source: '',
      leaves: [
        {
          target: '',
          // CLIPTextModelWithProjection has it as an nn.Linear [E, W]; open_clip multiplies by [W, E].
          from: { transpose: 'text_projection.weight', perm: [1, 0] },
          optional: 'CLIPTextModel has no pooled projection (only CLIPTextModelWithProjection does): the pooled text_embed cannot be computed from this text encoder',
        },
      ],
    },
  ];
  for (let i = 0; i < config.text.layers; i++) {
    blocks.push({ target: `transformer.resblocks.${i}.`, source: `text_model.encoder.layers.${i}.`, leaves: encoderLayerLeaves });
  }
  return blocks;
}
