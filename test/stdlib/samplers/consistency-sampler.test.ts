// The multistep consistency sampler (T2V-Turbo inference): its schedule against T2V-Turbo's (arXiv 2405.18750)
// numbers and formulas, the IR step against a JS reference, and the step graph chained over the
// 4-step schedule in onnxruntime against a JS loop (with a toy student).
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import {
  buildConsistencyStepGraph,
  consistencySamplerSchedule,
  consistencySamplerStep,
  consistencySamplerStepReference,
} from '../../../stdlib/samplers/consistency-sampler.ts';
import { Rng } from '../../../stdlib/nn/index.ts';

// alpha-bar of the scaled-linear schedule, written out here (beta_i = linspace(sqrt .00085, sqrt .012, 1000)^2)
function alphaBar(t: number): number {
  let p = 1;
  for (let i = 0; i <= t; i++) {
    const s = Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999;
    p *= 1 - s * s;
  }
  return p;
}
const cSkipOf = (t: number) => 0.25 / ((10 * t) ** 2 + 0.25);
const cOutOf = (t: number) => (10 * t) / Math.sqrt((10 * t) ** 2 + 0.25);
const normal = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal(0, 1));

describe('consistency sampler schedule', () => {
  it('4 steps: timesteps [999, 759, 519, 279], alpha-bar, c_skip/c_out, re-noise targets', () => {
    const s = consistencySamplerSchedule(4);
    expect(s.map((x) => x.t)).toEqual([999, 759, 519, 279]);
    expect(s.map((x) => x.tNext)).toEqual([759, 519, 279, -1]);
    for (const x of s) {
      expect(x.alphaT).toBeCloseTo(alphaBar(x.t), 10);
      expect(x.cSkip).toBeCloseTo(cSkipOf(x.t), 12);
      expect(x.cOut).toBeCloseTo(cOutOf(x.t), 12);
      expect(x.alphaNext).toBeCloseTo(x.tNext < 0 ? 1 : alphaBar(x.tNext), 10);
    }
    expect(consistencySamplerSchedule(8).map((x) => x.t)).toEqual([999, 879, 759, 639, 519, 399, 279, 159]);
  });

  it('the IR step matches the JS reference', async () => {
    const g = new Graph('step');
    const b = new Builder(g);
    const shape = [2, 3];
    const x = b.input('x', shape);
    const eps = b.input('eps', shape);
    const noise = b.input('noise', shape);
    const p = consistencySamplerSchedule(4)[1];
    const r = consistencySamplerStep(b, { x, eps, noise, alphaT: p.alphaT, cSkip: p.cSkip, cOut: p.cOut, alphaNext: b.input('alpha_next', []) });
    for (const v of [r.x0, r.denoised, r.next]) g.markOutput(v);
    const rng = new Rng(5);
    const feeds = { x: normal(6, rng), eps: normal(6, rng), noise: normal(6, rng), alpha_next: Float32Array.of(p.alphaNext) };
    const out = await evaluate(g, feeds);
    const ref = consistencySamplerStepReference(feeds.x, feeds.eps, p, feeds.noise);
    const got = g.outputs.map((v) => Array.from(out[v.name] as Float32Array));
    [ref.x0, ref.denoised, ref.next].forEach((want, k) => want.forEach((w, i) => expect(got[k][i]).toBeCloseTo(w, 5)));
  });

  it('the step graph chained over 4 steps matches a JS loop (toy student eps = 0.3 x + 0.01 w)', async () => {
    const latentShape = [1, 2, 2, 2, 2];
    const n = 16;
    const graph = buildConsistencyStepGraph({
      latentShape,
      contextShape: [1, 3, 4],
      student: (b, x, t, context, w) => {
        const ctx = b.reduceMean(context, undefined, false); // makes context a used input
        const tw = b.mul(b.add(b.reshape(w, [1, 1, 1, 1, 1]), b.mul(b.reshape(t, [1, 1, 1, 1, 1]), b.scalar(0))), b.scalar(0.01));
        return b.add(b.add(b.mul(x, b.scalar(0.3)), tw), b.mul(ctx, b.scalar(0)));
      },
    });
    expect(graph.inputs.map((v) => v.name)).toEqual(['latents', 'timestep', 'alpha_t', 'c_skip', 'c_out', 'alpha_next', 'noise', 'context', 'guidance']);
    const rng = new Rng(11);
    let x: Float32Array = normal(n, rng);
    let ref = Array.from(x);
    const sched = consistencySamplerSchedule(4);
    let denoised: Float32Array = new Float32Array(n);
    for (const s of sched) {
      const noise = normal(n, rng);
      const out = await evaluate(graph, {
        latents: x, timestep: Float32Array.of(s.t), alpha_t: Float32Array.of(s.alphaT), c_skip: Float32Array.of(s.cSkip),
        c_out: Float32Array.of(s.cOut), alpha_next: Float32Array.of(s.alphaNext), noise, context: new Float32Array(12), guidance: Float32Array.of(7.5),
      });
      const r = consistencySamplerStepReference(ref, ref.map((v) => 0.3 * v + 0.075), s, noise);
      x = out.latents_out as Float32Array;
      denoised = out.denoised as Float32Array;
      r.next.forEach((v, i) => expect(x[i]).toBeCloseTo(v, 4));
      ref = r.next;
    }
    // after the last step alpha_next = 1: the output is the denoised sample
    expect(Array.from(x)).toEqual(Array.from(denoised));
  });
});
