import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { buildLoopGraph, buildStepGraph } from '../../../tensor/optim/loop.ts';
import { hashCounters, hashJs, noiseKey, noiseKeyJs, normalNoise } from '../../../tensor/optim/random.ts';
import { validate } from '../../../tensor/passes/validate.ts';
import { BATCH, IN, initialState, mlpData, mlpSpec } from './mlp.ts';

describe('in-graph PRNG', () => {
  it('the int64 hash in ONNX equals its JS reference', async () => {
    const b = new Builder(new Graph('rng'));
    const seed = b.input('seed', [], 'int64');
    const step = b.input('step', [], 'int64');
    const key = noiseKey(b, seed, step, 3);
    const h = hashCounters(b, b.arange(64, 'int64'), key);
    b.graph.markOutput(key);
    b.graph.markOutput(h);
    const out = await evaluate(b.graph, { seed: BigInt64Array.of(123456789n), step: BigInt64Array.of(77n) });
    const k = noiseKeyJs(123456789n, 77n, 3);
    expect(out[key.name][0]).toBe(k);
    expect([...out[h.name]]).toEqual(Array.from({ length: 64 }, (_, i) => hashJs(BigInt(i), k)));
  });

  it('normal noise has the moments of N(0, 1), differs per step and repeats per (seed, step)', async () => {
    const b = new Builder(new Graph('noise'));
    const seed = b.input('seed', [], 'int64');
    const step = b.input('step', [], 'int64');
    const z = normalNoise(b, [100, 100], seed, step);
    b.graph.markOutput(z);
    const run = async (s: bigint, t: bigint) => (await evaluate(b.graph, { seed: BigInt64Array.of(s), step: BigInt64Array.of(t) }))[z.name] as Float32Array;
    const a = await run(42n, 0n);
    const n = a.length;
    const mean = a.reduce((s, x) => s + x, 0) / n;
    const variance = a.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    const kurtosis = a.reduce((s, x) => s + (x - mean) ** 4, 0) / n / variance ** 2;
    let lag1 = 0;
    for (let i = 1; i < n; i++) lag1 += (a[i] - mean) * (a[i - 1] - mean);
    lag1 /= (n - 1) * variance;
    expect(Math.abs(mean)).toBeLessThan(0.04); // 4 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.06);
    expect(Math.abs(kurtosis - 3)).toBeLessThan(0.25);
    expect(Math.abs(lag1)).toBeLessThan(0.04);
    expect([...(await run(42n, 0n))]).toEqual([...a]);
    const other = await run(42n, 1n);
    expect(other.filter((x, i) => x === a[i]).length).toBeLessThan(5);
  });
});

describe('multi-step Loop', () => {
  it('N optimizer steps in one Loop run equal N separate runs (data sliced per step, noise from seeds)', async () => {
    const N = 4;
    const spec = mlpSpec({ noise: 0.05, clip: 1.0 });
    const single = buildStepGraph(spec);
    const loop = buildLoopGraph(spec, N);
    validate(single);
    validate(loop);

    const start = 10n; // the global step of the first step (noise depends on it)
    const seed = BigInt64Array.of(7n);
    let state = initialState();
    const batches = Array.from({ length: N }, (_, t) => mlpData(t));
    for (let t = 0; t < N; t++) {
      const out = await evaluate(single, { step: BigInt64Array.of(start + BigInt(t)), seed, ...state, ...batches[t] });
      state = Object.fromEntries(Object.keys(state).map((k) => [k, out[`${k}_out`]])) as typeof state;
    }
    const xs = new Float32Array(N * BATCH * IN);
    const ys = new Float32Array(N * BATCH);
    batches.forEach((d, t) => {
      xs.set(d.x, t * BATCH * IN);
      ys.set(d.y, t * BATCH);
    });
    const out = await evaluate(loop, { step: BigInt64Array.of(start), seed, ...initialState(), x: xs, y: ys });
    for (const k of Object.keys(state)) expect([...out[`${k}_out`]], k).toEqual([...state[k]]);
    expect(state.opt_step[0]).toBe(BigInt(N));
  });
});
