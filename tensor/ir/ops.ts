// The op table: for every IR op, its attribute types and its shape/dtype inference.
//
// IR ops are ONNX op types. Static parameters that ONNX passes as constant *inputs* (Reshape's
// shape, ReduceSum's axes, Slice's starts/ends, ...) are attributes in the IR, which keeps
// CSE, constant folding and VJP rules simple; `constantInputs` tells the emitter to turn them
// back into int64 initializers, in order, after the tensor inputs.
//
// float64 on the onnxruntime-node 1.30 CPU build at opset 17 (probed op by op; the finite
// difference checks of autodiff want float64 where it exists):
//   float64 works: Add Sub Mul Div Pow Max Min Neg Abs Sqrt Reciprocal Exp Log Tanh Sigmoid
//     Sin Cos Relu Floor Sign Identity Equal Less Greater Where Clip MatMul Gemm ReduceSum
//     ReduceMean ReduceMax ReduceMin ReduceSumSquare Softmax LogSoftmax MaxPool Gather
//     GatherElements ScatterND Pad Split Squeeze Unsqueeze Tile Transpose Reshape Expand
//     Concat Slice Cast; LayerNormalization (Y in float64, Mean/InvStdDev still float32).
//   float32 only: Erf Conv ConvTranspose AveragePool InstanceNormalization Resize.
//   Beware: ORT's extended graph optimisations fuse MatMul + Mul(scalar) into FusedMatMul with a
//   float32 `alpha`, which costs float64 graphs ~1e-9 relative precision; run float64 checks with
//   graphOptimizationLevel 'basic'.
import { type DType } from './dtype.ts';
import { type AttributeValue, type Shape, type TensorType, formatShape } from './graph.ts';

export type AttributeType = 'int' | 'float' | 'ints' | 'floats' | 'string' | 'strings' | 'tensor' | 'graph';

export type Attributes = Record<string, AttributeValue>;

export interface OpSchema {
  attributes?: Record<string, AttributeType>;
  /** Attributes emitted as constant int64 inputs (ONNX opset >= 13 style), in input order. */
  constantInputs?: string[];
  /**
   * Element type and rank of constant inputs that are not 1-D int64 (the default): Clip's
   * min/max are scalars of the input's type, Resize's scales 1-D float32. An absent attribute
   * is emitted as the empty input name "", so optional inputs in the middle (Resize's roi) work.
   */
  constantInputTypes?: Record<string, ConstantInputType>;
  infer(inputs: TensorType[], attributes: Attributes): TensorType[];
}

export interface ConstantInputType {
  /** 'same': the dtype of the node's first tensor input. */
  dtype: DType | 'same';
  /** Emit a rank-0 tensor (the attribute is a number) instead of a 1-D one. */
  scalar?: boolean;
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

function indexType(indices: TensorType, op: string): void {
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new ShapeError(`${op} indices must be int64 or int32, got ${indices.dtype}`);
}

/** Validate Conv/ConvTranspose attributes against input and weight ranks and fill defaults. */
function convAttributes(op: string, x: TensorType, w: TensorType, attrs: Attributes) {
  const rank = x.shape.length;
  if (rank < 3) throw new ShapeError(`${op} needs an input [N, C, spatial...], got ${formatShape(x.shape)}`);
  if (w.shape.length !== rank) throw new ShapeError(`${op} weight ${formatShape(w.shape)} must have the input's rank ${rank}`);
  if (attrs.auto_pad !== undefined && attrs.auto_pad !== 'NOTSET') throw new ShapeError(`${op}: give explicit pads instead of auto_pad`);
  const n = rank - 2;
  const spatial = Array.from({ length: n }, (_, i) => i);
  const group = int(attrs.group, 1);
  const strides = ints(attrs.strides, spatial.map(() => 1));
  const dilations = ints(attrs.dilations, spatial.map(() => 1));
  const pads = ints(attrs.pads, [...spatial, ...spatial].map(() => 0));
  const kernel = ints(attrs.kernel_shape, w.shape.slice(2));
  if (strides.length !== n || dilations.length !== n || pads.length !== 2 * n || kernel.length !== n) {
    throw new ShapeError(`${op} strides/dilations/kernel_shape need ${n} entries and pads ${2 * n}`);
  }
  if (kernel.some((k, i) => k !== w.shape[2 + i])) throw new ShapeError(`${op} kernel_shape ${formatShape(kernel)} differs from weight ${formatShape(w.shape)}`);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1) || pads.some((p) => p < 0) || group < 1) {
    throw new ShapeError(`${op} strides, dilations and group must be positive and pads non-negative`);
  }
  return { spatial, group, strides, pads, dilations };
}

function poolShape(op: string, x: TensorType, attrs: Attributes): number[] {
  const rank = x.shape.length;
  if (rank < 3) throw new ShapeError(`${op} needs an input [N, C, spatial...], got ${formatShape(x.shape)}`);
  const n = rank - 2;
  const kernel = ints(attrs.kernel_shape);
  const strides = ints(attrs.strides, kernel.map(() => 1));
  const dilations = ints(attrs.dilations, kernel.map(() => 1));
  const pads = ints(attrs.pads, [...kernel, ...kernel].map(() => 0));
  if (kernel.length !== n || strides.length !== n || dilations.length !== n || pads.length !== 2 * n) {
    throw new ShapeError(`${op} kernel_shape/strides need ${n} entries and pads ${2 * n}`);
  }
  if (int(attrs.ceil_mode, 0) !== 0) throw new ShapeError(`${op}: ceil_mode is not supported`);
  if (attrs.auto_pad !== undefined && attrs.auto_pad !== 'NOTSET') throw new ShapeError(`${op}: give explicit pads instead of auto_pad`);
  return [
    x.shape[0],
    x.shape[1],
    ...kernel.map((k, i) => {
      if (pads[i] >= k || pads[n + i] >= k) throw new ShapeError(`${op} pads ${formatShape(pads)} must be smaller than the kernel ${formatShape(kernel)}`);
      const extent = x.shape[2 + i] + pads[i] + pads[n + i] - dilations[i] * (k - 1) - 1;
      if (extent < 0) throw new ShapeError(`${op} kernel ${formatShape(kernel)} is larger than the padded input ${formatShape(x.shape)}`);
      return Math.floor(extent / strides[i]) + 1;
    }),
  ];
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
  // integer remainder (fmod = 0): the in-graph counter-based PRNG (tensor/optim/random.ts) uses it
  Mod: { attributes: { fmod: 'int' }, infer: ([a, b]) => [{ dtype: sameDType([a, b], 'Mod'), shape: broadcastShapes(a.shape, b.shape) }] },
  // control flow: Loop(M, cond, carried...) with a `body` graph (iter, cond, carried...) -> (cond, carried...).
  // Only loop-carried values (no scan outputs), so output types are the carried inputs' types.
  Loop: {
    attributes: { body: 'graph' },
    infer: ([m, cond, ...carried], attrs) => {
      if (!m || m.dtype !== 'int64' || m.shape.length !== 0) throw new ShapeError('Loop needs an int64 scalar trip count');
      if (!cond || cond.dtype !== 'bool') throw new ShapeError('Loop needs a bool condition');
      const body = attrs.body as unknown as { inputs: { type: TensorType }[]; outputs: { type: TensorType }[] } | undefined;
      if (body && (body.inputs.length !== carried.length + 2 || body.outputs.length !== carried.length + 1)) {
        throw new ShapeError(`Loop body has ${body.inputs.length} inputs and ${body.outputs.length} outputs for ${carried.length} carried values (scan outputs are not supported)`);
      }
      carried.forEach((t, i) => {
        const o = body?.outputs[i + 1].type;
        if (o && (o.dtype !== t.dtype || formatShape(o.shape) !== formatShape(t.shape))) {
          throw new ShapeError(`Loop carried value ${i} enters as ${t.dtype}${formatShape(t.shape)} and leaves the body as ${o.dtype}${formatShape(o.shape)}`);
        }
      });
      return carried.map((t) => ({ dtype: t.dtype, shape: [...t.shape] }));
    },
  },
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
    // Since opset 11 min/max are optional scalar *inputs* of the input's type.
    attributes: { min: 'float', max: 'float' },
    constantInputs: ['min', 'max'],
    constantInputTypes: { min: { dtype: 'same', scalar: true }, max: { dtype: 'same', scalar: true } },
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

  Gemm: {
    attributes: { alpha: 'float', beta: 'float', transA: 'int', transB: 'int' },
    infer: ([a, b, c], attrs) => {
      if (a.shape.length !== 2 || b.shape.length !== 2) {
        throw new ShapeError(`Gemm needs rank-2 operands, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
      }
      const [m, k1] = int(attrs.transA, 0) ? [a.shape[1], a.shape[0]] : a.shape;
      const [k2, n] = int(attrs.transB, 0) ? [b.shape[1], b.shape[0]] : b.shape;
      if (k1 !== k2) throw new ShapeError(`Gemm inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
      if (c) {
        const cs = broadcastShapes(c.shape, [m, n]);
        if (cs[0] !== m || cs[1] !== n) throw new ShapeError(`Gemm's C ${formatShape(c.shape)} does not broadcast to [${m}, ${n}]`);
      }
      return [{ dtype: sameDType(c ? [a, b, c] : [a, b], 'Gemm'), shape: [m, n] }];
    },
  },

  // convolution and pooling (spatial rank = input rank - 2: Conv1d/2d/3d)
  Conv: {
    attributes: { strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int', kernel_shape: 'ints', auto_pad: 'string' },
    infer: ([x, w, bias], attrs) => {
      const { spatial, group, strides, pads, dilations } = convAttributes('Conv', x, w, attrs);
      const [o, ipg] = w.shape;
      if (ipg * group !== x.shape[1]) {
        throw new ShapeError(
          `Conv weight ${formatShape(w.shape)} expects ${ipg * group} input channels (${ipg} per group x ${group} groups), input ${formatShape(x.shape)} has ${x.shape[1]}`,
        );
      }
      if (o % group !== 0) throw new ShapeError(`Conv: ${o} output channels are not divisible by group ${group}`);
      if (bias && (bias.shape.length !== 1 || bias.shape[0] !== o)) {
        throw new ShapeError(`Conv bias ${formatShape(bias.shape)} must be [${o}]`);
      }
      const out = spatial.map((i) => {
        const extent = x.shape[2 + i] + pads[i] + pads[spatial.length + i] - dilations[i] * (w.shape[2 + i] - 1) - 1;
        const size = Math.floor(extent / strides[i]) + 1;
        if (extent < 0 || size < 1) {
          throw new ShapeError(`Conv kernel ${formatShape(w.shape.slice(2))} (dilation ${formatShape(dilations)}) is larger than the padded input ${formatShape(x.shape)}`);
        }
        return size;
      });
      return [{ dtype: sameDType(bias ? [x, w, bias] : [x, w], 'Conv'), shape: [x.shape[0], o, ...out] }];
    },
  },
  ConvTranspose: {
    attributes: { strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int', kernel_shape: 'ints', output_padding: 'ints', auto_pad: 'string' },
    infer: ([x, w, bias], attrs) => {
      if (attrs.output_shape !== undefined) throw new ShapeError('ConvTranspose: give pads and output_padding, not output_shape');
      const { spatial, group, strides, pads, dilations } = convAttributes('ConvTranspose', x, w, attrs);
      if (w.shape[0] !== x.shape[1]) {
        throw new ShapeError(`ConvTranspose weight ${formatShape(w.shape)} expects ${w.shape[0]} input channels, input ${formatShape(x.shape)} has ${x.shape[1]}`);
      }
      if (w.shape[0] % group !== 0) throw new ShapeError(`ConvTranspose: ${w.shape[0]} input channels are not divisible by group ${group}`);
      const o = w.shape[1] * group;
      const outputPadding = ints(attrs.output_padding, spatial.map(() => 0));
      if (bias && (bias.shape.length !== 1 || bias.shape[0] !== o)) {
        throw new ShapeError(`ConvTranspose bias ${formatShape(bias.shape)} must be [${o}]`);
      }
      const out = spatial.map((i) => {
        if (outputPadding[i] >= Math.max(strides[i], dilations[i])) {
          throw new ShapeError(`ConvTranspose output_padding ${formatShape(outputPadding)} must be smaller than the stride or dilation`);
        }
        const size = strides[i] * (x.shape[2 + i] - 1) + outputPadding[i] + (w.shape[2 + i] - 1) * dilations[i] + 1 - pads[i] - pads[spatial.length + i];
        if (size < 1) throw new ShapeError(`ConvTranspose output would be empty on spatial axis ${i}`);
        return size;
      });
      return [{ dtype: sameDType(bias ? [x, w, bias] : [x, w], 'ConvTranspose'), shape: [x.shape[0], o, ...out] }];
    },
  },
  AveragePool: {
    attributes: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', count_include_pad: 'int', ceil_mode: 'int', auto_pad: 'string' },
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: poolShape('AveragePool', x, attrs) }],
  },
  MaxPool: {
    attributes: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', dilations: 'ints', ceil_mode: 'int', storage_order: 'int', auto_pad: 'string' },
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: poolShape('MaxPool', x, attrs) }],
  },

  // normalization
  LayerNormalization: {
    // Outputs Y, Mean, InvStdDev (the statistics have Y's shape with the normalized axes set to 1,
    // always float32: stash_type 1, the only one ORT CPU implements).
    attributes: { axis: 'int', epsilon: 'float', stash_type: 'int' },
    infer: ([x, scale, bias], attrs) => {
      const rank = x.shape.length;
      if (int(attrs.stash_type, 1) !== 1) throw new ShapeError('LayerNormalization: only stash_type 1 (float32 statistics) is supported');
      const axis = normalizeAxis(int(attrs.axis, -1), rank);
      const normalized = x.shape.slice(axis);
      for (const [what, t] of [['scale', scale], ['bias', bias]] as const) {
        if (t && (t.shape.length !== normalized.length || t.shape.some((d, i) => d !== normalized[i]))) {
          throw new ShapeError(`LayerNormalization ${what} ${formatShape(t.shape)} must match the normalized shape ${formatShape(normalized)}`);
        }
      }
      const dtype = sameDType(bias ? [x, scale, bias] : [x, scale], 'LayerNormalization');
      const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
      const statDType: DType = 'float32';
      return [
        { dtype, shape: [...x.shape] },
        { dtype: statDType, shape: statShape },
        { dtype: statDType, shape: statShape },
      ];
    },
  },
  InstanceNormalization: {
    attributes: { epsilon: 'float' },
    infer: ([x, scale, bias]) => {
      if (x.shape.length < 3) throw new ShapeError(`InstanceNormalization needs [N, C, ...], got ${formatShape(x.shape)}`);
      for (const t of [scale, bias]) {
        if (t.shape.length !== 1 || t.shape[0] !== x.shape[1]) {
          throw new ShapeError(`InstanceNormalization scale/bias ${formatShape(t.shape)} must be [${x.shape[1]}]`);
        }
      }
      return [{ dtype: sameDType([x, scale, bias], 'InstanceNormalization'), shape: [...x.shape] }];
    },
  },

  // indexing
  Gather: {
    attributes: { axis: 'int' },
    infer: ([data, indices], attrs) => {
      indexType(indices, 'Gather');
      const axis = normalizeAxis(int(attrs.axis, 0), data.shape.length);
      return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)] }];
    },
  },
  GatherElements: {
    attributes: { axis: 'int' },
    infer: ([data, indices], attrs) => {
      indexType(indices, 'GatherElements');
      const axis = normalizeAxis(int(attrs.axis, 0), data.shape.length);
      if (indices.shape.length !== data.shape.length || indices.shape.some((d, i) => i !== axis && d > data.shape[i])) {
        throw new ShapeError(`GatherElements indices ${formatShape(indices.shape)} do not fit data ${formatShape(data.shape)} on axis ${axis}`);
      }
      return [{ dtype: data.dtype, shape: [...indices.shape] }];
    },
  },
  ScatterND: {
    // reduction: 'none' (default) or 'add' (opset 16); duplicate indices need 'add'.
    attributes: { reduction: 'string' },
    infer: ([data, indices, updates], attrs) => {
      if (indices.dtype !== 'int64') throw new ShapeError(`ScatterND indices must be int64, got ${indices.dtype}`);
      const reduction = (attrs.reduction as string | undefined) ?? 'none';
      if (!['none', 'add', 'mul', 'max', 'min'].includes(reduction)) throw new ShapeError(`ScatterND reduction '${reduction}' is unknown`);
      const k = indices.shape[indices.shape.length - 1];
      if (indices.shape.length < 1 || k > data.shape.length) {
        throw new ShapeError(`ScatterND indices ${formatShape(indices.shape)} do not index data ${formatShape(data.shape)}`);
      }
      const expected = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
      if (updates.shape.length !== expected.length || updates.shape.some((d, i) => d !== expected[i])) {
        throw new ShapeError(`ScatterND updates ${formatShape(updates.shape)} must be ${formatShape(expected)}`);
      }
      return [{ dtype: sameDType([data, updates], 'ScatterND'), shape: [...data.shape] }];
    },
  },

  // resampling and padding
  Resize: {
    // Inputs X, roi, scales, sizes: roi stays the empty name "", exactly one of scales/sizes is given.
    attributes: {
      roi: 'floats',
      scales: 'floats',
      sizes: 'ints',
      mode: 'string',
      coordinate_transformation_mode: 'string',
      nearest_mode: 'string',
      cubic_coeff_a: 'float',
      exclude_outside: 'int',
      extrapolation_value: 'float',
    },
    constantInputs: ['roi', 'scales', 'sizes'],
    constantInputTypes: { roi: { dtype: 'float32' }, scales: { dtype: 'float32' } },
    infer: ([x], attrs) => {
      const rank = x.shape.length;
      if ((attrs.scales === undefined) === (attrs.sizes === undefined)) throw new ShapeError('Resize needs exactly one of scales and sizes');
      const spec = attrs.scales !== undefined ? ints(attrs.scales) : ints(attrs.sizes);
      if (spec.length !== rank) throw new ShapeError(`Resize ${attrs.scales !== undefined ? 'scales' : 'sizes'} ${formatShape(spec)} must have one entry per axis of ${formatShape(x.shape)}`);
      const shape = attrs.scales !== undefined ? x.shape.map((d, i) => Math.floor(d * spec[i])) : spec;
      if (shape.some((d) => d < 1)) throw new ShapeError(`Resize output ${formatShape(shape)} is empty`);
      return [{ dtype: x.dtype, shape }];
    },
  },
  Pad: {
    // pads = [begin_0, ..., begin_n, end_0, ..., end_n] (negative crops); constant_value a scalar.
    attributes: { pads: 'ints', constant_value: 'float', mode: 'string' },
    constantInputs: ['pads', 'constant_value'],
    constantInputTypes: { constant_value: { dtype: 'same', scalar: true } },
    infer: ([x], attrs) => {
      const rank = x.shape.length;
      const pads = ints(attrs.pads);
      if (pads.length !== 2 * rank) throw new ShapeError(`Pad pads ${formatShape(pads)} must have ${2 * rank} entries for ${formatShape(x.shape)}`);
      const shape = x.shape.map((d, i) => d + pads[i] + pads[rank + i]);
      if (shape.some((d) => d < 0)) throw new ShapeError(`Pad pads ${formatShape(pads)} crop more than ${formatShape(x.shape)}`);
      return [{ dtype: x.dtype, shape }];
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
  Split: {
    // split sizes are required in the IR (opset 17 has no num_outputs); one output per entry.
    attributes: { axis: 'int', split: 'ints' },
    constantInputs: ['split'],
    infer: ([x], attrs) => {
      const axis = normalizeAxis(int(attrs.axis, 0), x.shape.length);
      const split = ints(attrs.split);
      if (split.length === 0 || split.reduce((p, d) => p + d, 0) !== x.shape[axis] || split.some((d) => d < 0)) {
        throw new ShapeError(`Split sizes ${formatShape(split)} do not add up to ${x.shape[axis]} on axis ${axis}`);
      }
      return split.map((d) => ({ dtype: x.dtype, shape: x.shape.map((s, i) => (i === axis ? d : s)) }));
    },
  },
  Squeeze: {
    attributes: { axes: 'ints' },
    constantInputs: ['axes'],
    infer: ([x], attrs) => {
      const axes = attrs.axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : ints(attrs.axes).map((a) => normalizeAxis(a, x.shape.length));
      for (const a of axes) if (x.shape[a] !== 1) throw new ShapeError(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
      return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
    },
  },
  Unsqueeze: {
    attributes: { axes: 'ints' },
    constantInputs: ['axes'],
    infer: ([x], attrs) => {
      const rank = x.shape.length + ints(attrs.axes).length;
      const axes = ints(attrs.axes).map((a) => normalizeAxis(a, rank));
      if (new Set(axes).size !== axes.length) throw new ShapeError(`Unsqueeze axes ${formatShape(axes)} repeat`);
      const rest = [...x.shape];
      return [{ dtype: x.dtype, shape: Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!)) }];
    },
  },
  Tile: {
    attributes: { repeats: 'ints' },
    constantInputs: ['repeats'],
    infer: ([x], attrs) => {
      const repeats = ints(attrs.repeats);
      if (repeats.length !== x.shape.length || repeats.some((r) => r < 0)) {
        throw new ShapeError(`Tile repeats ${formatShape(repeats)} do not fit ${formatShape(x.shape)}`);
      }
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d * repeats[i]) }];
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
