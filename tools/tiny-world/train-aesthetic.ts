// Train the tiny world's aesthetic head (`tiny_aesthetic` in stdlib/rewards/tiny.ts: an MLP
// 64 -> 32 -> GELU -> 1 on the L2-normalised tiny CLIP image embedding) to regress a
// tiny-world aesthetic score, with the committed tiny CLIP frozen: only the head trains.
//
// The tiny-world aesthetic score (0..10, per frame, like the real aesthetic predictor's scale).
// A "nice" tiny-world frame is a crisp, vivid shape that stands out from its background, is
// fully in frame, not too small, and sits near the centre; a washed-out, dark, grey, blurred,
// noisy or off-frame one is not. It is computed from the generator's ground truth (the shape's
// track, colour and background; the coverage mask from the clean pixels) plus the degradation
// applied, and from the degraded pixels:
//   c  contrast   = min(1, |fg - bg| / 0.7): RGB distance in [0, 1] units between the mean of
//                   the degraded pixels fully inside the shape and the mean of the degraded
//                   background in a ring r+2..r+6 px around it (local, so two-tone counts)
//   s  vividness  = min(1, chroma(fg) / 0.6), chroma = max - min of the fg RGB (desaturating,
//                   darkening and washing out all lower it)
//   k  sharpness  = exp(-blur sigma / 1.2 px)
//   n  cleanness  = exp(-noise std / 0.15) (noise std in [0, 1] pixel units)
//   v  in frame   = visible share of the shape's coverage (after a shift)
//   p  placement  = 1 - 0.35 * min(1, d)^2, d = distance of the visible centre to the frame
//                   centre / half the side
//   z  size       = min(1, 0.5 + 0.5 * r / 5 px)
//   score = 10 * c^0.6 * s^0.4 * k * n * v^1.5 * p * z
// A clean generator frame scores about 4..10 (by colours, background, size and place);
// degradations pull it towards 0. Training frames: shapes videos (dataset seed 1), one random
// frame each, clean 25% of the time, else 1-3 of blur / noise / desaturate / darken /
// wash-out / shift (part off-frame) at random strengths. Held-out: dataset seed 777.
//
// Frames reach the head exactly as the reward sees them: clipImageEmbedding of tiny.ts
// (frames in [-1, 1] as the tiny CLIP was trained, then the image tower, L2-normalised),
// computed once by a frozen session; the head is trained on those embeddings with the shared
// Trainer (MSE), and saved with the parameter names the reward builder asks for
// (`tiny_aesthetic.0.weight`, ...).
//
//   npx tsx tools/tiny-world/train-aesthetic.ts [--minutes 2] [--steps 60000] [--train 16000] [--out path]
import * as ort from 'onnxruntime-node';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { backgroundColours, BACKGROUND_COLOURS, COLOURS, type ShapesItem, shapesItem } from '../../stdlib/data/shapes.ts';
import { gelu, linear, type NN, type ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import { clipImageEmbedding } from '../../stdlib/rewards/tiny.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/config.ts';
import { FRAME_SIZE, FRAMES, HELDOUT_SEED, SIZE, TRAIN_SEED } from './data.ts';
import { Budget, ORT_TRAIN_OPTIONS, since, Trainer } from './trainer.ts';
import { tinyParameterStore } from '../../runtime/weights/tiny-world.ts';

const E = tinyClipConfig.embedDim;
const PLANE = SIZE * SIZE;

export interface Degradation {
  blur: number; // Gaussian sigma, px
  noise: number; // std in [0, 1] units
  desaturate: number; // 0..1 mix towards luminance
  darken: number; // 0..1: values x (1 - darken)
  washout: number; // 0..1 mix towards light grey
  dx: number; // shift, px
  dy: number;
}

export const CLEAN: Degradation = { blur: 0, noise: 0, desaturate: 0, darken: 0, washout: 0, dx: 0, dy: 0 };

/** A random degradation: clean with probability `cleanShare`, else 1-3 kinds at random strengths. */
export function randomDegradation(rng: Rng, cleanShare = 0.25): Degradation {
  const d = { ...CLEAN };
  if (rng.uniform() < cleanShare) return d;
  const kinds = 1 + rng.int(3);
  for (let i = 0; i < kinds; i++) {
    switch (rng.int(6)) {
      case 0: d.blur = rng.uniformIn(0.5, 2.5); break;
      case 1: d.noise = rng.uniformIn(0.03, 0.35); break;
      case 2: d.desaturate = rng.uniformIn(0.3, 1); break;
      case 3: d.darken = rng.uniformIn(0.3, 0.85); break;
      case 4: d.washout = rng.uniformIn(0.3, 0.9); break;
      case 5: {
        const m = rng.uniformIn(6, 16) * (rng.uniform() < 0.5 ? -1 : 1);
        if (rng.uniform() < 0.5) d.dx = Math.round(m); else d.dy = Math.round(m);
        break;
      }
    }
  }
  return d;
}

function blurPlane(p: Float32Array, sigma: number): Float32Array {
  const rad = Math.ceil(2.5 * sigma);
  const k: number[] = [];
  let sum = 0;
  for (let i = -rad; i <= rad; i++) { const w = Math.exp(-(i * i) / (2 * sigma * sigma)); k.push(w); sum += w; }
  const tmp = new Float32Array(PLANE);
  const out = new Float32Array(PLANE);
  const at = (i: number) => Math.min(SIZE - 1, Math.max(0, i));
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    let s = 0;
    for (let i = -rad; i <= rad; i++) s += k[i + rad] * p[y * SIZE + at(x + i)];
    tmp[y * SIZE + x] = s / sum;
  }
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    let s = 0;
    for (let i = -rad; i <= rad; i++) s += k[i + rad] * tmp[at(y + i) * SIZE + x];
    out[y * SIZE + x] = s / sum;
  }
  return out;
}

/** Shift a plane by (dx, dy) px, replicating the edge into the revealed part (out-of-frame: `fill`). */
function shiftPlane(p: Float32Array, dx: number, dy: number, fill?: number): Float32Array {
  const out = new Float32Array(PLANE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    const sx = x - dx, sy = y - dy;
    const inside = sx >= 0 && sx < SIZE && sy >= 0 && sy < SIZE;
    out[y * SIZE + x] = inside || fill === undefined ? p[Math.min(SIZE - 1, Math.max(0, sy)) * SIZE + Math.min(SIZE - 1, Math.max(0, sx))] : fill;
  }
  return out;
}

const unit = (rgb: readonly number[]) => rgb.map((v) => v / 255);

/** Frame `t` of `item` degraded by `d` ([3, 32, 32] in [-1, 1]) and its aesthetic score (0..10). */
export function degradedFrame(item: ShapesItem, t: number, d: Degradation, rng: Rng): { frame: Float32Array; score: number } {
  const clean = item.frames.subarray(t * FRAME_SIZE, (t + 1) * FRAME_SIZE);
  const fgRef = unit(COLOURS[item.attributes.colour]);
  const [topName, bottomName] = backgroundColours(item.attributes.background);
  const top = unit(BACKGROUND_COLOURS[topName]);
  const bottom = unit(BACKGROUND_COLOURS[bottomName]);
  // Coverage of the shape from the clean pixels (each row's background is known).
  let mask: Float32Array = new Float32Array(PLANE);
  for (let y = 0; y < SIZE; y++) {
    const bg = y < SIZE / 2 ? top : bottom;
    const diff = fgRef.map((f, c) => f - bg[c]);
    const dd = diff.reduce((a, v) => a + v * v, 0);
    for (let x = 0; x < SIZE; x++) {
      let dot = 0;
      for (let c = 0; c < 3; c++) dot += ((clean[c * PLANE + y * SIZE + x] + 1) / 2 - bg[c]) * diff[c];
      mask[y * SIZE + x] = Math.min(1, Math.max(0, dot / dd));
    }
  }
  const fullCover = mask.reduce((a, v) => a + v, 0);
  // Pixels in [0, 1], degraded: shift, blur, desaturate, darken, wash out, noise.
  let planes: Float32Array[] = [0, 1, 2].map((c) => Float32Array.from(clean.subarray(c * PLANE, (c + 1) * PLANE), (v) => (v + 1) / 2));
  if (d.dx || d.dy) {
    planes = planes.map((p) => shiftPlane(p, d.dx, d.dy));
    mask = shiftPlane(mask, d.dx, d.dy, 0);
  }
  if (d.blur > 0) planes = planes.map((p) => blurPlane(p, d.blur));
  for (let i = 0; i < PLANE; i++) {
    const lum = 0.299 * planes[0][i] + 0.587 * planes[1][i] + 0.114 * planes[2][i];
    for (let c = 0; c < 3; c++) {
      let v = planes[c][i];
      v = v + (lum - v) * d.desaturate;
      v = v * (1 - d.darken);
      v = v + (0.8 - v) * d.washout;
      planes[c][i] = v;
    }
  }
  if (d.noise > 0) for (const p of planes) for (let i = 0; i < PLANE; i++) p[i] += rng.normal(0, d.noise);
  const frame = new Float32Array(FRAME_SIZE);
  for (let c = 0; c < 3; c++) for (let i = 0; i < PLANE; i++) frame[c * PLANE + i] = Math.min(1, Math.max(0, planes[c][i])) * 2 - 1;

  // Score from the degraded pixels (noise averages out) and the ground truth.
  const { cx: cx0, cy: cy0, r } = item.track[t];
  const cx = cx0 + d.dx, cy = cy0 + d.dy;
  const fg = [0, 0, 0], bg = [0, 0, 0];
  let nf = 0, nb = 0, visible = 0, mx = 0, my = 0;
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    const i = y * SIZE + x;
    const m = mask[i];
    visible += m;
    mx += m * (x + 0.5);
    my += m * (y + 0.5);
    const dist = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
    if (m >= 0.99) { for (let c = 0; c < 3; c++) fg[c] += Math.min(1, Math.max(0, planes[c][i])); nf++; }
    else if (m === 0 && dist > r + 2 && dist < r + 6) { for (let c = 0; c < 3; c++) bg[c] += Math.min(1, Math.max(0, planes[c][i])); nb++; }
  }
  if (nf === 0 || nb === 0 || visible < 1e-3) return { frame, score: 0 };
  for (let c = 0; c < 3; c++) { fg[c] /= nf; bg[c] /= nb; }
  const contrast = Math.min(1, Math.hypot(fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]) / 0.7);
  const vivid = Math.min(1, (Math.max(...fg) - Math.min(...fg)) / 0.6);
  const sharp = Math.exp(-d.blur / 1.2);
  const cleanness = Math.exp(-d.noise / 0.15);
  const inFrame = Math.min(1, visible / fullCover);
  const dc = Math.min(1, Math.hypot(mx / visible - SIZE / 2, my / visible - SIZE / 2) / (SIZE / 2));
  const place = 1 - 0.35 * dc * dc;
  const size = Math.min(1, 0.5 + (0.5 * r) / 5);
  const score = 10 * contrast ** 0.6 * vivid ** 0.4 * sharp * cleanness * inFrame ** 1.5 * place * size;
  return { frame, score };
}

/** `count` scored frames: one random frame of each of `count` videos of dataset `seed`, degraded at random. */
export function aestheticSet(seed: number, count: number, start = 0, cleanShare = 0.25): { frames: Float32Array; scores: Float32Array } {
  const rng = new Rng(seed, 'tiny-aesthetic-data');
  const frames = new Float32Array(count * FRAME_SIZE);
  const scores = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const item = shapesItem(seed, start + i);
    const { frame, score } = degradedFrame(item, rng.int(FRAMES), randomDegradation(rng, cleanShare), rng);
    frames.set(frame, i * FRAME_SIZE);
    scores[i] = score;
  }
  return { frames, scores };
}

/** The aesthetic head exactly as stdlib/rewards/tiny.ts builds it (names tiny_aesthetic.*), on [N, E] embeddings -> [N]. */
export function aestheticHead(nn: NN, embedding: ReturnType<Builder['input']>): ReturnType<Builder['input']> {
  const { b } = nn;
  const score = b.within('tiny_aesthetic', () => linear(nn, '2', gelu(b, linear(nn, '0', embedding, { out: 32 })), { out: 1 }));
  return b.reshape(score, [embedding.shape[0]]);
}

/** A frozen session: frames [N, 3, 32, 32] in [-1, 1] -> the reward's L2-normalised CLIP embeddings [N, E]. */
export async function embeddingSession(clip: ParameterStore, batch: number): Promise<(frames: Float32Array) => Promise<Float32Array>> {
  const g = new Graph('tiny_aesthetic_embed');
  const b = new Builder(g);
  const e = clipImageEmbedding({ b, params: clip }, tinyClipConfig, b.input('frames', [batch, 3, SIZE, SIZE]));
  e.name = 'embedding';
  g.markOutput(e);
  clip.assertComplete();
  const session = await ort.InferenceSession.create(emitModel(g), ORT_TRAIN_OPTIONS);
  return async (frames) => {
    const n = frames.length / FRAME_SIZE;
    const out = new Float32Array(n * E);
    for (let at = 0; at < n; at += batch) {
      const count = Math.min(batch, n - at);
      const chunk = new Float32Array(batch * FRAME_SIZE);
      chunk.set(frames.subarray(at * FRAME_SIZE, (at + count) * FRAME_SIZE));
      const r = await session.run({ frames: new ort.Tensor('float32', chunk, [batch, 3, SIZE, SIZE]) });
      out.set((r.embedding.data as Float32Array).subarray(0, count * E), at * E);
    }
    return out;
  };
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rank = (x: ArrayLike<number>) => {
    const idx = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i] - x[j]);
    const r = new Float64Array(x.length);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
      for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = rank(a), rb = rank(b);
  const n = ra.length;
  const mean = (n - 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) { num += (ra[i] - mean) * (rb[i] - mean); da += (ra[i] - mean) ** 2; db += (rb[i] - mean) ** 2; }
  return num / Math.sqrt(da * db);
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      minutes: { type: 'string', default: '2' },
      steps: { type: 'string', default: '60000' },
      train: { type: 'string', default: '16000' },
      heldout: { type: 'string', default: '1024' },
      batch: { type: 'string', default: '128' },
      lr: { type: 'string', default: '1e-2' },
      out: { type: 'string', default: 'stdlib/weights/tiny/tiny_aesthetic.safetensors' },
    },
  });
  const t0 = performance.now();
  const B = Number(args.batch);
  const N = Number(args.train);
  const embed = await embeddingSession(await tinyParameterStore('clip'), 256);
  const train = aestheticSet(TRAIN_SEED, N);
  const held = aestheticSet(HELDOUT_SEED, Number(args.heldout));
  const trainEmb = await embed(train.frames);
  const heldEmb = await embed(held.frames);
  const stats = (s: Float32Array) => {
    const v = [...s].sort((x, y) => x - y);
    return `mean ${(v.reduce((a, x) => a + x, 0) / v.length).toFixed(2)}, p10 ${v[Math.floor(v.length * 0.1)].toFixed(2)}, median ${v[v.length >> 1].toFixed(2)}, p90 ${v[Math.floor(v.length * 0.9)].toFixed(2)}`;
  };
  console.log(`data: ${N} train / ${held.scores.length} held-out frames scored and embedded in ${since(t0)} s; train scores ${stats(train.scores)}`);

  const trainer = await Trainer.create({
    name: 'aesthetic',
    seed: 5,
    weightDecay: 0.01,
    build: (nn) => {
      const { b } = nn;
      const emb = b.input('embedding', [B, E]);
      const target = b.input('target', [B]);
      const d = b.sub(aestheticHead(nn, emb), target);
      const loss = b.reduceMean(b.mul(d, d), undefined, false);
      return { loss, metrics: { mae: b.reduceMean(b.abs(d), undefined, false) } };
    },
  });
  const budget = new Budget(Number(args.minutes) * 60, Number(args.steps));
  const rng = new Rng(11, 'train-aesthetic');
  const embedding = new Float32Array(B * E);
  const target = new Float32Array(B);
  let step = 0;
  let ema = 0;
  for (; !budget.done(step); step++) {
    for (let i = 0; i < B; i++) {
      const j = rng.int(N);
      embedding.set(trainEmb.subarray(j * E, (j + 1) * E), i * E);
      target[i] = train.scores[j];
    }
    const r = await trainer.step({ embedding, target }, budget.lr(step, Number(args.lr), 100));
    ema = step === 0 ? r.metrics.mae : 0.99 * ema + 0.01 * r.metrics.mae;
    if (step % 2000 === 0) console.log(`step ${step} mse ${r.loss.toFixed(3)} mae(ema) ${ema.toFixed(3)} (${budget.elapsed.toFixed(0)} s)`);
  }
  const trainSeconds = budget.elapsed;

  // Held-out: the head in plain TypeScript on the frozen embeddings.
  const p = trainer.parameters();
  const w0 = p.get('tiny_aesthetic.0.weight')!, b0 = p.get('tiny_aesthetic.0.bias')!, w2 = p.get('tiny_aesthetic.2.weight')!, b2 = p.get('tiny_aesthetic.2.bias')!;
  const predict = (emb: Float32Array, i: number) => {
    let y = b2[0];
    for (let h = 0; h < 32; h++) {
      let s = b0[h];
      for (let e = 0; e < E; e++) s += w0[h * E + e] * emb[i * E + e];
      y += w2[h] * 0.5 * s * (1 + erf(s / Math.SQRT2));
    }
    return y;
  };
  const pred = Float32Array.from(held.scores, (_, i) => predict(heldEmb, i));
  let mae = 0, baseline = 0;
  const meanTrain = train.scores.reduce((a, x) => a + x, 0) / N;
  for (let i = 0; i < pred.length; i++) { mae += Math.abs(pred[i] - held.scores[i]); baseline += Math.abs(meanTrain - held.scores[i]); }
  mae /= pred.length;
  baseline /= pred.length;
  const rho = spearman(pred, held.scores);
  console.log(`aesthetic: ${step} steps in ${trainSeconds.toFixed(0)} s; held-out (${pred.length} frames) MAE ${mae.toFixed(3)} (predicting the mean: ${baseline.toFixed(3)}), Spearman ${rho.toFixed(3)}; held-out scores ${stats(held.scores)}`);
  await trainer.save(args.out!, {
    model: 'tiny_aesthetic',
    script: 'tools/tiny-world/train-aesthetic.ts',
    head: '64 -> 32 -> GELU -> 1 on the L2-normalised tiny CLIP image embedding (frames in [-1, 1], as stdlib/rewards/tiny.ts)',
    target: 'tiny-world aesthetic score 0..10 (see the script)',
    steps: String(step),
    train_frames: String(N),
    heldout_mae: mae.toFixed(3),
    heldout_spearman: rho.toFixed(3),
    heldout_mae_of_mean: baseline.toFixed(3),
    train_seconds: trainSeconds.toFixed(0),
  });
  console.log(`wrote ${args.out} (total ${since(t0)} s)`);
  await trainer.release();
}

/** erf (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7), for the exact GELU. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
