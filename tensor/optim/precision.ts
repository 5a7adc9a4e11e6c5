// Mixed precision: lower a forward graph's activations to float16 or bfloat16 (in place),
// keeping float32 master copies of the trainable weights and optimizer state.
//
// Rules (close to PyTorch autocast):
// - Graph inputs and initializers keep their type: the float32 inputs are the master copies of
//   the trainable weights (and the graph's interface stays float32: bf16 cannot cross the JS
//   boundary). Where a lowered op uses a float32 one, a Cast to the low type is inserted (once
//   per value).
// - Frozen weights need no master copy: an initializer already stored in the low type and read
//   through a Cast up to float32 (stdlib/nn/parameters.ts `frozenDtype`) is fed to lowered ops
//   as it is, without the round trip (exact: low -> float32 -> low changes no bit), and counts
//   as a weight, not an activation, below; float32 ops keep the Cast up, unused ones are dropped.
// - Ops in LOW_OPS (MatMul, Gemm, Conv, ConvTranspose: the compute-heavy ones) run in the low
//   type; ops in FLOAT32_OPS (exp/log/pow, softmax, reductions, normalisations: range- or
//   accuracy-sensitive) run in float32; every other op follows its activation inputs: float32 if
//   any activation input is float32, else the low type (constants and weights are cast to it).
// - Graph outputs keep their recorded dtype (a Cast back is added, under the output's name).
// Run it before autodiff: the VJP of Cast casts the gradient back, so the gradients of the
// float32 master weights come out float32. On CPU, float32 is the default (onnxruntime casts
// float16 to float32 inside its CPU kernels, so lowering saves no time there); lowering is for
// CUDA. Loss scaling for float16 is below.
import type { Builder } from '../ir/builder.ts';
import type { DType } from '../ir/dtype.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import { inferTypes } from '../ir/ops.ts';
import { nodeUses, subgraphsOf } from '../passes/util.ts';

export type Precision = 'float32' | 'float16' | 'bfloat16';

export const LOW_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);
export const FLOAT32_OPS = new Set([
  'Exp', 'Log', 'Pow', 'Softmax', 'LogSoftmax', 'ReduceSum', 'ReduceMean', 'ReduceSumSquare',
  'LayerNormalization', 'InstanceNormalization', 'Erf', 'Sqrt', 'Reciprocal', 'Div',
]);

/** The default precision for a device: float32 on CPU. */
export function defaultPrecision(device: 'cpu' | 'cuda'): Precision {
  return device === 'cpu' ? 'float32' : 'float16';
}

export function lowerPrecision(graph: Graph, low: Exclude<Precision, 'float32'>): Graph {
  const casts = new Map<string, Value>(); // `${value.id}:${dtype}` -> cast
  const pending: Node[] = [];
  // A cast joins the remat segment of what it casts (an activation's producer; for a weight or
  // input, its first user), so that remat recomputes it instead of keeping it alive.
  const castTo = (v: Value, dtype: DType, user: Node): Value => {
    if (v.dtype === dtype || !isFloatType(v.dtype)) return v;
    const stored = storedLow(v);
    if (stored?.dtype === dtype) return stored;
    const key = `${v.id}:${dtype}`;
    let c = casts.get(key);
    if (!c) {
      const segment = v.producer ? v.producer.segment : user.segment;
      const node = graph.addNode('Cast', [v], [{ dtype, shape: v.shape }], { to: dtype }, 'precision', segment);
      graph.nodes.pop();
      pending.push(node);
      c = node.outputs[0];
      casts.set(key, c);
    }
    return c;
  };
  const result: Node[] = [];
  const originalOutputTypes = new Map(graph.outputs.map((v) => [v, v.dtype]));
  for (const node of graph.nodes) {
    const floats = node.inputs.filter((v): v is Value => v !== undefined && isFloatType(v.dtype));
    let target: DType | undefined;
    if (node.op === 'Cast' || node.op === 'Loop' || subgraphsOf(node).length > 0 || floats.length === 0) target = undefined;
    else if (LOW_OPS.has(node.op)) target = low;
    else if (FLOAT32_OPS.has(node.op)) target = 'float32';
    else {
      const activations = floats.filter((v) => v.producer !== undefined && !storedLow(v));
      target = activations.length === 0 ? low : activations.some((v) => v.dtype === 'float32') ? 'float32' : low;
    }
    if (node.op === 'Loop') node.inputs = node.inputs.map((v) => v && castTo(v, originalType(v), node));
    if (target) node.inputs = node.inputs.map((v) => v && castTo(v, target!, node));
    result.push(...pending.splice(0));
    const present = node.inputs.filter((v): v is Value => v !== undefined);
    const types = inferTypes(node.op, present.map((v) => v.type), node.attributes, node.scope);
    node.outputs.forEach((o, i) => ((o.type as { dtype: DType }).dtype = types[i].dtype));
    result.push(node);
  }
  // the Casts up of low initializers that no op reads any more (lowered ops take the initializer)
  const used = new Set<Value>(graph.outputs);
  for (const node of result) for (const v of nodeUses(node)) used.add(v);
  graph.nodes = result.filter((n) => used.has(n.outputs[0]) || !(n.op === 'Cast' && storedLow(n.outputs[0])));
  graph.outputs.forEach((v, i) => {
    const want = originalOutputTypes.get(v)!;
    if (v.dtype === want) return;
    const node = graph.addNode('Cast', [v], [{ dtype: want, shape: v.shape }], { to: want }, 'precision');
    const name = v.name;
    v.name = `${name}_${v.dtype}`;
    node.outputs[0].name = name;
    graph.outputs[i] = node.outputs[0];
  });
  return graph;

  function originalType(v: Value): DType {
    return v.dtype === low ? 'float32' : v.dtype;
  }

  /** The low-type initializer `v` reads up to float32 (a Cast of it), if it is one. */
  function storedLow(v: Value): Value | undefined {
    const source = v.producer?.op === 'Cast' ? v.producer.inputs[0] : undefined;
    return source && !source.producer && source.dtype === low && graph.initializers.has(source) ? source : undefined;
  }
}

function isFloatType(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16';
}

// ------------------------------------------------------------------ loss scaling (float16)

export interface LossScaleConfig {
  /** Multiply the scale by 2 after this many steps without overflow (default 2000). */
  growthInterval?: number;
}

/** loss * scale (float32), to be differentiated instead of the loss. */
export function scaleLoss(b: Builder, loss: Value, scale: Value): Value {
  return b.within('loss_scale', () => b.mul(b.cast(loss, 'float32'), scale));
}

/** grads / scale, and whether every gradient is finite (bool scalar). x - x is 0 for finite x, NaN otherwise. */
export function unscaleGradients(b: Builder, grads: Value[], scale: Value): { grads: Value[]; finite: Value } {
  return b.within('loss_scale', () => {
    const inv = b.reciprocal(scale);
    const unscaled = grads.map((g) => b.mul(b.cast(g, 'float32'), inv));
    const sums = unscaled.map((g) => b.reduceSum(g, undefined, false));
    const total = sums.reduce((acc, s) => b.add(acc, s));
    const finite = b.op('Equal', [b.sub(total, total), b.scalar(0)]);
    return { grads: unscaled, finite };
  });
}

/** Dynamic loss scale: halve on overflow (and reset the counter), double after `growthInterval` good steps. */
export function updateLossScale(b: Builder, scale: Value, goodSteps: Value, finite: Value, config: LossScaleConfig = {}): { scale: Value; goodSteps: Value } {
  return b.within('loss_scale', () => {
    const interval = config.growthInterval ?? 2000;
    const good = b.add(goodSteps, b.scalar(1, 'int64'));
    const grow = b.op('Equal', [good, b.scalar(interval, 'int64')]);
    const grown = b.where(grow, b.mul(scale, b.scalar(2)), scale);
    return {
      scale: b.where(finite, grown, b.mul(scale, b.scalar(0.5))),
      goodSteps: b.where(finite, b.where(grow, b.scalar(0, 'int64'), good), b.scalar(0, 'int64')),
    };
  });
}
