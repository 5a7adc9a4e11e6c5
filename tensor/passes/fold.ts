// Constant folding (in place, async): a node whose inputs are all small inline initializers is
// evaluated at compile time and its outputs become initializers. Ops whose float32 result is
// exactly reproducible in JS (IEEE + - * / sqrt, comparisons, data movement, casts) are evaluated
// here; any other op goes through onnxruntime (tensor/emit/evaluate.ts), so folded values are
// bit-identical to what the runtime would compute. Large constants (inputs over
// `maxInputElements` or outputs over `maxOutputElements`) are kept as nodes: folding an Expand
// of a scalar to a big shape would only bloat the model. Random ops and nodes with subgraphs or
// without inputs are never folded; bf16 constants are left alone (they cannot cross into JS).
import { evaluate } from '../emit/evaluate.ts';
import { allocate, type DType, type TypedArray } from '../ir/dtype.ts';
import { Graph, type Node, type Shape, type Value, numel } from '../ir/graph.ts';
import { normalizeAxis } from '../ir/ops.ts';
import { applyReplacements, subgraphsOf } from './util.ts';

export interface FoldOptions {
  maxInputElements?: number;
  maxOutputElements?: number;
}

interface Tensor {
  dtype: DType;
  shape: Shape;
  data: TypedArray;
}

function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Index into `shape` (broadcast to `out`) for each flat index of `out`. */
function broadcastIndex(shape: Shape, out: Shape): Int32Array {
  const n = numel(out);
  const idx = new Int32Array(n);
  const os = strides(out);
  const is = strides(shape);
  const offset = out.length - shape.length;
  for (let f = 0; f < n; f++) {
    let rem = f;
    let src = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(rem / os[d]);
      rem -= c * os[d];
      const sd = d - offset;
      if (sd >= 0 && shape[sd] !== 1) src += c * is[sd];
    }
    idx[f] = src;
  }
  return idx;
}

type Scalar = number | bigint | boolean;
const read = (t: Tensor, i: number): Scalar => (t.dtype === 'bool' ? t.data[i] !== 0 : (t.data[i] as number | bigint));
function write(data: TypedArray, dtype: DType, i: number, v: Scalar): void {
  if (dtype === 'bool') (data as Uint8Array)[i] = v ? 1 : 0;
  else if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt.asIntN(64, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))));
  else if (dtype === 'int32') (data as Int32Array)[i] = Number(v);
  else (data as Float32Array)[i] = Number(v);
}

const elementwise: Record<string, (a: any, b: any, dtype: DType) => Scalar> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b, dtype) => (dtype === 'int32' ? Math.imul(a, b) : a * b),
  Div: (a, b, dtype) => (dtype === 'int64' ? (b === 0n ? 0n : a / b) : dtype === 'int32' ? Math.trunc(a / b) : a / b),
  Max: (a, b) => (a > b || Number.isNaN(a) ? a : b),
  Min: (a, b) => (a < b || Number.isNaN(a) ? a : b),
  Equal: (a, b) => a === b,
  Less: (a, b) => a < b,
  Greater: (a, b) => a > b,
  And: (a, b) => a && b,
  Or: (a, b) => a || b,
};
const unaryOps: Record<string, (a: any, dtype: DType) => Scalar> = {
  Neg: (a) => -a,
  Abs: (a) => (a < 0 ? -a : a),
  Sqrt: (a) => Math.sqrt(a),
  Identity: (a) => a,
  Not: (a) => !a,
};
const JS_DTYPES = new Set<DType>(['float32', 'float64', 'int64', 'int32', 'bool']);

/** Evaluate a node in JS when that is exact; undefined when it must go through onnxruntime. */
function evaluateInJs(node: Node, inputs: Tensor[], outTypes: { dtype: DType; shape: Shape }[]): TypedArray[] | undefined {
  if (![...inputs, ...outTypes].every((t) => JS_DTYPES.has(t.dtype))) return undefined;
  const out = outTypes[0];
  const n = numel(out.shape);
  const result = allocate(out.dtype, n);
  const binary = elementwise[node.op];
  if (binary) {
    const [a, b] = inputs;
    // Equal/Less/... compare in the inputs' dtype; arithmetic in the output's
    const ia = broadcastIndex(a.shape, out.shape);
    const ib = broadcastIndex(b.shape, out.shape);
    for (let i = 0; i < n; i++) write(result, out.dtype, i, binary(read(a, ia[i]), read(b, ib[i]), a.dtype));
    return [result];
  }
  const unary = unaryOps[node.op];
  if (unary) {
    for (let i = 0; i < n; i++) write(result, out.dtype, i, unary(read(inputs[0], i), out.dtype));
    return [result];
  }
  switch (node.op) {
    case 'Where': {
      const [c, a, b] = inputs;
      const [ic, ia, ib] = [c, a, b].map((t) => broadcastIndex(t.shape, out.shape));
      for (let i = 0; i < n; i++) write(result, out.dtype, i, c.data[ic[i]] ? read(a, ia[i]) : read(b, ib[i]));
      return [result];
    }
    case 'Reshape':
    case 'Expand': {
      const idx = broadcastIndex(node.op === 'Reshape' ? out.shape : inputs[0].shape, out.shape);
      for (let i = 0; i < n; i++) write(result, out.dtype, i, read(inputs[0], node.op === 'Reshape' ? i : idx[i]));
      return [result];
    }
    case 'Cast': {
      const from = inputs[0].dtype;
      for (let i = 0; i < n; i++) {
        let v = read(inputs[0], i);
        if (out.dtype === 'int64' || out.dtype === 'int32') {
          if (typeof v !== 'bigint') {
            const x = Number(v);
            if (!Number.isFinite(x)) return undefined; // implementation-defined: leave it to the runtime
            v = BigInt(Math.trunc(x));
          }
          if (out.dtype === 'int32') v = Number(BigInt.asIntN(32, v));
        } else if (out.dtype === 'bool') v = from === 'int64' ? v !== 0n : Number(v) !== 0;
        else v = Number(v);
        write(result, out.dtype, i, v);
      }
      return [result];
    }
    case 'Transpose': {
      const x = inputs[0];
      const perm = (node.attributes.perm as number[] | undefined) ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const xs = strides(x.shape);
      const os = strides(out.shape);
      for (let f = 0; f < n; f++) {
        let rem = f;
        let src = 0;
        for (let d = 0; d < out.shape.length; d++) {
          const c = Math.floor(rem / os[d]);
          rem -= c * os[d];
          src += c * xs[perm[d]];
        }
        write(result, out.dtype, f, read(x, src));
      }
      return [result];
    }
    case 'Slice':
    case 'Concat': {
      // both as "for each output element, find its source element"
      const os = strides(out.shape);
      const rank = out.shape.length;
      for (let f = 0; f < n; f++) {
        let rem = f;
        const coord: number[] = [];
        for (let d = 0; d < rank; d++) {
          coord.push(Math.floor(rem / os[d]));
          rem -= coord[d] * os[d];
        }
        let src: Tensor = inputs[0];
        if (node.op === 'Concat') {
          const axis = normalizeAxis((node.attributes.axis as number | undefined) ?? 0, rank);
          for (const t of inputs) {
            if (coord[axis] < t.shape[axis]) {
              src = t;
              break;
            }
            coord[axis] -= t.shape[axis];
          }
        } else {
          const starts = node.attributes.starts as number[];
          const axes = ((node.attributes.axes as number[] | undefined) ?? starts.map((_, i) => i)).map((a) => normalizeAxis(a, rank));
          axes.forEach((axis, i) => {
            const dim = src.shape[axis];
            const s = starts[i] < 0 ? starts[i] + dim : starts[i];
            coord[axis] += Math.min(Math.max(s, 0), dim);
          });
        }
        const ss = strides(src.shape);
        write(result, out.dtype, f, read(src, coord.reduce((acc, c, d) => acc + c * ss[d], 0)));
      }
      return [result];
    }
  }
  return undefined;
}

async function evaluateInRuntime(node: Node, inputs: Value[], data: TypedArray[]): Promise<TypedArray[]> {
  const g = new Graph('fold');
  const values = inputs.map((v, i) => g.addInitializer(`c${i}`, v.type, { data: data[i] }));
  const map = new Map(inputs.map((v, i) => [v, values[i]]));
  const copy = g.addNode(node.op, node.inputs.map((v) => v && map.get(v)), node.outputs.map((o) => o.type), node.attributes);
  copy.outputs.forEach((o) => g.markOutput(o));
  const out = await evaluate(g, {});
  return copy.outputs.map((o) => out[o.name]);
}

export async function foldConstants(graph: Graph, options: FoldOptions = {}): Promise<Graph> {
  const maxIn = options.maxInputElements ?? 1 << 16;
  const maxOut = options.maxOutputElements ?? 1 << 16;
  const replace = new Map<Value, Value>();
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map((v) => (v && replace.get(v)) ?? v);
    const inputs = node.inputs.filter((v): v is Value => v !== undefined);
    const inits = inputs.map((v) => graph.initializers.get(v));
    const foldable =
      inputs.length > 0 &&
      subgraphsOf(node).length === 0 &&
      !node.op.startsWith('Random') &&
      inits.every((init, i) => init?.data !== undefined && inputs[i].size <= maxIn) &&
      node.outputs.every((o) => o.size <= maxOut && o.dtype !== 'bfloat16') &&
      inputs.every((v) => v.dtype !== 'bfloat16');
    if (!foldable) {
      for (const sub of subgraphsOf(node)) {
        applyReplacements(sub, replace, true);
        await foldConstants(sub, options);
      }
      kept.push(node);
      continue;
    }
    const data = inits.map((init) => init!.data!);
    const results =
      evaluateInJs(node, inputs.map((v, i) => ({ dtype: v.dtype, shape: v.shape, data: data[i] })), node.outputs.map((o) => o.type)) ??
      (await evaluateInRuntime(node, inputs, data));
    node.outputs.forEach((o, i) => {
      const value = graph.addInitializer(`${o.name}_folded`, o.type, { data: results[i] });
      replace.set(o, value);
    });
  }
  graph.nodes = kept;
  applyReplacements(graph, replace);
  // initializers only the folded nodes used are now dead
  const used = new Set<Value>(graph.outputs);
  for (const node of graph.nodes) node.inputs.forEach((v) => v && used.add(v));
  const captured = graph.nodes.flatMap((n) => subgraphsOf(n));
  if (captured.length === 0) for (const v of [...graph.initializers.keys()]) if (!used.has(v)) graph.initializers.delete(v);
  return graph;
}

export const foldPass = { name: 'fold', run: (g: Graph) => foldConstants(g) };
