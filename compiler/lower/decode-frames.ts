// Which latent frames a method decodes for its rewards (`objective.decode`, the reward and the
// consistency objective alike): how many, and the indices when they do not vary from step to
// step (random(k): k distinct frames drawn per micro-step by the runtime).
import type { Plan } from '../plan.ts';
import { LoweringError } from './contract.ts';

export function decodeFrames(plan: Plan): { count: number; fixed?: number[] } {
  if (!('decode' in plan.objective)) throw new LoweringError(`decodeFrames: objective '${plan.objective.name}' decodes no frames`);
  const frames = plan.derived.latent_shape[1];
  const d = plan.objective.decode;
  switch (d.mode) {
    case 'random':
      return { count: Math.min(d.k, frames) };
    case 'frame':
      return { count: 1, fixed: [d.i < 0 ? frames + d.i : d.i] };
    case 'every': {
      const fixed = Array.from({ length: Math.ceil(frames / d.n) }, (_, i) => i * d.n);
      return { count: fixed.length, fixed };
    }
    case 'all':
      return { count: frames, fixed: Array.from({ length: frames }, (_, i) => i) };
  }
}
