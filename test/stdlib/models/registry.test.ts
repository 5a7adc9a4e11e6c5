// Catalogue model names -> builds: configs agree with the catalogue, gaps are named.
import { describe, expect, it } from 'vitest';
import { models } from '../../../stdlib/catalogue/models.ts';
import { textEncoders, vaes } from '../../../stdlib/catalogue/encoders.ts';
import { buildUNet3D, families, familyOf, modelBuild, modelBuilds, ModelNotBuiltError, type UNet3DConfig, unbuiltModels, vaeSpatialStride } from '../../../stdlib/models/index.ts';
import { harness } from './helpers.ts';

describe('model registry', () => {
  it('covers every catalogue model: built, or named as not built', () => {
    for (const entry of models) expect(entry.name in modelBuilds || entry.name in unbuiltModels, entry.name).toBe(true);
    expect(() => modelBuild('svd')).toThrow(ModelNotBuiltError);
    expect(() => modelBuild('nope')).toThrow(/unknown model 'nope'/);
  });

  it('agrees with the catalogue on latents, strides, size multiples and text width', () => {
    for (const [name, build] of Object.entries(modelBuilds)) {
      const entry = models.find((m) => m.name === name)!;
      expect(entry.family).toBe(build.denoiser.family);
      expect(families[build.denoiser.family], name).toBeDefined();
      expect(build.denoiser.inChannels).toBe(entry.latentChannels);
      expect(build.vae.latentChannels).toBe(entry.latentChannels);
      expect(vaeSpatialStride(build.vae)).toBe(entry.spatialStride);
      expect(entry.sizeMultiple % (entry.spatialStride * familyOf(build.denoiser).sizeMultiple(build.denoiser))).toBe(0);
      expect(build.vae.name).toBe(entry.defaultVae);
      expect(build.text.name).toBe(entry.defaultTextEncoder);
      const text = textEncoders.find((t) => t.name === entry.defaultTextEncoder)!;
      expect(build.denoiser.contextDim).toBe(text.contextDim);
      expect(vaes.some((v) => v.name === entry.defaultVae)).toBe(true);
    }
  });

  it('builds the ModelScope UNet architecture with the same builder (shapes only)', () => {
    const h = harness({ trainable: true });
    const { b } = h.nn;
    const build = modelBuild('modelscope');
    const eps = buildUNet3D(h.nn, build.denoiser as UNet3DConfig, { x: b.input('x', [1, 4, 16, 32, 32]), timesteps: b.input('t', [1]), context: b.input('c', [1, 77, 1024]) });
    expect(eps.shape).toEqual([1, 4, 16, 32, 32]);
    expect(build.checkpointNames).toBe(false);
    const names = new Set(h.nn.params.list().map((p) => p.name));
    expect(names.has('fps_embedding.0.weight')).toBe(false);
    expect(h.nn.params.list().find((p) => p.name === 'input_blocks.1.1.proj_in.weight')!.shape).toEqual([320, 320, 1, 1]);
  });
});
