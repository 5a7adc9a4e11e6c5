// The SD-style per-frame autoencoder: tiny config in onnxruntime, full-size names and size.
import { describe, expect, it } from 'vitest';
import { buildVaeDecoder, buildVaeEncoder, decodeVideo, encodeVideo, SD_VAE_SCALE_FACTOR, sdVaeConfig, tinyVaeConfig, vaeSpatialStride } from '../../../stdlib/models/vae/index.ts';
import { vaes } from '../../../stdlib/catalogue/encoders.ts';
import { allFinite, harness, initializerBytes, maxAbs, maxDiff } from './helpers.ts';

describe('tiny VAE', () => {
  it('encodes [2,3,32,32] to [2,4,8,8] (4x, as the catalogue tiny_vae) and decodes back to pixels', async () => {
    const h = harness({ seed: 2 });
    const images = h.input('images', [2, 3, 32, 32], 4, 0.5);
    const { mean, logvar } = buildVaeEncoder(h.nn, tinyVaeConfig, images);
    const decoded = buildVaeDecoder(h.nn, tinyVaeConfig, mean);
    expect(mean.shape).toEqual([2, 4, 8, 8]);
    expect(logvar.shape).toEqual([2, 4, 8, 8]);
    expect(decoded.shape).toEqual([2, 3, 32, 32]);
    const [m, lv, d] = await h.run([mean, logvar, decoded]);
    for (const out of [m, lv, d]) expect(allFinite(out)).toBe(true);
    expect(maxAbs(d)).toBeGreaterThan(1e-4);
    expect(Math.max(...lv)).toBeLessThanOrEqual(20);
  });

  it('is deterministic by seed, and works per frame on videos', async () => {
    const run = async (seed: number) => {
      const h = harness({ seed });
      const video = h.input('video', [1, 3, 2, 16, 16], 5, 0.5);
      const { mean } = encodeVideo(h.nn, tinyVaeConfig, video);
      expect(mean.shape).toEqual([1, 4, 2, 4, 4]);
      const out = decodeVideo(h.nn, tinyVaeConfig, mean);
      expect(out.shape).toEqual([1, 3, 2, 16, 16]);
      return (await h.run([out]))[0];
    };
    const a = await run(3);
    expect(maxDiff(a, await run(3))).toBe(0);
    expect(maxDiff(a, await run(4))).toBeGreaterThan(1e-4);
  });

  it('agrees with the catalogue entries on channels, stride and scale', () => {
    for (const config of [tinyVaeConfig, sdVaeConfig]) {
      const entry = vaes.find((v) => v.name === config.name)!;
      expect(entry, config.name).toBeDefined();
      expect(config.latentChannels).toBe(entry.latentChannels);
      expect(vaeSpatialStride(config)).toBe(entry.spatialStride);
      expect(config.scaleFactor).toBe(entry.latentScale);
    }
    expect(SD_VAE_SCALE_FACTOR).toBe(0.18215);
  });
});

describe('full-size SD VAE (shapes only)', () => {
  it('has the real key names and 83,653,863 parameters', () => {
    const h = harness({ trainable: true });
    const { mean } = buildVaeEncoder(h.nn, sdVaeConfig, h.nn.b.input('images', [1, 3, 64, 64]));
    const decoded = buildVaeDecoder(h.nn, sdVaeConfig, h.nn.b.input('latents', [1, 4, 8, 8]), { scaled: true });
    expect(mean.shape).toEqual([1, 4, 8, 8]);
    expect(decoded.shape).toEqual([1, 3, 64, 64]);
    expect(initializerBytes(h.nn.b.graph)).toBeLessThan(1 << 16);
    // Key names (less `first_stage_model.`) of the SD autoencoder, from the module attributes of
    // AILab-CVC/VideoCrafter lvdm/modules/networks/ae_modules.py (Encoder, Decoder, ResnetBlock,
    // AttnBlock, Downsample, Upsample) and AutoencoderKL's quant_conv / post_quant_conv.
    const shapes = new Map(h.nn.params.list().map((p) => [p.name, p.shape]));
    const expected: Record<string, number[]> = {
      'encoder.conv_in.weight': [128, 3, 3, 3],
      'encoder.down.0.block.0.norm1.weight': [128],
      'encoder.down.1.block.0.nin_shortcut.weight': [256, 128, 1, 1],
      'encoder.down.2.downsample.conv.weight': [512, 512, 3, 3],
      'encoder.mid.attn_1.q.weight': [512, 512, 1, 1],
      'encoder.conv_out.weight': [8, 512, 3, 3],
      'quant_conv.weight': [8, 8, 1, 1],
      'post_quant_conv.weight': [4, 4, 1, 1],
      'decoder.conv_in.weight': [512, 4, 3, 3],
      'decoder.up.0.block.0.norm1.weight': [256],
      'decoder.up.0.block.0.nin_shortcut.weight': [128, 256, 1, 1],
      'decoder.up.0.block.2.conv2.weight': [128, 128, 3, 3],
      'decoder.up.3.upsample.conv.weight': [512, 512, 3, 3],
      'decoder.mid.attn_1.proj_out.weight': [512, 512, 1, 1],
      'decoder.conv_out.weight': [3, 128, 3, 3],
    };
    for (const [key, shape] of Object.entries(expected)) expect(shapes.get(key), key).toEqual(shape);
    expect(shapes.has('decoder.up.0.upsample.conv.weight')).toBe(false);
    expect(h.nn.params.count().total).toBe(83_653_863);
  });
});
