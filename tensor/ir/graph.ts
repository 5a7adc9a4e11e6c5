// The tensor IR: a graph of ONNX-level operations over values with static shapes.
//
// Op names are ONNX op types (Add, MatMul, Conv, ...): the IR is close to what we emit, so
// emission is a direct mapping and each VJP rule is written once per ONNX op. Composite
// layers (linear, attention, group norm) are built from these ops by tensor/ir/builder.ts.
import type { DType, TypedArray } from './dtype.ts';

export type Shape = readonly number[];

export interface TensorType {
  dtype: DType;
  shape: Shape;
}

export type AttributeValue = number | readonly number[] | string | readonly string[] | ConstantTensor | Graph;

export interface ConstantTensor {
  kind: 'tensor';
  type: TensorType;
  data: TypedArray;
}

/** Where a frozen weight's bytes come from when it is not held in memory. */
export interface ExternalData {
  /** Source file (e.g. a safetensors checkpoint) and the byte range of the raw little-endian data. */
  file: string;
  offset: number;
  length: number;
}

export interface Initializer {
  /** Inline data (small constants, or weights already in memory). */
  data?: TypedArray;
  external?: ExternalData;
  /**
   * A weight known by shape only (a full-size model compiled without its checkpoint): emitted
   * as external data whose bytes nobody has yet. `key` names the tensor it stands for.
   */
  lazy?: { key: string };
}

export class Value {
  /** The node that computes this value; undefined for graph inputs and initializers. */
  producer: Node | undefined;
  constructor(
    readonly id: number,
    public name: string,
    readonly type: TensorType,
  ) {}

  get shape(): Shape {
    return this.type.shape;
  }
  get dtype(): DType {
    return this.type.dtype;
  }
  get rank(): number {
    return this.type.shape.length;
  }
  get size(): number {
    return numel(this.type.shape);
  }
}

export class Node {
  constructor(
    readonly id: number,
    public name: string,
    readonly op: string,
    public inputs: (Value | undefined)[], // undefined = omitted optional input
    public outputs: Value[],
    public attributes: Record<string, AttributeValue>,
    /** Layer path that built this node ("unet.down.1.attn"): for error messages and grouping. */
    public scope: string,
    /** Rematerialisation segment: nodes of one segment are recomputed in the backward pass. */
    public segment?: string,
  ) {}
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  nodes: Node[] = [];
  readonly initializers = new Map<Value, Initializer>();
  private nextId = 0;
  private readonly names = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();

  constructor(public name: string) {}

  /** A name not used yet in this graph, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    if (this.names.has(name)) {
      // Resume from the last suffix tried for this base, so naming stays linear in graph size.
      let i = this.nextSuffix.get(base) ?? 1;
      while (this.names.has(`${base}_${i}`)) i++;
      name = `${base}_${i}`;
      this.nextSuffix.set(base, i + 1);
    }
    this.names.add(name);
    return name;
  }

  newValue(name: string, type: TensorType): Value {
    return new Value(this.nextId++, this.uniqueName(name), { dtype: type.dtype, shape: [...type.shape] });
  }

  addInput(name: string, type: TensorType): Value {
    const value = this.newValue(name, type);
    this.inputs.push(value);
    return value;
  }

  addInitializer(name: string, type: TensorType, init: Initializer): Value {
    const value = this.newValue(name, type);
    this.initializers.set(value, init);
    return value;
  }

  addNode(
    op: string,
    inputs: (Value | undefined)[],
    outputTypes: TensorType[],
    attributes: Record<string, AttributeValue> = {},
    scope = '',
    segment?: string,
  ): Node {
    const base = scope ? `${scope}/${op}` : op;
    const node = new Node(this.nextId++, this.uniqueName(base), op, inputs, [], attributes, scope, segment);
    node.outputs = outputTypes.map((type, i) => {
      const value = this.newValue(outputTypes.length === 1 ? `${base}_out` : `${base}_out${i}`, type);
      value.producer = node;
      return value;
    });
    this.nodes.push(node);
    return node;
  }

  markOutput(value: Value): void {
    if (!this.outputs.includes(value)) this.outputs.push(value);
  }
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
