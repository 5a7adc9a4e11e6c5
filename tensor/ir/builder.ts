// The builder: the API stdlib layers call to build a forward pass, the way nn modules do.
// Every method infers output shapes at build time, so a wrong shape fails where the layer is
// built, with the layer's scope in the message.
import { type DType, type TypedArray } from './dtype.ts';
import { Graph, type Shape, type TensorType, Value } from './graph.ts';
import { numericData } from './numeric.ts';
import { type Attributes, inferTypes, ShapeError } from './ops.ts';

/** Convolution geometry; numbers apply to every spatial axis, arrays give one per axis. */
export interface ConvOptions {
  strides?: number | number[];
  /** Symmetric padding per axis, or the full ONNX form [begin..., end...]. */
  pads?: number | number[];
  dilations?: number | number[];
  group?: number;
}

export interface PoolOptions {
  strides?: number | number[];
  pads?: number | number[];
  /** AveragePool: count padded zeros in the divisor (ONNX default false; torch's AvgPool default is true). */
  countIncludePad?: boolean;
}

/** Expand a per-axis option: a number for every axis, n values, or (pads) 2n values. */
export function spatialList(value: number | number[] | undefined, n: number, fallback: number, what: string, allowDouble = false): number[] {
  if (value === undefined) return Array(allowDouble ? 2 * n : n).fill(fallback);
  if (typeof value === 'number') return Array(allowDouble ? 2 * n : n).fill(value);
  if (value.length === n) return allowDouble ? [...value, ...value] : [...value];
  if (allowDouble && value.length === 2 * n) return [...value];
  throw new ShapeError(`${what} ${JSON.stringify(value)} needs ${n}${allowDouble ? ` or ${2 * n}` : ''} entries`);
}

/** Longest arange emitted as a constant (see arange). */
const ARANGE_CONSTANT_LIMIT = 1 << 16;

export class Builder {
  private readonly scopes: string[] = [];
  /** Rematerialisation segment given to every node built while it is set. */
  segment: string | undefined;

  constructor(readonly graph: Graph) {}

  get scope(): string {
    return this.scopes.join('.');
  }

  /** Run `build` with `name` pushed on the layer path ("unet.down.1.attn"). */
  within<T>(name: string, build: () => T): T {
    this.scopes.push(name);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Run `build` with every node it creates tagged as one rematerialisation segment. */
  inSegment<T>(name: string, build: () => T): T {
    const previous = this.segment;
    this.segment = name;
    try {
      return build();
    } finally {
      this.segment = previous;
    }
  }

  // ------------------------------------------------------------ primitives

  /** Add one node and return all its outputs. */
  opMulti(op: string, inputs: (Value | undefined)[], attributes: Attributes = {}): Value[] {
    const present = inputs.filter((v): v is Value => v !== undefined);
    const types = inferTypes(op, present.map((v) => v.type), attributes, this.scope);
    return this.graph.addNode(op, inputs, types, attributes, this.scope, this.segment).outputs;
  }

  /** Add one node with a single output. */
  op(op: string, inputs: (Value | undefined)[], attributes: Attributes = {}): Value {
    return this.opMulti(op, inputs, attributes)[0];
  }

  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    return this.graph.addInput(this.qualify(name), { dtype, shape });
  }

  /** A frozen tensor stored in the graph (small constants, or frozen weights). */
  constant(data: TypedArray, shape: Shape, dtype: DType = 'float32', name = 'const'): Value {
    return this.graph.addInitializer(this.qualify(name), { dtype, shape }, { data });
  }

  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.constant(numericData(dtype, [value]), [], dtype, 'scalar');
  }

  private qualify(name: string): string {
    return this.scope ? `${this.scope}.${name}` : name;
  }

  // ------------------------------------------------------------ elementwise

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  pow(a: Value, b: Value): Value {
    return this.op('Pow', [a, b]);
  }
  neg(x: Value): Value {
    return this.op('Neg', [x]);
  }
  sqrt(x: Value): Value {
    return this.op('Sqrt', [x]);
  }
  exp(x: Value): Value {
    return this.op('Exp', [x]);
  }
  log(x: Value): Value {
    return this.op('Log', [x]);
  }
  abs(x: Value): Value {
    return this.op('Abs', [x]);
  }
  erf(x: Value): Value {
    return this.op('Erf', [x]);
  }
  tanh(x: Value): Value {
    return this.op('Tanh', [x]);
  }
  sigmoid(x: Value): Value {
    return this.op('Sigmoid', [x]);
  }
  sin(x: Value): Value {
    return this.op('Sin', [x]);
  }
  cos(x: Value): Value {
    return this.op('Cos', [x]);
  }
  where(condition: Value, a: Value, b: Value): Value {
    return this.op('Where', [condition, a, b]);
  }
  cast(x: Value, to: DType): Value {
    return x.dtype === to ? x : this.op('Cast', [x], { to });
  }
  /** Clamp to [min, max]; either bound may be left out (undefined). */
  clip(x: Value, min: number | undefined, max?: number): Value {
    return this.op('Clip', [x], { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
  }
  relu(x: Value): Value {
    return this.op('Relu', [x]);
  }
  reciprocal(x: Value): Value {
    return this.op('Reciprocal', [x]);
  }

  // ------------------------------------------------------------ constants (no Range op needed)

  /** A constant from JS numbers (any dtype; float16/bfloat16 converted to bit patterns). */
  constantOf(values: readonly number[], shape: Shape, dtype: DType = 'float32', name = 'const'): Value {
    const n = shape.reduce((p, d) => p * d, 1);
    if (values.length !== n) throw new ShapeError(`constant of shape [${shape.join(', ')}] needs ${n} values, got ${values.length}`);
    return this.constant(numericData(dtype, values), shape, dtype, name);
  }
  /**
   * [start, start+step, ...] with n entries. Up to 2^16 entries it is a constant; longer ones
   * (a counter per activation element of a full-size model: tens of millions) are computed
   * from two short constants, rows x 4096 + columns, so the graph does not carry them.
   */
  arange(n: number, dtype: DType = 'int64', start = 0, step = 1): Value {
    if (n <= ARANGE_CONSTANT_LIMIT) return this.constantOf(Array.from({ length: n }, (_, i) => start + i * step), [n], dtype, 'arange');
    const cols = 4096;
    const rows = Math.ceil(n / cols);
    const row = this.constantOf(Array.from({ length: rows }, (_, i) => start + i * cols * step), [rows, 1], dtype, 'arange_rows');
    const col = this.constantOf(Array.from({ length: cols }, (_, i) => i * step), [1, cols], dtype, 'arange_cols');
    const flat = this.reshape(this.add(row, col), [rows * cols]);
    return rows * cols === n ? flat : this.slice(flat, 0, 0, n);
  }
  /** A constant filled with one value. */
  full(shape: Shape, value: number, dtype: DType = 'float32'): Value {
    return this.constantOf(Array(shape.reduce((p, d) => p * d, 1)).fill(value), shape, dtype, 'full');
  }
  /** A scalar constant of x's dtype (for scaling, epsilons). */
  scalarLike(x: Value, value: number): Value {
    return this.constant(numericData(x.dtype, [value]), [], x.dtype, 'scalar');
  }

  // ------------------------------------------------------------ linear algebra, reductions

  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  reduceSum(x: Value, axes?: number[], keepdims = true): Value {
    return this.op('ReduceSum', [x], { ...(axes ? { axes } : {}), keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(x: Value, axes?: number[], keepdims = true): Value {
    return this.op('ReduceMean', [x], { ...(axes ? { axes } : {}), keepdims: keepdims ? 1 : 0 });
  }
  reduceMax(x: Value, axes?: number[], keepdims = true): Value {
    return this.op('ReduceMax', [x], { ...(axes ? { axes } : {}), keepdims: keepdims ? 1 : 0 });
  }
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis });
  }
  gemm(a: Value, b: Value, c?: Value, options: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    const attrs: Attributes = {};
    if (options.alpha !== undefined) attrs.alpha = options.alpha;
    if (options.beta !== undefined) attrs.beta = options.beta;
    if (options.transA) attrs.transA = 1;
    if (options.transB) attrs.transB = 1;
    return this.op('Gemm', c ? [a, b, c] : [a, b], attrs);
  }

  // ------------------------------------------------------------ convolution, pooling, normalization

  /** Conv over rank-2 spatial dims (1d/2d/3d by rank); weight [O, C/group, k...], bias [O]. */
  conv(x: Value, weight: Value, bias?: Value, options: ConvOptions = {}): Value {
    return this.op('Conv', bias ? [x, weight, bias] : [x, weight], this.convAttributes(x, options));
  }
  /** Transposed conv; weight [C, O/group, k...]; outputPadding resolves the output size. */
  convTranspose(x: Value, weight: Value, bias?: Value, options: ConvOptions & { outputPadding?: number | number[] } = {}): Value {
    const attrs = this.convAttributes(x, options);
    const n = x.rank - 2;
    if (options.outputPadding !== undefined) attrs.output_padding = spatialList(options.outputPadding, n, 0, 'output_padding');
    return this.op('ConvTranspose', bias ? [x, weight, bias] : [x, weight], attrs);
  }
  private convAttributes(x: Value, options: ConvOptions): Attributes {
    const n = Math.max(x.rank - 2, 0);
    return {
      strides: spatialList(options.strides, n, 1, 'strides'),
      pads: spatialList(options.pads, n, 0, 'pads', true),
      dilations: spatialList(options.dilations, n, 1, 'dilations'),
      group: options.group ?? 1,
    };
  }
  averagePool(x: Value, kernel: number | number[], options: PoolOptions = {}): Value {
    const n = Math.max(x.rank - 2, 0);
    return this.op('AveragePool', [x], {
      kernel_shape: spatialList(kernel, n, 1, 'kernel_shape'),
      strides: spatialList(options.strides, n, 1, 'strides'),
      pads: spatialList(options.pads, n, 0, 'pads', true),
      count_include_pad: options.countIncludePad ? 1 : 0,
    });
  }
  maxPool(x: Value, kernel: number | number[], options: PoolOptions & { dilations?: number | number[] } = {}): Value {
    const n = Math.max(x.rank - 2, 0);
    return this.op('MaxPool', [x], {
      kernel_shape: spatialList(kernel, n, 1, 'kernel_shape'),
      strides: spatialList(options.strides, n, 1, 'strides'),
      pads: spatialList(options.pads, n, 0, 'pads', true),
      dilations: spatialList(options.dilations, n, 1, 'dilations'),
    });
  }
  /** LayerNormalization's three outputs: Y, Mean and InvStdDev (kept for the backward pass). */
  layerNormalization(x: Value, scale: Value, bias?: Value, axis = -1, epsilon = 1e-5): [Value, Value, Value] {
    const [y, mean, invStd] = this.opMulti('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis, epsilon });
    return [y, mean, invStd];
  }
  instanceNormalization(x: Value, scale: Value, bias: Value, epsilon = 1e-5): Value {
    return this.op('InstanceNormalization', [x, scale, bias], { epsilon });
  }

  // ------------------------------------------------------------ indexing, resampling

  gather(data: Value, indices: Value, axis = 0): Value {
    return this.op('Gather', [data, indices], { axis });
  }
  gatherElements(data: Value, indices: Value, axis = 0): Value {
    return this.op('GatherElements', [data, indices], { axis });
  }
  scatterND(data: Value, indices: Value, updates: Value, reduction: 'none' | 'add' = 'none'): Value {
    return this.op('ScatterND', [data, indices, updates], reduction === 'none' ? {} : { reduction });
  }
  /**
   * Resize by per-axis scales. Nearest uses torch's convention (asymmetric coordinates, floor),
   * linear uses half_pixel (torch align_corners=False).
   */
  resize(x: Value, scales: number[], mode: 'nearest' | 'linear' = 'nearest'): Value {
    const attrs: Attributes =
      mode === 'nearest'
        ? { scales, mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
        : { scales, mode, coordinate_transformation_mode: 'half_pixel' };
    return this.op('Resize', [x], attrs);
  }

  // ------------------------------------------------------------ shape

  reshape(x: Value, shape: number[]): Value {
    return this.op('Reshape', [x], { shape });
  }
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm });
  }
  expand(x: Value, shape: number[]): Value {
    return this.op('Expand', [x], { shape });
  }
  concat(values: Value[], axis: number): Value {
    return this.op('Concat', values, { axis });
  }
  slice(x: Value, axis: number, start: number, end: number): Value {
    return this.op('Slice', [x], { starts: [start], ends: [end], axes: [axis] });
  }
  split(x: Value, axis: number, sizes: number[]): Value[] {
    return this.opMulti('Split', [x], { axis, split: sizes });
  }
  squeeze(x: Value, axes?: number[]): Value {
    return this.op('Squeeze', [x], axes ? { axes } : {});
  }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.op('Unsqueeze', [x], { axes });
  }
  tile(x: Value, repeats: number[]): Value {
    return this.op('Tile', [x], { repeats });
  }
  /** Constant padding; pads = [begin..., end...] over all axes (negative values crop). */
  pad(x: Value, pads: number[], value = 0, mode: 'constant' | 'reflect' | 'edge' = 'constant'): Value {
    return this.op('Pad', [x], { pads, ...(mode === 'constant' ? { constant_value: value } : {}), mode });
  }
}

export function tensorType(shape: Shape, dtype: DType = 'float32'): TensorType {
  return { dtype, shape };
}
