// Lowering: Plan -> Program (tensor IR graphs + schedule). One module per objective.
import type { Plan } from '../plan.ts';
import { lowerConsistency } from './consistency.ts';
import { type LoweredProgram, type LowerOptions, LoweringError, lowerReward } from './reward.ts';

export * from './reward.ts';
export * from './consistency.ts';

export function lower(plan: Plan, options: LowerOptions = {}): LoweredProgram {
  switch (plan.objective.name) {
    case 'reward':
      return lowerReward(plan, options);
    case 'consistency':
      return lowerConsistency(plan, options);
    default:
      throw new LoweringError(`objective '${plan.objective.name}' is not lowered yet`);
  }
}
