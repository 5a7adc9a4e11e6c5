// The VJP table: one vector-Jacobian rule per IR op.
//
// A rule receives the forward node, its inputs and outputs, and the cotangent of each output
// (undefined where nothing downstream needs that output), and returns one cotangent per input
// (undefined = no gradient / zero). Rules only build standard ONNX ops through the Builder: the
// onnxruntime-node CPU build has no *Grad kernels. `needs[i]` says whether input i wants a
// gradient; rules skip work for inputs that do not.
//
// Non-differentiable ops (comparisons, Floor, Sign, ...) map to `nonDifferentiable`: they stop
// the gradient (their outputs are piecewise constant or not floating point).
import '../ir/ops-backward.ts';
import type { Builder } from '../ir/builder.ts';
import { isFloat } from '../ir/dtype.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import {
  constant,
  expandTo,
  inversePermutation,
  mask,
  normalizeAxis,
  range,
  reshapeTo,
  scalar,
  staticFloats,
  staticInts,
  sumAxes,
  unbroadcast,
  zeros,
} from './helpers.ts';

export interface VjpContext {
  b: Builder;
  graph: Graph;
  node: Node;
  /** node.inputs (undefined = omitted optional input). */
  inputs: (Value | undefined)[];
  outputs: Value[];
  /** Cotangent per output; undefined where no gradient flows back into that output. */
  grads: (Value | undefined)[];
  /** Whether input i wants a gradient. */
  needs: boolean[];
}

export type VjpRule = (ctx: VjpContext) => (Value | undefined)[];

export class UnsupportedGradientError extends Error {
  constructor(node: Node, why: string) {
    super(`no gradient for ${node.op}${node.scope ? ` in ${node.scope}` : ''}: ${why}`);
    this.name = 'UnsupportedGradientError';
  }
}

/** Marks ops with no gradient (piecewise constant, boolean or integer results). */
export const nonDifferentiable: VjpRule = () => [];

// -------------------------------------------------------------------- helpers

const attrInt = (node: Node, name: string, fallback: number): number => (node.attributes[name] === undefined ? fallback : (node.attributes[name] as number));
const attrFloat = attrInt;
const attrString = (node: Node, name: string, fallback: string): string => (node.attributes[name] === undefined ? fallback : (node.attributes[name] as string));
const attrInts = (node: Node, name: string, fallback: number[]): number[] => (node.attributes[name] === undefined ? fallback : [...(node.attributes[name] as readonly number[])]);

/** The cotangent of the single output (rules for one-output ops only run when it exists). */
function g0(ctx: VjpContext): Value {
  const g = ctx.grads[0];
  if (!g) throw new Error(`internal: ${ctx.node.op} VJP called without an output cotangent`);
  return g;
}

function input(ctx: VjpContext, i: number): Value {
  const v = ctx.inputs[i];
  if (!v) throw new Error(`internal: ${ctx.node.op} has no input ${i}`);
  return v;
}

/** Elementwise op whose gradient is `g * dy/dx` with dy/dx built by `local`. */
const unaryRule =
  (local: (b: Builder, x: Value, y: Value, g: Value) => Value): VjpRule =>
  (ctx) =>
    ctx.needs[0] ? [local(ctx.b, input(ctx, 0), ctx.outputs[0], g0(ctx))] : [];

/** Reduction axes of a Reduce* node (undefined axes = all; noop_with_empty_axes honoured). */
function reduceAxes(ctx: VjpContext, index: number | undefined): number[] {
  const x = input(ctx, 0);
  const axes = staticInts(ctx.node, 'axes', index, ctx.graph.initializers);
  if (axes === undefined || axes.length === 0) {
    return attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1 ? [] : range(0, x.rank);
  }
  return axes.map((a) => normalizeAxis(a, x.rank));
}

/** Reshape a reduction's cotangent (or output) to keepdims form, then broadcast to x's shape. */
function expandReduced(ctx: VjpContext, v: Value, axes: number[]): Value {
  const x = input(ctx, 0);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return expandTo(ctx.b, reshapeTo(ctx.b, v, kept), x.shape);
}

const transposeLast2 = (b: Builder, x: Value): Value => b.transpose(x, [...range(0, x.rank - 2), x.rank - 1, x.rank - 2]);

/** For MaxN / MinN / ReduceMax / ReduceMin: gradient shared evenly among tied maxima. */
function selectMask(b: Builder, x: Value, y: Value): Value {
  return mask(b, b.op('Equal', [x, y]), x.dtype);
}

/** Spatial conv parameters with auto_pad resolved to explicit pads. */
function convParams(node: Node, inShape: readonly number[], kernel: readonly number[]) {
  const n = kernel.length;
  const strides = attrInts(node, 'strides', new Array(n).fill(1));
  const dilations = attrInts(node, 'dilations', new Array(n).fill(1));
  let pads = attrInts(node, 'pads', new Array(2 * n).fill(0));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') pads = new Array(2 * n).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inShape[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inShape[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i];
    }
  }
  return { strides, dilations, pads };
}

/**
 * The adjoint of a strided window op: ConvTranspose of `dy` with `weight`, with output_padding
 * chosen so the result has exactly the forward input's spatial size.
 */
function convTransposeBack(
  b: Builder,
  dy: Value,
  weight: Value,
  inSpatial: readonly number[],
  kernel: readonly number[],
  p: { strides: number[]; dilations: number[]; pads: number[] },
  group: number,
): Value {
  const n = kernel.length;
  const outSpatial = dy.shape.slice(2);
  const outputPadding = range(0, n).map(
    (i) => inSpatial[i] - (p.strides[i] * (outSpatial[i] - 1) + (kernel[i] - 1) * p.dilations[i] + 1 - p.pads[i] - p.pads[i + n]),
  );
  const attributes: Record<string, number[] | number> = {
    kernel_shape: [...kernel],
    strides: p.strides,
    dilations: p.dilations,
    pads: p.pads,
    group,
  };
  if (outputPadding.some((x) => x !== 0)) attributes.output_padding = outputPadding;
  return b.op('ConvTranspose', [dy, weight], attributes);
}

// ---------------------------------------------------------------------- rules

export const vjpRules: Record<string, VjpRule> = {
  // ---------------------------------------------------------------- elementwise binary
  Add: (ctx) => {
    const g = g0(ctx);
    return [0, 1].map((i) => (ctx.needs[i] ? unbroadcast(ctx.b, g, input(ctx, i).shape) : undefined));
  },
  Sum: (ctx) => {
    const g = g0(ctx);
    return ctx.inputs.map((x, i) => (ctx.needs[i] && x ? unbroadcast(ctx.b, g, x.shape) : undefined));
  },
  Sub: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    return [
      ctx.needs[0] ? unbroadcast(b, g, input(ctx, 0).shape) : undefined,
      ctx.needs[1] ? unbroadcast(b, b.neg(g), input(ctx, 1).shape) : undefined,
    ];
  },
  Mul: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const [x, y] = [input(ctx, 0), input(ctx, 1)];
    return [
      ctx.needs[0] ? unbroadcast(b, b.mul(g, y), x.shape) : undefined,
      ctx.needs[1] ? unbroadcast(b, b.mul(g, x), y.shape) : undefined,
    ];
  },
  Div: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const [x, y] = [input(ctx, 0), input(ctx, 1)];
    const gx = b.div(g, y);
    return [
      ctx.needs[0] ? unbroadcast(b, gx, x.shape) : undefined,
      // d(x/y)/dy = -(x/y)/y
      ctx.needs[1] ? unbroadcast(b, b.neg(b.mul(gx, ctx.outputs[0])), y.shape) : undefined,
    ];
  },
  Pow: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const [x, e] = [input(ctx, 0), input(ctx, 1)];
    const y = ctx.outputs[0];
    let gx: Value | undefined;
    if (ctx.needs[0]) {
      const c = e.size === 1 ? staticFloats(ctx.node, 1, ctx.graph.initializers) : undefined;
      let local: Value;
      if (c !== undefined) {
        // Constant exponent: c * x^(c-1), folded where c is 1 or 2.
        const k = c[0];
        if (k === 0) local = zeros(b, x.shape, x.dtype);
        else if (k === 1) local = expandTo(b, scalar(b, 1, x.dtype), x.shape);
        else if (k === 2) local = b.mul(x, scalar(b, 2, x.dtype));
        else local = b.mul(b.pow(x, constant(b, [k - 1], [], e.dtype)), scalar(b, k, x.dtype));
      } else {
        const em1 = b.sub(e, scalar(b, 1, e.dtype));
        local = b.mul(b.pow(x, em1), b.cast(e, x.dtype));
      }
      gx = unbroadcast(b, b.mul(g, local), x.shape);
    }
    // d(x^e)/de = x^e * log(x) (defined for x > 0)
    const ge = ctx.needs[1] ? unbroadcast(b, b.mul(b.mul(g, y), b.cast(b.log(x), y.dtype)), e.shape) : undefined;
    return [gx, ge];
  },
  Mod: (ctx) => {
    // Only float Mod reaches here (integer results never carry gradients): d(a mod b)/da = 1.
    if (ctx.needs[1]) throw new UnsupportedGradientError(ctx.node, 'gradient with respect to the divisor');
    return [ctx.needs[0] ? unbroadcast(ctx.b, g0(ctx), input(ctx, 0).shape) : undefined];
  },
  Max: (ctx) => minMax(ctx),
  Min: (ctx) => minMax(ctx),

  // ---------------------------------------------------------------- elementwise unary
  Neg: unaryRule((b, _x, _y, g) => b.neg(g)),
  Identity: unaryRule((_b, _x, _y, g) => g),
  Abs: unaryRule((b, x, _y, g) => b.mul(g, b.op('Sign', [x]))),
  Sqrt: unaryRule((b, x, y, g) => b.div(b.mul(g, scalar(b, 0.5, x.dtype)), y)),
  Reciprocal: unaryRule((b, _x, y, g) => b.neg(b.mul(g, b.mul(y, y)))),
  Exp: unaryRule((b, _x, y, g) => b.mul(g, y)),
  Log: unaryRule((b, x, _y, g) => b.div(g, x)),
  Erf: unaryRule((b, x, _y, g) => b.mul(g, b.mul(b.exp(b.neg(b.mul(x, x))), scalar(b, 2 / Math.sqrt(Math.PI), x.dtype)))),
  Tanh: unaryRule((b, x, y, g) => b.mul(g, b.sub(scalar(b, 1, x.dtype), b.mul(y, y)))),
  Sigmoid: unaryRule((b, x, y, g) => b.mul(g, b.mul(y, b.sub(scalar(b, 1, x.dtype), y)))),
  Sin: unaryRule((b, x, _y, g) => b.mul(g, b.cos(x))),
  Cos: unaryRule((b, x, _y, g) => b.neg(b.mul(g, b.sin(x)))),
  Relu: unaryRule((b, x, _y, g) => b.where(b.op('Greater', [x, scalar(b, 0, x.dtype)]), g, scalar(b, 0, x.dtype))),
  LeakyRelu: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const alpha = attrFloat(ctx.node, 'alpha', 0.01);
    const g = g0(ctx);
    return [b.where(b.op('Greater', [x, scalar(b, 0, x.dtype)]), g, b.mul(g, scalar(b, alpha, x.dtype)))];
  },
  Softplus: unaryRule((b, x, _y, g) => b.mul(g, b.sigmoid(x))),
  Cast: (ctx) => {
    const x = input(ctx, 0);
    if (!ctx.needs[0] || !isFloat(x.dtype) || !isFloat(ctx.outputs[0].dtype)) return [];
    return [ctx.b.cast(g0(ctx), x.dtype)];
  },
  Where: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const c = input(ctx, 0);
    const zero = scalar(b, 0, g.dtype);
    return [
      undefined,
      ctx.needs[1] ? unbroadcast(b, b.where(c, g, zero), input(ctx, 1).shape) : undefined,
      ctx.needs[2] ? unbroadcast(b, b.where(c, zero, g), input(ctx, 2).shape) : undefined,
    ];
  },
  Clip: (ctx) => {
    // Bounds come from attributes (IR form) or from inputs 1 and 2 (ONNX form).
    const { b } = ctx;
    const g = g0(ctx);
    const x = input(ctx, 0);
    const zero = scalar(b, 0, g.dtype);
    const bound = (name: string, index: number): Value | undefined => {
      const v = ctx.inputs[index];
      if (v) return v;
      const a = ctx.node.attributes[name];
      return a === undefined ? undefined : scalar(b, a as number, x.dtype);
    };
    const lo = bound('min', 1);
    const hi = bound('max', 2);
    const below = lo ? b.op('Less', [x, lo]) : undefined;
    const above = hi ? b.op('Greater', [x, hi]) : undefined;
    const out = below && above ? b.op('Or', [below, above]) : (below ?? above);
    return [
      ctx.needs[0] ? (out ? b.where(out, zero, g) : g) : undefined,
      ctx.needs[1] && lo && below ? unbroadcast(b, b.where(below, g, zero), lo.shape) : undefined,
      ctx.needs[2] && hi && above ? unbroadcast(b, b.where(above, g, zero), hi.shape) : undefined,
    ];
  },

  // Piecewise constant or non-float results.
  Equal: nonDifferentiable,
  Less: nonDifferentiable,
  LessOrEqual: nonDifferentiable,
  Greater: nonDifferentiable,
  GreaterOrEqual: nonDifferentiable,
  And: nonDifferentiable,
  Or: nonDifferentiable,
  Not: nonDifferentiable,
  Xor: nonDifferentiable,
  Floor: nonDifferentiable,
  Ceil: nonDifferentiable,
  Round: nonDifferentiable,
  Sign: nonDifferentiable,
  Shape: nonDifferentiable,
  Size: nonDifferentiable,
  ArgMax: nonDifferentiable,
  ArgMin: nonDifferentiable,
  IsNaN: nonDifferentiable,
  IsInf: nonDifferentiable,
  ConstantOfShape: nonDifferentiable,
  Range: nonDifferentiable,
  RandomNormal: nonDifferentiable,
  RandomUniform: nonDifferentiable,
  RandomNormalLike: nonDifferentiable,
  RandomUniformLike: nonDifferentiable,

  // ---------------------------------------------------------------- linear algebra
  MatMul: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const [x, y] = [input(ctx, 0), input(ctx, 1)];
    return [
      ctx.needs[0] ? unbroadcast(b, b.matmul(g, transposeLast2(b, y)), x.shape) : undefined,
      ctx.needs[1] ? unbroadcast(b, b.matmul(transposeLast2(b, x), g), y.shape) : undefined,
    ];
  },
  Gemm: (ctx) => {
    // Y = alpha * A' B' + beta * C with A' = transA ? A^T : A, B' = transB ? B^T : B.
    const { b } = ctx;
    const g = g0(ctx);
    const [a, w] = [input(ctx, 0), input(ctx, 1)];
    const c = ctx.inputs[2];
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    const beta = attrFloat(ctx.node, 'beta', 1);
    const transA = attrInt(ctx.node, 'transA', 0);
    const transB = attrInt(ctx.node, 'transB', 0);
    const gemm = (p: Value, q: Value, tA: number, tB: number) => b.op('Gemm', [p, q], { alpha, transA: tA, transB: tB });
    // dA' = g B'^T, dA = transA ? B' g^T : dA';  dB' = A'^T g, dB = transB ? g^T A' : dB'.
    const ga = ctx.needs[0] ? (transA ? gemm(w, g, transB, 1) : gemm(g, w, 0, 1 - transB)) : undefined;
    const gb = ctx.needs[1] ? (transB ? gemm(g, a, 1, transA) : gemm(a, g, 1 - transA, 0)) : undefined;
    let gc: Value | undefined;
    if (c && ctx.needs[2]) gc = unbroadcast(b, beta === 1 ? g : b.mul(g, scalar(b, beta, g.dtype)), c.shape);
    return [ga, gb, gc];
  },

  // ---------------------------------------------------------------- reductions
  ReduceSum: (ctx) => (ctx.needs[0] ? [expandReduced(ctx, g0(ctx), reduceAxes(ctx, 1))] : []),
  ReduceMean: (ctx) => {
    if (!ctx.needs[0]) return [];
    const x = input(ctx, 0);
    const axes = reduceAxes(ctx, 1);
    const count = axes.reduce((p, a) => p * x.shape[a], 1);
    const g = count === 1 ? g0(ctx) : ctx.b.mul(g0(ctx), scalar(ctx.b, 1 / count, x.dtype));
    return [expandReduced(ctx, g, axes)];
  },
  ReduceSumSquare: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const g = expandReduced(ctx, g0(ctx), reduceAxes(ctx, 1));
    return [b.mul(g, b.mul(x, scalar(b, 2, x.dtype)))];
  },
  ReduceMax: (ctx) => reduceSelect(ctx),
  ReduceMin: (ctx) => reduceSelect(ctx),
  Softmax: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const y = ctx.outputs[0];
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), y.rank);
    const gy = b.mul(g0(ctx), y);
    return [b.sub(gy, b.mul(y, b.reduceSum(gy, [axis], true)))];
  },
  LogSoftmax: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const y = ctx.outputs[0];
    const g = g0(ctx);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), y.rank);
    return [b.sub(g, b.mul(b.exp(y), b.reduceSum(g, [axis], true)))];
  },

  // ---------------------------------------------------------------- shape
  Reshape: (ctx) => (ctx.needs[0] ? [reshapeTo(ctx.b, g0(ctx), input(ctx, 0).shape)] : []),
  Flatten: (ctx) => (ctx.needs[0] ? [reshapeTo(ctx.b, g0(ctx), input(ctx, 0).shape)] : []),
  Squeeze: (ctx) => (ctx.needs[0] ? [reshapeTo(ctx.b, g0(ctx), input(ctx, 0).shape)] : []),
  Unsqueeze: (ctx) => (ctx.needs[0] ? [reshapeTo(ctx.b, g0(ctx), input(ctx, 0).shape)] : []),
  Transpose: (ctx) => {
    if (!ctx.needs[0]) return [];
    const x = input(ctx, 0);
    const perm = attrInts(ctx.node, 'perm', range(0, x.rank).reverse());
    return [ctx.b.transpose(g0(ctx), inversePermutation(perm))];
  },
  Expand: (ctx) => (ctx.needs[0] ? [unbroadcast(ctx.b, g0(ctx), input(ctx, 0).shape)] : []),
  Concat: (ctx) => {
    const g = g0(ctx);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), g.rank);
    let offset = 0;
    return ctx.inputs.map((x, i) => {
      const start = offset;
      offset += x ? x.shape[axis] : 0;
      return ctx.needs[i] && x ? ctx.b.slice(g, axis, start, offset) : undefined;
    });
  },
  Split: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.rank);
    const parts = ctx.outputs.map((out, i) => ctx.grads[i] ?? zeros(b, out.shape, x.dtype));
    return [parts.length === 1 ? parts[0] : b.concat(parts, axis)];
  },
  Slice: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const starts = staticInts(ctx.node, 'starts', 1, ctx.graph.initializers) ?? [];
    const ends = staticInts(ctx.node, 'ends', 2, ctx.graph.initializers) ?? [];
    const axes = (staticInts(ctx.node, 'axes', 3, ctx.graph.initializers) ?? range(0, starts.length)).map((a) => normalizeAxis(a, x.rank));
    const steps = staticInts(ctx.node, 'steps', 4, ctx.graph.initializers) ?? starts.map(() => 1);
    if (steps.some((s) => s !== 1)) throw new UnsupportedGradientError(ctx.node, 'Slice steps other than 1');
    // Put zeros back around the slice, one axis at a time (Concat with Expand-ed zeros).
    let g = g0(ctx);
    axes.forEach((axis, i) => {
      const dim = x.shape[axis];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const begin = clamp(starts[i]);
      const end = Math.max(begin, clamp(ends[i]));
      const pieces: Value[] = [];
      const side = (n: number) => zeros(b, g.shape.map((d, k) => (k === axis ? n : d)), g.dtype);
      if (begin > 0) pieces.push(side(begin));
      pieces.push(g);
      if (dim - end > 0) pieces.push(side(dim - end));
      if (pieces.length > 1) g = b.concat(pieces, axis);
    });
    return [g];
  },
  Pad: (ctx) => {
    if (!ctx.needs[0]) return [];
    const x = input(ctx, 0);
    const g = g0(ctx);
    const mode = attrString(ctx.node, 'mode', 'constant');
    if (mode !== 'constant') throw new UnsupportedGradientError(ctx.node, `Pad mode '${mode}'`);
    const pads = staticInts(ctx.node, 'pads', 1, ctx.graph.initializers);
    if (!pads || pads.length !== 2 * x.rank) throw new UnsupportedGradientError(ctx.node, 'pads are not static');
    const r = x.rank;
    if (pads.every((p) => p >= 0)) {
      // Crop the padding off again.
      const axes = range(0, r).filter((a) => pads[a] !== 0 || pads[a + r] !== 0);
      if (axes.length === 0) return [g];
      return [ctx.b.op('Slice', [g], { starts: axes.map((a) => pads[a]), ends: axes.map((a) => pads[a] + x.shape[a]), axes })];
    }
    // Negative pads crop: the adjoint pads those back with zeros (and crops what was padded).
    return [ctx.b.op('Pad', [g], { pads: pads.map((p) => -p), mode: 'constant' })];
  },
  Tile: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const g = g0(ctx);
    // [r0*d0, r1*d1, ...] -> [r0, d0, r1, d1, ...], sum the r axes.
    const repeats = g.shape.map((d, i) => d / x.shape[i]);
    const split = x.shape.flatMap((d, i) => [repeats[i], d]);
    const summed = sumAxes(b, reshapeTo(b, g, split), range(0, x.rank).filter((i) => repeats[i] !== 1).map((i) => 2 * i), true);
    return [reshapeTo(b, summed, x.shape)];
  },
  Gather: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const data = input(ctx, 0);
    let indices = input(ctx, 1);
    const g = g0(ctx);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), data.rank);
    const q = indices.rank;
    const n = data.shape[axis];
    indices = nonNegativeIndices(ctx, indices, n);
    if (indices.dtype !== 'int64') indices = b.cast(indices, 'int64');
    // Scatter-add rows of g (indices dims first) into zeros with the gathered axis first:
    // repeated indices accumulate (ScatterND reduction 'add').
    const pre = data.shape.slice(0, axis);
    const post = data.shape.slice(axis + 1);
    const gPerm = [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, g.rank)];
    const updates = axis === 0 ? g : b.transpose(g, gPerm);
    const scatterIndices = b.reshape(indices, [...indices.shape, 1]);
    const target = zeros(b, [n, ...pre, ...post], g.dtype);
    const scattered = b.op('ScatterND', [target, scatterIndices, updates], { reduction: 'add' });
    const back = axis === 0 ? scattered : b.transpose(scattered, [...range(1, axis + 1), 0, ...range(axis + 1, data.rank)]);
    return [back];
  },

  GatherElements: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const data = input(ctx, 0);
    const g = g0(ctx);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), data.rank);
    const indices = nonNegativeIndices(ctx, input(ctx, 1), data.shape[axis]);
    return [b.op('ScatterElements', [zeros(b, data.shape, g.dtype), indices, g], { axis, reduction: 'add' })];
  },

  // ---------------------------------------------------------------- convolution, pooling
  Conv: (ctx) => {
    const { b } = ctx;
    const g = g0(ctx);
    const [x, w] = [input(ctx, 0), input(ctx, 1)];
    const bias = ctx.inputs[2];
    const kernel = w.shape.slice(2);
    const group = attrInt(ctx.node, 'group', 1);
    const p = convParams(ctx.node, x.shape.slice(2), kernel);
    const result: (Value | undefined)[] = [undefined, undefined, undefined];
    if (ctx.needs[0]) result[0] = convTransposeBack(b, g, w, x.shape.slice(2), kernel, p, group);
    if (ctx.needs[1]) result[1] = convWeightGrad(b, x, g, kernel, p, group);
    if (bias && ctx.needs[2]) result[2] = b.reduceSum(g, [0, ...range(2, g.rank)], false);
    return result;
  },
  ConvTranspose: (ctx) => {
    // y = ConvT(x, W) is the adjoint of x = Conv(y, W): <ConvT(x, W), g> = <x, Conv(g, W)>.
    const { b } = ctx;
    const g = g0(ctx);
    const [x, w] = [input(ctx, 0), input(ctx, 1)];
    const bias = ctx.inputs[2];
    const kernel = w.shape.slice(2);
    const group = attrInt(ctx.node, 'group', 1);
    const p = convParams(ctx.node, g.shape.slice(2), kernel);
    const result: (Value | undefined)[] = [undefined, undefined, undefined];
    if (ctx.needs[0]) {
      result[0] = b.op('Conv', [g, w], { kernel_shape: [...kernel], strides: p.strides, dilations: p.dilations, pads: p.pads, group });
    }
    if (ctx.needs[1]) result[1] = convWeightGrad(b, g, x, kernel, p, group);
    if (bias && ctx.needs[2]) result[2] = b.reduceSum(g, [0, ...range(2, g.rank)], false);
    return result;
  },
  AveragePool: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const g = g0(ctx);
    const x = input(ctx, 0);
    const kernel = attrInts(ctx.node, 'kernel_shape', []);
    const n = kernel.length;
    if (attrInt(ctx.node, 'ceil_mode', 0) !== 0) throw new UnsupportedGradientError(ctx.node, 'ceil_mode');
    const spatial = x.shape.slice(2);
    const outSpatial = g.shape.slice(2);
    const p = { ...convParams(ctx.node, spatial, kernel), dilations: attrInts(ctx.node, 'dilations', new Array(n).fill(1)) };
    // Divisor per output position: the window size, or with count_include_pad=0 the number
    // of window elements inside the input (a product of per-axis counts).
    const includePad = attrInt(ctx.node, 'count_include_pad', 0) === 1 || p.pads.every((v) => v === 0);
    let scaled: Value;
    if (includePad) scaled = b.mul(g, scalar(b, 1 / kernel.reduce((a, k) => a * k, 1), g.dtype));
    else {
      const perAxis = range(0, n).map((i) =>
        range(0, outSpatial[i]).map((o) => {
          const start = o * p.strides[i] - p.pads[i];
          let count = 0;
          for (let k = 0; k < kernel[i]; k++) {
            const at = start + k * p.dilations[i];
            if (at >= 0 && at < spatial[i]) count++;
          }
          return count;
        }),
      );
      let inv: number[] = [1];
      for (const counts of perAxis) inv = inv.flatMap((v) => counts.map((c) => v / c));
      scaled = b.mul(g, constant(b, inv, [1, 1, ...outSpatial], g.dtype));
    }
    // Each input gets the scaled gradient of every window it lies in: a depthwise
    // ConvTranspose with an all-ones kernel.
    const channels = x.shape[1];
    const ones = expandTo(b, scalar(b, 1, g.dtype), [channels, 1, ...kernel]);
    return [convTransposeBack(b, scaled, ones, spatial, kernel, p, channels)];
  },
  MaxPool: (ctx) => {
    // Without an Indices output: gather every window (a static index table, padding pointing
    // at a -inf sentinel), mark the elements equal to the window's max (ties share evenly),
    // and scatter-add g back through the same table.
    if (!ctx.needs[0]) return [];
    if (ctx.outputs.length > 1) throw new UnsupportedGradientError(ctx.node, 'the Indices output');
    const { b } = ctx;
    const x = input(ctx, 0);
    const y = ctx.outputs[0];
    const g = g0(ctx);
    const kernel = attrInts(ctx.node, 'kernel_shape', []);
    const n = kernel.length;
    const p = { ...convParams(ctx.node, x.shape.slice(2), kernel), dilations: attrInts(ctx.node, 'dilations', new Array(n).fill(1)) };
    const spatial = x.shape.slice(2);
    const outSpatial = y.shape.slice(2);
    const total = spatial.reduce((a, d) => a * d, 1);
    const outTotal = outSpatial.reduce((a, d) => a * d, 1);
    const windowSize = kernel.reduce((a, d) => a * d, 1);
    const table: number[] = [];
    for (let o = 0; o < outTotal; o++) {
      const oi = outSpatial.map((_, i) => Math.floor(o / outSpatial.slice(i + 1).reduce((a, d) => a * d, 1)) % outSpatial[i]);
      for (let k = 0; k < windowSize; k++) {
        const ki = kernel.map((_, i) => Math.floor(k / kernel.slice(i + 1).reduce((a, d) => a * d, 1)) % kernel[i]);
        let flat = 0;
        let inside = true;
        for (let i = 0; i < n; i++) {
          const at = oi[i] * p.strides[i] - p.pads[i] + ki[i] * p.dilations[i];
          if (at < 0 || at >= spatial[i]) inside = false;
          flat = flat * spatial[i] + at;
        }
        table.push(inside ? flat : total);
      }
    }
    const [batch, channels] = x.shape;
    const index = constant(b, table, [outTotal, windowSize], 'int64');
    const sentinel = expandTo(b, scalar(b, -Infinity, x.dtype), [batch, channels, 1]);
    const padded = b.concat([b.reshape(x, [batch, channels, total]), sentinel], 2);
    const windows = b.op('Gather', [padded, index], { axis: 2 }); // [N, C, O, K]
    const selected = mask(b, b.op('Equal', [windows, b.reshape(y, [batch, channels, outTotal, 1])]), x.dtype);
    const share = b.div(b.reshape(g, [batch, channels, outTotal, 1]), b.reduceSum(selected, [3], true));
    const updates = b.transpose(b.mul(selected, share), [2, 3, 0, 1]); // [O, K, N, C]
    const target = zeros(b, [total + 1, batch, channels], x.dtype);
    const scattered = b.op('ScatterND', [target, b.reshape(index, [outTotal, windowSize, 1]), updates], { reduction: 'add' });
    const dx = b.transpose(b.slice(scattered, 0, 0, total), [1, 2, 0]);
    return [b.reshape(dx, [...x.shape])];
  },
  GlobalAveragePool: (ctx) => {
    if (!ctx.needs[0]) return [];
    const x = input(ctx, 0);
    const count = x.shape.slice(2).reduce((a, d) => a * d, 1);
    return [expandTo(ctx.b, ctx.b.mul(g0(ctx), scalar(ctx.b, 1 / count, x.dtype)), x.shape)];
  },
  Resize: (ctx) => {
    if (!ctx.needs[0]) return [];
    const { b } = ctx;
    const x = input(ctx, 0);
    const g = g0(ctx);
    const mode = attrString(ctx.node, 'mode', 'nearest');
    const coord = attrString(ctx.node, 'coordinate_transformation_mode', 'half_pixel');
    const nearest = attrString(ctx.node, 'nearest_mode', 'round_prefer_floor');
    if (mode === 'linear') return [resizeLinearBack(ctx, x, g, coord)];
    if (mode !== 'nearest') throw new UnsupportedGradientError(ctx.node, `mode '${mode}' (nearest and linear only)`);
    // With an integer scale s, output o reads input floor(o / s) exactly in these modes.
    const blockwise =
      ((coord === 'half_pixel' || coord === 'pytorch_half_pixel') && nearest.startsWith('round_prefer')) ||
      (coord === 'asymmetric' && nearest === 'floor');
    if (!blockwise) throw new UnsupportedGradientError(ctx.node, `nearest with ${coord}/${nearest}`);
    const scales = g.shape.map((d, i) => d / x.shape[i]);
    if (!scales.every((s) => Number.isInteger(s) && s >= 1)) {
      throw new UnsupportedGradientError(ctx.node, `non-integer upscale [${scales.join(', ')}]`);
    }
    const split = x.shape.flatMap((d, i) => [d, scales[i]]);
    const summed = sumAxes(b, reshapeTo(b, g, split), range(0, x.rank).filter((i) => scales[i] !== 1).map((i) => 2 * i + 1), true);
    return [reshapeTo(b, summed, x.shape)];
  },

  // ---------------------------------------------------------------- normalisation
  InstanceNormalization: (ctx) => {
    // y = scale[c] * xhat + bias[c], xhat normalised over the spatial axes of each (n, c).
    const { b } = ctx;
    const g = g0(ctx);
    const [x, scale] = [input(ctx, 0), input(ctx, 1)];
    const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
    const axes = range(2, x.rank);
    const perChannel = [x.shape[1], ...axes.map(() => 1)];
    const mean = b.reduceMean(x, axes, true);
    const centered = b.sub(x, mean);
    const inv = b.op('Reciprocal', [b.sqrt(b.add(b.reduceMean(b.mul(centered, centered), axes, true), scalar(b, eps, x.dtype)))]);
    const xhat = b.mul(centered, inv);
    const result: (Value | undefined)[] = [undefined, undefined, undefined];
    if (ctx.needs[0]) {
      const dxhat = b.mul(g, b.reshape(scale, perChannel));
      const m1 = b.reduceMean(dxhat, axes, true);
      const m2 = b.reduceMean(b.mul(dxhat, xhat), axes, true);
      result[0] = b.mul(inv, b.sub(b.sub(dxhat, m1), b.mul(xhat, m2)));
    }
    const channelSum = (v: Value) => b.reduceSum(v, [0, ...axes], false);
    if (ctx.needs[1]) result[1] = channelSum(b.mul(g, xhat));
    if (ctx.needs[2]) result[2] = channelSum(g);
    return result;
  },
  LayerNormalization: (ctx) => {
    const { b } = ctx;
    const x = input(ctx, 0);
    const scale = ctx.inputs[1];
    const bias = ctx.inputs[2];
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), x.rank);
    const axes = range(axis, x.rank);
    const count = axes.reduce((p, a) => p * x.shape[a], 1);
    const [gy, gMean, gInv] = ctx.grads;
    // Saved statistics (outputs 1 and 2) when the node exposes them, else recomputed.
    let mean = ctx.outputs[1];
    let inv = ctx.outputs[2];
    if (!mean || !inv) {
      const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
      mean = b.reduceMean(x, axes, true);
      const centered = b.sub(x, mean);
      inv = b.op('Reciprocal', [b.sqrt(b.add(b.reduceMean(b.mul(centered, centered), axes, true), scalar(b, eps, x.dtype)))]);
    }
    mean = b.cast(mean, x.dtype);
    inv = b.cast(inv, x.dtype);
    const xhat = b.mul(b.sub(x, mean), inv);
    const result: (Value | undefined)[] = [undefined, undefined, undefined];
    const invCount = () => scalar(b, 1 / count, x.dtype);
    if (ctx.needs[0]) {
      let dx: Value | undefined;
      if (gy) {
        const dxhat = scale ? b.mul(gy, scale) : gy;
        const m1 = b.reduceMean(dxhat, axes, true);
        const m2 = b.reduceMean(b.mul(dxhat, xhat), axes, true);
        dx = b.mul(inv, b.sub(b.sub(dxhat, m1), b.mul(xhat, m2)));
      }
      const add = (t: Value) => (dx = dx ? b.add(dx, t) : t);
      if (gMean) add(expandTo(b, b.mul(b.cast(gMean, x.dtype), invCount()), x.shape));
      // d inv / dx = -inv^2 * xhat / n
      if (gInv) add(b.neg(b.mul(b.mul(b.mul(b.cast(gInv, x.dtype), b.mul(inv, inv)), xhat), invCount())));
      result[0] = dx;
    }
    if (gy && scale && ctx.needs[1]) result[1] = unbroadcast(b, b.mul(gy, xhat), scale.shape);
    if (gy && bias && ctx.needs[2]) result[2] = unbroadcast(b, gy, bias.shape);
    return result;
  },
};

/**
 * Weight gradient of y = Conv(x, W): dW[m, c, k] = sum_{n,o} dy[n, m, o] x[n, grp(m)*Cg + c, o*s + k*d - pad].
 * It is itself a Conv whose batch is x's per-group channels and whose kernel is dy, with stride
 * and dilation swapped; x's (group, batch) pairs become the grouped input channels.
 */
function convWeightGrad(
  b: Builder,
  x: Value,
  dy: Value,
  kernel: readonly number[],
  p: { strides: number[]; dilations: number[]; pads: number[] },
  group: number,
): Value {
  const n = kernel.length;
  const [batch, channels] = x.shape;
  const cg = channels / group;
  const spatial = x.shape.slice(2);
  let xt: Value;
  if (group === 1) xt = b.transpose(x, [1, 0, ...range(2, x.rank)]);
  else {
    const split = b.reshape(x, [batch, group, cg, ...spatial]);
    xt = b.reshape(b.transpose(split, [2, 1, 0, ...range(3, x.rank + 1)]), [cg, group * batch, ...spatial]);
  }
  const gt = b.transpose(dy, [1, 0, ...range(2, dy.rank)]);
  let dw = b.op('Conv', [xt, gt], { kernel_shape: dy.shape.slice(2), strides: p.dilations, dilations: p.strides, pads: p.pads, group });
  // The swapped conv can overrun the kernel extent by up to stride-1: crop it.
  if (dw.shape.slice(2).some((d, i) => d !== kernel[i])) {
    dw = b.op('Slice', [dw], { starts: new Array(n).fill(0), ends: [...kernel], axes: range(2, 2 + n) });
  }
  return b.transpose(dw, [1, 0, ...range(2, dw.rank)]);
}

/** Gather-style indices with negative entries shifted by n (skipped for non-negative constants). */
function nonNegativeIndices(ctx: VjpContext, indices: Value, n: number): Value {
  const { b } = ctx;
  const known = ctx.graph.initializers.get(indices)?.data as ArrayLike<number | bigint> | undefined;
  if (known && Array.from(known).every((i) => Number(i) >= 0)) return indices;
  const shifted = b.add(indices, scalar(b, n, indices.dtype));
  return b.where(b.op('Less', [indices, scalar(b, 0, indices.dtype)]), shifted, indices);
}

/**
 * Linear Resize is separable: along each resized axis, y = M x with a static [out, in]
 * interpolation matrix (two taps per row, indices clamped to the edge the way onnxruntime
 * clamps coordinates). The adjoint applies M^T axis by axis: move the axis last, MatMul by M.
 */
function resizeLinearBack(ctx: VjpContext, x: Value, g: Value, coord: string): Value {
  const { b } = ctx;
  const given = ctx.node.attributes.scales as readonly number[] | undefined;
  let grad = g;
  for (let axis = 0; axis < x.rank; axis++) {
    const d = x.shape[axis];
    const big = g.shape[axis];
    const scale = given?.[axis] ?? big / d;
    if (d === big && scale === 1) continue;
    const weights = new Array<number>(big * d).fill(0);
    for (let o = 0; o < big; o++) {
      let at: number;
      if (coord === 'half_pixel') at = (o + 0.5) / scale - 0.5;
      else if (coord === 'pytorch_half_pixel') at = big > 1 ? (o + 0.5) / scale - 0.5 : 0;
      else if (coord === 'asymmetric') at = o / scale;
      else if (coord === 'align_corners') at = big > 1 ? (o * (d - 1)) / (big - 1) : 0;
      else throw new UnsupportedGradientError(ctx.node, `linear with ${coord}`);
      at = Math.min(Math.max(at, 0), d - 1);
      const lo = Math.floor(at);
      const hi = Math.min(lo + 1, d - 1);
      const frac = at - lo;
      weights[o * d + lo] += 1 - frac;
      weights[o * d + hi] += frac;
    }
    const m = constant(b, weights, [big, d], g.dtype);
    const last = grad.rank - 1;
    if (axis === last) grad = b.matmul(grad, m);
    else {
      const perm = range(0, grad.rank).map((i) => (i === axis ? last : i === last ? axis : i));
      grad = b.transpose(b.matmul(b.transpose(grad, perm), m), perm);
    }
  }
  return grad;
}

function minMax(ctx: VjpContext): (Value | undefined)[] {
  const { b } = ctx;
  const g = g0(ctx);
  const y = ctx.outputs[0];
  const masks = ctx.inputs.map((x) => (x ? selectMask(b, x, y) : undefined));
  // Ties share the gradient evenly (only when there is more than one operand to tie with).
  let count: Value | undefined;
  for (const m of masks) if (m) count = count ? b.add(count, m) : m;
  const share = masks.length > 1 && count ? b.div(g, count) : g;
  return ctx.inputs.map((x, i) => (ctx.needs[i] && x ? unbroadcast(b, b.mul(share, masks[i] as Value), x.shape) : undefined));
}

function reduceSelect(ctx: VjpContext): (Value | undefined)[] {
  if (!ctx.needs[0]) return [];
  const { b } = ctx;
  const x = input(ctx, 0);
  const axes = reduceAxes(ctx, 1);
  const selected = selectMask(b, x, expandReduced(ctx, ctx.outputs[0], axes));
  const count = b.reduceSum(selected, axes, true);
  return [b.mul(selected, expandReduced(ctx, b.div(reshapeTo(b, g0(ctx), count.shape), count), axes))];
}
