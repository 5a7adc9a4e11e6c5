// Rectified flow (Open-Sora 1.2): x_t = (1 - t/T) x0 + (t/T) eps, the model predicts the
// velocity x0 - eps; Euler steps from t = T towards 0, on a grid shifted for resolution/length.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { type Scalar, scalarOf } from './ddim.ts';

/** r = sqrt(H W / 512^2) * sqrt(T_latent) (pixel height/width, latent frames). */
export function flowShiftRatio(height: number, width: number, latentFrames: number): number {
  return Math.sqrt((height * width) / (512 * 512)) * Math.sqrt(latentFrames);
}

/** t' = r t / (1 + (r - 1) t) for t in [0, 1]. */
export function shiftTimestep(t: number, r: number): number {
  return (r * t) / (1 + (r - 1) * t);
}

/**
 * Sampling timesteps in [0, T], descending: (1 - i/n) T for i < n, each shifted when `shift` is
 * given (the ratio r), followed by the final 0.
 */
export function flowTimesteps(n: number, options: { total?: number; shift?: number } = {}): number[] {
  const total = options.total ?? 1000;
  const ts = Array.from({ length: n }, (_, i) => {
    const t = 1 - i / n;
    return (options.shift !== undefined ? shiftTimestep(t, options.shift) : t) * total;
  });
  ts.push(0);
  return ts;
}

/** Euler step: x_next = x + v (t - t_next) / T (dt as a number or a scalar Value already divided by T). */
export function flowEulerStep(b: Builder, x: Value, velocity: Value, dt: Scalar): Value {
  return b.within('rf_euler', () => b.add(x, b.mul(velocity, scalarOf(b, x, dt))));
}
