import { describe, expect, it } from 'vitest';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { defaultPrecision, lowerPrecision, scaleLoss, unscaleGradients, updateLossScale } from '../../../tensor/optim/precision.ts';
import { validate } from '../../../tensor/passes/validate.ts';
import { seeded } from './mlp.ts';

function mlp(): { graph: Graph; w1: string; w2: string } {
  const b = new Builder(new Graph('mlp'));
  const x = b.input('x', [8, 16]);
  const w1 = b.input('w1', [16, 32]);
  const w2 = b.input('w2', [32, 4]);
  const h = b.tanh(b.add(b.matmul(x, w1), b.scalar(0.1)));
  b.graph.markOutput(b.softmax(b.matmul(h, w2)));
  return { graph: b.graph, w1: w1.name, w2: w2.name };
}
const feeds = { x: seeded(8 * 16, 1, 2), w1: seeded(16 * 32, 2, 0.5), w2: seeded(32 * 4, 3, 0.5) };

describe('mixed precision', () => {
  it('is float32 on CPU by default', () => {
    expect(defaultPrecision('cpu')).toBe('float32');
  });

  it('an fp16-lowered graph runs in onnxruntime CPU and matches float32 within fp16 tolerance', async () => {
    const ref = mlp().graph;
    const expected = (await evaluate(ref, feeds))[ref.outputs[0].name];
    const { graph } = mlp();
    const outName = graph.outputs[0].name;
    lowerPrecision(graph, 'float16');
    validate(graph);
    expect(graph.nodes.filter((n) => n.op === 'MatMul').every((n) => n.outputs[0].dtype === 'float16')).toBe(true);
    expect(graph.nodes.find((n) => n.op === 'Softmax')!.outputs[0].dtype).toBe('float32');
    expect(graph.inputs.every((v) => v.dtype === 'float32')).toBe(true); // float32 master copies
    expect(graph.outputs[0]).toMatchObject({ name: outName, type: { dtype: 'float32' } });
    const got = (await evaluate(graph, feeds))[outName];
    for (let i = 0; i < got.length; i++) expect(Math.abs((got[i] as number) - (expected[i] as number))).toBeLessThan(4e-3);
    expect([...got]).not.toEqual([...expected]); // it really computed in float16
  });

  it('bf16 lowering keeps bf16 inside the graph and float32 at its boundary', () => {
    const { graph } = mlp();
    lowerPrecision(graph, 'bfloat16');
    validate(graph);
    expect(graph.nodes.some((n) => n.outputs[0].dtype === 'bfloat16')).toBe(true);
    expect([...graph.inputs, ...graph.outputs].every((v) => v.dtype === 'float32')).toBe(true);
    // (onnxruntime's CPU build has no bf16 MatMul kernel; the checker test validates the model)
  });

  it('fp16 gradients of float32 master weights with loss scaling match float32 gradients; overflow halves the scale', async () => {
    const build = (low: boolean) => {
      const { graph, w1, w2 } = mlp();
      const b = new Builder(graph);
      const probs = graph.outputs.pop()!;
      if (low) graph.outputs.push(probs);
      if (low) lowerPrecision(graph, 'float16');
      const out = low ? graph.outputs.pop()! : probs;
      const loss = b.reduceMean(b.mul(out, out), undefined, false);
      const scale = b.input('scale', []);
      const good = b.input('good', [], 'int64');
      const weights = [w1, w2].map((n) => graph.inputs.find((v) => v.name === n)!);
      const g = gradients(graph, scaleLoss(b, loss, scale), weights);
      const { grads, finite } = unscaleGradients(b, weights.map((w) => g.get(w)!), scale);
      const next = updateLossScale(b, scale, good, finite, { growthInterval: 2 });
      [...grads, finite, next.scale, next.goodSteps].forEach((v) => graph.markOutput(v));
      validate(graph);
      return { graph, grads, finite, next };
    };
    const f32 = build(false);
    const f16 = build(true);
    expect(f16.grads.every((g) => g.dtype === 'float32')).toBe(true);
    const run = (m: typeof f32, scale: number, good = 0n) => evaluate(m.graph, { ...feeds, scale: Float32Array.of(scale), good: BigInt64Array.of(good) });
    const a = await run(f32, 1024);
    const c = await run(f16, 1024, 1n);
    for (const [i, g] of f32.grads.entries()) {
      const ref = a[g.name] as Float32Array;
      const got = c[f16.grads[i].name] as Float32Array;
      const max = Math.max(...ref.map(Math.abs));
      for (let j = 0; j < ref.length; j++) expect(Math.abs(got[j] - ref[j])).toBeLessThan(0.02 * max);
    }
    expect(c[f16.finite.name][0]).toBe(1);
    expect(c[f16.next.scale.name][0]).toBe(2048); // second good step in a row: grow
    // onnxruntime's CPU build runs float16 regions in float32 (it inserts casts and removes
    // redundant cast pairs), so a too-large scale does not overflow here as it would on a GPU;
    // a non-finite gradient is produced with a NaN in the data instead
    const bad = feeds.x.slice();
    bad[3] = Number.NaN;
    const overflow = await evaluate(f16.graph, { ...feeds, x: bad, scale: Float32Array.of(1024), good: BigInt64Array.of(1n) });
    expect(overflow[f16.finite.name][0]).toBe(0);
    expect(overflow[f16.next.scale.name][0]).toBe(512);
    expect(overflow[f16.next.goodSteps.name][0]).toBe(0n);
  });
});
