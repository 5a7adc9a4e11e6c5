// Samplers: schedules and grids against the papers' numbers and closed forms, and the IR
// updates (DDIM, CFG, consistency, flow, EDM) run in onnxruntime against JS references.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import {
  addNoise,
  alphasCumprod,
  cdPair,
  cfgCombine,
  consistencyOutput,
  consistencyScalings,
  consistencyTimesteps,
  ddimSchedule,
  ddimSigma,
  ddimStep,
  ddimStepReference,
  ddimTimesteps,
  defaultAlphasCumprod,
  edmDenoised,
  edmEulerStep,
  edmInitialNoiseScale,
  edmScalings,
  flowEulerStep,
  flowShiftRatio,
  flowTimesteps,
  karrasSigmas,
  linearFrameGuidance,
  scaledLinearBetas,
  shiftTimestep,
  solverGrid,
  vc2Scale,
} from '../../../stdlib/samplers/index.ts';

function data(n: number, seed = 1): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i])));
};

describe('noise schedule', () => {
  it('scaled-linear betas and alphas_cumprod', () => {
    const betas = scaledLinearBetas();
    expect(betas).toHaveLength(1000);
    expect(betas[0]).toBeCloseTo(0.00085, 12);
    expect(betas[999]).toBeCloseTo(0.012, 12);
    // the square roots are evenly spaced
    const d1 = Math.sqrt(betas[1]) - Math.sqrt(betas[0]);
    const d2 = Math.sqrt(betas[600]) - Math.sqrt(betas[599]);
    expect(d1).toBeCloseTo(d2, 12);
    const a = defaultAlphasCumprod();
    expect(a[0]).toBeCloseTo(1 - 0.00085, 12);
    expect(a[1]).toBeCloseTo((1 - betas[0]) * (1 - betas[1]), 12);
    // the well-known SD value at t = 999
    expect(a[999]).toBeCloseTo(0.004660, 5);
    expect(alphasCumprod([0.5, 0.5])).toEqual([0.5, 0.25]);
  });

  it('DDIM grid: 25 steps, stride 40; LDM offset 1 by default', () => {
    const g = ddimTimesteps(25);
    expect(g).toHaveLength(25);
    expect(g[0]).toBe(1);
    expect(g[24]).toBe(961);
    expect(g.slice(1).map((t, i) => t - g[i]).every((d) => d === 40)).toBe(true);
    expect(ddimTimesteps(25, { offset: 0 })).toEqual(Array.from({ length: 25 }, (_, i) => 40 * i));
    expect(ddimTimesteps(10, { offset: 0 })).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(() => ddimTimesteps(0)).toThrow();
  });

  it('use_scale: 1 -> 0.7 linearly over t < 400, then 0.7', () => {
    expect(vc2Scale(0)).toBe(1);
    expect(vc2Scale(399)).toBeCloseTo(0.7, 12);
    expect(vc2Scale(133)).toBeCloseTo(1 - (0.3 * 133) / 399, 12);
    expect(vc2Scale(400)).toBe(0.7);
    expect(vc2Scale(999)).toBe(0.7);
  });

  it('DDIM schedule in sampling order, sigma from eta', () => {
    const alphas = defaultAlphasCumprod();
    const s = ddimSchedule(25, { eta: 1, useScale: true });
    expect(s.map((p) => p.t)).toEqual([...ddimTimesteps(25)].reverse());
    expect(s[0]).toMatchObject({ index: 0, t: 961, tPrev: 921, alphaT: alphas[961], alphaPrev: alphas[921], scaleT: 0.7, scalePrev: 0.7 });
    const last = s[24];
    expect(last).toMatchObject({ t: 1, tPrev: -1, alphaPrev: alphas[0], scalePrev: 1 });
    expect(last.scaleT).toBeCloseTo(1 - 0.3 / 399, 12);
    expect(s[0].sigma).toBeCloseTo(Math.sqrt(((1 - alphas[921]) / (1 - alphas[961])) * (1 - alphas[961] / alphas[921])), 12);
    expect(ddimSchedule(25, { eta: 0 }).every((p) => p.sigma === 0 && p.scaleT === 1)).toBe(true);
    // eta = 1 over consecutive steps is DDPM's posterior variance (1 - a_prev) / (1 - a_t) beta_t
    const betas = scaledLinearBetas();
    expect(ddimSigma(alphas[500], alphas[499], 1) ** 2).toBeCloseTo(((1 - alphas[499]) / (1 - alphas[500])) * betas[500], 12);
  });
});

describe('DDIM step (IR)', () => {
  const shape = [2, 4, 3, 4, 4];
  const n = shape.reduce((a, b) => a * b);
  const x = data(n, 1);
  const eps = data(n, 2);
  const noise = data(n, 3);

  it('matches the reference with numbers folded in, eta and use_scale', async () => {
    const p = { alphaT: 0.3, alphaPrev: 0.5, sigma: ddimSigma(0.3, 0.5, 1), scaleT: 0.8, scalePrev: 0.9 };
    const g = new Graph('ddim');
    const b = new Builder(g);
    const r = ddimStep(b, { x_t: b.input('x', shape), eps: b.input('eps', shape), noise: b.input('noise', shape), alphaT: 0.3, alphaPrev: 0.5, eta: 1, scaleT: 0.8, scalePrev: 0.9 });
    g.markOutput(r.prev);
    g.markOutput(r.x0);
    const out = await evaluate(g, { x, eps, noise });
    const ref = ddimStepReference(x, eps, p, noise);
    close(out[r.prev.name] as Float32Array, ref.prev, 1e-5);
    close(out[r.x0.name] as Float32Array, ref.x0, 1e-5);
  });

  it('takes per-step scalars as graph inputs; eta 0 and a_prev 1 gives x0', async () => {
    const g = new Graph('ddim');
    const b = new Builder(g);
    const aT = b.input('alpha_t', []);
    const aP = b.input('alpha_prev', []);
    const r = ddimStep(b, { x_t: b.input('x', shape), eps: b.input('eps', shape), alphaT: aT, alphaPrev: aP, eta: b.input('eta', []) });
    g.markOutput(r.prev);
    g.markOutput(r.x0);
    const out = await evaluate(g, { x, eps, alpha_t: Float32Array.of(0.2), alpha_prev: Float32Array.of(1), eta: Float32Array.of(0) });
    close(out[r.prev.name] as Float32Array, out[r.x0.name] as Float32Array, 1e-6);
    close(out[r.x0.name] as Float32Array, ddimStepReference(x, eps, { alphaT: 0.2, alphaPrev: 1, sigma: 0 }).x0, 1e-5);
  });

  it('CFG combine and forward noising', async () => {
    const g = new Graph('cfg');
    const b = new Builder(g);
    const u = b.input('u', [n]);
    const c = b.input('c', [n]);
    const y = cfgCombine(b, u, c, 12);
    const z = addNoise(b, u, c, 0.36);
    g.markOutput(y);
    g.markOutput(z);
    const out = await evaluate(g, { u: x, c: eps });
    close(out[y.name] as Float32Array, Array.from(x, (ux, i) => ux + 12 * (eps[i] - ux)), 1e-5);
    close(out[z.name] as Float32Array, Array.from(x, (ux, i) => 0.6 * ux + 0.8 * eps[i]), 1e-5);
  });
});

describe('consistency (T2V-Turbo)', () => {
  it('teacher grid, training pairs and multistep timesteps from the LCM rule', () => {
    const grid = solverGrid(50);
    expect(grid[0]).toBe(19);
    expect(grid[49]).toBe(999);
    expect(grid.every((t, i) => t === (i + 1) * 20 - 1)).toBe(true);
    expect(cdPair(0)).toEqual({ tS: 19, tE: 0 });
    expect(cdPair(10)).toEqual({ tS: 219, tE: 199 });
    // T2V-Turbo (arXiv 2405.18750)
    expect(consistencyTimesteps(4)).toEqual([999, 759, 519, 279]);
    expect(consistencyTimesteps(8)).toEqual([999, 879, 759, 639, 519, 399, 279, 159]);
    expect(consistencyTimesteps(1)).toEqual([999]);
  });

  it('c_skip / c_out with sigma_data 0.5 and timestep scaling 10', async () => {
    expect(consistencyScalings(0)).toEqual({ cSkip: 1, cOut: 0 });
    const { cSkip, cOut } = consistencyScalings(19);
    expect(cSkip).toBeCloseTo(0.25 / (190 ** 2 + 0.25), 15);
    expect(cOut).toBeCloseTo(190 / Math.sqrt(190 ** 2 + 0.25), 15);
    const g = new Graph('cm');
    const b = new Builder(g);
    const z = b.input('z', [8]);
    const x0 = b.input('x0', [8]);
    const y = consistencyOutput(b, z, x0, 0.25, 0.75);
    g.markOutput(y);
    const zd = data(8, 4);
    const xd = data(8, 5);
    const out = await evaluate(g, { z: zd, x0: xd });
    close(out[y.name] as Float32Array, Array.from(zd, (v, i) => 0.25 * v + 0.75 * xd[i]));
  });
});

describe('rectified flow and EDM', () => {
  it('flow timesteps with the resolution/length shift; Euler step', async () => {
    expect(flowTimesteps(4)).toEqual([1000, 750, 500, 250, 0]);
    const r = flowShiftRatio(512, 512, 4);
    expect(r).toBe(2);
    expect(shiftTimestep(0.5, 2)).toBeCloseTo(2 / 3, 12);
    expect(shiftTimestep(1, 3)).toBe(1);
    const shifted = flowTimesteps(4, { shift: 2 });
    expect(shifted[0]).toBe(1000);
    expect(shifted[2]).toBeCloseTo(2000 / 3, 9);
    expect(shifted[4]).toBe(0);
    const g = new Graph('rf');
    const b = new Builder(g);
    const xv = b.input('x', [6]);
    const y = flowEulerStep(b, xv, b.input('v', [6]), 0.25);
    g.markOutput(y);
    const xd = data(6, 1);
    const vd = data(6, 2);
    const out = await evaluate(g, { x: xd, v: vd });
    close(out[y.name] as Float32Array, Array.from(xd, (v, i) => v + 0.25 * vd[i]));
  });

  it('Karras sigmas and SVD scalings; EDM Euler', async () => {
    const s = karrasSigmas(25);
    expect(s).toHaveLength(26);
    expect(s[0]).toBeCloseTo(700, 9);
    expect(s[24]).toBeCloseTo(0.002, 12);
    expect(s[25]).toBe(0);
    expect(s.slice(1).every((v, i) => v < s[i])).toBe(true);
    const mid = (700 ** (1 / 7) + 0.5 * (0.002 ** (1 / 7) - 700 ** (1 / 7))) ** 7;
    expect(karrasSigmas(3)[1]).toBeCloseTo(mid, 9);
    const c = edmScalings(2);
    expect(c.cSkip).toBeCloseTo(1 / 5, 15);
    expect(c.cOut).toBeCloseTo(-2 / Math.sqrt(5), 15);
    expect(c.cIn).toBeCloseTo(1 / Math.sqrt(5), 15);
    expect(c.cNoise).toBeCloseTo(0.25 * Math.log(2), 15);
    expect(edmInitialNoiseScale(700)).toBeCloseTo(Math.sqrt(1 + 700 * 700), 9);
    expect(linearFrameGuidance(14, 1, 2.5)[0]).toBe(1);
    expect(linearFrameGuidance(14, 1, 2.5)[13]).toBeCloseTo(2.5, 12);
    const g = new Graph('edm');
    const b = new Builder(g);
    const xv = b.input('x', [5]);
    const d = edmDenoised(b, xv, b.input('f', [5]), c.cSkip, c.cOut);
    const next = edmEulerStep(b, xv, d, 2, 1);
    g.markOutput(next);
    const xd = data(5, 7);
    const fd = data(5, 8);
    const out = await evaluate(g, { x: xd, f: fd });
    close(out[next.name] as Float32Array, Array.from(xd, (v, i) => {
      const den = c.cSkip * v + c.cOut * fd[i];
      return v + ((v - den) / 2) * (1 - 2);
    }));
  });
});
