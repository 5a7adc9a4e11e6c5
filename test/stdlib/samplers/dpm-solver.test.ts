// DPM-Solver++ multistep: the grid and per-step orders as diffusers (VADER's ModelScope run)
// gets them, order 1 = deterministic DDIM coefficient for coefficient, the convergence orders on
// a problem whose exact solution is known, and the IR step in onnxruntime against the JS
// reference.
//
// The toy: data x0 ~ N(0, s^2) per dimension. Its ideal noise prediction is
// eps(x, a) = sqrt(1 - a) x / (a s^2 + 1 - a), its ideal data prediction sqrt(a) s^2 x / (a s^2 +
// 1 - a), and the probability-flow ODE maps x at alpha-bar a to x * sqrt(a' s^2 + 1 - a') /
// sqrt(a s^2 + 1 - a) at a'.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import {
  ddimSchedule,
  ddimStepReference,
  ddimTimesteps,
  defaultAlphasCumprod,
  dpmSolverCoefficients,
  dpmSolverSchedule,
  dpmSolverStep,
  dpmSolverStepReference,
  dpmSolverTimesteps,
  type DpmSolverStepParams,
  logSnrHalf,
} from '../../../stdlib/samplers/index.ts';

function data(n: number, seed = 1): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
};

/** Toy ODE map from alpha-bar a to a' for data variance s^2. */
const exactFactor = (s: number, from: number, to: number) => Math.sqrt(to * s * s + 1 - to) / Math.sqrt(from * s * s + 1 - from);
const toyEps = (s: number, x: number, a: number) => (Math.sqrt(1 - a) * x) / (a * s * s + 1 - a);
const toyX0 = (s: number, x: number, a: number) => (Math.sqrt(a) * s * s * x) / (a * s * s + 1 - a);

/** Runs `steps` (a prefix of a schedule) on the scalar toy from x = 1, carrying the x0 history. */
function runToy(s: number, steps: readonly DpmSolverStepParams[]): number {
  let x = 1;
  let h1 = 0;
  let h2 = 0;
  for (const p of steps) {
    const r = dpmSolverStepReference([x], [toyEps(s, x, p.alphaT)], p, [h1], [h2]);
    h2 = h1;
    h1 = r.x0[0]!;
    x = r.prev[0]!;
  }
  return x;
}

describe('DPM-Solver++ schedule', () => {
  it("diffusers' linspace grid: 999, 959, ..., 40 for 25 steps; halves round to even", () => {
    const g = dpmSolverTimesteps(25);
    expect(g).toHaveLength(25);
    expect(g.slice(0, 3)).toEqual([999, 959, 919]);
    expect(g.slice(12, 14)).toEqual([519, 480]); // 519.48 and 479.52
    expect(g[24]).toBe(40);
    // 499.5 rounds to 500 (numpy's round half to even)
    expect(dpmSolverTimesteps(10)).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(() => dpmSolverTimesteps(1000)).toThrow();
  });

  it('orders: lower on the first steps and, for short schedules, the last two; the last step lands on x0', () => {
    const alphas = defaultAlphasCumprod();
    const s25 = dpmSolverSchedule(25);
    expect(s25.map((p) => p.order)).toEqual([1, ...Array(23).fill(2), 1]);
    expect(dpmSolverSchedule(10, { order: 3 }).map((p) => p.order)).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 2, 1]);
    // 15 steps or more: only the first steps and the sigma = 0 landing are lowered
    expect(dpmSolverSchedule(15, { order: 3, finalAlpha: alphas[0] }).map((p) => p.order)).toEqual([1, 2, ...Array(13).fill(3)]);
    expect(dpmSolverSchedule(10, { order: 3, lowerOrderFinal: false, finalAlpha: alphas[0] }).map((p) => p.order)).toEqual([1, 2, ...Array(8).fill(3)]);
    expect(dpmSolverSchedule(4, { order: 1 }).every((p) => p.order === 1 && p.c1 === 0 && p.c2 === 0)).toBe(true);
    expect(s25[0]).toMatchObject({ index: 0, t: 999, tPrev: 959, alphaT: alphas[999], alphaPrev: alphas[959] });
    const last = s25[24]!;
    expect(last).toMatchObject({ t: 40, tPrev: -1, alphaPrev: 1, order: 1, cx: 0, c1: 0, c2: 0 });
    expect(last.c0).toBeCloseTo(1, 14);
    expect(logSnrHalf(1)).toBe(Infinity);
    // unused history weights are 0; used ones are not
    const s10 = dpmSolverSchedule(10, { order: 3 });
    for (const p of s10) {
      expect(p.c1 !== 0).toBe(p.order >= 2);
      expect(p.c2 !== 0).toBe(p.order >= 3);
    }
    expect(() => dpmSolverSchedule(5, { order: 4 })).toThrow();
  });

  it('order 1 is deterministic DDIM (eta 0) step for step, on the DDIM grid and on its own', () => {
    const alphas = defaultAlphasCumprod();
    const x = Array.from(data(64, 1));
    const eps = Array.from(data(64, 2));
    // on LDM's DDIM grid with the last step to alphas_cumprod[0], against ddimSchedule itself
    const ddim = ddimSchedule(25, { eta: 0 });
    const dpm = dpmSolverSchedule(25, { order: 1, timesteps: [...ddimTimesteps(25)].reverse(), finalAlpha: alphas[0] });
    for (const pair of [ddim.map((d, i) => [d, dpm[i]!] as const), dpmSolverSchedule(25, { order: 1 }).map((p) => [{ alphaT: p.alphaT, alphaPrev: p.alphaPrev, sigma: 0 }, p] as const)]) {
      for (const [d, p] of pair) {
        expect(p.alphaT).toBe(d.alphaT);
        expect(p.alphaPrev).toBe(d.alphaPrev);
        // DDIM: x_prev = sqrt(a') x0 + sqrt(1 - a') (x - sqrt(a) x0) / sqrt(1 - a)
        const cx = Math.sqrt(1 - d.alphaPrev) / Math.sqrt(1 - d.alphaT);
        const c0 = Math.sqrt(d.alphaPrev) - cx * Math.sqrt(d.alphaT);
        expect(Math.abs(p.cx - cx)).toBeLessThan(1e-12);
        expect(Math.abs(p.c0 - c0)).toBeLessThan(1e-12);
        const a = ddimStepReference(x, eps, d);
        const b = dpmSolverStepReference(x, eps, p);
        close(b.x0, a.x0, 1e-12);
        close(b.prev, a.prev, 1e-12);
      }
    }
  });

  it('local error: one step with exact history is O(h^(order + 1))', () => {
    // along the toy's exact path, parametrised by lambda: abar = sigmoid(2 lambda)
    const s = 0.5;
    const abar = (l: number) => 1 / (1 + Math.exp(-2 * l));
    const xAt = (l: number) => Math.sqrt(abar(l) * s * s + 1 - abar(l));
    const x0At = (l: number) => toyX0(s, xAt(l), abar(l));
    const err = (order: 1 | 2 | 3, h: number) => {
      const l0 = 0.3;
      const lambdas = [l0, l0 - h, l0 - 2 * h];
      const c = dpmSolverCoefficients(order, abar(l0), abar(l0 + h), lambdas);
      const pred = c.cx * xAt(l0) + c.c0 * x0At(lambdas[0]!) + c.c1 * x0At(lambdas[1]!) + c.c2 * x0At(lambdas[2]!);
      return Math.abs(pred - xAt(l0 + h));
    };
    for (const order of [1, 2, 3] as const) {
      for (const h of [0.1, 0.05]) {
        const ratio = err(order, h) / err(order, h / 2);
        // halving h divides the local error by ~2^(order + 1): 4, 8, 16
        expect(ratio, `order ${order}, h ${h}`).toBeGreaterThan(0.85 * 2 ** (order + 1));
        expect(ratio, `order ${order}, h ${h}`).toBeLessThan(1.15 * 2 ** (order + 1));
      }
    }
  });

  it('Gaussian toy, the default (VADER) schedule: order 2 is far more accurate than order 1 at 10 steps', () => {
    for (const s of [0.5, 1, 2]) {
      const errors = [1, 2, 3].map((order) => {
        const sched = dpmSolverSchedule(10, { order });
        // the ODE part: up to the last grid point (t = 100), before the final landing on x0
        const x = runToy(s, sched.slice(0, 9));
        const exact = exactFactor(s, sched[0]!.alphaT, sched[8]!.alphaPrev);
        // the final step to sigma = 0 returns the data prediction at that point
        const last = dpmSolverStepReference([x], [toyEps(s, x, sched[9]!.alphaT)], sched[9]!);
        expect(last.prev[0]).toBeCloseTo(toyX0(s, x, sched[9]!.alphaT), 12);
        return Math.abs(x - exact) / exact;
      });
      expect(errors[0], `s ${s}`).toBeGreaterThan(0.03); // first order really is coarse here
      expect(errors[1]! * 5, `s ${s}`).toBeLessThan(errors[0]!);
      expect(errors[2]! * 2, `s ${s}`).toBeLessThan(errors[0]!);
    }
  });

  it('Gaussian toy on a uniform log-SNR grid: order 2 well below order 1, order 3 no worse than 2; global orders', () => {
    // alphas_cumprod of n + 1 points evenly spaced in lambda from 3 (t = 0) down to -3 (t = n)
    const solve = (s: number, n: number, order: number) => {
      const alphas = Array.from({ length: n + 1 }, (_, j) => 1 / (1 + Math.exp(-2 * (3 - (6 * j) / n))));
      const sched = dpmSolverSchedule(n, { order, alphas, timesteps: Array.from({ length: n }, (_, i) => n - i), finalAlpha: alphas[0], lowerOrderFinal: false });
      const exact = exactFactor(s, sched[0]!.alphaT, alphas[0]!);
      return Math.abs(runToy(s, sched) - exact) / exact;
    };
    for (const s of [0.5, 2]) {
      const [e1, e2, e3] = [1, 2, 3].map((o) => solve(s, 20, o)) as [number, number, number];
      expect(e2 * 5, `s ${s}`).toBeLessThan(e1);
      expect(e3, `s ${s}`).toBeLessThanOrEqual(e2);
      // halving the step: first order halves the error, second order quarters it
      expect(solve(s, 20, 1) / solve(s, 40, 1)).toBeGreaterThan(1.8);
      expect(solve(s, 20, 1) / solve(s, 40, 1)).toBeLessThan(2.2);
      expect(solve(s, 20, 2) / solve(s, 40, 2)).toBeGreaterThan(3.5);
    }
  });
});

describe('DPM-Solver++ step (IR)', () => {
  const shape = [2, 4, 3, 4, 4];
  const n = shape.reduce((a, b) => a * b);
  const x = data(n, 1);
  const eps = data(n, 2);
  const hist1 = data(n, 3);
  const hist2 = data(n, 4);

  it('takes alpha_t, the coefficients and the history as graph inputs (an order-3 step)', async () => {
    const p = dpmSolverSchedule(10, { order: 3 })[4]!;
    expect(p.order).toBe(3);
    const g = new Graph('dpm');
    const b = new Builder(g);
    const scalar = (name: string) => b.input(name, []);
    const r = dpmSolverStep(b, {
      x_t: b.input('x', shape),
      eps: b.input('eps', shape),
      alphaT: scalar('alpha_t'),
      cx: scalar('cx'),
      c0: scalar('c0'),
      c1: scalar('c1'),
      c2: scalar('c2'),
      hist1: b.input('hist1', shape),
      hist2: b.input('hist2', shape),
    });
    g.markOutput(r.prev);
    g.markOutput(r.x0);
    const f = (v: number) => Float32Array.of(v);
    const out = await evaluate(g, { x, eps, hist1, hist2, alpha_t: f(p.alphaT), cx: f(p.cx), c0: f(p.c0), c1: f(p.c1), c2: f(p.c2) });
    const ref = dpmSolverStepReference(x, eps, p, hist1, hist2);
    close(out[r.prev.name] as Float32Array, ref.prev, 1e-5);
    close(out[r.x0.name] as Float32Array, ref.x0, 1e-5);
    // the history terms matter: without them the reference differs
    const without = dpmSolverStepReference(x, eps, { ...p, c1: 0, c2: 0 });
    expect(Math.max(...without.prev.map((v, i) => Math.abs(v - ref.prev[i]!)))).toBeGreaterThan(1e-2);
  });

  it('with numbers folded in and no history (a first-order step)', async () => {
    const p = dpmSolverSchedule(10, { order: 2 })[0]!;
    const g = new Graph('dpm');
    const b = new Builder(g);
    const r = dpmSolverStep(b, { x_t: b.input('x', shape), eps: b.input('eps', shape), alphaT: p.alphaT, cx: p.cx, c0: p.c0 });
    g.markOutput(r.prev);
    const out = await evaluate(g, { x, eps });
    close(out[r.prev.name] as Float32Array, dpmSolverStepReference(x, eps, p).prev, 1e-5);
    expect(() => dpmSolverStep(b, { x_t: g.inputs[0]!, eps: g.inputs[1]!, alphaT: 0.5, cx: 1, c0: 1, hist1: g.inputs[0]! })).toThrow(/together/);
  });
});
