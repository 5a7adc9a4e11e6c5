// Dropout. At inference and for p = 0 it is the identity (no node). For training, the caller
// supplies the keep mask: a float tensor of 0/1 values broadcastable to x, drawn with
// P(1) = 1 - p (for instance a graph input the runtime fills each step, or a mask computed
// in-graph from a seed); the result is x * mask / (1 - p), torch's inverted dropout.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';

export interface DropoutOptions {
  p: number;
  /** 0/1 keep mask; without one dropout is the identity. */
  mask?: Value;
}

export function dropout(b: Builder, x: Value, options: DropoutOptions): Value {
  if (!options.mask || options.p === 0) return x;
  if (options.p < 0 || options.p >= 1) throw new Error(`dropout probability ${options.p} must be in [0, 1)`);
  return b.mul(b.mul(x, b.cast(options.mask, x.dtype)), b.scalarLike(x, 1 / (1 - options.p)));
}
