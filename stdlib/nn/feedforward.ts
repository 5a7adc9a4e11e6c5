// The transformer feed-forward block of LDM/VideoCrafter (and diffusers):
//   GEGLU: net.0.proj (dim -> 2 inner), a * gelu(gate), net.2 (inner -> out)
//   GELU:  net.0.0 (dim -> inner) then gelu (LDM's Sequential(Linear, GELU); diffusers: 'net.0.proj'), net.2
// (net.1 is the dropout, which has no parameters.)
import type { Value } from '../../tensor/ir/graph.ts';
import { gelu } from './activations.ts';
import { linear } from './linear.ts';
import type { NN } from './parameters.ts';

export interface FeedForwardOptions {
  /** inner = dim * mult (default 4). */
  mult?: number;
  /** Explicit inner width (overrides mult). */
  inner?: number;
  out?: number;
  activation?: 'geglu' | 'gelu' | 'gelu-tanh';
  /** Name of the input projection (defaults above). */
  projInName?: string;
  trainable?: boolean;
}

export function feedForward(nn: NN, name: string, x: Value, options: FeedForwardOptions = {}): Value {
  const { b } = nn;
  return b.within(name, () => {
    const dim = x.shape[x.rank - 1];
    const inner = options.inner ?? dim * (options.mult ?? 4);
    const activation = options.activation ?? 'geglu';
    const trainable = options.trainable;
    let h: Value;
    if (activation === 'geglu') {
      const projected = linear(nn, options.projInName ?? 'net.0.proj', x, { out: 2 * inner, trainable });
      const [value, gate] = b.split(projected, -1, [inner, inner]);
      h = b.mul(value, gelu(b, gate));
    } else {
      h = gelu(b, linear(nn, options.projInName ?? 'net.0.0', x, { out: inner, trainable }), activation === 'gelu' ? 'none' : 'tanh');
    }
    return linear(nn, 'net.2', h, { out: options.out ?? dim, trainable });
  });
}
