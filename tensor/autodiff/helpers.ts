// Small building blocks shared by the VJP rules: typed constants, zeros, broadcast reduction.
//
// Every helper builds standard ONNX ops through the Builder, so whatever scope the caller has
// pushed (`grad/<forward scope>`) is recorded on the nodes they create.
import type { Builder } from '../ir/builder.ts';
import type { DType } from '../ir/dtype.ts';
import type { Node, Shape, Value } from '../ir/graph.ts';

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A constant tensor of `dtype` (float16/bfloat16 are built in float32 and cast). */
export function constant(b: Builder, values: readonly number[], shape: Shape, dtype: DType): Value {
  switch (dtype) {
    case 'float32':
      return b.constant(Float32Array.from(values), shape, 'float32', 'grad_const');
    case 'float64':
      return b.constant(Float64Array.from(values), shape, 'float64', 'grad_const');
    case 'int64':
      return b.constant(BigInt64Array.from(values.map((v) => BigInt(v))), shape, 'int64', 'grad_const');
    case 'int32':
      return b.constant(Int32Array.from(values), shape, 'int32', 'grad_const');
    case 'float16':
    case 'bfloat16':
      return b.cast(b.constant(Float32Array.from(values), shape, 'float32', 'grad_const'), dtype);
    case 'bool':
      return b.constant(Uint8Array.from(values.map((v) => (v ? 1 : 0))), shape, 'bool', 'grad_const');
  }
}

/** One scalar constant per (graph, dtype, value): rules ask for 0, 1, 0.5 ... many times. */
const scalarCache = new WeakMap<object, Map<string, Value>>();

export function scalar(b: Builder, value: number, dtype: DType): Value {
  if (dtype === 'float16' || dtype === 'bfloat16') return b.cast(scalar(b, value, 'float32'), dtype);
  let cache = scalarCache.get(b.graph);
  if (!cache) scalarCache.set(b.graph, (cache = new Map()));
  const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let v = cache.get(key);
  // A pass may have dropped an unused initializer since: only reuse live ones.
  if (!v || !b.graph.initializers.has(v)) {
    v = constant(b, [value], [], dtype);
    cache.set(key, v);
  }
  return v;
}

/** Zeros of a shape without storing them: Expand of a scalar 0. */
export function zeros(b: Builder, shape: Shape, dtype: DType): Value {
  const z = scalar(b, 0, dtype);
  return shape.length === 0 ? z : b.expand(z, [...shape]);
}

export function expandTo(b: Builder, x: Value, shape: Shape): Value {
  return sameShape(x.shape, shape) ? x : b.expand(x, [...shape]);
}

export function reshapeTo(b: Builder, x: Value, shape: Shape): Value {
  return sameShape(x.shape, shape) ? x : b.reshape(x, [...shape]);
}

/** ReduceSum over `axes` (never with an empty axes list, which ONNX reads as "all axes"). */
export function sumAxes(b: Builder, x: Value, axes: number[], keepdims: boolean): Value {
  if (axes.length === 0) return x;
  return b.reduceSum(x, axes, keepdims);
}

/**
 * The adjoint of broadcasting: sum `grad` over the axes along which a tensor of `target`
 * shape was broadcast (leading extra axes, and axes where target has 1), then reshape.
 */
export function unbroadcast(b: Builder, grad: Value, target: Shape): Value {
  if (sameShape(grad.shape, target)) return grad;
  const lead = grad.rank - target.length;
  if (lead < 0) throw new Error(`internal: unbroadcast of [${grad.shape}] to higher rank [${target}]`);
  const axes: number[] = [];
  grad.shape.forEach((d, i) => {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && d !== 1) axes.push(i);
    else if (target[i - lead] !== d) throw new Error(`internal: unbroadcast of [${grad.shape}] to [${target}]`);
  });
  return reshapeTo(b, sumAxes(b, grad, axes, true), target);
}

/** A bool tensor as a 0/1 tensor of `dtype`. */
export function mask(b: Builder, condition: Value, dtype: DType): Value {
  return b.cast(condition, dtype);
}

/** Static integer parameters: an IR attribute, or else an initializer feeding input `index`. */
export function staticInts(node: Node, name: string, index: number | undefined, initializers: Map<Value, { data?: unknown }>): number[] | undefined {
  const attr = node.attributes[name];
  if (attr !== undefined) return [...(attr as readonly number[])];
  if (index === undefined) return undefined;
  const input = node.inputs[index];
  const data = input ? initializers.get(input)?.data : undefined;
  if (!data) return undefined;
  return Array.from(data as ArrayLike<number | bigint>, (x) => Number(x));
}

export function staticFloats(node: Node, index: number, initializers: Map<Value, { data?: unknown }>): number[] | undefined {
  const input = node.inputs[index];
  const data = input ? initializers.get(input)?.data : undefined;
  if (!data || !(data instanceof Float32Array || data instanceof Float64Array)) return undefined;
  return Array.from(data);
}

export function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export const range = (start: number, end: number): number[] => Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
