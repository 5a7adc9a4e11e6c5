// The key map's name functions: which block and leaf a parameter name resolves through, the
// transforms' shapes, ignore rules, and the full-size maps covering every parameter.
import { describe, expect, it } from 'vitest';
import { ignoredBecause, type KeyMap, plannedShape, sourceOf } from '../../../stdlib/models/keymap.ts';
import { keyMapFor } from '../../../stdlib/models/layouts.ts';
import { modelBuild } from '../../../stdlib/models/registry.ts';
import { modelParameters } from '../../../runtime/weights/model-parameters.ts';

const map: KeyMap = {
  layout: 'test',
  blocks: [
    { target: 'unet.', source: 'm.' },
    {
      target: 'unet.blocks.1.',
      source: 'down.0.res.1.',
      leaves: [
        { target: 'in.0.', from: 'norm1.' },
        { target: 'proj.weight', from: { anyOf: ['to_p.weight', 'p.weight'] }, reshape: true },
        { target: 'qkv', from: { concat: ['q', 'k', 'v'], axis: 0 } },
        { target: 'q', from: { split: 'packed', axis: 0, index: 0, parts: 3 } },
      ],
    },
    { target: 'clip.proj', source: 'text/', leaves: [{ target: '', from: { transpose: 'proj.weight', perm: [1, 0] }, optional: 'not in CLIPTextModel' }] },
  ],
  ignore: [
    { keys: ['betas'], why: 'schedule' },
    { keys: ['model_ema.*'], why: 'EMA' },
  ],
};

describe('key maps', () => {
  it('resolves a name through the longest block and leaf; other names keep their rest', () => {
    expect(sourceOf(map, 'unet.blocks.1.in.0.weight')).toEqual({ op: 'copy', inputs: [['down.0.res.1.norm1.weight']], reshape: false });
    expect(sourceOf(map, 'unet.blocks.1.other.bias')).toEqual({ op: 'copy', inputs: [['down.0.res.1.other.bias']], reshape: false });
    // `unet.blocks.1.` is no prefix of `unet.blocks.10.`
    expect(sourceOf(map, 'unet.blocks.10.in.0.weight')).toEqual({ op: 'copy', inputs: [['m.blocks.10.in.0.weight']], reshape: false });
    expect(sourceOf(map, 'vae.x')).toBeUndefined();
  });

  it('gives alternatives, concatenations, parts and transposes as plans', () => {
    expect(sourceOf(map, 'unet.blocks.1.proj.weight')).toEqual({ op: 'copy', inputs: [['down.0.res.1.to_p.weight', 'down.0.res.1.p.weight']], reshape: true });
    expect(sourceOf(map, 'unet.blocks.1.qkv')).toEqual({ op: 'concat', axis: 0, inputs: [['down.0.res.1.q'], ['down.0.res.1.k'], ['down.0.res.1.v']], reshape: false });
    expect(sourceOf(map, 'unet.blocks.1.q')).toEqual({ op: 'split', axis: 0, index: 0, parts: 3, inputs: [['down.0.res.1.packed']], reshape: false });
    expect(sourceOf(map, 'clip.proj')).toEqual({ op: 'transpose', perm: [1, 0], inputs: [['text/proj.weight']], reshape: false, optional: 'not in CLIPTextModel' });
  });

  it('computes the shape each plan makes, or says why it cannot', () => {
    const plan = (name: string) => sourceOf(map, name)!;
    expect(plannedShape(plan('unet.blocks.1.qkv'), [[4, 2], [4, 2], [4, 2]])).toEqual([12, 2]);
    expect(plannedShape(plan('unet.blocks.1.qkv'), [[4, 2], [4, 3], [4, 2]])).toMatch(/cannot join \[4, 2\] and \[4, 3\] along axis 0/);
    expect(plannedShape(plan('unet.blocks.1.q'), [[12, 2]])).toEqual([4, 2]);
    expect(plannedShape(plan('unet.blocks.1.q'), [[10, 2]])).toMatch(/does not split into 3 parts/);
    expect(plannedShape(plan('clip.proj'), [[5, 7]])).toEqual([7, 5]);
  });

  it('ignores source keys by exact name or prefix, with the reason', () => {
    expect(ignoredBecause(map, 'betas')).toBe('schedule');
    expect(ignoredBecause(map, 'betas_x')).toBeUndefined();
    expect(ignoredBecause(map, 'model_ema.decay')).toBe('EMA');
  });

  it('covers every parameter of the full-size builds in their published layouts', () => {
    for (const [name, layout] of [['videocrafter2', 'lightning'], ['modelscope', 'diffusers'], ['tiny_vc', 'lightning']] as const) {
      const build = modelBuild(name);
      const keyMap = keyMapFor(build, layout);
      const unmapped = modelParameters(build).filter((p) => sourceOf(keyMap, p.name) === undefined);
      expect(unmapped.map((p) => p.name), name).toEqual([]);
    }
  });

  it("maps the diffusers UNet's per-level blocks onto lvdm's running numbering", () => {
    const keyMap = keyMapFor(modelBuild('modelscope'), 'diffusers');
    const from = (name: string) => sourceOf(keyMap, name)!.inputs[0][0];
    // level 1, second ResBlock: input_blocks 1, 2 (level 0), 3 (downsample), 4, 5
    expect(from('unet.input_blocks.5.0.in_layers.0.weight')).toBe('unet/down_blocks.1.resnets.1.norm1.weight');
    expect(from('unet.input_blocks.6.0.op.weight')).toBe('unet/down_blocks.1.downsamplers.0.conv.weight');
    expect(from('unet.input_blocks.4.0.temopral_conv.conv2.3.weight')).toBe('unet/down_blocks.1.temp_convs.0.conv2.3.weight');
    expect(from('unet.input_blocks.4.2.proj_out.weight')).toBe('unet/down_blocks.1.temp_attentions.0.proj_out.weight');
    // the deepest level has no attention, so its upsampler is the block's second module
    expect(from('unet.output_blocks.2.1.conv.weight')).toBe('unet/up_blocks.0.upsamplers.0.conv.weight');
    expect(from('unet.output_blocks.5.3.conv.weight')).toBe('unet/up_blocks.1.upsamplers.0.conv.weight');
    expect(from('unet.middle_block.3.skip_connection.weight')).toBe('unet/mid_block.resnets.1.conv_shortcut.weight');
    expect(from('unet.out.2.weight')).toBe('unet/conv_out.weight');
  });
});
