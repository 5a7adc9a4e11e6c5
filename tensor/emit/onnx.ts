// Emission: IR Graph -> ONNX ModelProto bytes (onnx-proto), opset 17, plus onnxruntime's
// com.microsoft opset when the graph holds one of its ops (tensor/ir/ops-contrib.ts).
import onnxProto from 'onnx-proto';
import { dtypes, type DType, type TypedArray } from '../ir/dtype.ts';
import { numericData } from '../ir/numeric.ts';
import { type AttributeValue, type ConstantTensor, Graph, type Value } from '../ir/graph.ts';
import { type AttributeType, opSchemas } from '../ir/ops.ts';
import { domainOpsets, opDomains } from '../ir/ops-contrib.ts';

const { onnx } = onnxProto;

export const OPSET = 17;
const IR_VERSION = 8;

const AttributeKind = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export interface EmitOptions {
  /** Name written into the model's producer fields. */
  docString?: string;
}

export function emitModel(graph: Graph, options: EmitOptions = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'vplc',
    producerVersion: '0.1.0',
    docString: options.docString ?? '',
    opsetImport: opsetImports(graph),
    graph: emitGraph(graph),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The default opset, and that of every other domain a node of the graph (or of a subgraph) is in. */
export function opsetImports(graph: Graph): { domain: string; version: number }[] {
  const used = new Set<string>();
  const visit = (g: Graph) => {
    for (const node of g.nodes) {
      const domain = opDomains[node.op];
      if (domain) used.add(domain);
      for (const a of Object.values(node.attributes)) if (a instanceof Graph) visit(a);
    }
  };
  visit(graph);
  return [{ domain: '', version: OPSET }, ...[...used].sort().map((domain) => ({ domain, version: domainOpsets[domain] }))];
}

function valueInfo(value: Value) {
  return {
    name: value.name,
    type: { tensorType: { elemType: dtypes[value.dtype].onnx, shape: { dim: value.shape.map((d) => ({ dimValue: d })) } } },
  };
}

function rawBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(name: string, dtype: DType, shape: readonly number[], data: TypedArray) {
  return { name, dataType: dtypes[dtype].onnx, dims: [...shape], rawData: rawBytes(data) };
}

/** Subgraph-aware: a Loop body refers to values of the enclosing graph by name. */
export function emitGraph(graph: Graph) {
  const initializers: object[] = [];
  for (const [value, init] of graph.initializers) {
    if (init.external) {
      initializers.push({
        name: value.name,
        dataType: dtypes[value.dtype].onnx,
        dims: [...value.shape],
        dataLocation: 1, // EXTERNAL
        externalData: [
          { key: 'location', value: init.external.file },
          { key: 'offset', value: String(init.external.offset) },
          { key: 'length', value: String(init.external.length) },
        ],
      });
    } else if (init.data) {
      initializers.push(tensorProto(value.name, value.dtype, value.shape, init.data));
    } else {
      throw new Error(`internal: initializer '${value.name}' has neither data nor external data`);
    }
  }

  const nodes = graph.nodes.map((node) => {
    const schema = opSchemas[node.op];
    const attribute: object[] = [];
    const inputs = node.inputs.map((v) => v?.name ?? '');
    const constantInputs = new Set(schema?.constantInputs ?? []);
    for (const name of schema?.constantInputs ?? []) {
      const value = node.attributes[name];
      if (value === undefined) {
        inputs.push('');
        continue;
      }
      const constName = `${node.name}/${name}`;
      const spec = schema?.constantInputTypes?.[name];
      const dtype = spec?.dtype === 'same' ? (node.inputs[0]?.dtype ?? 'float32') : (spec?.dtype ?? 'int64');
      const numbers = typeof value === 'number' ? [value] : [...(value as readonly number[])];
      const data = numericData(dtype, numbers);
      initializers.push(tensorProto(constName, dtype, spec?.scalar ? [] : [numbers.length], data));
      inputs.push(constName);
    }
    while (inputs.length > 0 && inputs[inputs.length - 1] === '') inputs.pop();
    for (const [name, value] of Object.entries(node.attributes)) {
      if (constantInputs.has(name)) continue;
      attribute.push(emitAttribute(name, value, schema?.attributes?.[name], node.op));
    }
    const domain = opDomains[node.op];
    return { name: node.name, opType: node.op, ...(domain ? { domain } : {}), input: inputs, output: node.outputs.map((v) => v.name), attribute };
  });

  return {
    name: graph.name,
    node: nodes,
    initializer: initializers,
    input: graph.inputs.map(valueInfo),
    output: graph.outputs.map(valueInfo),
  };
}

function emitAttribute(name: string, value: AttributeValue, declared: AttributeType | undefined, op: string) {
  const type = declared ?? guessAttributeType(value);
  switch (type) {
    case 'int':
      return { name, type: AttributeKind.INT, i: value as number };
    case 'float':
      return { name, type: AttributeKind.FLOAT, f: value as number };
    case 'ints':
      return { name, type: AttributeKind.INTS, ints: [...(value as number[])] };
    case 'floats':
      return { name, type: AttributeKind.FLOATS, floats: [...(value as number[])] };
    case 'string':
      // Cast's `to` is a DType name in the IR and an enum in ONNX.
      if (op === 'Cast' && name === 'to') return { name, type: AttributeKind.INT, i: dtypes[value as DType].onnx };
      return { name, type: AttributeKind.STRING, s: new TextEncoder().encode(value as string) };
    case 'strings':
      return { name, type: AttributeKind.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) };
    case 'tensor': {
      const t = value as ConstantTensor;
      return { name, type: AttributeKind.TENSOR, t: tensorProto(name, t.type.dtype, t.type.shape, t.data) };
    }
    case 'graph':
      return { name, type: AttributeKind.GRAPH, g: emitGraph(value as Graph) };
  }
}

function guessAttributeType(value: AttributeValue): AttributeType {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value)) return typeof value[0] === 'string' ? 'strings' : value.every(Number.isInteger) ? 'ints' : 'floats';
  if ((value as ConstantTensor).kind === 'tensor') return 'tensor';
  return 'graph';
}
