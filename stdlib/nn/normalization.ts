// Normalisation layers: groupNorm (composite from basic ops, so its gradient is the chain of
// plain VJP rules) and layerNorm (the LayerNormalization op; its Mean/InvStdDev outputs serve
// the backward pass).
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { init, type NN, parameter } from './parameters.ts';

export interface GroupNormOptions {
  groups: number;
  /** torch's default 1e-5; LDM/VideoCrafter's Normalize uses 1e-6. */
  eps?: number;
  affine?: boolean;
  trainable?: boolean;
}

/** torch.nn.GroupNorm over x [N, C, ...]: parameters weight [C] (ones), bias [C] (zeros). */
export function groupNorm(nn: NN, name: string, x: Value, options: GroupNormOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    const { groups } = options;
    if (x.rank < 2 || groups < 1 || x.shape[1] % groups !== 0) {
      throw new ShapeError(`in ${b.scope}: groupNorm with ${groups} groups needs an input [N, C, ...] with C divisible by ${groups}, got ${formatShape(x.shape)}`);
    }
    const [n, c] = x.shape;
    const grouped = b.reshape(x, [n, groups, -1]);
    const mean = b.reduceMean(grouped, [2]);
    const centred = b.sub(grouped, mean);
    const variance = b.reduceMean(b.mul(centred, centred), [2]);
    const inv = b.reciprocal(b.sqrt(b.add(variance, b.scalarLike(x, options.eps ?? 1e-5))));
    let y = b.reshape(b.mul(centred, inv), [...x.shape]);
    if (options.affine ?? true) {
      const perChannel = [1, c, ...x.shape.slice(2).map(() => 1)];
      const weight = parameter(nn, 'weight', [c], { init: init.ones(), dtype: x.dtype, trainable: options.trainable });
      const bias = parameter(nn, 'bias', [c], { init: init.zeros(), dtype: x.dtype, trainable: options.trainable });
      y = b.add(b.mul(y, b.reshape(weight, perChannel)), b.reshape(bias, perChannel));
    }
    return y;
  });
}

export interface LayerNormOptions {
  eps?: number;
  affine?: boolean;
  /** How many trailing axes are normalised (torch's normalized_shape length); default 1. */
  axes?: number;
  trainable?: boolean;
}

/** torch.nn.LayerNorm over the last `axes` axes: parameters weight (ones) and bias (zeros). */
export function layerNorm(nn: NN, name: string, x: Value, options: LayerNormOptions = {}): Value {
  const { b } = nn;
  return b.within(name, () => {
    const count = options.axes ?? 1;
    if (count < 1 || count > x.rank) throw new ShapeError(`in ${b.scope}: layerNorm over ${count} axes does not fit input ${formatShape(x.shape)}`);
    const normalized = x.shape.slice(x.rank - count);
    let scale: Value;
    let bias: Value | undefined;
    if (options.affine ?? true) {
      scale = parameter(nn, 'weight', normalized, { init: init.ones(), dtype: x.dtype, trainable: options.trainable });
      bias = parameter(nn, 'bias', normalized, { init: init.zeros(), dtype: x.dtype, trainable: options.trainable });
    } else {
      scale = b.full(normalized, 1, x.dtype);
    }
    return b.layerNormalization(x, scale, bias, x.rank - count, options.eps ?? 1e-5)[0];
  });
}
