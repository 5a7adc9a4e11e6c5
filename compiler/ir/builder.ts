// The builder: the API stdlib layers call to build a forward pass, the way nn modules do.
// Every method infers output shapes at build time, so a wrong shape fails where the layer is
// built, with the layer's scope in the message.
import { type DType, type TypedArray, allocate } from './dtype.ts';
import { Graph, type Shape, type TensorType, Value } from './graph.ts';
import { type Attributes, inferTypes } from './ops.ts';

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
    const data = allocate(dtype, 1);
    if (data instanceof BigInt64Array) data[0] = BigInt(value);
    else data[0] = value;
    return this.constant(data, [], dtype, 'scalar');
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
  clip(x: Value, min: number, max: number): Value {
    return this.op('Clip', [x], { min, max });
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
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis });
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
}

export function tensorType(shape: Shape, dtype: DType = 'float32'): TensorType {
  return { dtype, shape };
}
