// Activation functions as compositions of ONNX ops (every op here has a plain VJP rule).
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';

/** x * sigmoid(x) (torch.nn.SiLU / swish). */
export function silu(b: Builder, x: Value): Value {
  return b.mul(x, b.sigmoid(x));
}

/**
 * GELU. 'none' (torch's default): 0.5 x (1 + erf(x / sqrt 2)); 'tanh':
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Erf runs in float32 only on ORT CPU, so
 * float64 graphs (finite-difference checks) should use the tanh form.
 */
export function gelu(b: Builder, x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  const half = b.mul(x, b.scalarLike(x, 0.5));
  if (approximate === 'none') {
    const inner = b.erf(b.mul(x, b.scalarLike(x, Math.SQRT1_2)));
    return b.mul(half, b.add(inner, b.scalarLike(x, 1)));
  }
  const cube = b.mul(b.mul(x, x), x);
  const inner = b.mul(b.add(x, b.mul(cube, b.scalarLike(x, 0.044715))), b.scalarLike(x, Math.sqrt(2 / Math.PI)));
  return b.mul(half, b.add(b.tanh(inner), b.scalarLike(x, 1)));
}

export function softmax(b: Builder, x: Value, axis = -1): Value {
  return b.softmax(x, axis);
}
