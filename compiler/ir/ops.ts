// The op table: for every IR op, its attribute types and its shape/dtype inference.
//
// IR ops are ONNX op types. Static parameters that ONNX passes as constant *inputs* (Reshape's
// shape, ReduceSum's axes, Slice's starts/ends, ...) are attributes in the IR, which keeps
// CSE, constant folding and VJP rules simple; `constantInputs` tells the emitter to turn them
// back into int64 initializers, in order, after the tensor inputs.
import { type DType } from './dtype.ts';
import { type AttributeValue, type Shape, type TensorType, formatShape } from './graph.ts';

export type AttributeType = 'int' | 'float' | 'ints' | 'floats' | 'string' | 'strings' | 'tensor' | 'graph';

export type Attributes = Record<string, AttributeValue>;

export interface OpSchema {
  attributes?: Record<string, AttributeType>;
  /** Attributes emitted as constant int64 inputs (ONNX opset >= 13 style), in input order. */
  constantInputs?: string[];
  infer(inputs: TensorType[], attributes: Attributes): TensorType[];
}

export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

// ------------------------------------------------------------------ helpers

export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`cannot broadcast ${formatShape(a)} with ${formatShape(b)}`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function sameDType(inputs: TensorType[], op: string): DType {
  const dtype = inputs[0].dtype;
  for (const t of inputs) {
    if (t.dtype !== dtype) throw new ShapeError(`${op} mixes ${dtype} and ${t.dtype}`);
  }
  return dtype;
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

const ints = (v: AttributeValue | undefined, fallback: number[] = []): number[] =>
  v === undefined ? fallback : [...(v as readonly number[])];
const int = (v: AttributeValue | undefined, fallback: number): number => (v === undefined ? fallback : (v as number));

const binary = (resultDType?: DType): OpSchema => ({
  infer: ([a, b], _, op = '') => [{ dtype: resultDType ?? sameDType([a, b], op), shape: broadcastShapes(a.shape, b.shape) }],
});
const unary: OpSchema = { infer: ([x]) => [{ ...x }] };

function reduce(keepdimsDefault = 1): OpSchema {
  return {
    attributes: { axes: 'ints', keepdims: 'int' },
    infer: ([x], attrs) => {
      const rank = x.shape.length;
      const axes = attrs.axes === undefined ? x.shape.map((_, i) => i) : ints(attrs.axes).map((a) => normalizeAxis(a, rank));
      const keep = int(attrs.keepdims, keepdimsDefault) === 1;
      const shape: number[] = [];
      x.shape.forEach((d, i) => {
        if (!axes.includes(i)) shape.push(d);
        else if (keep) shape.push(1);
      });
      return [{ dtype: x.dtype, shape }];
    },
  };
}

// -------------------------------------------------------------------- table

export const opSchemas: Record<string, OpSchema> = {
  // elementwise
  Add: binary(),
  Sub: binary(),
  Mul: binary(),
  Div: binary(),
  Pow: { infer: ([a, b]) => [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) }] },
  Max: binary(),
  Min: binary(),
  Equal: binary('bool'),
  Less: binary('bool'),
  Greater: binary('bool'),
  And: binary('bool'),
  Or: binary('bool'),
  Not: unary,
  Neg: unary,
  Abs: unary,
  Sqrt: unary,
  Reciprocal: unary,
  Exp: unary,
  Log: unary,
  Erf: unary,
  Tanh: unary,
  Sigmoid: unary,
  Sin: unary,
  Cos: unary,
  Relu: unary,
  Floor: unary,
  Sign: unary,
  Identity: unary,
  Where: {
    infer: ([c, a, b]) => {
      if (c.dtype !== 'bool') throw new ShapeError(`Where's condition must be bool, got ${c.dtype}`);
      return [{ dtype: sameDType([a, b], 'Where'), shape: broadcastShapes(c.shape, broadcastShapes(a.shape, b.shape)) }];
    },
  },
  Cast: {
    attributes: { to: 'string' }, // the IR keeps the DType name; the emitter maps it to the ONNX enum
    infer: ([x], attrs) => [{ dtype: attrs.to as DType, shape: x.shape }],
  },
  Clip: {
    attributes: { min: 'float', max: 'float' },
    infer: ([x]) => [{ ...x }],
  },

  // linear algebra
  MatMul: {
    infer: ([a, b]) => {
      if (a.shape.length < 2 || b.shape.length < 2) {
        throw new ShapeError(`MatMul needs rank >= 2 operands, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
      }
      const [m, k1] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k1 !== k2) {
        throw new ShapeError(`MatMul inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
      }
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return [{ dtype: sameDType([a, b], 'MatMul'), shape: [...batch, m, n] }];
    },
  },

  // reductions (ReduceSum takes axes as an input since opset 13; the others in opset 18)
  ReduceSum: { ...reduce(), constantInputs: ['axes'] },
  ReduceMean: reduce(),
  ReduceMax: reduce(),
  ReduceMin: reduce(),
  ReduceSumSquare: reduce(),
  Softmax: {
    attributes: { axis: 'int' },
    infer: ([x], attrs) => {
      normalizeAxis(int(attrs.axis, -1), x.shape.length);
      return [{ ...x }];
    },
  },
  LogSoftmax: {
    attributes: { axis: 'int' },
    infer: ([x], attrs) => {
      normalizeAxis(int(attrs.axis, -1), x.shape.length);
      return [{ ...x }];
    },
  },

  // shape manipulation
  Reshape: {
    attributes: { shape: 'ints' },
    constantInputs: ['shape'],
    infer: ([x], attrs) => {
      const target = ints(attrs.shape);
      const size = x.shape.reduce((p, d) => p * d, 1);
      const known = target.reduce((p, d, i) => (d === -1 ? p : p * (d === 0 ? x.shape[i] : d)), 1);
      const shape = target.map((d, i) => (d === 0 ? x.shape[i] : d === -1 ? size / known : d));
      if (shape.reduce((p, d) => p * d, 1) !== size || !shape.every(Number.isInteger)) {
        throw new ShapeError(`cannot reshape ${formatShape(x.shape)} to ${formatShape(target)}`);
      }
      return [{ dtype: x.dtype, shape }];
    },
  },
  Transpose: {
    attributes: { perm: 'ints' },
    infer: ([x], attrs) => {
      const perm = ints(attrs.perm, x.shape.map((_, i) => x.shape.length - 1 - i));
      if (perm.length !== x.shape.length || [...perm].sort().some((p, i) => p !== i)) {
        throw new ShapeError(`Transpose perm ${formatShape(perm)} does not fit ${formatShape(x.shape)}`);
      }
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
    },
  },
  Expand: {
    attributes: { shape: 'ints' },
    constantInputs: ['shape'],
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, ints(attrs.shape)) }],
  },
  Concat: {
    attributes: { axis: 'int' },
    infer: (inputs, attrs) => {
      const rank = inputs[0].shape.length;
      const axis = normalizeAxis(int(attrs.axis, 0), rank);
      const shape = [...inputs[0].shape];
      shape[axis] = 0;
      for (const t of inputs) {
        if (t.shape.length !== rank || t.shape.some((d, i) => i !== axis && d !== inputs[0].shape[i])) {
          throw new ShapeError(`Concat on axis ${axis}: ${inputs.map((i) => formatShape(i.shape)).join(' vs ')}`);
        }
        shape[axis] += t.shape[axis];
      }
      return [{ dtype: sameDType(inputs, 'Concat'), shape }];
    },
  },
  Slice: {
    attributes: { starts: 'ints', ends: 'ints', axes: 'ints', steps: 'ints' },
    constantInputs: ['starts', 'ends', 'axes', 'steps'],
    infer: ([x], attrs) => {
      const starts = ints(attrs.starts);
      const ends = ints(attrs.ends);
      const axes = ints(attrs.axes, starts.map((_, i) => i)).map((a) => normalizeAxis(a, x.shape.length));
      const steps = ints(attrs.steps, starts.map(() => 1));
      const shape = [...x.shape];
      axes.forEach((axis, i) => {
        const dim = x.shape[axis];
        const step = steps[i];
        if (step !== 1) throw new ShapeError('Slice with a step other than 1 is not supported');
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
        shape[axis] = Math.max(0, clamp(ends[i]) - clamp(starts[i]));
      });
      return [{ dtype: x.dtype, shape }];
    },
  },
};

/** Infer output types, turning a ShapeError into one that names the layer and the shapes. */
export function inferTypes(op: string, inputs: TensorType[], attributes: Attributes, scope: string): TensorType[] {
  const schema = opSchemas[op];
  if (!schema) throw new Error(`internal: no schema for op '${op}'`);
  try {
    return schema.infer(inputs, attributes);
  } catch (error) {
    if (error instanceof ShapeError) {
      const where = scope ? `in ${scope}: ` : '';
      const shapes = inputs.map((t) => formatShape(t.shape)).join(', ');
      throw new ShapeError(`${where}${op}: ${error.message} (input shapes ${shapes})`);
    }
    throw error;
  }
}
