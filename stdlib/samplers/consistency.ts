// T2V-Turbo / LCM consistency pieces: boundary conditions, the teacher's DDIM solver grid and
// the multistep consistency sampler's timesteps.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { type Scalar, scalarOf } from './ddim.ts';
import { TRAIN_TIMESTEPS } from './schedule.ts';

export const SIGMA_DATA = 0.5;
export const TIMESTEP_SCALING = 10;

/** c_skip(t) = sd^2 / ((10 t)^2 + sd^2), c_out(t) = 10 t / sqrt((10 t)^2 + sd^2). */
export function consistencyScalings(t: number, sigmaData = SIGMA_DATA, timestepScaling = TIMESTEP_SCALING): { cSkip: number; cOut: number } {
  const st = t * timestepScaling;
  const d = st * st + sigmaData * sigmaData;
  return { cSkip: (sigmaData * sigmaData) / d, cOut: st / Math.sqrt(d) };
}

/** The teacher's DDIM solver grid: (i + 1) * skip - 1 for i in 0..steps-1 (50 steps: 19, 39, ..., 999). */
export function solverGrid(steps = 50, total = TRAIN_TIMESTEPS): number[] {
  const skip = Math.floor(total / steps);
  return Array.from({ length: steps }, (_, i) => (i + 1) * skip - 1);
}

/**
 * Timesteps of the n-step consistency sampler (LCM rule): reverse the `origin`-step solver grid
 * and take every floor(origin / n)-th entry, n of them. 4 -> [999, 759, 519, 279];
 * 8 -> [999, 879, ..., 159].
 */
export function consistencyTimesteps(n: number, origin = 50, total = TRAIN_TIMESTEPS): number[] {
  if (!Number.isInteger(n) || n < 1 || n > origin) throw new Error(`consistency sampler: ${n} steps is not in 1..${origin}`);
  const reversed = solverGrid(origin, total).reverse();
  const stride = Math.floor(origin / n);
  return Array.from({ length: n }, (_, i) => reversed[i * stride]);
}

/** One consistency-distillation training pair: t_s = grid[n], t_e = max(t_s - skip, 0). */
export function cdPair(index: number, steps = 50, total = TRAIN_TIMESTEPS): { tS: number; tE: number } {
  const skip = Math.floor(total / steps);
  const tS = solverGrid(steps, total)[index];
  return { tS, tE: Math.max(tS - skip, 0) };
}

/** Boundary-condition output c_skip z + c_out x0 (IR; the scalings as numbers or Values). */
export function consistencyOutput(b: Builder, z: Value, x0: Value, cSkip: Scalar, cOut: Scalar): Value {
  return b.within('consistency', () => b.add(b.mul(scalarOf(b, z, cSkip), z), b.mul(scalarOf(b, x0, cOut), x0)));
}
