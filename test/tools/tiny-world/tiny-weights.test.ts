// The tiny world's trained weights (stdlib/weights/tiny/): they load into the tiny models with
// no missing or unexpected keys, and the models do what they were trained for on held-out
// shapes videos (thresholds: the values train-*.ts measured, minus a margin; see README.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ort from 'onnxruntime-node';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { captionFor, COLOUR_NAMES } from '../../../stdlib/data/shapes.ts';
import { tinyClipConfig } from '../../../stdlib/models/clip/config.ts';
import { buildClipImageEncoder, buildClipTextEncoder } from '../../../stdlib/models/clip/clip.ts';
import { tinyVcConfig } from '../../../stdlib/models/unet3d/config.ts';
import { buildUNet3D } from '../../../stdlib/models/unet3d/unet.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../../stdlib/models/vae/vae.ts';
import { cosine, TinyClip } from '../../../tools/tiny-world/clip-embed.ts';
import { HELDOUT_SEED, videoPool } from '../../../tools/tiny-world/data.ts';
import { TinyUNet, TinyVae } from '../../../tools/tiny-world/sessions.ts';
import { psnr } from '../../../tools/tiny-world/trainer.ts';
import { heldoutEpsLoss } from '../../../tools/tiny-world/unet-eval.ts';
import { openTinyWeights, TINY_FPS, TINY_VAE_SCALE_FACTOR, tinyParameterStore, tinyVaeTrainedConfig } from '../../../runtime/weights/tiny-world.ts';

// Session creation dominates these tests; basic optimisation builds sessions faster.
const FAST: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' };

/** Build a model into a throwaway graph (the store records what it asked for). */
function graphWith(build: (b: Builder) => void): void {
  build(new Builder(new Graph('load')));
}

describe('tiny weights load into the tiny models', () => {
  it('VAE: every encoder and decoder parameter, nothing else', async () => {
    const store = await tinyParameterStore('vae');
    graphWith((b) => {
      const { mean } = buildVaeEncoder({ b, params: store }, tinyVaeTrainedConfig, b.input('x', [1, 3, 32, 32]));
      buildVaeDecoder({ b, params: store }, tinyVaeTrainedConfig, mean);
    });
    expect(store.problems()).toEqual([]);
    expect(store.unusedKeys()).toEqual([]);
    expect(store.list().every((p) => p.source === 'checkpoint')).toBe(true);
    const weights = await openTinyWeights('vae');
    expect(Number(weights.metadata.scale_factor)).toBeCloseTo(TINY_VAE_SCALE_FACTOR, 4);
  });

  it('CLIP: text and image towers; the only extra key is the training temperature', async () => {
    const store = await tinyParameterStore('clip');
    graphWith((b) => {
      buildClipTextEncoder({ b, params: store }, tinyClipConfig, b.input('t', [1, 16], 'int64'));
      buildClipImageEncoder({ b, params: store }, tinyClipConfig, b.input('i', [1, 3, 32, 32]));
    });
    expect(store.problems()).toEqual([]);
    expect(store.unusedKeys()).toEqual(['logit_scale']);
  });

  it('UNet: every tiny_vc parameter, nothing else (stored as float16, loaded as float32)', async () => {
    const store = await tinyParameterStore('unet');
    graphWith((b) => {
      buildUNet3D({ b, params: store }, tinyVcConfig, {
        x: b.input('x', [1, 4, 8, 8, 8]),
        timesteps: b.input('t', [1]),
        context: b.input('c', [1, 16, 64]),
        fps: TINY_FPS,
      });
    });
    expect(store.problems()).toEqual([]);
    expect(store.unusedKeys()).toEqual([]);
    expect(store.initialValue('out.2.weight')).toBeInstanceOf(Float32Array);
  });
});

describe('trained tiny models on held-out shapes videos', () => {
  const videos = videoPool(HELDOUT_SEED, 32);
  let vae: TinyVae;
  let clip: TinyClip;
  beforeAll(async () => {
    vae = await TinyVae.create(await tinyParameterStore('vae'), tinyVaeTrainedConfig, 4, FAST);
    clip = await TinyClip.create(await tinyParameterStore('clip'), 32, FAST);
  });
  afterAll(async () => {
    await vae?.release();
    await clip?.release();
  });

  it('the VAE reconstructs held-out videos (PSNR above the measured value minus a margin)', async () => {
    const some = videos.slice(0, 4);
    const latents = await vae.encode(some.map((v) => v.frames));
    const back = await vae.decode(latents);
    const mean = back.reduce((s, r, i) => s + psnr(r, some[i].frames), 0) / some.length;
    expect(mean).toBeGreaterThan(PSNR_THRESHOLD);
  });

  it('CLIP ranks the true caption above the same caption with another colour', async () => {
    const emb = await clip.embedVideos(videos.map((v) => v.frames));
    const wrong = videos.map((v, i) => captionFor({ ...v.attributes, colour: COLOUR_NAMES[(COLOUR_NAMES.indexOf(v.attributes.colour) + 1 + (i % 7)) % 8] }));
    const right = (await clip.embedTexts(videos.map((v) => v.caption))).pooled;
    const other = (await clip.embedTexts(wrong)).pooled;
    const wins = videos.filter((_, i) => cosine(emb, i, right, i, 64) > cosine(emb, i, other, i, 64)).length;
    expect(wins / videos.length).toBeGreaterThan(0.9);
  });

  it("the UNet's epsilon loss is well below predicting zeros", async () => {
    const unet = await TinyUNet.create(await tinyParameterStore('unet'), 4, FAST);
    try {
      const r = await heldoutEpsLoss(unet, vae, clip, videos.slice(0, 4), TINY_FPS, [100, 500, 900]);
      expect(r.zeros).toBeGreaterThan(0.9);
      expect(r.loss).toBeLessThan(UNET_THRESHOLD);
    } finally {
      await unet.release();
    }
  });
});

/** Measured 23.96 dB on these 4 videos (24.36 dB over the 32 of train-vae.ts); margin 1.5 dB. */
const PSNR_THRESHOLD = 22.5;
/** Measured 0.050 on these 4 videos at t = 100, 500, 900 (0.089, 0.037, 0.023); zeros give 1.00. */
const UNET_THRESHOLD = 0.2;
