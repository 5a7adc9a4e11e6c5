// Run an IR graph once with onnxruntime-node: used by tests, gradient checks and constant
// folding. Training runs go through runtime/, which keeps sessions alive across steps.
import * as ort from 'onnxruntime-node';
import { dtypes, type TypedArray } from '../ir/dtype.ts';
import type { Graph } from '../ir/graph.ts';
import { emitModel } from './onnx.ts';

export type Feeds = Record<string, TypedArray>;

export async function evaluate(graph: Graph, feeds: Feeds, options: ort.InferenceSession.SessionOptions = {}): Promise<Record<string, TypedArray>> {
  const session = await ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 1, ...options });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const value of graph.inputs) {
      const data = feeds[value.name];
      if (!data) throw new Error(`evaluate: no feed for graph input '${value.name}'`);
      const type = dtypes[value.dtype].ort;
      if (!type) throw new Error(`evaluate: ${value.dtype} cannot cross the JS boundary ('${value.name}')`);
      inputs[value.name] = new ort.Tensor(type, data as never, [...value.shape]);
    }
    const results = await session.run(inputs);
    const out: Record<string, TypedArray> = {};
    for (const value of graph.outputs) out[value.name] = results[value.name].data as TypedArray;
    return out;
  } finally {
    await session.release();
  }
}
