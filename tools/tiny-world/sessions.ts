// The trained tiny VAE and UNet as inference sessions (frozen weights from a ParameterStore):
// video <-> scaled latents, and the UNet's epsilon prediction; plus a plain-JS DDIM sampler with
// classifier-free guidance over them. Used by train-unet.ts and the tests.
//
// Layouts: videos are [T, 3, H, W] in [-1, 1] (the generator's); latents are one video's
// [C, T, h, w] (the UNet's [B, C, T, h, w] without B), already multiplied by the scale factor.
import * as ort from 'onnxruntime-node';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { type NN, type ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import { ddimSchedule } from '../../stdlib/samplers/schedule.ts';
import { framesBack, framesFirst } from '../../stdlib/models/common.ts';
import { tinyVcConfig } from '../../stdlib/models/unet3d/config.ts';
import { buildUNet3D } from '../../stdlib/models/unet3d/unet.ts';
import type { VaeConfig } from '../../stdlib/models/vae/config.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../stdlib/models/vae/vae.ts';
import { FRAMES, SIZE, VIDEO_SIZE } from './data.ts';
import { ORT_TRAIN_OPTIONS } from './trainer.ts';

export const LATENT_CHANNELS = 4;
export const LATENT_SIZE = SIZE / 4;
/** One video's latents [C, T, h, w]. */
export const LATENT_VIDEO = LATENT_CHANNELS * FRAMES * LATENT_SIZE * LATENT_SIZE;
const CONTEXT_LENGTH = 16;
const CONTEXT_DIM = tinyVcConfig.contextDim;

type SessionOptions = ort.InferenceSession.SessionOptions;

async function session(graph: Graph, options: SessionOptions = ORT_TRAIN_OPTIONS): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(emitModel(graph), options);
}

export class TinyVae {
  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    readonly batch: number,
  ) {}

  /** `batch` videos per run; config.scaleFactor multiplies the latents. */
  static async create(store: ParameterStore, config: VaeConfig, batch = 4, options?: SessionOptions): Promise<TinyVae> {
    const eg = new Graph('tiny_vae_encode');
    const eb = new Builder(eg);
    const enn: NN = { b: eb, params: store };
    const { mean } = buildVaeEncoder(enn, config, eb.input('frames', [batch * FRAMES, 3, SIZE, SIZE]));
    const latents = framesBack(enn, eb.mul(mean, eb.scalar(config.scaleFactor)), batch);
    latents.name = 'latents';
    eg.markOutput(latents);
    const dg = new Graph('tiny_vae_decode');
    const db = new Builder(dg);
    const dnn: NN = { b: db, params: store };
    const z = db.input('latents', [batch, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]);
    const video = buildVaeDecoder(dnn, config, framesFirst(dnn, z), { scaled: true });
    video.name = 'video';
    dg.markOutput(video);
    store.assertComplete();
    const [encoder, decoder] = await Promise.all([session(eg, options), session(dg, options)]);
    return new TinyVae(encoder, decoder, batch);
  }

  /** Videos [T, 3, H, W] -> scaled latents [C, T, h, w] each, concatenated. */
  async encode(videos: readonly Float32Array[]): Promise<Float32Array> {
    const out = new Float32Array(videos.length * LATENT_VIDEO);
    for (let at = 0; at < videos.length; at += this.batch) {
      const count = Math.min(this.batch, videos.length - at);
      const frames = new Float32Array(this.batch * VIDEO_SIZE);
      for (let i = 0; i < count; i++) frames.set(videos[at + i], i * VIDEO_SIZE);
      const r = await this.encoder.run({ frames: new ort.Tensor('float32', frames, [this.batch * FRAMES, 3, SIZE, SIZE]) });
      out.set((r.latents.data as Float32Array).subarray(0, count * LATENT_VIDEO), at * LATENT_VIDEO);
    }
    return out;
  }

  /** Scaled latents (concatenated [C, T, h, w]) -> videos [T, 3, H, W]. */
  async decode(latents: Float32Array): Promise<Float32Array[]> {
    const n = latents.length / LATENT_VIDEO;
    const out: Float32Array[] = [];
    for (let at = 0; at < n; at += this.batch) {
      const count = Math.min(this.batch, n - at);
      const z = new Float32Array(this.batch * LATENT_VIDEO);
      z.set(latents.subarray(at * LATENT_VIDEO, (at + count) * LATENT_VIDEO));
      const r = await this.decoder.run({ latents: new ort.Tensor('float32', z, [this.batch, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]) });
      const v = r.video.data as Float32Array;
      for (let i = 0; i < count; i++) out.push(v.slice(i * VIDEO_SIZE, (i + 1) * VIDEO_SIZE));
    }
    return out;
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

export class TinyUNet {
  private constructor(
    private readonly s: ort.InferenceSession,
    readonly batch: number,
  ) {}

  static async create(store: ParameterStore, batch: number, options?: SessionOptions): Promise<TinyUNet> {
    const g = new Graph('tiny_vc_eps');
    const b = new Builder(g);
    const eps = buildUNet3D({ b, params: store }, tinyVcConfig, {
      x: b.input('x', [batch, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]),
      timesteps: b.input('t', [batch]),
      context: b.input('context', [batch, CONTEXT_LENGTH, CONTEXT_DIM]),
      fps: b.input('fps', [batch]),
    });
    eps.name = 'eps';
    g.markOutput(eps);
    store.assertComplete();
    return new TinyUNet(await session(g, options), batch);
  }

  /** eps for `batch` latents at timesteps `t` with text context [batch, L, D]. */
  async eps(x: Float32Array, t: readonly number[], context: Float32Array, fps: number): Promise<Float32Array> {
    const n = this.batch;
    const r = await this.s.run({
      x: new ort.Tensor('float32', x, [n, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]),
      t: new ort.Tensor('float32', Float32Array.from(t), [n]),
      context: new ort.Tensor('float32', context, [n, CONTEXT_LENGTH, CONTEXT_DIM]),
      fps: new ort.Tensor('float32', new Float32Array(n).fill(fps), [n]),
    });
    return r.eps.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.s.release();
  }
}

export interface SampleOptions {
  steps?: number;
  guidance?: number;
  seed?: number;
  fps: number;
}

/**
 * DDIM (eta 0) with classifier-free guidance: `unet` must have batch 2n (n conditional rows,
 * then n unconditional). `cond` and `uncond` are [n, L, D] contexts. Returns scaled latents.
 */
export async function sampleDdim(unet: TinyUNet, cond: Float32Array, uncond: Float32Array, options: SampleOptions): Promise<Float32Array> {
  const n = unet.batch / 2;
  const size = n * LATENT_VIDEO;
  const x = new Float32Array(size);
  new Rng(options.seed ?? 0, 'ddim').fillNormal(x);
  const context = new Float32Array(2 * cond.length);
  context.set(cond);
  context.set(uncond, cond.length);
  const w = options.guidance ?? 5;
  for (const p of ddimSchedule(options.steps ?? 25)) {
    const xx = new Float32Array(2 * size);
    xx.set(x);
    xx.set(x, size);
    const e = await unet.eps(xx, Array(2 * n).fill(p.t), context, options.fps);
    const sa = Math.sqrt(p.alphaT);
    const s1 = Math.sqrt(1 - p.alphaT);
    const sp = Math.sqrt(p.alphaPrev);
    const s1p = Math.sqrt(1 - p.alphaPrev);
    for (let i = 0; i < size; i++) {
      const eps = e[size + i] + w * (e[i] - e[size + i]);
      const x0 = (x[i] - s1 * eps) / sa;
      x[i] = sp * x0 + s1p * eps;
    }
  }
  return x;
}
