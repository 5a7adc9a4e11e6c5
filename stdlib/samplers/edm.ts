// EDM (Karras et al.) with SVD's v-prediction scaling (sigma_data = 1): JS functions, and the
// preconditioned denoiser output as IR.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { type Scalar, scalarOf } from './ddim.ts';

/** Karras sigmas (descending) plus a final 0: (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho. */
export function karrasSigmas(n: number, sigmaMin = 0.002, sigmaMax = 700, rho = 7): number[] {
  const a = sigmaMax ** (1 / rho);
  const z = sigmaMin ** (1 / rho);
  const sigmas = Array.from({ length: n }, (_, i) => (a + (n === 1 ? 0 : i / (n - 1)) * (z - a)) ** rho);
  sigmas.push(0);
  return sigmas;
}

/** SVD's scalings (v-prediction, sigma_data 1): c_skip, c_out, c_in, c_noise. */
export function edmScalings(sigma: number): { cSkip: number; cOut: number; cIn: number; cNoise: number } {
  const s2 = sigma * sigma + 1;
  return { cSkip: 1 / s2, cOut: -sigma / Math.sqrt(s2), cIn: 1 / Math.sqrt(s2), cNoise: 0.25 * Math.log(sigma) };
}

/** Initial noise scale of the sampler: sqrt(1 + sigma_max^2). */
export function edmInitialNoiseScale(sigmaMax = 700): number {
  return Math.sqrt(1 + sigmaMax * sigmaMax);
}

/** Per-frame linear guidance scales from `min` (first frame) to `max` (last). */
export function linearFrameGuidance(frames: number, min: number, max: number): number[] {
  return Array.from({ length: frames }, (_, i) => (frames === 1 ? min : min + ((max - min) * i) / (frames - 1)));
}

/** D(x) = c_skip x + c_out F, with F the network output at (c_in x, c_noise). */
export function edmDenoised(b: Builder, x: Value, networkOut: Value, cSkip: Scalar, cOut: Scalar): Value {
  return b.within('edm', () => b.add(b.mul(scalarOf(b, x, cSkip), x), b.mul(scalarOf(b, networkOut, cOut), networkOut)));
}

/** Euler (no churn): x_next = x + (x - D) / sigma * (sigma_next - sigma). */
export function edmEulerStep(b: Builder, x: Value, denoised: Value, sigma: Scalar, sigmaNext: Scalar): Value {
  return b.within('edm_euler', () => {
    const s = scalarOf(b, x, sigma);
    const d = b.div(b.sub(x, denoised), s);
    return b.add(x, b.mul(d, b.sub(scalarOf(b, x, sigmaNext), s)));
  });
}
