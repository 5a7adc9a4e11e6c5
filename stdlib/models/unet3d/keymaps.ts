// Key maps of the unet3d family's checkpoints (names relative to the UNet: no `unet.` and no
// source prefix; ../layouts.ts places them in a whole model's map).
//
//   lightning  lvdm's own names (AILab-CVC/VideoCrafter lvdm/modules/networks/openaimodel3d.py):
//              the builder's names, so one block.
//   diffusers  UNet3DConditionModel (huggingface/diffusers src/diffusers/models/unets/
//              unet_3d_condition.py, unet_3d_blocks.py; resnet.py ResnetBlock2D and
//              TemporalConvLayer; transformers/transformer_temporal.py). Its blocks are
//              numbered per level (down_blocks.{level}.resnets.{j}) where lvdm counts one list
//              (input_blocks.{n}.0); the loops below follow the config.
import type { Block, Leaf } from '../keymap.ts';
import type { UNet3DConfig } from './config.ts';

/** lvdm ResBlock <- diffusers ResnetBlock2D. */
export const resBlockLeaves: readonly Leaf[] = [
  { target: 'in_layers.0.', from: 'norm1.' },
  { target: 'in_layers.2.', from: 'conv1.' },
  { target: 'emb_layers.1.', from: 'time_emb_proj.' },
  { target: 'out_layers.0.', from: 'norm2.' },
  { target: 'out_layers.3.', from: 'conv2.' },
  { target: 'skip_connection.', from: 'conv_shortcut.' },
];

/**
 * lvdm Spatial/TemporalTransformer <- diffusers Transformer2DModel / TransformerTemporalModel:
 * the same names; diffusers stores proj_in/proj_out as nn.Linear (get_down_block passes
 * use_linear_projection=True; TransformerTemporalModel always), vplc as the config says.
 */
export const transformerLeaves: readonly Leaf[] = [
  { target: 'proj_in.weight', from: 'proj_in.weight', reshape: true },
  { target: 'proj_out.weight', from: 'proj_out.weight', reshape: true },
];

/** The Lightning checkpoint's UNet keys are the builder's names. */
export function unet3dLightningBlocks(): Block[] {
  return [{ target: '', source: '' }];
}

/** vplc (lvdm) names <- UNet3DConditionModel keys, for `config`'s levels and attention. */
export function unet3dDiffusersBlocks(config: UNet3DConfig): Block[] {
  const blocks: Block[] = [];
  const add = (target: string, source: string, leaves?: readonly Leaf[]) => blocks.push({ target, source, ...(leaves ? { leaves } : {}) });
  const levels = config.channelMult.length;
  const perLevel = config.numResBlocks;
  const attentionAt = (level: number) => config.attentionResolutions.includes(2 ** level);
  // A ResBlock with its temporal conv, and the transformers after it.
  const layer = (target: string, source: string, j: number, attention: boolean) => {
    add(`${target}.0.`, `${source}.resnets.${j}.`, resBlockLeaves);
    if (config.temporalConv) add(`${target}.0.temopral_conv.`, `${source}.temp_convs.${j}.`);
    if (!attention) return;
    add(`${target}.1.`, `${source}.attentions.${j}.`, transformerLeaves);
    if (config.temporalAttention) add(`${target}.2.`, `${source}.temp_attentions.${j}.`, transformerLeaves);
  };

  add('input_blocks.0.0.', 'conv_in.');
  add('time_embed.0.', 'time_embedding.linear_1.');
  add('time_embed.2.', 'time_embedding.linear_2.');
  if (config.initAttention) add('init_attn.0.', 'transformer_in.', transformerLeaves);

  let n = 0;
  for (let level = 0; level < levels; level++) {
    for (let j = 0; j < perLevel; j++) layer(`input_blocks.${++n}`, `down_blocks.${level}`, j, attentionAt(level));
    if (level !== levels - 1) add(`input_blocks.${++n}.0.op.`, `down_blocks.${level}.downsamplers.0.conv.`);
  }

  add('middle_block.0.', 'mid_block.resnets.0.', resBlockLeaves);
  if (config.temporalConv) add('middle_block.0.temopral_conv.', 'mid_block.temp_convs.0.');
  add('middle_block.1.', 'mid_block.attentions.0.', transformerLeaves);
  let next = 2;
  if (config.temporalAttention) add(`middle_block.${next++}.`, 'mid_block.temp_attentions.0.', transformerLeaves);
  add(`middle_block.${next}.`, 'mid_block.resnets.1.', resBlockLeaves);
  if (config.temporalConv) add(`middle_block.${next}.temopral_conv.`, 'mid_block.temp_convs.1.');

  // diffusers' up_blocks.0 is the deepest level, as lvdm's first output blocks are.
  n = 0;
  for (let i = 0; i < levels; i++) {
    const level = levels - 1 - i;
    const attention = attentionAt(level);
    for (let j = 0; j <= perLevel; j++) {
      const target = `output_blocks.${n++}`;
      layer(target, `up_blocks.${i}`, j, attention);
      if (level > 0 && j === perLevel) {
        const index = !attention ? 1 : config.temporalAttention ? 3 : 2;
        add(`${target}.${index}.conv.`, `up_blocks.${i}.upsamplers.0.conv.`);
      }
    }
  }

  add('out.0.', 'conv_norm_out.');
  add('out.2.', 'conv_out.');
  return blocks;
}
