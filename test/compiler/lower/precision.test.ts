// train.precision = fp16 on a GPU: the lowering autocasts sample_step and train_step (matrix
// products in fp16, float32 master weights and state); the graphs still run on CPU, where
// onnxruntime computes fp16 in float32, and agree with the float32 lowering.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import type { Graph } from '../../../tensor/ir/graph.ts';
import { lowerReward } from '../../../compiler/lower/index.ts';
import { Rng } from '../../../stdlib/nn/index.ts';

const plan = () => {
  const r = checkFile('pipelines/demo.vpl', {
    overrides: ['model.frames=4', 'train.batch=1', 'sampler.steps=2', 'objective.backprop=last(1)', 'objective.reward=1.0 * brightness', 'lora.dropout=0', 'train.precision=fp16'],
  });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
};

/** One train_step run with seeded inputs; returns the loss. */
async function trainLoss(graph: Graph, initial: (name: string) => Float32Array | undefined): Promise<number> {
  const session = await ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
  const rng = new Rng(3);
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of graph.inputs) {
    const n = v.shape.reduce((a, d) => a * d, 1);
    if (v.dtype === 'int64') feeds[v.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)), [...v.shape]);
    else if (v.dtype === 'bool') feeds[v.name] = new ort.Tensor('bool', new Uint8Array(n).fill(1), [...v.shape]);
    else {
      const data = initial(v.name) ?? (v.name.startsWith('adam.') ? new Float32Array(n) : Float32Array.from({ length: n }, () => (v.name.startsWith('alpha') ? 0.5 : rng.normal(0, 1))));
      feeds[v.name] = new ort.Tensor('float32', data, [...v.shape]);
    }
  }
  const out = await session.run(feeds);
  await session.release();
  return (out.loss.data as Float32Array)[0];
}

describe('mixed precision in the lowering', () => {
  it('autocasts matrix products to fp16, keeps the interface float32, and matches the float32 loss', async () => {
    const p = plan();
    const full = lowerReward(p, { tiny: true });
    const half = lowerReward(p, { tiny: true, precision: 'fp16' });
    for (const name of ['sample_step', 'train_step']) {
      const graph = half.program.graphs[name];
      const matmuls = graph.nodes.filter((n) => n.op === 'MatMul' || n.op === 'Conv');
      expect(matmuls.length, name).toBeGreaterThan(0);
      expect(matmuls.every((n) => n.inputs[0]!.dtype === 'float16'), name).toBe(true);
      expect(graph.inputs.every((v) => v.dtype !== 'float16'), name).toBe(true);
      expect(graph.outputs.every((v) => v.dtype !== 'float16'), name).toBe(true);
      expect(full.program.graphs[name].nodes.every((n) => n.outputs.every((v) => v.dtype !== 'float16')), name).toBe(true);
    }
    const initial = (name: string) => (full.trainable.some((t) => t.name === name) ? Float32Array.from(full.params.initialValue(name) as Float32Array) : undefined);
    const [a, b] = [await trainLoss(full.program.graphs.train_step, initial), await trainLoss(half.program.graphs.train_step, initial)];
    expect(Number.isFinite(b)).toBe(true);
    expect(Math.abs(a - b)).toBeLessThan(1e-2 * Math.max(1, Math.abs(a)));
  }, 180_000);
});
