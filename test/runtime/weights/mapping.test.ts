import { describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { applyRenameRules, mapWeights, requireWeightMapping, summarizeKeys, type WeightShape } from '../../../runtime/weights/mapping.ts';

const shapes = (entries: [string, number[]][]): Map<string, WeightShape> => new Map(entries.map(([k, shape]) => [k, { shape }]));

describe('mapWeights', () => {
  const expected = shapes([
    ['input_blocks.0.0.weight', [4, 4, 3, 3]],
    ['input_blocks.0.0.bias', [4]],
    ['proj.weight', [8, 8]],
  ]);

  it('strips a prefix, drops other models via select, and squeezes 1x1 convs', () => {
    const checkpoint = shapes([
      ['model.diffusion_model.input_blocks.0.0.weight', [4, 4, 3, 3]],
      ['model.diffusion_model.input_blocks.0.0.bias', [4]],
      ['model.diffusion_model.proj.weight', [8, 8, 1, 1]],
      ['first_stage_model.decoder.conv_in.weight', [3, 3]],
    ]);
    const mapping = mapWeights(checkpoint, expected, { rename: [{ stripPrefix: 'model.diffusion_model.' }], select: 'model.diffusion_model.' });
    expect(mapping.missing).toEqual([]);
    expect(mapping.unexpected).toEqual([]);
    expect(mapping.mismatched).toEqual([]);
    expect(mapping.mapped).toContainEqual({ target: 'proj.weight', source: 'model.diffusion_model.proj.weight', reshape: true });
    expect(mapping.mapped).toContainEqual({ target: 'input_blocks.0.0.bias', source: 'model.diffusion_model.input_blocks.0.0.bias', reshape: false });
    expect(requireWeightMapping(mapping)).toHaveLength(3);
  });

  it('reports missing, unexpected and mismatched keys in one error', () => {
    const checkpoint = shapes([
      ['input_blocks.0.0.weight', [4, 4, 5, 5]],
      ['extra.running_mean', [4]],
    ]);
    const mapping = mapWeights(checkpoint, expected, { allowSqueeze: false });
    expect(mapping.missing).toEqual(['input_blocks.0.0.bias', 'proj.weight']);
    expect(mapping.unexpected).toEqual(['extra.running_mean']);
    expect(mapping.mismatched).toEqual([{ target: 'input_blocks.0.0.weight', source: 'input_blocks.0.0.weight', expected: [4, 4, 3, 3], found: [4, 4, 5, 5] }]);
    let error: unknown;
    try {
      requireWeightMapping(mapping, { file: 'unet.ckpt', model: 'tiny-unet' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VplError);
    const e = error as VplError;
    expect(e.code).toBe('VPL7030');
    expect(e.file).toBe('unet.ckpt');
    expect(e.message).toContain("does not match model 'tiny-unet'");
    expect(e.message).toContain('missing 2 keys, e.g. input_blocks.0.0.bias, proj.weight');
    expect(e.message).toContain('unexpected 1 key, e.g. extra.running_mean');
    expect(e.message).toContain("1 shape mismatch: 'input_blocks.0.0.weight' expects [4, 4, 3, 3] but the checkpoint has [4, 4, 5, 5]");
  });

  it('suggests a rename rule when nothing matched', () => {
    const mapping = mapWeights(shapes([['model.diffusion_model.proj.weight', [8, 8]]]), expected);
    expect(() => requireWeightMapping(mapping)).toThrow(/missing 3 keys, e\.g\. input_blocks\.\* \(2\), proj\.weight/);
    try {
      requireWeightMapping(mapping);
      expect.unreachable();
    } catch (e) {
      expect((e as VplError).help).toMatch(/different prefix.*strip "model\.diffusion_model\."/);
    }
  });

  it('ignores listed leftovers and refuses integer data for float weights', () => {
    const checkpoint = new Map<string, WeightShape>([
      ['proj.weight', { shape: [8, 8], dtype: 'I64' }],
      ['input_blocks.0.0.weight', { shape: [4, 4, 3, 3], dtype: 'F16' }],
      ['input_blocks.0.0.bias', { shape: [4], dtype: 'F32' }],
      ['num_batches_tracked', { shape: [], dtype: 'I64' }],
      ['ema.decay', { shape: [], dtype: 'F32' }],
    ]);
    const want = new Map([...expected].map(([k, v]) => [k, { ...v, dtype: 'F32' as const }]));
    const mapping = mapWeights(checkpoint, want, { ignoreUnexpected: [/num_batches_tracked$/, 'ema.*'] });
    expect(mapping.unexpected).toEqual([]);
    expect(mapping.mismatched.map((m) => [m.target, m.dtype])).toEqual([['proj.weight', { expected: 'F32', found: 'I64' }]]);
    expect(mapping.mapped.map((m) => m.target)).toEqual(['input_blocks.0.0.weight', 'input_blocks.0.0.bias']); // F16 converts
  });

  it('applies rename rules in order', () => {
    const rules = [{ stripPrefix: 'module.' }, { replace: /\.gamma$/, with: '.weight' }, { addPrefix: 'unet.' }];
    expect(applyRenameRules('module.norm.gamma', rules)).toBe('unet.norm.weight');
    expect(applyRenameRules('norm.beta', rules)).toBe('unet.norm.beta');
  });
});

describe('summarizeKeys', () => {
  it('groups hundreds of keys by prefix and truncates', () => {
    const keys: string[] = [];
    for (let block = 0; block < 12; block++) for (let i = 0; i < 26; i++) keys.push(`input_blocks.${block}.0.param${i}`);
    expect(keys).toHaveLength(312);
    expect(summarizeKeys(keys)).toBe('input_blocks.* (312)');
    const mixed = [...keys.slice(0, 48), 'out.0.weight', 'out.0.bias', 'time_embed.0.weight'];
    expect(summarizeKeys(mixed)).toBe('input_blocks.0.* (26), input_blocks.1.* (22), out.0.weight, out.0.bias, time_embed.0.weight');
    expect(summarizeKeys(mixed, 4)).toBe('input_blocks.0.* (26), input_blocks.1.* (22), out.* (2), time_embed.0.weight');
    expect(summarizeKeys(keys.filter((k) => k.endsWith('param0')), 3)).toBe('input_blocks.* (12)');
    const scattered = Array.from({ length: 8 }, (_, i) => `block${i}.weight`);
    expect(summarizeKeys(scattered, 3)).toBe('block0.weight, block1.weight, block2.weight, and 5 more groups');
  });

  it('keeps short lists as they are', () => {
    expect(summarizeKeys(['a', 'b.c'])).toBe('a, b.c');
  });
});
