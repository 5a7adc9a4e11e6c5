// Gradient accumulation across micro-steps, for a runtime that calls one graph per micro-step.
//
// Each gradient has an accumulator (a float32 graph input and output of the same shape) that
// the runtime feeds back (zeros at the start). Two designs, both supported:
// - 'flag': one train graph with a bool scalar input `apply`: acc' = acc + g always; when
//   `apply` is true the optimizer consumes mean = (acc + g) / k and acc' is reset to zeros
//   (adamw's `apply` option gates the update). The runtime feeds apply = (micro % k == k-1).
//   One graph and one session; the optimizer arithmetic of the k-1 other micro-steps is wasted
//   (elementwise, small next to forward and backward).
// - 'split': two graphs: `accumulate` (acc' = acc + g, no optimizer) for the first k-1
//   micro-steps and `apply` (mean of acc + g, optimizer, acc' = zeros) for the last one; the
//   program's schedule says which runs when. No wasted work, two sessions.
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';

export interface Accumulated {
  /** What the optimizer should use this micro-step: the mean over the k micro-steps. */
  mean: Value[];
  /** The accumulator values to output (fed back next micro-step). */
  next: Value[];
}

/** Flag form: acc' = apply ? 0 : acc + g; mean = (acc + g) / k. */
export function accumulateWithFlag(b: Builder, grads: Value[], accumulators: Value[], microSteps: number, apply: Value): Accumulated {
  return b.within('accumulate', () => {
    const inv = b.scalar(1 / microSteps);
    const sums = grads.map((g, i) => b.add(accumulators[i], g));
    return {
      mean: sums.map((s) => b.mul(s, inv)),
      next: sums.map((s) => b.where(apply, b.expand(b.scalar(0, s.dtype), [...s.shape]), s)),
    };
  });
}

/** Split form, first k-1 micro-steps: acc' = acc + g. */
export function accumulateOnly(b: Builder, grads: Value[], accumulators: Value[]): Value[] {
  return b.within('accumulate', () => grads.map((g, i) => b.add(accumulators[i], g)));
}

/** Split form, last micro-step: mean = (acc + g) / k (the runtime resets accumulators to zeros). */
export function accumulatedMean(b: Builder, grads: Value[], accumulators: Value[], microSteps: number): Value[] {
  return b.within('accumulate', () => {
    const inv = b.scalar(1 / microSteps);
    return grads.map((g, i) => b.mul(b.add(accumulators[i], g), inv));
  });
}
