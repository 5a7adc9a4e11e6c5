// Analytic differentiable rewards on decoded frames [N, 3, H, W] in [-1, 1] (the VAE's range).
// Pixels are mapped to [0, 1] by x / 2 + 0.5 and clamped, as the reward models of
// mihirp1998/VADER expect (the catalogue's preprocess `none`). Image rewards return one value
// per frame [N]; video rewards take the frames of each video in order ([B * F, 3, H, W],
// video-major) and return one value per video [B].
// Square roots get a small epsilon (STD_EPS) inside so their gradient stays finite at 0.
import type { Builder } from '../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';

/** Rec. 601 luma weights. */
export const LUMA = [0.299, 0.587, 0.114] as const;
export const STD_EPS = 1e-8;
/** Hasler and Suesstrunk (2003): C = sigma_rgyb + 0.3 mu_rgyb. */
export const COLOURFULNESS_MU_WEIGHT = 0.3;

function checkFrames(b: Builder, frames: Value, what: string): void {
  if (frames.rank !== 4 || frames.shape[1] !== 3) {
    throw new ShapeError(`in ${b.scope || 'reward'}: ${what} expects frames [N, 3, H, W], got ${formatShape(frames.shape)}`);
  }
}

/** x / 2 + 0.5, clamped to [0, 1]. */
export function toUnitRange(b: Builder, frames: Value): Value {
  return b.clip(b.add(b.mul(frames, b.scalarLike(frames, 0.5)), b.scalarLike(frames, 0.5)), 0, 1);
}

/** The three channels as [N, 1, H, W] each. */
function channels(b: Builder, x: Value): [Value, Value, Value] {
  const [r, g, bl] = b.split(x, 1, [1, 1, 1]);
  return [r, g, bl];
}

function luma(b: Builder, x: Value): Value {
  const [r, g, bl] = channels(b, x);
  return b.add(b.add(b.mul(r, b.scalarLike(r, LUMA[0])), b.mul(g, b.scalarLike(g, LUMA[1]))), b.mul(bl, b.scalarLike(bl, LUMA[2])));
}

/** Mean over every axis but the first: [N, ...] -> [N]. */
function perItemMean(b: Builder, x: Value): Value {
  return b.reduceMean(x, Array.from({ length: x.rank - 1 }, (_, i) => i + 1), false);
}

function perItemStd(b: Builder, x: Value): Value {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  const centred = b.sub(x, b.reduceMean(x, axes, true));
  return b.sqrt(b.add(b.reduceMean(b.mul(centred, centred), axes, false), b.scalarLike(x, STD_EPS)));
}

/** Mean luma per frame, in [0, 1]. */
export function brightness(b: Builder, frames: Value): Value {
  checkFrames(b, frames, 'brightness');
  return b.within('brightness', () => perItemMean(b, luma(b, toUnitRange(b, frames))));
}

/** Mean of max(rgb) - min(rgb) per frame (HSV-style chroma). */
export function saturation(b: Builder, frames: Value): Value {
  checkFrames(b, frames, 'saturation');
  return b.within('saturation', () => {
    const x = toUnitRange(b, frames);
    return perItemMean(b, b.sub(b.reduceMax(x, [1], true), b.op('ReduceMin', [x], { axes: [1], keepdims: 1 })));
  });
}

/** Standard deviation of luma per frame (population std, sqrt(var + 1e-8)). */
export function contrast(b: Builder, frames: Value): Value {
  checkFrames(b, frames, 'contrast');
  return b.within('contrast', () => perItemStd(b, luma(b, toUnitRange(b, frames))));
}

/**
 * Hasler-Suesstrunk colourfulness on [0, 1] pixels: rg = R - G, yb = (R + G) / 2 - B,
 * sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2) (epsilons inside the roots).
 */
export function colourfulness(b: Builder, frames: Value): Value {
  checkFrames(b, frames, 'colourfulness');
  return b.within('colourfulness', () => {
    const [r, g, bl] = channels(b, toUnitRange(b, frames));
    const rg = b.sub(r, g);
    const yb = b.sub(b.mul(b.add(r, g), b.scalarLike(r, 0.5)), bl);
    const eps = b.scalarLike(r, STD_EPS);
    const variance = (v: Value) => {
      const c = b.sub(v, b.reduceMean(v, [1, 2, 3], true));
      return b.reduceMean(b.mul(c, c), [1, 2, 3], false);
    };
    const mean = (v: Value) => perItemMean(b, v);
    const sigma = b.sqrt(b.add(b.add(variance(rg), variance(yb)), eps));
    const mrg = mean(rg);
    const myb = mean(yb);
    const mu = b.sqrt(b.add(b.add(b.mul(mrg, mrg), b.mul(myb, myb)), eps));
    return b.add(sigma, b.mul(mu, b.scalarLike(mu, COLOURFULNESS_MU_WEIGHT)));
  });
}

/**
 * -mean((x[t+1] - x[t])^2) per video over consecutive frames of [0, 1] pixels. `framesPerVideo`
 * splits the batch axis: [B * F, 3, H, W] video-major (all frames of video 0 first), F >= 2.
 */
export function temporalSmoothness(b: Builder, frames: Value, framesPerVideo: number): Value {
  checkFrames(b, frames, 'temporal_smoothness');
  const [n, c, h, w] = frames.shape;
  if (framesPerVideo < 2 || n % framesPerVideo !== 0) {
    throw new ShapeError(`in ${b.scope || 'reward'}: temporal_smoothness needs at least 2 frames per video and N divisible by them; got N = ${n}, ${framesPerVideo} per video`);
  }
  return b.within('temporal_smoothness', () => {
    const videos = b.reshape(toUnitRange(b, frames), [n / framesPerVideo, framesPerVideo, c, h, w]);
    const diff = b.sub(b.slice(videos, 1, 1, framesPerVideo), b.slice(videos, 1, 0, framesPerVideo - 1));
    return b.neg(b.reduceMean(b.mul(diff, diff), [1, 2, 3, 4], false));
  });
}

export type AnalyticReward = 'brightness' | 'saturation' | 'contrast' | 'colourfulness' | 'temporal_smoothness';
export const analyticRewards: readonly AnalyticReward[] = ['brightness', 'saturation', 'contrast', 'colourfulness', 'temporal_smoothness'];

// ------------------------------------------------------------------ JS references (tests)

/** Per-frame/per-video reference values of the analytic rewards (float64). */
export function analyticReference(name: AnalyticReward, data: ArrayLike<number>, shape: readonly number[], framesPerVideo = 1): number[] {
  const [n, , h, w] = shape;
  const hw = h * w;
  const px = (i: number, ch: number, p: number) => Math.min(1, Math.max(0, data[(i * 3 + ch) * hw + p] / 2 + 0.5));
  const stat = (vals: number[]) => {
    const m = vals.reduce((a, v) => a + v, 0) / vals.length;
    return { mean: m, variance: vals.reduce((a, v) => a + (v - m) ** 2, 0) / vals.length };
  };
  const out: number[] = [];
  if (name === 'temporal_smoothness') {
    const videos = n / framesPerVideo;
    for (let v = 0; v < videos; v++) {
      let sum = 0;
      let count = 0;
      for (let f = 0; f + 1 < framesPerVideo; f++) {
        for (let ch = 0; ch < 3; ch++) {
          for (let p = 0; p < hw; p++) {
            const d = px(v * framesPerVideo + f + 1, ch, p) - px(v * framesPerVideo + f, ch, p);
            sum += d * d;
            count++;
          }
        }
      }
      out.push(-sum / count);
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    const lum: number[] = [];
    const sat: number[] = [];
    const rg: number[] = [];
    const yb: number[] = [];
    for (let p = 0; p < hw; p++) {
      const r = px(i, 0, p);
      const g = px(i, 1, p);
      const bl = px(i, 2, p);
      lum.push(LUMA[0] * r + LUMA[1] * g + LUMA[2] * bl);
      sat.push(Math.max(r, g, bl) - Math.min(r, g, bl));
      rg.push(r - g);
      yb.push((r + g) / 2 - bl);
    }
    if (name === 'brightness') out.push(stat(lum).mean);
    else if (name === 'saturation') out.push(stat(sat).mean);
    else if (name === 'contrast') out.push(Math.sqrt(stat(lum).variance + STD_EPS));
    else {
      const a = stat(rg);
      const c = stat(yb);
      out.push(Math.sqrt(a.variance + c.variance + STD_EPS) + COLOURFULNESS_MU_WEIGHT * Math.sqrt(a.mean ** 2 + c.mean ** 2 + STD_EPS));
    }
  }
  return out;
}
