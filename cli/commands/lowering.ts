// Lowering a checked plan for the commands that compile it (`compile`, `explain --graph`):
// the one place that decides where model weights come from and how lowering errors read.
// The lowering (models, autodiff, passes) is imported on first use: `vplc check` and `fmt`
// start without loading it.
import type { LoweredProgram } from '../../compiler/lower/index.ts';
import type { Plan } from '../../compiler/plan.ts';

export interface LoweringOutcome {
  lowered?: LoweredProgram;
  /** Why the plan could not be lowered, in a user's words, with the fix. */
  problem?: string;
}

export async function lowerForCommand(plan: Plan, options: { tiny: boolean }): Promise<LoweringOutcome> {
  if (!options.tiny) {
    const where = plan.model.weights ? `'${plan.model.weights}'` : `the weights of '${plan.model.name}'`;
    return {
      problem: `compiling the full-size model needs ${where}, which this command does not load yet; use --tiny for the same pipeline on random-initialised small versions of its model families`,
    };
  }
  const { lower, LoweringError } = await import('../../compiler/lower/index.ts');
  try {
    return { lowered: lower(plan, { tiny: true }) };
  } catch (error) {
    if (error instanceof LoweringError) return { problem: error.message };
    throw error;
  }
}
