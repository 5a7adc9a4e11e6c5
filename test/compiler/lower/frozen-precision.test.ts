// fp16 lowering stores the frozen weights in fp16 (no float32 master copies: nothing updates
// them) and keeps float32 only for the trainable LoRA factors. A small LoRA training step
// (forward, autocast, backward, AdamW) built both ways runs on CPU in onnxruntime: it agrees with
// the float32 step within fp16 tolerance, with the old fp16 step (float32 frozen weights cast in
// the graph) exactly, and holds half the frozen weight bytes. The reward lowering at fp16 does
// the same for every graph of the tiny world.
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { graphMemory } from '../../../compiler/memory-estimate.ts';
import { lowerReward } from '../../../compiler/lower/index.ts';
import { appendOptimizerStep, type LowPrecision } from '../../../compiler/lower/training-step.ts';
import { unet3dLoraTargets } from '../../../stdlib/models/unet3d/lora-targets.ts';
import { layerNorm, linear, ParameterStore } from '../../../stdlib/nn/index.ts';
import { withLora } from '../../../stdlib/nn/lora.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { peakMemory } from '../../../tensor/passes/liveness.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { validate } from '../../../tensor/passes/validate.ts';
import { seeded } from '../../tensor/optim/mlp.ts';

const plan = (overrides: string[] = []) => {
  const r = checkFile('pipelines/demo.vpl', { overrides: ['train.accumulate=1', 'lora.dropout=0', ...overrides] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
};

/** x -> LoRA linear -> LayerNorm -> tanh -> LoRA linear -> mean square: one AdamW step. */
function loraStep(precision: LowPrecision | undefined, frozen: 'float32' | 'float16') {
  const graph = new Graph('lora_step');
  const b = new Builder(graph);
  const params = new ParameterStore({ seed: 7, ...(frozen === 'float16' ? { frozenDtype: frozen } : {}) });
  const x = b.input('x', [8, 16]);
  const { nn } = withLora({ b, params }, { rank: 4, alpha: 4, dropout: 0, targets: ['linear'], table: unet3dLoraTargets });
  const y = b.within('blk', () => {
    const h = b.tanh(layerNorm({ b, params }, 'norm', linear(nn, 'fc1', x, { out: 32 })));
    return linear(nn, 'fc2', h, { out: 8 });
  });
  const loss = b.reduceMean(b.mul(y, y), undefined, false);
  loss.name = 'loss';
  graph.markOutput(loss);
  const wrt = graph.inputs.filter((v) => v.name.includes('.lora_'));
  const lr = b.input('lr', []);
  const adamStep = b.input('adam.step', [], 'int64');
  appendOptimizerStep(b, plan(), { loss: graph.outputs[0]!, wrt, lr, adamStep, accumulate: 1, ...(precision ? { precision } : {}) });
  eliminateDeadCode(graph);
  validate(graph);
  return { graph, params };
}

function feeds(graph: Graph): Record<string, Float32Array | BigInt64Array> {
  const out: Record<string, Float32Array | BigInt64Array> = {};
  graph.inputs.forEach((v, i) => {
    if (v.dtype === 'int64') out[v.name] = BigInt64Array.of(0n);
    else if (v.name === 'lr') out[v.name] = Float32Array.of(1e-3);
    else if (v.name.startsWith('adam.')) out[v.name] = new Float32Array(v.size);
    else out[v.name] = seeded(v.size, 11 + i, v.name === 'x' ? 2 : 0.5); // LoRA B nonzero: every factor gets a gradient
  });
  return out;
}

const frozenBytes = (graph: Graph, params: ParameterStore) => {
  const frozen = new Set(params.list().filter((p) => !p.trainable).map((p) => p.name));
  return [...graph.initializers.keys()].filter((v) => frozen.has(v.name)).reduce((n, v) => n + v.size * (v.dtype === 'float32' ? 4 : 2), 0);
};

describe('frozen weights in fp16 under fp16 lowering', () => {
  it('a LoRA training step: fp16 frozen initializers fed to the fp16 ops directly, float32 LoRA inputs and state', () => {
    const { graph, params } = loraStep('fp16', 'float16');
    const frozen = new Set(params.list().filter((p) => !p.trainable).map((p) => p.name));
    const weights = [...graph.initializers.keys()].filter((v) => frozen.has(v.name));
    expect(weights.length).toBe(6); // fc1, fc2 weight and bias, the norm's weight and bias
    expect(weights.every((v) => v.dtype === 'float16')).toBe(true);
    expect(graph.inputs.filter((v) => v.name.includes('lora_')).every((v) => v.dtype === 'float32')).toBe(true);
    expect(graph.inputs.filter((v) => v.name.includes('lora_')).length).toBe(12); // 4 factors, each with its two moments
    // no Cast turns a frozen weight into fp16 (it is fp16); the LayerNorm (a float32 op) reads its
    // weight through a Cast up, and nothing else keeps one
    const casts = graph.nodes.filter((n) => n.op === 'Cast' && n.inputs[0] && frozen.has(n.inputs[0].name));
    expect(casts.map((n) => `${n.inputs[0]!.name}->${n.outputs[0]!.dtype}`).sort()).toEqual(['blk.norm.bias->float32', 'blk.norm.weight->float32']);
    // the linears read their fp16 weights in place (Gemm), with no Transpose for onnxruntime to fold into a copy
    const gemmWeights = graph.nodes.filter((n) => n.op === 'Gemm' && n.inputs[1] && frozen.has(n.inputs[1].name));
    expect([...new Set(gemmWeights.map((n) => n.inputs[1]!.name))].sort()).toEqual(['blk.fc1.weight', 'blk.fc2.weight']);
    expect(graph.nodes.filter((n) => n.op === 'Transpose' && n.inputs[0] && frozen.has(n.inputs[0].name))).toEqual([]);
  });

  it('matches the float32 step within fp16 tolerance and the fp16 step with float32 frozen weights exactly, at half the weight bytes', async () => {
    const f32 = loraStep(undefined, 'float32');
    const old = loraStep('fp16', 'float32');
    const f16 = loraStep('fp16', 'float16');
    const outputs = f32.graph.outputs.map((v) => v.name);
    expect(f16.graph.outputs.map((v) => v.name)).toEqual(outputs);
    const [a, b, c] = await Promise.all([f32, old, f16].map((s) => evaluate(s.graph, feeds(s.graph))));
    for (const name of ['loss', 'grad_norm']) {
      const ref = a[name]![0] as number;
      const got = c[name]![0] as number;
      expect(Math.abs(got - ref), name).toBeLessThan(1e-2 * Math.abs(ref));
      expect(got, name).not.toBe(ref); // it really computed in fp16
    }
    for (const name of outputs) expect(Array.from(c[name]! as ArrayLike<number>), name).toEqual(Array.from(b[name]! as ArrayLike<number>));
    // frozen weight bytes halve (the fp32 constants stay as they were)
    expect(frozenBytes(f16.graph, f16.params) * 2).toBe(frozenBytes(old.graph, old.params));
    const trainable = (s: typeof f32) => s.graph.inputs.filter((v) => v.name.includes('lora_'));
    const [pOld, pNew] = [old, f16].map((s) => peakMemory(s.graph, { params: trainable(s) }).paramBytes);
    expect(pOld - pNew).toBe(frozenBytes(f16.graph, f16.params));
  }, 60_000);

  it('the reward lowering at fp16 stores every frozen weight of every graph in fp16; at fp32 nothing changes', () => {
    const p = plan(['model.frames=4', 'train.batch=1', 'sampler.steps=2', 'objective.backprop=last(1)', 'objective.reward=1.0 * brightness', 'train.precision=fp16']);
    const half = lowerReward(p, { tiny: true, precision: 'fp16' });
    const full = lowerReward(p, { tiny: true });
    const frozen = new Set(half.params.list().filter((q) => !q.trainable).map((q) => q.name));
    expect(frozen.size).toBeGreaterThan(100);
    const trainable = new Set(half.trainable.map((t) => t.name));
    for (const [name, graph] of Object.entries(half.program.graphs)) {
      const weights = [...graph.initializers.keys()].filter((v) => frozen.has(v.name));
      // the watch of an analytic mix measures diversity on pixels: it has no network
      if (name !== 'watch') expect(weights.length, name).toBeGreaterThan(0);
      expect(weights.every((v) => v.dtype === 'float16'), name).toBe(true);
      expect(graph.inputs.filter((v) => trainable.has(v.name)).every((v) => v.dtype === 'float32'), name).toBe(true);
      const reference = full.program.graphs[name]!;
      expect([...reference.initializers.keys()].filter((v) => frozen.has(v.name)).every((v) => v.dtype === 'float32'), name).toBe(true);
      // half the frozen weight bytes; the constants (float32 scalars, int64 shapes) are the same
      expect(frozenBytes(graph, half.params) * 2, name).toBe(frozenBytes(reference, full.params));
    }
    const memory = (l: typeof half) => graphMemory(l.program.graphs.train_step!, trainable).weights;
    expect(memory(half)).toBeLessThan(0.55 * memory(full));
    expect(half.program.weights.every((w) => w.dtype === 'float16')).toBe(true);
  }, 120_000);
});
