// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics):
//   norm = sqrt(sum_i sum(g_i^2));  coef = min(1, maxNorm / (norm + 1e-6));  g_i <- g_i * coef
// The norm is returned too (a float32 scalar) so the runtime can log it.
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';

export function globalNorm(b: Builder, grads: Value[]): Value {
  return b.within('clip', () => {
    const squares = grads.map((g) => b.op('ReduceSumSquare', [b.cast(g, 'float32')], { keepdims: 0 }));
    return b.sqrt(squares.reduce((acc, s) => b.add(acc, s)));
  });
}

export function clipByGlobalNorm(b: Builder, grads: Value[], maxNorm: number | Value): { grads: Value[]; norm: Value } {
  const norm = globalNorm(b, grads);
  return b.within('clip', () => {
    const max = typeof maxNorm === 'number' ? b.scalar(maxNorm) : maxNorm;
    const coef = b.op('Min', [b.div(max, b.add(norm, b.scalar(1e-6))), b.scalar(1)]);
    return { grads: grads.map((g) => b.mul(g, b.cast(coef, g.dtype))), norm };
  });
}
