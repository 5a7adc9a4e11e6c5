// Shared setup of the model-family tests: a builder + parameter store, deterministic feeds,
// and one onnxruntime run.
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import type { DType, TypedArray } from '../../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import { type NN, ParameterStore, type ParameterStoreOptions, Rng } from '../../../stdlib/nn/index.ts';

export interface Harness {
  nn: NN;
  feeds: Record<string, TypedArray>;
  /** A float input filled with N(0, std) from `seed`. */
  input(name: string, shape: number[], seed?: number, std?: number): Value;
  /** An input with explicit data. */
  inputData(name: string, shape: number[], data: TypedArray, dtype?: DType): Value;
  /** Runs the graph (trainable parameters fed with their initial values); outputs by value. */
  run(outputs: Value[]): Promise<Float32Array[]>;
}

export function harness(options: ParameterStoreOptions = {}): Harness {
  const b = new Builder(new Graph('model'));
  const params = new ParameterStore({ seed: 1, ...options });
  const feeds: Record<string, TypedArray> = {};
  return {
    nn: { b, params },
    feeds,
    input(name, shape, seed = 7, std = 1) {
      const v = b.input(name, shape);
      const rng = new Rng(seed, name);
      const data = new Float32Array(v.size);
      rng.fillNormal(data, 0, std);
      feeds[v.name] = data;
      return v;
    },
    inputData(name, shape, data, dtype = 'float32') {
      const v = b.input(name, shape, dtype);
      feeds[v.name] = data;
      return v;
    },
    async run(outputs) {
      for (const p of params.trainable()) if (!(p.name in feeds)) feeds[p.name] = params.initialValue(p.name);
      for (const o of outputs) b.graph.markOutput(o);
      const result = await evaluate(b.graph, feeds, { graphOptimizationLevel: 'basic' });
      return outputs.map((o) => result[o.name] as Float32Array);
    },
  };
}

export function allFinite(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
  return true;
}

export function maxAbs(data: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]));
  return m;
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Bytes of data held by the graph's initializers (constants and frozen weights). */
export function initializerBytes(graph: Graph): number {
  let total = 0;
  for (const init of graph.initializers.values()) total += init.data?.byteLength ?? 0;
  return total;
}
