// DPM-Solver++ multistep (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
// Diffusion Probabilistic Models", arXiv 2211.01095) for epsilon models, in its data-prediction
// form. With alpha = sqrt(abar), sigma = sqrt(1 - abar), lambda = log(alpha / sigma), the
// probability-flow ODE from s to t (lambda_t > lambda_s, h = lambda_t - lambda_s) is exactly
//
//   x_t = (sigma_t / sigma_s) x_s + sigma_t int_{lambda_s}^{lambda_t} e^lambda x0(lambda) dlambda,
//   x0  = (x - sigma eps) / alpha                                  (the data prediction)
//
// and the solvers replace x0(lambda) by what the last estimates m0 (this step), m1, m2 (the
// steps before) say about it. With phi1 = expm1(-h):
//   order 1 (= deterministic DDIM):  x_t = (sigma_t/sigma_s) x_s - alpha_t phi1 m0
//   order 2 (the paper's Algorithm 2, DPM-Solver++(2M); diffusers' solver_type "midpoint"),
//            r = h_prev / h:         x_t = (sigma_t/sigma_s) x_s - alpha_t phi1 [(1 + 1/(2r)) m0 - 1/(2r) m1]
//   order 3 (the Taylor form of the paper's derivation, x0 expanded to second order in lambda
//            at lambda_s, derivatives from the quadratic through m0, m1, m2):
//            x_t = (sigma_t/sigma_s) x_s - alpha_t phi1 m0 + alpha_t phi2 D1 - alpha_t phi3 D2,
//            phi2 = phi1/h + 1, phi3 = phi2/h - 1/2, D1 ~ h x0'(lambda_s), D2 ~ h^2 x0''(lambda_s).
//            This is exact when x0 is quadratic in lambda. (The reference DPM-Solver code and
//            diffusers weight their second divided difference half as much, (D1_0 - D1_1)/(r0 + r1)
//            instead of 2 (D1_0 - D1_1)/(r0 + r1): that is not exact for a quadratic. VADER uses
//            order 2, where both agree.)
// Every step is therefore LINEAR in (x_t, m0, m1, m2):
//
//   x_prev = cx x_t + c0 x0_now + c1 x0_hist1 + c2 x0_hist2
//
// with per-step float64 coefficients computed here (unused ones 0), so one compiled step graph
// serves every step: the runtime feeds the coefficients and alpha_t as scalars and carries the
// history x0 estimates (x0_hist1 = the previous step's x0, x0_hist2 = the one before) between
// calls.
//
// Schedule, as VADER's ModelScope run gets it. Facts from github.com/mihirp1998/VADER,
// VADER-ModelScope: config_t2v/config.yaml sets scheduler_type "dpm_multistep", decode_og False
// (run_text2Video_train.sh does not change either), 25 steps, guidance 9; train_t2v_lora.py
// then replaces the pipeline's scheduler (ModelScope ships a DDIM config with the scaled-linear
// betas) by DPMSolverMultistepScheduler.from_config(that config) of diffusers 0.26.3
// (requirements.txt), so that version's defaults apply: algorithm dpmsolver++, solver_order 2,
// solver_type midpoint, lower_order_final true, timestep_spacing "linspace" (timesteps
// round(linspace(0, 999, n + 1)) descending without the 0: 999, 959, ..., 40 for 25 steps) and
// final_sigmas_type "zero": the last step goes to sigma = 0 (abar = 1), i.e. it lands on its own
// x0 estimate, and is first order. (VADER's decode_og path reads `.pred_original_sample`, which
// that scheduler's step output does not have: it only works there with the DDIM scheduler.)
// So this grid is NOT the DDIM one (1, 41, ..., 961 and a last step to abar[0]): it follows VADER.
// Lower orders: step i (from 0) uses at most order min(i + 1, order) (not enough history on the
// first steps); the last step is first order when it lands on sigma = 0 or when steps < 15, and
// the second to last at most second order when steps < 15 (diffusers' lower_order_final: high
// orders are unstable over the few, long last steps of short schedules). `timesteps` and
// `finalAlpha` can give the DDIM grid instead (ddimTimesteps reversed, abar[0]): at order 1 that
// is deterministic DDIM step for step.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { type Scalar, scalarOf } from './ddim.ts';
import { defaultAlphasCumprod, TRAIN_TIMESTEPS } from './schedule.ts';

/** Everything one DPM-Solver++ step needs, per step in SAMPLING order (high t first). */
export interface DpmSolverStepParams {
  /** Index in sampling order (0 = first, noisiest step). */
  index: number;
  /** The timestep of x_t (the UNet's input). */
  t: number;
  /** The timestep the step goes to (-1 for the last step: the data end). */
  tPrev: number;
  alphaT: number;
  /** abar of the point the step goes to (1 when the last step lands on sigma = 0). */
  alphaPrev: number;
  /** The order this step uses (lowered on the first and, for short schedules, the last steps). */
  order: 1 | 2 | 3;
  /** Step size in log-SNR: lambda_prev - lambda_t (Infinity when landing on sigma = 0). */
  h: number;
  /** x_prev = cx x_t + c0 x0 + c1 x0_hist1 + c2 x0_hist2. */
  cx: number;
  c0: number;
  c1: number;
  c2: number;
}

export interface DpmSolverScheduleOptions {
  /** Solver order 1..3 (default 2, VADER's). */
  order?: number;
  alphas?: readonly number[];
  /** The grid in sampling order (descending); default dpmSolverTimesteps(n). */
  timesteps?: readonly number[];
  /** abar the last step lands on: 1 (sigma = 0, default, diffusers' final_sigmas_type "zero") or e.g. alphas[0]. */
  finalAlpha?: number;
  /** Lower the order of the last steps when steps < 15 (default true). */
  lowerOrderFinal?: boolean;
}

/** numpy's round(): halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * diffusers' "linspace" spacing, descending: round(linspace(0, total - 1, n + 1))[n..1]
 * (999, 959, ..., 40 for 25 steps of 1000).
 */
export function dpmSolverTimesteps(n: number, total = TRAIN_TIMESTEPS): number[] {
  if (!Number.isInteger(n) || n < 1 || n >= total) throw new Error(`dpm_solver: ${n} steps is not in 1..${total - 1}`);
  const step = (total - 1) / n;
  const points = Array.from({ length: n + 1 }, (_, i) => (i === n ? total - 1 : roundHalfEven(i * step)));
  return points.slice(1).reverse();
}

/** log(alpha / sigma) of an alpha-bar (Infinity at abar = 1). */
export function logSnrHalf(abar: number): number {
  return 0.5 * (Math.log(abar) - Math.log1p(-abar));
}

/** phi2(h) = (e^-h - 1 + h) / h and phi3(h) = phi2 / h - 1/2, by their series near 0. */
function phis(h: number): { phi1: number; phi2: number; phi3: number } {
  const phi1 = Math.expm1(-h);
  if (!Number.isFinite(h)) return { phi1, phi2: NaN, phi3: NaN };
  if (Math.abs(h) >= 0.5) {
    const phi2 = phi1 / h + 1;
    return { phi1, phi2, phi3: phi2 / h - 0.5 };
  }
  // e^-h - 1 + h = sum_{k >= 2} (-h)^k / k!
  let phi2 = 0;
  let phi3 = 0;
  let term = 1; // (-h)^k / k! for k = 0
  for (let k = 1; k <= 40; k++) {
    term *= -h / k;
    if (k >= 2) phi2 += term / h;
    if (k >= 3) phi3 += term / (h * h);
  }
  return { phi1, phi2, phi3 };
}

/**
 * Coefficients (cx, c0, c1, c2) of one step from lambda_s0 (this step, sigma_s) to the target
 * (alpha-bar abarTo, lambda lambdaTo), with lambdas = [lambda_s0, lambda_s1, lambda_s2] of this
 * and the previous estimates (as many as the order needs).
 */
export function dpmSolverCoefficients(order: 1 | 2 | 3, abarFrom: number, abarTo: number, lambdas: readonly number[]): { cx: number; c0: number; c1: number; c2: number } {
  const alphaTo = Math.sqrt(abarTo);
  const sigmaTo = Math.sqrt(1 - abarTo);
  const sigmaFrom = Math.sqrt(1 - abarFrom);
  const lambdaTo = logSnrHalf(abarTo);
  const h = lambdaTo - lambdas[0]!;
  const { phi1, phi2, phi3 } = phis(h);
  const cx = sigmaTo / sigmaFrom;
  const d0 = -alphaTo * phi1; // weight of m0 in the first-order update
  if (order === 1) return { cx, c0: d0, c1: 0, c2: 0 };
  if (!Number.isFinite(h)) throw new Error('dpm_solver: a step that lands on sigma = 0 must be first order');
  const r0 = (lambdas[0]! - lambdas[1]!) / h;
  if (order === 2) {
    const w = 1 / (2 * r0);
    return { cx, c0: d0 * (1 + w), c1: -d0 * w, c2: 0 };
  }
  const r1 = (lambdas[1]! - lambdas[2]!) / h;
  // divided differences as weights over (m0, m1, m2)
  const d10 = [1 / r0, -1 / r0, 0];
  const d11 = [0, 1 / r1, -1 / r1];
  const diff = d10.map((v, i) => v - d11[i]!);
  const D1 = d10.map((v, i) => v + (r0 / (r0 + r1)) * diff[i]!); // ~ h x0'(lambda_s0)
  const D2 = diff.map((v) => (2 / (r0 + r1)) * v); // ~ h^2 x0''(lambda_s0)
  const c = [0, 1, 2].map((i) => (i === 0 ? d0 : 0) + alphaTo * phi2 * D1[i]! - alphaTo * phi3 * D2[i]!);
  return { cx, c0: c[0]!, c1: c[1]!, c2: c[2]! };
}

/** The DPM-Solver++ multistep schedule in sampling order, with every step's coefficients. */
export function dpmSolverSchedule(n: number, options: DpmSolverScheduleOptions = {}): DpmSolverStepParams[] {
  const alphas = options.alphas ?? defaultAlphasCumprod();
  const order = options.order ?? 2;
  if (!Number.isInteger(order) || order < 1 || order > 3) throw new Error(`dpm_solver: order ${order} is not in 1..3`);
  const grid = options.timesteps ? [...options.timesteps] : dpmSolverTimesteps(n, alphas.length);
  if (grid.length !== n) throw new Error(`dpm_solver: ${grid.length} timesteps for ${n} steps`);
  for (let i = 1; i < n; i++) if (!(grid[i]! < grid[i - 1]!)) throw new Error('dpm_solver: the timesteps must be strictly descending');
  const finalAlpha = options.finalAlpha ?? 1;
  const lowerOrderFinal = options.lowerOrderFinal ?? true;
  const abar = (i: number) => (i < n ? alphas[grid[i]!]! : finalAlpha);
  const lambdas = Array.from({ length: n + 1 }, (_, i) => logSnrHalf(abar(i)));
  const steps: DpmSolverStepParams[] = [];
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const lowerFinal = last && (finalAlpha === 1 || (lowerOrderFinal && n < 15));
    const lowerSecond = i === n - 2 && lowerOrderFinal && n < 15;
    let o = Math.min(order, i + 1);
    if (lowerFinal) o = 1;
    if (lowerSecond) o = Math.min(o, 2);
    const stepOrder = o as 1 | 2 | 3;
    const history = [lambdas[i]!, ...(i >= 1 ? [lambdas[i - 1]!] : []), ...(i >= 2 ? [lambdas[i - 2]!] : [])];
    const c = dpmSolverCoefficients(stepOrder, abar(i), abar(i + 1), history);
    steps.push({ index: i, t: grid[i]!, tPrev: last ? -1 : grid[i + 1]!, alphaT: abar(i), alphaPrev: abar(i + 1), order: stepOrder, h: lambdas[i + 1]! - lambdas[i]!, ...c });
  }
  return steps;
}

/**
 * JS reference of one step (elementwise), the formula dpmSolverStep builds as IR. hist1/hist2:
 * the x0 estimates of the previous steps (may be left out when their coefficient is 0).
 */
export function dpmSolverStepReference(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  p: { alphaT: number; cx: number; c0: number; c1: number; c2: number },
  hist1?: ArrayLike<number>,
  hist2?: ArrayLike<number>,
): { prev: number[]; x0: number[] } {
  if (p.c1 !== 0 && !hist1) throw new Error('dpmSolverStepReference: the step needs x0_hist1');
  if (p.c2 !== 0 && !hist2) throw new Error('dpmSolverStepReference: the step needs x0_hist2');
  const prev: number[] = [];
  const x0s: number[] = [];
  const a = Math.sqrt(p.alphaT);
  const s = Math.sqrt(1 - p.alphaT);
  for (let i = 0; i < x.length; i++) {
    const x0 = (x[i]! - s * eps[i]!) / a;
    x0s.push(x0);
    let v = p.cx * x[i]! + p.c0 * x0;
    if (hist1 && p.c1 !== 0) v += p.c1 * hist1[i]!;
    if (hist2 && p.c2 !== 0) v += p.c2 * hist2[i]!;
    prev.push(v);
  }
  return { prev, x0: x0s };
}

export interface DpmSolverStepInputs {
  x_t: Value;
  eps: Value;
  alphaT: Scalar;
  cx: Scalar;
  c0: Scalar;
  /** Weight of x0_hist1 (with hist1). */
  c1?: Scalar;
  c2?: Scalar;
  /** The previous step's x0 estimate, and the one before (x_t's shape). */
  hist1?: Value;
  hist2?: Value;
}

/** One DPM-Solver++ step as IR: x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), then the linear update. */
export function dpmSolverStep(b: Builder, inputs: DpmSolverStepInputs): { prev: Value; x0: Value } {
  const { x_t, eps } = inputs;
  if ((inputs.hist1 === undefined) !== (inputs.c1 === undefined)) throw new Error('dpmSolverStep: hist1 and c1 go together');
  if ((inputs.hist2 === undefined) !== (inputs.c2 === undefined)) throw new Error('dpmSolverStep: hist2 and c2 go together');
  return b.within('dpm_solver', () => {
    const s = (v: Scalar) => scalarOf(b, x_t, v);
    const aT = s(inputs.alphaT);
    const x0 = b.div(b.sub(x_t, b.mul(b.sqrt(b.sub(s(1), aT)), eps)), b.sqrt(aT));
    let prev = b.add(b.mul(s(inputs.cx), x_t), b.mul(s(inputs.c0), x0));
    if (inputs.hist1) prev = b.add(prev, b.mul(s(inputs.c1!), inputs.hist1));
    if (inputs.hist2) prev = b.add(prev, b.mul(s(inputs.c2!), inputs.hist2));
    return { prev, x0 };
  });
}
