// One nn layer in a graph of its own, inside the remat segment 'block' (as a UNet block is), for
// tests that compare two lowerings of the same layer (chunked vs one block): with `train`,
// loss = sum(y * r) is differentiated into the layer's inputs and every weight, then remat and
// DCE run as the lowering runs them.
import { type AttentionLowering, withAttentionLowering } from '../../stdlib/nn/attention.ts';
import { type NN, ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import { differentiate } from '../../tensor/autodiff/grad.ts';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import type { DType, TypedArray } from '../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { rematerialize } from '../../tensor/passes/remat.ts';

export interface LayerGraph {
  graph: Graph;
  y: Value;
  /** Graph inputs with their feeds (the layer's inputs, the loss weights r, the parameters). */
  feeds: Record<string, TypedArray>;
  /** Gradient output name per differentiated input name. */
  gradNames: Record<string, string>;
  /** Trainable parameters: not activations. */
  params: Value[];
}

export interface LayerContext {
  nn: NN;
  /** A graph input (named from the root scope): float32 with seeded normal values, unless `data` is given. */
  input(name: string, shape: number[], options?: { dtype?: DType; data?: (size: number) => TypedArray }): Value;
}

export function normal(n: number, seed: number, name: string): Float32Array {
  const data = new Float32Array(n);
  new Rng(seed, name).fillNormal(data, 0, 1);
  return data;
}

/** `layer` returns its output and the inputs to differentiate into (besides the weights). */
export function layerGraph(name: string, lowering: AttentionLowering, train: boolean, layer: (ctx: LayerContext) => { y: Value; wrt: Value[] }): LayerGraph {
  const graph = new Graph(name);
  const b = new Builder(graph);
  const params = new ParameterStore({ seed: 3, trainable: true });
  const nn = withAttentionLowering({ b, params }, lowering);
  const feeds: Record<string, TypedArray> = {};
  const root = new Builder(graph);
  const input = (inputName: string, shape: number[], options: { dtype?: DType; data?: (size: number) => TypedArray } = {}) => {
    const v = root.input(inputName, shape, options.dtype ?? 'float32');
    feeds[inputName] = options.data ? options.data(v.size) : normal(v.size, 11, inputName);
    return v;
  };
  const { y, wrt: inputs } = b.inSegment('block', () => b.within('block', () => layer({ nn, input })));
  graph.markOutput(y);
  for (const p of params.trainable()) feeds[p.name] = params.initialValue(p.name);
  const weights = graph.inputs.filter((v) => params.trainable().some((p) => p.name === v.name));
  const gradNames: Record<string, string> = {};
  if (train) {
    const r = input('r', [...y.shape]);
    const loss = b.reduceSum(b.mul(y, r), undefined, false);
    const forwardNodes = graph.nodes.length;
    const wrt = [...inputs, ...weights];
    const { grads } = differentiate(graph, loss, wrt);
    for (const v of wrt) {
      const g = grads.get(v)!;
      graph.markOutput(g);
      gradNames[v.name] = g.name;
    }
    rematerialize(graph, { forwardNodes });
    eliminateDeadCode(graph);
  }
  return { graph, y, feeds, gradNames, params: weights };
}

export async function runLayerGraph(built: LayerGraph): Promise<Record<string, TypedArray>> {
  const feeds = Object.fromEntries(built.graph.inputs.map((v) => [v.name, built.feeds[v.name]]));
  return evaluate(built.graph, feeds, { graphOptimizationLevel: 'basic' });
}

/** max |a - b| relative to max |b|. */
export function relativeError(a: TypedArray, b: TypedArray): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(Number(a[i]) - Number(b[i])));
    scale = Math.max(scale, Math.abs(Number(b[i])));
  }
  return diff / scale;
}
