// Nearest upsampling and average pooling over the spatial axes of [N, C, ...].
// Integer factors are built from Reshape/Expand/ReduceMean (gradients through plain rules);
// other cases use the Resize / AveragePool ops.
import type { Builder } from '../../tensor/ir/builder.ts';
import { spatialList } from '../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';

function spatialCheck(b: Builder, x: Value, what: string): number {
  if (x.rank < 3) throw new ShapeError(`in ${b.scope || 'model'}: ${what} expects an input [N, C, spatial...], got ${formatShape(x.shape)}`);
  return x.rank - 2;
}

/**
 * torch's F.interpolate(mode='nearest') by per-spatial-axis factors (a number: every axis;
 * VideoCrafter's 3D upsample is [1, 2, 2]). Output index i reads input floor(i / factor).
 */
export function upsampleNearest(b: Builder, x: Value, factor: number | number[], method: 'expand' | 'resize' = 'expand'): Value {
  const n = spatialCheck(b, x, 'upsampleNearest');
  const factors = spatialList(factor, n, 1, 'upsample factors');
  if (method === 'resize' || factors.some((f) => !Number.isInteger(f) || f < 1)) return b.resize(x, [1, 1, ...factors], 'nearest');
  const [batch, channels, ...dims] = x.shape;
  const split = [batch, channels, ...dims.flatMap((d) => [d, 1])];
  const wide = [batch, channels, ...dims.flatMap((d, i) => [d, factors[i]])];
  const merged = [batch, channels, ...dims.map((d, i) => d * factors[i])];
  return b.reshape(b.expand(b.reshape(x, split), wide), merged);
}

export interface AvgPoolOptions {
  stride?: number | number[];
  padding?: number | number[];
  /** Count padded zeros in the divisor (torch's default true). */
  countIncludePad?: boolean;
}

/** torch.nn.AvgPoolNd (kernel over the spatial axes; stride defaults to the kernel). */
export function avgPool(b: Builder, x: Value, kernel: number | number[], options: AvgPoolOptions = {}): Value {
  const n = spatialCheck(b, x, 'avgPool');
  const k = spatialList(kernel, n, 1, 'avgPool kernel');
  const strides = spatialList(options.stride ?? k, n, 1, 'avgPool stride');
  const pads = spatialList(options.padding, n, 0, 'avgPool padding', true);
  const dims = x.shape.slice(2);
  const blocks = pads.every((p) => p === 0) && k.every((kk, i) => kk === strides[i] && dims[i] % kk === 0);
  if (blocks) {
    // Non-overlapping windows: split every axis into (d / k, k) and average the k axes.
    const [batch, channels] = x.shape;
    const split = b.reshape(x, [batch, channels, ...dims.flatMap((d, i) => [d / k[i], k[i]])]);
    return b.reduceMean(split, k.map((_, i) => 3 + 2 * i), false);
  }
  return b.averagePool(x, k, { strides, pads, countIncludePad: options.countIncludePad ?? true });
}
