// The tiny CLIP as inference sessions: caption -> (context tokens, pooled embedding) and
// video -> embedding (mean of its frames' image embeddings), for evaluation, tests and the
// UNet's text conditioning. Frames are fed as they come from the generator or a VAE decoder,
// in [-1, 1] (the tiny CLIP was trained on them without any further normalisation).
import * as ort from 'onnxruntime-node';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import type { ParameterStore } from '../../stdlib/nn/index.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/config.ts';
import { buildClipImageEncoder, buildClipTextEncoder } from '../../stdlib/models/clip/clip.ts';
import { tokenizeBatch } from '../../stdlib/models/clip/tiny-tokenizer.ts';
import { ORT_TRAIN_OPTIONS } from './trainer.ts';
import { BACKGROUND_COLOUR_NAMES, captionFor, COLOUR_NAMES, MOTIONS, SHAPES, type ShapeAttributes, type ShapesItem } from '../../stdlib/data/shapes.ts';

const L = tinyClipConfig.text.contextLength;
const W = tinyClipConfig.text.width;
const E = tinyClipConfig.embedDim;
const S = tinyClipConfig.vision.imageSize;

export interface TextFeatures {
  /** [N, L, width] per-token states (the UNet's context). */
  tokens: Float32Array;
  /** [N, embedDim] projected EOT states (not normalised). */
  pooled: Float32Array;
}

export class TinyClip {
  private constructor(
    private readonly text: ort.InferenceSession,
    private readonly image: ort.InferenceSession,
    readonly batch: number,
  ) {}

  /** Sessions over `store` (frozen weights); `batch` texts or frames per run. */
  static async create(store: ParameterStore, batch = 64, options: ort.InferenceSession.SessionOptions = ORT_TRAIN_OPTIONS): Promise<TinyClip> {
    const tg = new Graph('tiny_clip_text');
    const tb = new Builder(tg);
    const out = buildClipTextEncoder({ b: tb, params: store }, tinyClipConfig, tb.input('tokens', [batch, L], 'int64'));
    out.tokens.name = 'context';
    out.pooled!.name = 'pooled';
    tg.markOutput(out.tokens);
    tg.markOutput(out.pooled!);
    const ig = new Graph('tiny_clip_image');
    const ib = new Builder(ig);
    const img = buildClipImageEncoder({ b: ib, params: store }, tinyClipConfig, ib.input('images', [batch, 3, S, S]));
    img.pooled.name = 'pooled';
    ig.markOutput(img.pooled);
    store.assertComplete();
    const [text, image] = await Promise.all([ort.InferenceSession.create(emitModel(tg), options), ort.InferenceSession.create(emitModel(ig), options)]);
    return new TinyClip(text, image, batch);
  }

  async embedTexts(captions: readonly string[]): Promise<TextFeatures> {
    const tokens = new Float32Array(captions.length * L * W);
    const pooled = new Float32Array(captions.length * E);
    for (let at = 0; at < captions.length; at += this.batch) {
      const chunk = captions.slice(at, at + this.batch);
      const ids = tokenizeBatch([...chunk, ...Array(this.batch - chunk.length).fill('')], L);
      const r = await this.text.run({ tokens: new ort.Tensor('int64', ids, [this.batch, L]) });
      tokens.set((r.context.data as Float32Array).subarray(0, chunk.length * L * W), at * L * W);
      pooled.set((r.pooled.data as Float32Array).subarray(0, chunk.length * E), at * E);
    }
    return { tokens, pooled };
  }

  /** [N, 3, S, S] frames -> [N, embedDim] (not normalised). */
  async embedFrames(frames: Float32Array): Promise<Float32Array> {
    const size = 3 * S * S;
    const n = frames.length / size;
    const out = new Float32Array(n * E);
    for (let at = 0; at < n; at += this.batch) {
      const count = Math.min(this.batch, n - at);
      const chunk = new Float32Array(this.batch * size);
      chunk.set(frames.subarray(at * size, (at + count) * size));
      const r = await this.image.run({ images: new ort.Tensor('float32', chunk, [this.batch, 3, S, S]) });
      out.set((r.pooled.data as Float32Array).subarray(0, count * E), at * E);
    }
    return out;
  }

  /** Videos [T, 3, S, S] each -> [N, embedDim]: the mean of the L2-normalised frame embeddings. */
  async embedVideos(videos: readonly Float32Array[]): Promise<Float32Array> {
    const size = 3 * S * S;
    const frames = videos[0].length / size;
    const all = new Float32Array(videos.length * videos[0].length);
    videos.forEach((v, i) => all.set(v, i * v.length));
    const per = normalizeRows(await this.embedFrames(all), E);
    const out = new Float32Array(videos.length * E);
    for (let i = 0; i < videos.length; i++) for (let f = 0; f < frames; f++) for (let e = 0; e < E; e++) out[i * E + e] += per[(i * frames + f) * E + e] / frames;
    return out;
  }

  async release(): Promise<void> {
    await Promise.all([this.text.release(), this.image.release()]);
  }
}

/** Rows of an [N, D] matrix scaled to unit length. */
export function normalizeRows(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += d) {
    let n = 0;
    for (let j = 0; j < d; j++) n += x[i + j] * x[i + j];
    const s = 1 / Math.sqrt(n + 1e-12);
    for (let j = 0; j < d; j++) out[i + j] = x[i + j] * s;
  }
  return out;
}

/** Cosine similarity of row i of `a` and row j of `b` ([*, d] each). */
export function cosine(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < d; k++) {
    ab += a[i * d + k] * b[j * d + k];
    aa += a[i * d + k] ** 2;
    bb += b[j * d + k] ** 2;
  }
  return ab / Math.sqrt(aa * bb + 1e-12);
}

/** Retrieval and per-attribute accuracy on held-out videos. */
export async function evaluateClip(clip: TinyClip, videos: ShapesItem[]): Promise<Record<string, number>> {
  const emb = await clip.embedVideos(videos.map((v) => v.frames));
  const text = (await clip.embedTexts(videos.map((v) => v.caption))).pooled;
  // Top-1 among 16: each video against the captions of its group of 16.
  let top1 = 0;
  for (let g = 0; g + 16 <= videos.length; g += 16) {
    for (let i = g; i < g + 16; i++) {
      let best = -1;
      let bestJ = -1;
      for (let j = g; j < g + 16; j++) {
        const c = cosine(emb, i, text, j, E);
        if (c > best) [best, bestJ] = [c, j];
      }
      if (bestJ === i) top1++;
    }
  }
  const out: Record<string, number> = { top1_of_16: top1 / (Math.floor(videos.length / 16) * 16) };
  const attributes: [keyof ShapeAttributes, readonly string[]][] = [
    ['colour', COLOUR_NAMES],
    ['shape', SHAPES],
    ['motion', MOTIONS],
    ['background', BACKGROUND_COLOUR_NAMES],
  ];
  for (const [key, options] of attributes) {
    let right = 0;
    let total = 0;
    for (let i = 0; i < videos.length; i++) {
      const a = videos[i].attributes;
      if (key === 'background' && a.background.includes(' and ')) continue; // plain backgrounds only
      const captions = options.map((o) => captionFor({ ...a, [key]: o } as ShapeAttributes));
      const t = (await clip.embedTexts(captions)).pooled;
      let best = -Infinity;
      let bestJ = -1;
      captions.forEach((_, j) => {
        const c = cosine(emb, i, t, j, E);
        if (c > best) [best, bestJ] = [c, j];
      });
      if (options[bestJ] === a[key]) right++;
      total++;
    }
    out[`${key}_acc`] = right / total;
    out[`${key}_chance`] = 1 / options.length;
  }
  return out;
}
