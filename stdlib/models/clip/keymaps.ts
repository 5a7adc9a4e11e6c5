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

/**
 * vplc (open_clip) `visual.*` names <- CLIPVisionModel / CLIPModel keys (transformers
 * modeling_clip.py: vision_model.embeddings.{patch_embedding (Conv2d without bias),
 * class_embedding, position_embedding}, vision_model.pre_layrnorm (sic), vision_model.encoder.
 * layers.{i} as in the text tower, vision_model.post_layernorm; CLIPModel's visual_projection is an
 * nn.Linear without bias [embed, width] where open_clip keeps `proj` [width, embed]).
 */
export function clipVisionTransformersBlocks(config: ClipConfig): Block[] {
  const blocks: Block[] = [
    { target: 'visual.conv1.weight', source: 'vision_model.embeddings.patch_embedding.weight' },
    { target: 'visual.class_embedding', source: 'vision_model.embeddings.class_embedding' },
    { target: 'visual.positional_embedding', source: 'vision_model.embeddings.position_embedding.weight' },
    { target: 'visual.ln_pre.', source: 'vision_model.pre_layrnorm.' },
    { target: 'visual.ln_post.', source: 'vision_model.post_layernorm.' },
    { target: 'visual.proj', source: '', leaves: [{ target: '', from: { transpose: 'visual_projection.weight', perm: [1, 0] } }] },
  ];
  for (let i = 0; i < config.vision.layers; i++) {
    blocks.push({ target: `visual.transformer.resblocks.${i}.`, source: `vision_model.encoder.layers.${i}.`, leaves: encoderLayerLeaves });
  }
  return blocks;
}

/** A whole CLIPModel (both towers and logit_scale) read into open_clip's names. */
export function clipModelTransformersBlocks(config: ClipConfig): Block[] {
  // CLIPModel always has text_projection: not optional as in a bare CLIPTextModel
  const text = clipTextTransformersBlocks(config).map((block) => (block.target === 'text_projection' ? { ...block, leaves: block.leaves!.map(({ optional: _, ...leaf }) => leaf) } : block));
  return [...clipVisionTransformersBlocks(config), ...text, { target: 'logit_scale', source: 'logit_scale' }];
}

/** Index buffers (arange) transformers saved before 4.31 (huggingface/transformers#24505): not weights. */
export const clipPositionIdBuffers: readonly string[] = ['vision_model.embeddings.position_ids', 'text_model.embeddings.position_ids'];
