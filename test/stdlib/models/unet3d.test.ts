// The VideoCrafter2-family 3D UNet: the tiny config runs in onnxruntime; the full-size
// config builds (shapes only) with the real checkpoint's parameter names and size.
import { describe, expect, it } from 'vitest';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { buildUNet3D, temporalConvBlock, tinyVcConfig, type UNet3DConfig, videocrafter2Config } from '../../../stdlib/models/unet3d/index.ts';
import { ParameterStore } from '../../../stdlib/nn/index.ts';
import { allFinite, harness, initializerBytes, maxAbs, maxDiff } from './helpers.ts';

/** The tiny model with random (not zero) init of the layers the reference zero-initialises. */
const tinyRandom: UNet3DConfig = { ...tinyVcConfig, zeroInit: false };
const LATENT = [1, 4, 8, 8, 8];

function tinyUNet(config: UNet3DConfig, seed = 1, extra = false) {
  const h = harness({ seed, trainable: true });
  const x = h.input('x', LATENT, 11);
  const timesteps = h.inputData('timesteps', [1], Float32Array.of(420));
  const context = h.input('context', [1, 16, config.contextDim], 12);
  const extraTimeEmbedding = extra ? h.input('w_emb', [1, config.modelChannels], 13) : undefined;
  const eps = buildUNet3D(h.nn, config, { x, timesteps, context, fps: 8, extraTimeEmbedding });
  return { h, eps };
}

describe('tiny UNet3D (tiny_vc)', () => {
  it('maps [1,4,8,8,8] latents to a finite prediction of the same shape', async () => {
    const { h, eps } = tinyUNet(tinyRandom);
    expect(eps.shape).toEqual(LATENT);
    const [out] = await h.run([eps]);
    expect(out.length).toBe(LATENT.reduce((p, d) => p * d, 1));
    expect(allFinite(out)).toBe(true);
    expect(maxAbs(out)).toBeGreaterThan(1e-3);
  });

  it('predicts exactly zero at the reference init (zero-initialised output conv)', async () => {
    const { h, eps } = tinyUNet(tinyVcConfig);
    const [out] = await h.run([eps]);
    expect(maxAbs(out)).toBe(0);
  });

  it('is deterministic by seed', async () => {
    const run = async (seed: number) => {
      const { h, eps } = tinyUNet(tinyRandom, seed);
      return (await h.run([eps]))[0];
    };
    const first = await run(5);
    const again = await run(5);
    const other = await run(6);
    expect(maxDiff(first, again)).toBe(0);
    expect(maxDiff(first, other)).toBeGreaterThan(1e-3);
  });

  it('uses the extra time embedding (T2V-Turbo guidance)', async () => {
    const base = tinyUNet(tinyRandom);
    const withExtra = tinyUNet(tinyRandom, 1, true);
    const [a] = await base.h.run([base.eps]);
    const [b] = await withExtra.h.run([withExtra.eps]);
    expect(maxDiff(a, b)).toBeGreaterThan(1e-4);
  });

  it('mixes frames only through its temporal layers, and never mixes videos of a batch', async () => {
    const spatialOnly: UNet3DConfig = { ...tinyRandom, temporalConv: false, temporalAttention: false, initAttention: null };
    const shape = [2, 4, 3, 8, 8];
    const perVideo = 4 * 3 * 64;
    const run = async (config: UNet3DConfig, bump: boolean) => {
      const h = harness({ seed: 1, trainable: true });
      const x = h.input('x', shape, 11);
      // Change frame 0 of video 0 (channel 0 only).
      if (bump) for (let i = 0; i < 64; i++) (h.feeds[x.name] as Float32Array)[i] += 1;
      const eps = buildUNet3D(h.nn, config, { x, timesteps: h.inputData('t', [2], Float32Array.of(10, 500)), context: h.input('c', [2, 16, 64], 12), fps: 8 });
      return (await h.run([eps]))[0];
    };
    /** Largest change per (video, frame) of the output. */
    const changes = (a: Float32Array, b: Float32Array) =>
      [0, 1].map((v) => [0, 1, 2].map((f) => {
        let m = 0;
        for (let c = 0; c < 4; c++) for (let i = 0; i < 64; i++) {
          const k = v * perVideo + c * 192 + f * 64 + i;
          m = Math.max(m, Math.abs(a[k] - b[k]));
        }
        return m;
      }));
    for (const [config, temporal] of [[spatialOnly, false], [tinyRandom, true]] as const) {
      const d = changes(await run(config, false), await run(config, true));
      expect(d[0][0]).toBeGreaterThan(1e-4);
      expect(d[0][1] > 1e-6, `frame 1 changes: ${d[0][1]}`).toBe(temporal);
      expect(Math.max(...d[1])).toBe(0);
    }
  });

  it('tags every ResBlock and transformer as a remat segment', () => {
    const { h } = tinyUNet(tinyRandom);
    const segments = new Set(h.nn.b.graph.nodes.map((n) => n.segment).filter((s) => s !== undefined));
    for (const s of ['init_attn.0', 'input_blocks.1.0', 'input_blocks.3.0', 'input_blocks.3.1', 'input_blocks.3.2', 'middle_block.0', 'middle_block.1', 'middle_block.2', 'middle_block.3', 'output_blocks.0.1', 'output_blocks.3.0']) {
      expect(segments.has(s), s).toBe(true);
    }
  });

  it('rejects wrong shapes and a missing fps with the model scope in the message', () => {
    const h = harness({ trainable: true });
    const context = h.input('context', [1, 16, 64]);
    const t = h.input('t', [1]);
    expect(() => buildUNet3D(h.nn, tinyVcConfig, { x: h.input('bad', [1, 4, 8, 7, 7]), timesteps: t, context, fps: 8 })).toThrow(/multiples of 2/);
    expect(() => buildUNet3D(h.nn, tinyVcConfig, { x: h.input('x', LATENT), timesteps: t, context })).toThrow(/fps/);
    expect(() => buildUNet3D(h.nn, tinyVcConfig, { x: h.input('x2', LATENT), timesteps: t, context: h.input('c2', [1, 16, 32]), fps: 8 })).toThrow(ShapeError);
  });

  it('differentiates a loss with respect to one attention weight (checked along the gradient)', async () => {
    const { h, eps } = tinyUNet(tinyRandom);
    const { b } = h.nn;
    const name = 'input_blocks.3.1.transformer_blocks.0.attn2.to_k.weight';
    const weight = b.graph.inputs.find((v) => v.name === name);
    expect(weight, name).toBeDefined();
    const loss = b.reduceMean(b.mul(eps, eps), undefined, false);
    const grad = gradients(b.graph, loss, [weight!]).get(weight!)!;
    expect(grad.shape).toEqual(weight!.shape);
    const [l0, g] = await h.run([loss, grad]);
    expect(allFinite(g)).toBe(true);
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeGreaterThan(0);
    // Central difference along d = g / |g|: (f(w + s d) - f(w - s d)) / 2s ~ |g|.
    const w0 = h.feeds[name] as Float32Array;
    const step = 1e-2;
    const at = async (sign: number) => {
      h.feeds[name] = Float32Array.from(w0, (v, i) => v + (sign * step * g[i]) / norm);
      return (await h.run([loss]))[0][0];
    };
    const slope = ((await at(1)) - (await at(-1))) / (2 * step);
    h.feeds[name] = w0;
    expect(Math.abs(slope - norm) / norm).toBeLessThan(0.05);
    expect(Number.isFinite(l0[0])).toBe(true);
  });
});

describe('temporal conv block', () => {
  it('is the identity at init (zero last conv), and not with random init', async () => {
    for (const zeroInit of [true, false]) {
      const h = harness({ seed: 3 });
      const x = h.input('x', [1, 16, 6, 4, 4], 2);
      const y = temporalConvBlock(h.nn, { normGroups: 8, zeroInit }, 'temopral_conv', x);
      const [out] = await h.run([y]);
      const diff = maxDiff(out, h.feeds[x.name] as Float32Array);
      if (zeroInit) expect(diff).toBe(0);
      else expect(diff).toBeGreaterThan(1e-3);
    }
  });
});

describe('full-size VideoCrafter2 UNet (shapes only)', () => {
  // Parameters as graph inputs (trainable store): nothing is allocated.
  const h = harness({ trainable: true });
  const { b, params } = h.nn;
  const x = b.input('x', [1, 4, 16, 40, 64]);
  const eps = buildUNet3D(h.nn, videocrafter2Config, { x, timesteps: b.input('t', [1]), context: b.input('context', [1, 77, 1024]), fps: 24 });
  const shapes = new Map(params.list().map((p) => [p.name, p.shape]));

  it('builds a [1,4,16,40,64] prediction without allocating weights', () => {
    expect(eps.shape).toEqual([1, 4, 16, 40, 64]);
    expect(initializerBytes(b.graph)).toBeLessThan(1 << 20);
  });

  it('has about 1.4 B parameters (1,413,284,420)', () => {
    const { total } = params.count();
    expect(total).toBe(1_413_284_420);
  });

  it('names its parameters like the real checkpoint', () => {
    // Keys (without `model.diffusion_model.`) derived from the module attributes of
    // AILab-CVC/VideoCrafter lvdm/modules/networks/openaimodel3d.py (UNetModel, ResBlock,
    // TemporalConvBlock: note `temopral_conv`) and lvdm/modules/attention.py
    // (SpatialTransformer, TemporalTransformer, BasicTransformerBlock, CrossAttention),
    // with the sizes of configs/inference_t2v_512_v2.0.yaml.
    const expected: Record<string, number[]> = {
      'time_embed.0.weight': [1280, 320],
      'fps_embedding.2.weight': [1280, 1280],
      'input_blocks.0.0.weight': [320, 4, 3, 3],
      'init_attn.0.proj_in.weight': [512, 320, 1],
      'input_blocks.1.0.in_layers.0.weight': [320],
      'input_blocks.1.0.in_layers.2.weight': [320, 320, 3, 3],
      'input_blocks.1.0.emb_layers.1.weight': [320, 1280],
      'input_blocks.1.0.out_layers.3.weight': [320, 320, 3, 3],
      'input_blocks.1.0.temopral_conv.conv1.0.weight': [320],
      'input_blocks.1.0.temopral_conv.conv1.2.weight': [320, 320, 3, 1, 1],
      'input_blocks.1.0.temopral_conv.conv4.3.bias': [320],
      'input_blocks.1.1.proj_in.weight': [320, 320],
      'input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight': [320, 320],
      'input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight': [320, 1024],
      'input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight': [2560, 320],
      'input_blocks.1.1.transformer_blocks.0.ff.net.2.weight': [320, 1280],
      'input_blocks.1.2.transformer_blocks.0.attn2.to_k.weight': [320, 320],
      'input_blocks.3.0.op.weight': [320, 320, 3, 3],
      'input_blocks.4.0.skip_connection.weight': [640, 320, 1, 1],
      'middle_block.1.transformer_blocks.0.attn2.to_v.weight': [1280, 1024],
      'middle_block.3.out_layers.3.weight': [1280, 1280, 3, 3],
      'output_blocks.2.1.conv.weight': [1280, 1280, 3, 3], // level 3 has no attention: ResBlock then Upsample
      'output_blocks.5.3.conv.weight': [1280, 1280, 3, 3],
      'output_blocks.11.2.proj_out.weight': [320, 320],
      'out.2.weight': [4, 320, 3, 3],
    };
    for (const [key, shape] of Object.entries(expected)) expect(shapes.get(key), key).toEqual(shape);
    for (const name of shapes.keys()) expect(name.startsWith('model.') || name.includes('..')).toBe(false);
    expect(videocrafter2Config.checkpointPrefix).toBe('model.diffusion_model.');
  });
});

describe('parameter store without weights', () => {
  it('a frozen tiny UNet gets seeded initializers; a trainable one gets graph inputs', () => {
    for (const trainable of [false, true]) {
      const h = harness({ trainable });
      const x = h.input('x', LATENT);
      buildUNet3D(h.nn, tinyVcConfig, { x, timesteps: h.input('t', [1]), context: h.input('c', [1, 16, 64]), fps: 8 });
      const store: ParameterStore = h.nn.params;
      const inputs = h.nn.b.graph.inputs.length;
      expect(inputs > 3).toBe(trainable);
      expect(store.count().trainable > 0).toBe(trainable);
    }
  });
});
