// Key maps of the SD KL autoencoder's checkpoints (names relative to the VAE: no `vae.`).
//
//   lightning  LDM's names (AILab-CVC/VideoCrafter lvdm/models/autoencoder.py,
//              lvdm/modules/networks/ae_modules.py): the builder's names.
//   diffusers  AutoencoderKL (huggingface/diffusers src/diffusers/models/autoencoders/
//              autoencoder_kl.py, vae.py Encoder/Decoder, unet_2d_blocks.py
//              DownEncoderBlock2D/UpDecoderBlock2D/UNetMidBlock2D). Its decoder.up_blocks run
//              deepest level first, LDM's decoder.up is indexed by level: up_blocks.{i} is
//              up.{levels - 1 - i}. Attention is nn.Linear to_q/to_k/to_v/to_out.0 (older
//              files: query/key/value/proj_attn) where LDM has 1x1 convs.
import type { Block, Leaf } from '../keymap.ts';
import type { VaeConfig } from './config.ts';

/** LDM ResnetBlock <- diffusers ResnetBlock2D (norm and conv names agree). */
export const resnetLeaves: readonly Leaf[] = [{ target: 'nin_shortcut.', from: 'conv_shortcut.' }];

/** LDM AttnBlock <- diffusers Attention (new names first, then the pre-0.14 ones). */
export const attentionLeaves: readonly Leaf[] = [
  { target: 'norm.', from: 'group_norm.' },
  { target: 'q.weight', from: { anyOf: ['to_q.weight', 'query.weight'] }, reshape: true },
  { target: 'q.bias', from: { anyOf: ['to_q.bias', 'query.bias'] } },
  { target: 'k.weight', from: { anyOf: ['to_k.weight', 'key.weight'] }, reshape: true },
  { target: 'k.bias', from: { anyOf: ['to_k.bias', 'key.bias'] } },
  { target: 'v.weight', from: { anyOf: ['to_v.weight', 'value.weight'] }, reshape: true },
  { target: 'v.bias', from: { anyOf: ['to_v.bias', 'value.bias'] } },
  { target: 'proj_out.weight', from: { anyOf: ['to_out.0.weight', 'proj_attn.weight'] }, reshape: true },
  { target: 'proj_out.bias', from: { anyOf: ['to_out.0.bias', 'proj_attn.bias'] } },
];

export function vaeLightningBlocks(): Block[] {
  return [{ target: '', source: '' }];
}

/** vplc (LDM) names <- AutoencoderKL keys for `config`'s levels. */
export function vaeDiffusersBlocks(config: VaeConfig): Block[] {
  const levels = config.chMult.length;
  const blocks: Block[] = [
    { target: 'quant_conv.', source: 'quant_conv.' },
    { target: 'post_quant_conv.', source: 'post_quant_conv.' },
  ];
  for (const part of ['encoder', 'decoder'] as const) {
    blocks.push(
      { target: `${part}.conv_in.`, source: `${part}.conv_in.` },
      { target: `${part}.mid.block_1.`, source: `${part}.mid_block.resnets.0.`, leaves: resnetLeaves },
      { target: `${part}.mid.attn_1.`, source: `${part}.mid_block.attentions.0.`, leaves: attentionLeaves },
      { target: `${part}.mid.block_2.`, source: `${part}.mid_block.resnets.1.`, leaves: resnetLeaves },
      { target: `${part}.norm_out.`, source: `${part}.conv_norm_out.` },
      { target: `${part}.conv_out.`, source: `${part}.conv_out.` },
    );
  }
  for (let level = 0; level < levels; level++) {
    for (let j = 0; j < config.numResBlocks; j++) {
      blocks.push({ target: `encoder.down.${level}.block.${j}.`, source: `encoder.down_blocks.${level}.resnets.${j}.`, leaves: resnetLeaves });
    }
    if (level !== levels - 1) blocks.push({ target: `encoder.down.${level}.downsample.conv.`, source: `encoder.down_blocks.${level}.downsamplers.0.conv.` });
    const i = levels - 1 - level;
    for (let j = 0; j <= config.numResBlocks; j++) {
      blocks.push({ target: `decoder.up.${level}.block.${j}.`, source: `decoder.up_blocks.${i}.resnets.${j}.`, leaves: resnetLeaves });
    }
    if (level !== 0) blocks.push({ target: `decoder.up.${level}.upsample.conv.`, source: `decoder.up_blocks.${i}.upsamplers.0.conv.` });
  }
  return blocks;
}
