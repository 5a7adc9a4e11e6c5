// A 2-layer MLP training step shared by the optimizer, loop and program tests.
import { gradients } from '../../../tensor/autodiff/grad.ts';
import type { Builder } from '../../../tensor/ir/builder.ts';
import type { Value } from '../../../tensor/ir/graph.ts';
import { adamw } from '../../../tensor/optim/adamw.ts';
import { clipByGlobalNorm } from '../../../tensor/optim/clip.ts';
import type { StepSpec } from '../../../tensor/optim/loop.ts';
import { normalNoise } from '../../../tensor/optim/random.ts';

export const BATCH = 16;
export const IN = 4;
export const HIDDEN = 8;

export function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

export function mlpLoss(b: Builder, x: Value, y: Value, w1: Value, w2: Value): Value {
  const h = b.tanh(b.matmul(x, w1));
  const d = b.sub(b.matmul(h, w2), y);
  return b.reduceMean(b.mul(d, d), undefined, false);
}

/** State: w1, w2, m1, m2, v1, v2, opt_step (int64), loss (last loss, for observation). */
export function mlpSpec(options: { noise?: number; clip?: number } = {}): StepSpec {
  return {
    state: [
      { name: 'w1', shape: [IN, HIDDEN] },
      { name: 'w2', shape: [HIDDEN, 1] },
      { name: 'm1', shape: [IN, HIDDEN] },
      { name: 'm2', shape: [HIDDEN, 1] },
      { name: 'v1', shape: [IN, HIDDEN] },
      { name: 'v2', shape: [HIDDEN, 1] },
      { name: 'opt_step', shape: [], dtype: 'int64' },
      { name: 'loss', shape: [] },
    ],
    data: [
      { name: 'x', shape: [BATCH, IN] },
      { name: 'y', shape: [BATCH, 1] },
    ],
    build(b, { step, seed, state, data }) {
      const [w1, w2, m1, m2, v1, v2, optStep] = state;
      let [x, y] = data;
      if (options.noise) x = b.add(x, b.mul(normalNoise(b, [BATCH, IN], seed, step), b.scalar(options.noise)));
      const loss = mlpLoss(b, x, y, w1, w2);
      const g = gradients(b.graph, loss, [w1, w2]);
      let grads = [g.get(w1)!, g.get(w2)!];
      if (options.clip) grads = clipByGlobalNorm(b, grads, options.clip).grads;
      const r = adamw(b, [{ param: w1, grad: grads[0], m: m1, v: v1 }, { param: w2, grad: grads[1], m: m2, v: v2 }], optStep, { lr: 0.05, weightDecay: 0.01 });
      return [r.params[0], r.params[1], r.m[0], r.m[1], r.v[0], r.v[1], r.step, loss];
    },
  };
}

/** Deterministic data for step t: y = sin(x . c). */
export function mlpData(t: number): { x: Float32Array; y: Float32Array } {
  const x = seeded(BATCH * IN, 1000 + t, 2);
  const y = new Float32Array(BATCH);
  for (let i = 0; i < BATCH; i++) y[i] = Math.sin(x[i * IN] * 1.5 - x[i * IN + 1] + 0.5 * x[i * IN + 2] * x[i * IN + 3]);
  return { x, y };
}

export function initialState(): Record<string, Float32Array | BigInt64Array> {
  return {
    w1: seeded(IN * HIDDEN, 1, 1),
    w2: seeded(HIDDEN, 2, 1),
    m1: new Float32Array(IN * HIDDEN),
    m2: new Float32Array(HIDDEN),
    v1: new Float32Array(IN * HIDDEN),
    v2: new Float32Array(HIDDEN),
    opt_step: BigInt64Array.of(0n),
    loss: Float32Array.of(0),
  };
}
