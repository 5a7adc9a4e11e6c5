// The DDIM update and classifier-free guidance as IR. Per-step numbers (alpha-bar, scale) are
// JS numbers (folded into the graph) or float32 scalar Values (graph inputs the runtime feeds
// from ddimSchedule(), so one graph serves every step).
//
//   x0      = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)            [/ s_t with use_scale]
//   sigma_t = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)
//   x_prev  = sqrt(a_prev) [s_prev] x0 + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t noise
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';

export type Scalar = number | Value;

/** A number as a constant of x's dtype, or a Value cast to it. */
export function scalarOf(b: Builder, like: Value, s: Scalar): Value {
  return typeof s === 'number' ? b.scalarLike(like, s) : b.cast(s, like.dtype);
}

export interface DdimStepInputs {
  x_t: Value;
  eps: Value;
  alphaT: Scalar;
  alphaPrev: Scalar;
  /** 0: deterministic DDIM; 1: DDPM-like. */
  eta: Scalar;
  /** Standard normal noise of x_t's shape; needed when eta may be non-zero. */
  noise?: Value;
  /** VideoCrafter2 use_scale factors s_t and s_prev (leave out for plain DDIM). */
  scaleT?: Scalar;
  scalePrev?: Scalar;
}

export interface DdimStepResult {
  prev: Value;
  x0: Value;
  sigma: Value;
}

export function ddimStep(b: Builder, inputs: DdimStepInputs): DdimStepResult {
  const { x_t, eps } = inputs;
  return b.within('ddim', () => {
    const s = (v: Scalar) => scalarOf(b, x_t, v);
    const one = s(1);
    const aT = s(inputs.alphaT);
    const aPrev = s(inputs.alphaPrev);
    const eta = s(inputs.eta);
    let x0 = b.div(b.sub(x_t, b.mul(b.sqrt(b.sub(one, aT)), eps)), b.sqrt(aT));
    if (inputs.scaleT !== undefined) x0 = b.div(x0, s(inputs.scaleT));
    const sigma = b.mul(eta, b.sqrt(b.mul(b.div(b.sub(one, aPrev), b.sub(one, aT)), b.sub(one, b.div(aT, aPrev)))));
    // clamp at 0 like a guard against rounding when eta = 1 and a_prev ~ 1
    const dirCoef = b.sqrt(b.clip(b.sub(b.sub(one, aPrev), b.mul(sigma, sigma)), 0));
    let x0Coef = b.sqrt(aPrev);
    if (inputs.scalePrev !== undefined) x0Coef = b.mul(x0Coef, s(inputs.scalePrev));
    let prev = b.add(b.mul(x0Coef, x0), b.mul(dirCoef, eps));
    if (inputs.noise) prev = b.add(prev, b.mul(sigma, inputs.noise));
    return { prev, x0, sigma };
  });
}

/** Classifier-free guidance: eps_u + w (eps_c - eps_u). */
export function cfgCombine(b: Builder, epsUncond: Value, epsCond: Value, scale: Scalar): Value {
  return b.within('cfg', () => b.add(epsUncond, b.mul(scalarOf(b, epsCond, scale), b.sub(epsCond, epsUncond))));
}

/** Forward diffusion q(x_t | x0): sqrt(a_t) x0 + sqrt(1 - a_t) eps. */
export function addNoise(b: Builder, x0: Value, eps: Value, alphaT: Scalar): Value {
  return b.within('add_noise', () => {
    const a = scalarOf(b, x0, alphaT);
    return b.add(b.mul(b.sqrt(a), x0), b.mul(b.sqrt(b.sub(b.scalarLike(a, 1), a)), eps));
  });
}
