// The multistep consistency sampler of T2V-Turbo / LCM (arXiv 2405.18750 and 2310.04378; Ji4chenLi/t2v-turbo inference):
// no CFG pass (the guidance scale w is embedded once into the student), timesteps taken from
// the 50-step solver grid (4 steps: 999, 759, 519, 279). Each step:
//
//   x0_hat   = (x - sqrt(1 - a_t) eps_hat) / sqrt(a_t)          eps_hat = student(x, t, text, w)
//   denoised = c_out(t) x0_hat + c_skip(t) x
//   x_next   = sqrt(a_next) denoised + sqrt(1 - a_next) noise   (not after the last step)
//
// The per-step numbers are JS (consistencySamplerSchedule) and enter the step graph as float32
// scalar inputs, so one `consistency_step` graph serves every step.
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Shape, type Value } from '../../tensor/ir/graph.ts';
import { consistencyScalings, consistencyTimesteps } from './consistency.ts';
import { type Scalar, scalarOf } from './ddim.ts';
import { defaultAlphasCumprod } from './schedule.ts';

/** The numbers of one sampler step, in sampling order. */
export interface ConsistencySamplerStep {
  index: number;
  t: number;
  alphaT: number;
  cSkip: number;
  cOut: number;
  /** The timestep the result is re-noised to (-1 after the last step: no re-noising). */
  tNext: number;
  /** alpha-bar of tNext (1 after the last step, so x_next = denoised). */
  alphaNext: number;
}

/** The n-step schedule: consistencyTimesteps(n) with alpha-bar and the boundary scalings. */
export function consistencySamplerSchedule(steps: number, alphas: readonly number[] = defaultAlphasCumprod(), origin = 50): ConsistencySamplerStep[] {
  const ts = consistencyTimesteps(steps, origin, alphas.length);
  return ts.map((t, i) => {
    const { cSkip, cOut } = consistencyScalings(t);
    const last = i === ts.length - 1;
    const tNext = last ? -1 : ts[i + 1];
    return { index: i, t, alphaT: alphas[t], cSkip, cOut, tNext, alphaNext: last ? 1 : alphas[tNext] };
  });
}

export interface ConsistencySamplerStepInputs {
  x: Value;
  eps: Value;
  alphaT: Scalar;
  cSkip: Scalar;
  cOut: Scalar;
  alphaNext: Scalar;
  /** Standard normal noise of x's shape for the re-noising. */
  noise: Value;
}

/** One sampler step as IR: x0 (the model's x0_hat), denoised, and the re-noised next latents. */
export function consistencySamplerStep(b: Builder, inputs: ConsistencySamplerStepInputs): { x0: Value; denoised: Value; next: Value } {
  const { x, eps, noise } = inputs;
  return b.within('consistency_sampler', () => {
    const s = (v: Scalar) => scalarOf(b, x, v);
    const one = s(1);
    const aT = s(inputs.alphaT);
    const aNext = s(inputs.alphaNext);
    const x0 = b.div(b.sub(x, b.mul(b.sqrt(b.sub(one, aT)), eps)), b.sqrt(aT));
    const denoised = b.add(b.mul(s(inputs.cOut), x0), b.mul(s(inputs.cSkip), x));
    const next = b.add(b.mul(b.sqrt(aNext), denoised), b.mul(b.sqrt(b.sub(one, aNext)), noise));
    return { x0, denoised, next };
  });
}

/** JS reference of consistencySamplerStep (elementwise, float64). */
export function consistencySamplerStepReference(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  p: Pick<ConsistencySamplerStep, 'alphaT' | 'cSkip' | 'cOut' | 'alphaNext'>,
  noise: ArrayLike<number>,
): { x0: number[]; denoised: number[]; next: number[] } {
  const x0: number[] = [];
  const denoised: number[] = [];
  const next: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const a = (x[i] - Math.sqrt(1 - p.alphaT) * eps[i]) / Math.sqrt(p.alphaT);
    const d = p.cOut * a + p.cSkip * x[i];
    x0.push(a);
    denoised.push(d);
    next.push(Math.sqrt(p.alphaNext) * d + Math.sqrt(1 - p.alphaNext) * noise[i]);
  }
  return { x0, denoised, next };
}

/** The student as the step graph calls it: eps_hat for latents x at timesteps t [B], text, w [B]. */
export type ConsistencyStudent = (b: Builder, x: Value, t: Value, context: Value, guidance: Value) => Value;

export interface ConsistencyStepGraphOptions {
  /** [B, C, T, h, w]. */
  latentShape: Shape;
  /** [B, L, D]. */
  contextShape: Shape;
  student: ConsistencyStudent;
  name?: string;
}

/**
 * The `consistency_step` graph.
 *   inputs   latents [B, C, T, h, w] (N(0,1) at step 0, then latents_out), timestep, alpha_t,
 *            c_skip, c_out, alpha_next float32 [] (consistencySamplerSchedule()[i]), noise
 *            [B, C, T, h, w] (N(0,1); any value on the last step, where alpha_next = 1),
 *            context [B, L, D], guidance [B] (w, 7.5 by default), plus what `student` asks for
 *            (LoRA factors, the guidance projection).
 *   outputs  latents_out (re-noised), denoised (the sample after the last step), x0, eps.
 */
export function buildConsistencyStepGraph(options: ConsistencyStepGraphOptions): Graph {
  const graph = new Graph(options.name ?? 'consistency_step');
  const b = new Builder(graph);
  const x = b.input('latents', options.latentShape);
  const timestep = b.input('timestep', []);
  const alphaT = b.input('alpha_t', []);
  const cSkip = b.input('c_skip', []);
  const cOut = b.input('c_out', []);
  const alphaNext = b.input('alpha_next', []);
  const noise = b.input('noise', options.latentShape);
  const context = b.input('context', options.contextShape);
  const batch = options.latentShape[0];
  const guidance = b.input('guidance', [batch]);
  const t = b.expand(b.reshape(timestep, [1]), [batch]);
  const eps = options.student(b, x, t, context, guidance);
  const step = consistencySamplerStep(b, { x, eps, alphaT, cSkip, cOut, alphaNext, noise });
  const out = (v: Value, name: string) => {
    const o = b.op('Identity', [v]);
    o.name = graph.uniqueName(name);
    if (o.name !== name) throw new Error(`internal: output name '${name}' is taken`);
    graph.markOutput(o);
  };
  out(step.next, 'latents_out');
  out(step.denoised, 'denoised');
  out(step.x0, 'x0');
  out(eps, 'eps');
  return graph;
}
