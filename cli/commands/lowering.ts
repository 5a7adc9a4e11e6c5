// Lowering a checked plan for the commands that compile it (`compile`, `explain --graph`):
// the one place that decides where model weights come from and how lowering errors read.
// The lowering (models, autodiff, passes) is imported on first use: `vplc check` and `fmt`
// start without loading it.
import type { LoweredProgram } from '../../compiler/lower/index.ts';
import { type GraphFigures, graphFigures } from '../../compiler/figures.ts';
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

/** Graph figures of a plan's compiled program, or why there are none. */
export interface CompiledFigures {
  tiny: boolean;
  /** Why there are no graph figures (the pipeline could not be lowered). */
  problem?: string;
  parameters?: { total: number; trainable: number };
  graphs?: GraphFigures[];
}

export async function compiledFigures(plan: Plan, tiny: boolean): Promise<CompiledFigures> {
  const { lowered, problem } = await lowerForCommand(plan, { tiny });
  if (!lowered) return { tiny, problem };
  const state = new Set(lowered.trainable.map((p) => p.name));
  const isState = (name: string) => state.has(name) || name.startsWith('adam.') || name.startsWith('acc.');
  return {
    tiny,
    parameters: lowered.params.count(),
    graphs: Object.values(lowered.program.graphs).map((g) => graphFigures(g, g.inputs.filter((v) => isState(v.name)))),
  };
}
