// The reference preprocessing of the learned rewards: decoded frames [N, 3, H, W] in [-1, 1] ->
// a reward network's input [N, 3, S, S], as one differentiable graph of plain ONNX ops (Mul,
// Add, Clip, MatMul, Sub, Div). The steps are those the reward code of the reference
// repositories runs on the decoded pixels (with gradients through them), not the networks' own
// image processors, which those reward functions bypass:
//
// | reward    | code (public path)                                       | resize to 224                           | filter   | antialias | crop       | x255 .. /255 | mean/std |
// |-----------|----------------------------------------------------------|-----------------------------------------|----------|-----------|------------|--------------|----------|
// | aesthetic | mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py aesthetic_loss_fn | (224, 224), aspect not kept | bilinear | yes (1)   | -          | -            | CLIP     |
// | hps       | same file, hps_loss_fn (aesthetic_hps_loss_fn feeds HPS the aesthetic's input)       | (224, 224), aspect not kept | bilinear | yes (1)   | -          | -            | CLIP     |
// | pickscore | same file, pick_score_loss_fn                            | short side 224, long = long * 224 // short | bicubic  | yes       | centre (2) | yes (3)      | CLIP     |
// | actpred   | same file, actpred_loss_fn.preprocess_img                | (224, 224), aspect not kept             | bilinear | yes       | -          | -            | ImageNet |
// | viclip    | Ji4chenLi/t2v-turbo reward_fn/reward_fn.py ResizeCropMinSize + ViCLIP_NORMALIZE | short side 224, long = round(long * 224 / short) | bicubic | yes (1) | random (4) | - | ImageNet |
//
// Every reward first maps x -> x / 2 + 0.5 clamped to [0, 1] (./analytic.ts toUnitRange).
// (1) torchvision.transforms.Resize / F.resize with antialias left at its default, which is True
//     for tensors from torchvision 0.17 (VADER-VideoCrafter/readme.md installs 0.18).
// (2) start = resized // 2 - 112: the same place as transformers' center_crop ((r - 224) // 2).
// (3) x * 255 before the resize and x * 0.00392156862745098 after the crop: no rounding and no
//     clamp (torchvision clamps bicubic output only for uint8 images), so both are linear and
//     their product is exactly 1 in float64. The step is kept in the spec and folded into the
//     resize weights, costing nothing; no straight-through estimator is needed.
// (4) torchvision RandomCrop(224): a fresh offset per call. The graph's offsets are constants,
//     so it is built as the centre crop unless the caller gives `cropAt`. (When the short side is
//     already 224, ResizeCropMinSize skips both resize and crop; the network needs 224 x 224, so
//     here the crop still applies.)
// The networks' own processors differ (transformers CLIPImageProcessor: shortest_edge 224,
// bicubic, centre crop; VideoMAEImageProcessor: shortest_edge 224, bilinear, centre crop;
// OpenGVLab/InternVideo Data/InternVid/viclip/__init__.py frames2tensor: cv2.resize to 224 x 224);
// the reward gradients of VADER and T2V-Turbo were taken through the steps above.
//
// The resize is torch's F.interpolate(mode, antialias, align_corners=False) written as two
// constant matrices, y = R x C^T (R: [S, H] over rows, C: [S, W] over columns), so the graph
// needs no Resize op and its gradient is two more MatMuls. The crop keeps only the matrices'
// kept rows.
import type { Builder } from '../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { PIXEL_NORMS } from '../catalogue/rewards.ts';
import { toUnitRange } from './analytic.ts';

export type ResizeFilter = 'bilinear' | 'bicubic';

/** How one reward network's input is made from decoded frames (see the table above). */
export interface PreprocessSpec {
  /** The network's input side S: the output is [N, 3, S, S]. */
  size: number;
  /** square: (H, W) -> (S, S), aspect not kept; short_side: the short side to S, aspect kept, then an S x S crop. */
  resize: 'square' | 'short_side';
  /** short_side: how the long side's length is rounded (floor: integer division; round: Python's round, half to even). */
  longSide?: 'floor' | 'round';
  /** short_side: where the S x S crop sits; random is built at the centre unless the caller gives cropAt. */
  crop?: 'centre' | 'random';
  filter: ResizeFilter;
  antialias: boolean;
  mean: readonly number[];
  std: readonly number[];
  /** PickScore's x255 ... x(1/255) around the resize (the identity; see note (3)). */
  roundTrip255?: boolean;
  /** The public source of these steps. */
  reference: string;
}

export type PreprocessedReward = 'aesthetic' | 'hps' | 'pickscore' | 'actpred' | 'viclip';

/** VADER's literal rescale factor for PickScore (1 / 255 to 15 digits). */
export const VADER_RESCALE = 0.00392156862745098;

const VADER_SCRIPT = 'mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py';
const clipSquare = { size: 224, resize: 'square', filter: 'bilinear', antialias: true, ...PIXEL_NORMS.clip } as const;

export const REWARD_PREPROCESS: Readonly<Record<PreprocessedReward, PreprocessSpec>> = {
  aesthetic: { ...clipSquare, reference: `${VADER_SCRIPT} aesthetic_loss_fn` },
  hps: { ...clipSquare, reference: `${VADER_SCRIPT} hps_loss_fn` },
  pickscore: {
    size: 224, resize: 'short_side', longSide: 'floor', crop: 'centre', filter: 'bicubic', antialias: true, ...PIXEL_NORMS.clip,
    roundTrip255: true, reference: `${VADER_SCRIPT} pick_score_loss_fn`,
  },
  actpred: { size: 224, resize: 'square', filter: 'bilinear', antialias: true, ...PIXEL_NORMS.imagenet, reference: `${VADER_SCRIPT} actpred_loss_fn` },
  viclip: {
    size: 224, resize: 'short_side', longSide: 'round', crop: 'random', filter: 'bicubic', antialias: true, ...PIXEL_NORMS.imagenet,
    reference: 'Ji4chenLi/t2v-turbo reward_fn/reward_fn.py get_vi_clip_score_fn',
  },
};

// ------------------------------------------------------------------ kernels

/** Keys' cubic convolution kernel with parameter a (PIL and torch's antialiased path: -0.5; torch's plain bicubic: -0.75). */
export function cubicKernel(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Per filter: the kernel's half-width at scale 1 and its value, by whether torch antialiases. */
const FILTERS: Readonly<Record<ResizeFilter, { support: number; at: (x: number, antialias: boolean) => number }>> = {
  bilinear: { support: 1, at: (x) => Math.max(0, 1 - Math.abs(x)) },
  // pytorch/pytorch aten/src/ATen/native/cpu/UpSampleKernel.cpp: a = -0.5 in the antialiased kernel (as PIL), -0.75 otherwise
  bicubic: { support: 2, at: (x, antialias) => cubicKernel(x, antialias ? -0.5 : -0.75) },
};

/**
 * The [outSize, inSize] matrix (row-major) of torch's 1-d F.interpolate(mode, antialias,
 * align_corners=False) with the output size given: output i = sum_j W[i, j] input j.
 * Antialiased: the kernel is stretched by the downscale factor (not below 1), centred at
 * scale (i + 0.5), taps outside the input dropped and each row normalised (PIL's scheme).
 * Plain: taps around scale (i + 0.5) - 0.5, indices clamped to the edge (bilinear also clamps
 * the coordinate at 0).
 */
export function resizeWeights(inSize: number, outSize: number, filter: ResizeFilter, antialias: boolean): Float64Array {
  if (!(Number.isInteger(inSize) && inSize > 0 && Number.isInteger(outSize) && outSize > 0)) {
    throw new RangeError(`resize sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const { support, at } = FILTERS[filter];
  const scale = inSize / outSize;
  const w = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const row = i * inSize;
    if (antialias) {
      const stretch = Math.max(scale, 1);
      const centre = scale * (i + 0.5);
      const lo = Math.max(Math.floor(centre - support * stretch + 0.5), 0);
      const hi = Math.min(Math.floor(centre + support * stretch + 0.5), inSize);
      let total = 0;
      for (let j = lo; j < hi; j++) total += w[row + j] = at((j + 0.5 - centre) / stretch, true);
      if (total !== 0) for (let j = lo; j < hi; j++) w[row + j] /= total;
    } else {
      let src = scale * (i + 0.5) - 0.5;
      if (filter === 'bilinear') src = Math.max(src, 0);
      const base = Math.floor(src);
      for (let k = 1 - support; k <= support; k++) {
        const j = Math.min(Math.max(base + k, 0), inSize - 1);
        w[row + j] += at(src - (base + k), false);
      }
    }
  }
  return w;
}

/** torch's antialiased bicubic (PIL's), the PickScore and ViCLIP resize: [outSize, inSize]. */
export function antialiasedBicubicWeights(inSize: number, outSize: number): Float64Array {
  return resizeWeights(inSize, outSize, 'bicubic', true);
}

// ------------------------------------------------------------------ geometry

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

export interface PreprocessGeometry {
  /** Size after the resize, before the crop. */
  resized: [height: number, width: number];
  /** First kept row and column of the resized frame. */
  top: number;
  left: number;
}

/** Where frames of H x W go under `spec`: the resized size and the crop's corner. */
export function preprocessGeometry(height: number, width: number, spec: PreprocessSpec, cropAt?: { top: number; left: number }): PreprocessGeometry {
  const s = spec.size;
  if (spec.resize === 'square') return { resized: [s, s], top: 0, left: 0 };
  const short = Math.min(height, width);
  // VADER: long * 224 // short (exact in integers); t2v-turbo: round(long * (224 / short)) in floats
  const long = (n: number) => (spec.longSide === 'round' ? roundHalfEven(n * (s / short)) : Math.floor((n * s) / short));
  const resized: [number, number] = height <= width ? [s, height === width ? s : long(width)] : [long(height), s];
  const top = cropAt?.top ?? Math.floor((resized[0] - s) / 2);
  const left = cropAt?.left ?? Math.floor((resized[1] - s) / 2);
  if (top < 0 || left < 0 || top + s > resized[0] || left + s > resized[1]) {
    throw new RangeError(`a ${s} x ${s} crop at (${top}, ${left}) does not fit a ${resized[0]} x ${resized[1]} frame`);
  }
  return { resized, top, left };
}

/** Rows [start, start + count) of a [rows, cols] matrix, each times `factor`. */
function keptRows(w: Float64Array, cols: number, start: number, count: number, factor: number): number[] {
  return Array.from(w.subarray(start * cols, (start + count) * cols), (v) => v * factor);
}

function isIdentity(m: readonly number[], n: number): boolean {
  return m.length === n * n && m.every((v, k) => v === (k % (n + 1) === 0 ? 1 : 0));
}

// ------------------------------------------------------------------ the graph

/**
 * Decoded frames [N, 3, H, W] in [-1, 1] -> the reward network's input [N, 3, S, S]: unit
 * range, resize (+ crop) as two constant matrices, mean/std. `cropAt` places a random crop
 * (spec.crop 'random'); it is a build-time constant.
 */
export function referencePreprocess(b: Builder, frames: Value, spec: PreprocessSpec, options: { cropAt?: { top: number; left: number } } = {}): Value {
  if (frames.rank !== 4 || frames.shape[1] !== 3) {
    throw new ShapeError(`in ${b.scope || 'reward'}: preprocessing expects frames [N, 3, H, W], got ${formatShape(frames.shape)}`);
  }
  const [n, , h, w] = frames.shape;
  const s = spec.size;
  const { resized, top, left } = preprocessGeometry(h, w, spec, options.cropAt);
  const rescale = spec.roundTrip255 ? 255 * VADER_RESCALE : 1;
  const rows = keptRows(resizeWeights(h, resized[0], spec.filter, spec.antialias), h, top, s, 1);
  const cols = keptRows(resizeWeights(w, resized[1], spec.filter, spec.antialias), w, left, s, rescale);

  let x = toUnitRange(b, frames);
  const dtype = x.dtype;
  const alongRows = (v: Value) => (isIdentity(rows, h) ? v : b.matmul(b.constantOf(rows, [s, h], dtype, 'resize_rows'), v));
  const alongCols = (v: Value) => (isIdentity(cols, w) ? v : b.matmul(v, b.constantOf(transpose(cols, s, w), [w, s], dtype, 'resize_cols')));
  // Multiply-adds of each order: rows first (S H W + S W S) or columns first (H W S + S H S).
  x = s * w * (h + s) <= h * s * (w + s) ? alongCols(alongRows(x)) : alongRows(alongCols(x));
  if (x.shape[0] !== n || x.shape[2] !== s || x.shape[3] !== s) throw new ShapeError(`preprocessing built ${formatShape(x.shape)}, expected [${n}, 3, ${s}, ${s}]`);
  const mean = b.constantOf([...spec.mean], [1, 3, 1, 1], dtype, 'pixel_mean');
  const std = b.constantOf([...spec.std], [1, 3, 1, 1], dtype, 'pixel_std');
  return b.div(b.sub(x, mean), std);
}

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(m: readonly number[], rows: number, cols: number): number[] {
  const t = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
  return t;
}
