// linear: y = x W^T + b with W [out, in] like torch.nn.Linear (checkpoint keys weight, bias).
import type { Builder } from '../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { init, type Init, type NN, parameter } from './parameters.ts';

export interface LinearOptions {
  out: number;
  /** Expected input features; checked against the input's last axis when given. */
  in?: number;
  bias?: boolean;
  /** Default: torch's kaiming_uniform(a = sqrt 5); bias U(+-1/sqrt(in)). */
  weightInit?: Init;
  biasInit?: Init;
  /** Ask the store to train (or freeze) this layer regardless of its policy. */
  trainable?: boolean;
}

/**
 * A hook that may add to a linear layer's output (LoRA, stdlib/nn/lora.ts). Set it as
 * `linearHook` on the NN object; it runs inside the layer's scope (b.scope is the module path).
 */
export type LinearHook = (nn: NN, x: Value, y: Value, layer: { path: string; in: number; out: number }) => Value;

/**
 * x [..., in] times W^T for a weight W [out, in] (plus bias [out]) as one Gemm(transB = 1) over
 * the rows of x. Not MatMul(x, Transpose(W)): onnxruntime folds a transpose of a constant weight
 * into a private copy of it (two in a training graph, whose input gradient transposes it back),
 * so a checkpoint mapped from disk would be held again in memory by every session. Gemm reads W
 * in place, forward and backward (dx = dy W).
 */
export function timesTransposed(b: Builder, x: Value, weight: Value, bias?: Value): Value {
  const [out, features] = weight.shape;
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== features) {
    throw new ShapeError(`in ${b.scope}: x ${formatShape(x.shape)} times the transpose of ${formatShape(weight.shape)}: the last axes differ`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = x.rank === 2 ? x : b.reshape(x, [lead.reduce((m, d) => m * d, 1), features]);
  const y = b.gemm(rows, weight, bias, { transB: true });
  return x.rank === 2 ? y : b.reshape(y, [...lead, out]);
}

/** x [..., in] -> [..., out]; parameters `<scope>.<name>.weight` and `.bias`. */
export function linear(nn: NN, name: string, x: Value, options: LinearOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    const features = x.shape[x.rank - 1];
    if (x.rank < 1 || (options.in !== undefined && features !== options.in)) {
      throw new ShapeError(`in ${b.scope}: linear expects input [..., ${options.in}] (weight [${options.out}, ${options.in}]), got ${formatShape(x.shape)}`);
    }
    const weight = parameter(nn, 'weight', [options.out, features], {
      init: options.weightInit ?? init.kaimingUniform(),
      dtype: x.dtype,
      trainable: options.trainable,
    });
    const bias = (options.bias ?? true)
      ? parameter(nn, 'bias', [options.out], { init: options.biasInit ?? init.fanInUniform(features), dtype: x.dtype, trainable: options.trainable })
      : undefined;
    let y = timesTransposed(b, x.rank === 1 ? b.unsqueeze(x, [0]) : x, weight, bias);
    if (x.rank === 1) y = b.squeeze(y, [0]);
    const hook = (nn as NN & { linearHook?: LinearHook }).linearHook;
    return hook ? hook(nn, x, y, { path: b.scope, in: features, out: options.out }) : y;
  });
}
