// Gradient checking: analytic gradients (autodiff, one onnxruntime run of the graph that
// outputs loss and gradients) against central finite differences (the forward-only model,
// one session, run twice per input element).
//
// The checked function is f(inputs) = sum_k sum(cast64(out_k) * W_k) with fixed random W_k,
// so every element of every output matters and the reduction is done in float64.
//
// Every check that passes records the ops whose VJP rules it verified (`verifiedOps`), so a
// test file can ask which rules of tensor/autodiff/vjp.ts its checks covered.
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { type GradientResult, differentiate, isStopGradient } from '../../tensor/autodiff/grad.ts';
import { nonDifferentiable, vjpRules } from '../../tensor/autodiff/vjp.ts';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { type DType, type TypedArray, dtypes } from '../../tensor/ir/dtype.ts';
import { Graph, type Node, type Shape, type TensorType, type Value } from '../../tensor/ir/graph.ts';

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InputOptions {
  dtype?: DType;
  /** Explicit data (e.g. integer indices); default: uniform random in [lo, hi). */
  data?: TypedArray | number[];
  lo?: number;
  hi?: number;
  /** Keep |x| >= this (away from kinks such as Relu's and Abs's 0). */
  awayFromZero?: number;
  /** Whether to check the gradient with respect to this input (default: float inputs). */
  grad?: boolean;
}

export interface GradcheckTools {
  b: Builder;
  rand: () => number;
  /** A graph input with seeded random (or given) data. */
  input(name: string, shape: Shape, options?: InputOptions): Value;
  /** Data for a graph input created elsewhere (e.g. a trainable parameter of stdlib/nn). */
  feed(value: Value, data: TypedArray | number[], grad?: boolean): void;
  /** A frozen random constant (never differentiated). */
  constant(shape: Shape, lo?: number, hi?: number): Value;
}

export interface GradcheckOptions {
  dtype?: 'float32' | 'float64';
  seed?: number;
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  eps?: number;
  /** Relative tolerance (default 1e-5 for float64, 1e-2 for float32). */
  rtol?: number;
}

export interface GradcheckResult {
  graph: Graph;
  result: GradientResult;
  wrt: Value[];
  analytic: Float64Array[];
  numeric: Float64Array[];
  /** Largest |analytic - numeric| / (atol + rtol |numeric|) over all elements: <= 1 passes. */
  worst: number;
  /** The nodes `build` made (not the helper's weighted-sum loss). */
  forwardNodes: Node[];
  /** The ops whose VJP rules this check verified (see exercisedOps). */
  ops: string[];
}

/**
 * Op -> the tests whose passing gradient checks verified its VJP rule, in this process (vitest
 * runs each test file in its own process: a file sees the checks it ran itself).
 */
export const verifiedOps = new Map<string, string[]>();

/**
 * The ops of `forwardNodes` whose VJP rules the finite differences actually see: a node counts
 * when one of its inputs depends on a checked input, the loss depends on one of its outputs,
 * and its rule is a real one (not `nonDifferentiable`, not a stopGradient).
 */
export function exercisedOps(graph: Graph, forwardNodes: readonly Node[], wrt: readonly Value[], loss: Value): string[] {
  const counts = (n: Node) => typeof vjpRules[n.op] === 'function' && vjpRules[n.op] !== nonDifferentiable && !isStopGradient(n);
  const dependsOnWrt = new Set<Value>(wrt);
  for (const n of graph.nodes) {
    if (counts(n) && n.inputs.some((v) => v && dependsOnWrt.has(v))) for (const out of n.outputs) if (dtypes[out.dtype].isFloat) dependsOnWrt.add(out);
  }
  const reachesLoss = new Set<Value>([loss]);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((v) => reachesLoss.has(v))) for (const v of n.inputs) if (v) reachesLoss.add(v);
  }
  const ops = forwardNodes.filter((n) => counts(n) && n.inputs.some((v) => v && dependsOnWrt.has(v)) && n.outputs.some((v) => reachesLoss.has(v))).map((n) => n.op);
  return [...new Set(ops)].sort();
}

/**
 * A node of an op the IR's op table (tensor/ir/ops.ts) has no schema for, so the Builder cannot
 * infer its type: the caller states it. For ops that have a VJP rule but no builder.
 */
export function nodeWithoutSchema(b: Builder, op: string, inputs: Value[], output: TensorType, attributes: Record<string, number | number[]> = {}): Value {
  return b.graph.addNode(op, inputs, [output], attributes, b.scope).outputs[0];
}

function toTyped(dtype: DType, values: number[]): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
      return Uint8Array.from(values);
    default:
      throw new Error(`gradcheck: no inputs of type ${dtype}`);
  }
}

function tensor(value: Value, data: TypedArray): ort.Tensor {
  return new ort.Tensor(dtypes[value.dtype].ort as 'float32', data as Float32Array, [...value.shape]);
}

/**
 * Build `build(tools)` -> output(s), check d loss / d input for every float input with
 * grad !== false, and throw a descriptive error on mismatch. Returns the details.
 */
export async function gradcheck(build: (t: GradcheckTools) => Value | Value[], options: GradcheckOptions = {}): Promise<GradcheckResult> {
  const dtype = options.dtype ?? 'float64';
  const eps = options.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const rtol = options.rtol ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const rand = prng(options.seed ?? 1234);
  const graph = new Graph('gradcheck');
  const b = new Builder(graph);
  const feeds = new Map<Value, TypedArray>();
  const wrt: Value[] = [];

  const tools: GradcheckTools = {
    b,
    rand,
    input(name, shape, o = {}) {
      const t = o.dtype ?? dtype;
      const v = b.input(name, shape, t);
      let values: number[];
      if (o.data) values = Array.from(o.data as ArrayLike<number | bigint>, Number);
      else {
        const lo = o.lo ?? -1;
        const hi = o.hi ?? 1;
        const away = o.awayFromZero ?? 0;
        values = Array.from({ length: v.size }, () => {
          let x: number;
          do x = lo + (hi - lo) * rand();
          while (Math.abs(x) < away);
          return x;
        });
      }
      feeds.set(v, toTyped(t, values));
      if ((o.grad ?? true) && dtypes[t].isFloat) wrt.push(v);
      return v;
    },
    feed(value, data, grad = true) {
      feeds.set(value, toTyped(value.dtype, Array.from(data as ArrayLike<number | bigint>, Number)));
      if (grad && dtypes[value.dtype].isFloat) wrt.push(value);
    },
    constant(shape, lo = -1, hi = 1) {
      const n = shape.reduce((p, d) => p * d, 1);
      return b.constant(toTyped(dtype, Array.from({ length: n }, () => lo + (hi - lo) * rand())), shape, dtype, 'k');
    },
  };

  const built = build(tools);
  const forwardNodes = graph.nodes.slice();
  const outs = Array.isArray(built) ? built : [built];
  let loss: Value | undefined;
  for (const out of outs) {
    const w = Float64Array.from({ length: out.size }, () => 2 * rand() - 1);
    const term = b.reduceSum(b.mul(b.cast(out, 'float64'), b.constant(w, out.shape, 'float64', 'w')), undefined, false);
    loss = loss ? b.add(loss, term) : term;
  }
  if (!loss) throw new Error('gradcheck: no outputs');
  graph.markOutput(loss);
  const forwardModel = emitModel(graph);

  const result = differentiate(graph, loss, wrt);
  const gradValues = wrt.map((v) => result.grads.get(v) as Value);
  for (const g of gradValues) graph.markOutput(g);
  const fullModel = emitModel(graph);

  // onnxruntime 1.30's extended optimisations fuse x * Sigmoid(x) into com.microsoft.QuickGelu,
  // which has no double kernel: float64 checks run with basic optimisations only.
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    graphOptimizationLevel: dtype === 'float64' ? 'basic' : 'all',
  };
  const inputs: Record<string, ort.Tensor> = {};
  for (const v of graph.inputs) inputs[v.name] = tensor(v, feeds.get(v) as TypedArray);

  const full = await ort.InferenceSession.create(fullModel, sessionOptions);
  let analytic: Float64Array[];
  try {
    const out = await full.run(inputs);
    analytic = gradValues.map((g) => Float64Array.from(out[g.name].data as Float64Array));
  } finally {
    await full.release();
  }

  const forward = await ort.InferenceSession.create(forwardModel, sessionOptions);
  const numeric: Float64Array[] = [];
  try {
    const evalLoss = async () => Number((await forward.run(inputs))[loss.name].data[0]);
    for (const v of wrt) {
      const data = feeds.get(v) as Float32Array | Float64Array;
      const grad = new Float64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const x = data[i];
        data[i] = x + eps;
        const up = await evalLoss();
        data[i] = x - eps;
        const down = await evalLoss();
        data[i] = x;
        // The step actually taken (float32 rounds x +- eps).
        const step = dtype === 'float32' ? Math.fround(x + eps) - Math.fround(x - eps) : 2 * eps;
        grad[i] = (up - down) / step;
      }
      numeric.push(grad);
    }
  } finally {
    await forward.release();
  }

  let worst = 0;
  const problems: string[] = [];
  wrt.forEach((v, k) => {
    const scale = Math.max(1, ...Array.from(numeric[k], Math.abs));
    const atol = rtol * scale * (dtype === 'float64' ? 0.1 : 1);
    for (let i = 0; i < numeric[k].length; i++) {
      const a = analytic[k][i];
      const n = numeric[k][i];
      const ratio = Math.abs(a - n) / (atol + rtol * Math.abs(n));
      if (!(ratio <= worst)) worst = Number.isNaN(ratio) ? Infinity : ratio;
      if (!(ratio <= 1) && problems.length < 8) problems.push(`  d/d${v.name}[${i}]: analytic ${a}, numeric ${n}`);
    }
  });
  if (problems.length > 0) {
    throw new Error(`gradient check failed (worst error ${worst.toFixed(2)}x tolerance):\n${problems.join('\n')}`);
  }
  const ops = exercisedOps(graph, forwardNodes, wrt, loss);
  const testName = expect.getState().currentTestName ?? '(outside a test)';
  for (const op of ops) verifiedOps.set(op, [...(verifiedOps.get(op) ?? []), testName]);
  return { graph, result, wrt, analytic, numeric, worst, forwardNodes, ops };
}
