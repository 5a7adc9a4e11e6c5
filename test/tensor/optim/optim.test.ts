import { describe, expect, it } from 'vitest';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { accumulateWithFlag } from '../../../tensor/optim/accumulate.ts';
import { adamw, adamwReference } from '../../../tensor/optim/adamw.ts';
import { clipByGlobalNorm } from '../../../tensor/optim/clip.ts';
import { buildStepGraph } from '../../../tensor/optim/loop.ts';
import { validate } from '../../../tensor/passes/validate.ts';
import { initialState, mlpData, mlpSpec, seeded } from './mlp.ts';

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe('AdamW in the graph', () => {
  it('matches the float32 JS reference bit for bit over several steps (with a learning-rate input)', async () => {
    const n = 37;
    const b = new Builder(new Graph('adamw'));
    const p = b.input('p', [n]);
    const g = b.input('g', [n]);
    const m = b.input('m', [n]);
    const v = b.input('v', [n]);
    const step = b.input('step', [], 'int64');
    const lr = b.input('lr', []);
    const r = adamw(b, [{ param: p, grad: g, m, v }], step, { lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    [r.params[0], r.m[0], r.v[0], r.step].forEach((x) => b.graph.markOutput(x));
    validate(b.graph);

    const ref = { p: seeded(n, 1), m: new Float32Array(n), v: new Float32Array(n) };
    let state: Record<'p' | 'm' | 'v', Float32Array> = { p: ref.p.slice(), m: ref.m.slice(), v: ref.v.slice() };
    for (let t = 0; t < 6; t++) {
      const grad = seeded(n, 50 + t, t === 3 ? 1e-3 : 4);
      const lrNow = 1e-2 * (1 - t / 10); // a schedule fed by the runtime
      adamwReference(ref.p, grad, ref.m, ref.v, t, { lr: lrNow, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
      const out = await evaluate(b.graph, { p: state.p, g: grad, m: state.m, v: state.v, step: BigInt64Array.of(BigInt(t)), lr: Float32Array.of(lrNow) });
      state = { p: out[r.params[0].name] as Float32Array, m: out[r.m[0].name] as Float32Array, v: out[r.v[0].name] as Float32Array };
      expect(out[r.step.name][0]).toBe(BigInt(t + 1));
      expect(bits(state.m)).toEqual(bits(ref.m));
      expect(bits(state.v)).toEqual(bits(ref.v));
      // parameters (|p| <= 0.5): a few elements differ in the last bit (onnxruntime's CPU
      // kernels vs JS's correctly rounded float32 ops), never by more than 2 ulp of 0.5
      for (let i = 0; i < n; i++) expect(Math.abs(state.p[i] - ref.p[i])).toBeLessThanOrEqual(2 * 2 ** -24);
    }
  });

  it('a 2-layer MLP (autodiff gradients, clipping, AdamW) trains to a lower loss', async () => {
    const graph = buildStepGraph(mlpSpec({ clip: 1.0 }));
    validate(graph);
    let state = initialState();
    const losses: number[] = [];
    const { x, y } = mlpData(0); // a fixed batch: the loss must go well down
    for (let t = 0; t < 60; t++) {
      const out = await evaluate(graph, { step: BigInt64Array.of(BigInt(t)), seed: BigInt64Array.of(1n), ...state, x, y });
      state = Object.fromEntries(Object.keys(state).map((k) => [k, out[`${k}_out`]])) as typeof state;
      losses.push(state.loss[0] as number);
    }
    expect(losses[59]).toBeLessThan(losses[0] * 0.3);
    expect(state.opt_step[0]).toBe(60n);
  });
});

describe('clipping and accumulation', () => {
  it('clips by global norm like torch.nn.utils.clip_grad_norm_', async () => {
    const b = new Builder(new Graph('clip'));
    const g1 = b.input('g1', [2]);
    const g2 = b.input('g2', [1]);
    const { grads, norm } = clipByGlobalNorm(b, [g1, g2], 1.3);
    [...grads, norm].forEach((v) => b.graph.markOutput(v));
    const out = await evaluate(b.graph, { g1: Float32Array.of(3, 4), g2: Float32Array.of(12) });
    expect(out[norm.name][0]).toBeCloseTo(13, 5);
    const coef = 1.3 / (13 + 1e-6);
    expect([...out[grads[0].name]]).toEqual([Math.fround(3 * Math.fround(coef)), Math.fround(4 * Math.fround(coef))].map((x) => expect.closeTo(x, 6)));
    const small = await evaluate(b.graph, { g1: Float32Array.of(0.3, 0.4), g2: Float32Array.of(0) });
    expect([...small[grads[0].name]]).toEqual([Math.fround(0.3), Math.fround(0.4)]); // below the limit: unchanged
  });

  it('k micro-steps with the apply flag give the same update as one step on the mean gradient', async () => {
    const k = 3;
    const n = 5;
    const b = new Builder(new Graph('accum'));
    const p = b.input('p', [n]);
    const x = b.input('x', [n]);
    const acc = b.input('acc', [n]);
    const m = b.input('m', [n]);
    const v = b.input('v', [n]);
    const step = b.input('step', [], 'int64');
    const apply = b.input('apply', [], 'bool');
    const loss = b.reduceSum(b.mul(b.mul(p, p), x), undefined, false); // d/dp = 2 p x
    const grad = gradients(b.graph, loss, [p]).get(p)!;
    const { mean, next } = accumulateWithFlag(b, [grad], [acc], k, apply);
    const r = adamw(b, [{ param: p, grad: mean[0], m, v }], step, { lr: 0.1 }, { apply });
    [r.params[0], r.m[0], r.v[0], r.step, next[0]].forEach((o) => b.graph.markOutput(o));
    validate(b.graph);

    const p0 = seeded(n, 3);
    const xs = [0, 1, 2].map((i) => seeded(n, 20 + i));
    let s: { p: Float32Array; acc: Float32Array; m: Float32Array; v: Float32Array; step: BigInt64Array } = { p: p0, acc: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), step: BigInt64Array.of(0n) };
    for (let i = 0; i < k; i++) {
      const out = await evaluate(b.graph, { ...s, x: xs[i], apply: Uint8Array.of(i === k - 1 ? 1 : 0) });
      s = { p: out[r.params[0].name] as Float32Array, acc: out[next[0].name] as Float32Array, m: out[r.m[0].name] as Float32Array, v: out[r.v[0].name] as Float32Array, step: out[r.step.name] as BigInt64Array };
      if (i < k - 1) expect([...s.p]).toEqual([...p0]); // no update before the last micro-step
    }
    expect(s.step[0]).toBe(1n);
    expect([...s.acc]).toEqual(new Array(n).fill(0));
    const meanGrad = Float32Array.from(p0, (pi, j) => (2 * pi * xs[0][j] + 2 * pi * xs[1][j] + 2 * pi * xs[2][j]) / k);
    const ref = { p: p0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
    adamwReference(ref.p, meanGrad, ref.m, ref.v, 0, { lr: 0.1 });
    for (let j = 0; j < n; j++) expect(s.p[j]).toBeCloseTo(ref.p[j], 5);
  });
});
