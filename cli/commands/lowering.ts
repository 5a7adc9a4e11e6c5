// Lowering a checked plan for the commands that compile it (`compile`, `explain --graph`,
// `diff --graph`): the one place that decides where model weights come from and how lowering
// errors read. The lowering (models, autodiff, passes) is imported on first use: `vplc check`
// and `fmt` start without loading it.
//
// --tiny on a full-size model (videocrafter2, modelscope) shrinks the pipeline exactly as
// `vplc run --tiny` does (compiler/tiny/stand-in.ts): small networks of its family at
// 32x32, few frames, stand-in rewards. The changes come back as `notes`, which the commands
// print as `note: ...` lines on stderr (or put in the JSON). tiny_vc is compiled as it is.
import type { LoweredProgram, LowerOptions } from '../../compiler/lower/index.ts';
import { type GraphFigures, graphFigures, programFigures } from '../../compiler/figures.ts';
import { computePrecision, type Device, type MemoryEstimate } from '../../compiler/memory-estimate.ts';
import type { Plan } from '../../compiler/plan.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { DiagnosticCode } from '../../diagnostics/catalogue.ts';
import type { Writable } from 'node:stream';
import { write } from '../terminal.ts';

export interface LoweringOutcome {
  lowered?: LoweredProgram;
  /** Why the plan could not be lowered, in a user's words, with the fix. */
  problem?: string;
  /** The catalogue code of the problem (the code `vplc run` reports for the same problem). */
  code?: DiagnosticCode;
  /** What a --tiny smoke build changed in the pipeline (empty for tiny_vc), as `vplc run --tiny` lists them. */
  notes: string[];
  /** The plan that was lowered (the shrunk one for --tiny on a full-size model). */
  plan: Plan;
}

export async function lowerForCommand(plan: Plan, options: { tiny: boolean; precision?: LowerOptions['precision'] }): Promise<LoweringOutcome> {
  const { lower, LoweringError, compilerMethods } = await import('../../compiler/lower/index.ts');
  const { RewardMixError } = await import('../../stdlib/rewards/mix.ts');
  const precision = options.precision ? { precision: options.precision } : {};
  const { needsTinyStandIn } = await import('../../compiler/tiny/stand-in.ts');
  const refused = (error: unknown, notes: string[], p: Plan): LoweringOutcome => {
    if (!(error instanceof LoweringError) && !(error instanceof RewardMixError)) throw error;
    const code: DiagnosticCode = p.objective.name in compilerMethods ? 'VPL7132' : 'VPL7131';
    return { problem: error.message, code, notes, plan: p };
  };
  if (!options.tiny && !needsTinyStandIn(plan)) {
    // the tiny world ships its weights: compile it as `vplc run` trains it
    const { modelBuild } = await import('../../stdlib/models/registry.ts');
    const { openTinyWorld } = await import('../../runtime/weights/tiny-world.ts');
    const world = await openTinyWorld(modelBuild(plan.model.name));
    if (world) {
      try {
        return { lowered: lower(plan, { build: world.build, weights: world.weights, ...precision }), notes: [], plan };
      } catch (error) {
        return refused(error, [], plan);
      }
    }
  }
  if (!options.tiny) {
    // a full-size model: built from its configs; the frozen weights are lazy references (the
    // checkpoint is not read), so the program can be inspected and costed but not run
    const where = plan.model.weights ? `'${plan.model.weights}'` : `the checkpoint of '${plan.model.name}'`;
    const notes = [`${plan.name}: full-size networks built from their configs without reading ${where}: frozen weights are lazy references (shapes only)`];
    try {
      return { lowered: lower(plan, { shapesOnly: true, ...precision }), notes, plan };
    } catch (error) {
      return refused(error, notes, plan);
    }
  }
  const shrunk = await tinyStandInFor(plan);
  try {
    return { lowered: lower(shrunk.plan, { tiny: true, ...(shrunk.build ? { build: shrunk.build } : {}), ...precision }), notes: shrunk.notes, plan: shrunk.plan };
  } catch (error) {
    return refused(error, shrunk.notes, shrunk.plan);
  }
}

/**
 * The plan (and networks) `--tiny` compiles: a full-size model shrunk as `vplc run --tiny`
 * does; tiny_vc, objectives without a smoke-run shrink and unbuilt families as they are (the
 * lowering then says what is missing).
 */
async function tinyStandInFor(plan: Plan): Promise<{ plan: Plan; build?: ModelBuild; notes: string[] }> {
  const { canShrink, needsTinyStandIn, tinyStandIn } = await import('../../compiler/tiny/stand-in.ts');
  if (!needsTinyStandIn(plan) || !canShrink(plan)) return { plan, notes: [] };
  const { modelBuild, ModelNotBuiltError } = await import('../../stdlib/models/registry.ts');
  let base: ModelBuild;
  try {
    base = modelBuild(plan.model.name);
  } catch (error) {
    if (error instanceof ModelNotBuiltError) return { plan, notes: [] };
    throw error;
  }
  return tinyStandIn(plan, base);
}

/** The notes of a --tiny smoke build, as `vplc run --tiny` prints them. */
export function writeNotes(stream: Writable, notes: readonly string[], prefix = ''): void {
  for (const note of notes) write(stream, `note: ${prefix}${note}`);
}

/** Graph figures of a plan's compiled program, or why there are none. */
export interface CompiledFigures {
  tiny: boolean;
  /** Why there are no graph figures (the pipeline could not be lowered), after its code. */
  problem?: string;
  /** What --tiny changed to compile a full-size model small (absent when nothing changed). */
  notes?: string[];
  parameters?: { total: number; trainable: number };
  graphs?: GraphFigures[];
  /** The memory estimate, when a device was given (`explain --graph`). */
  memory?: MemoryEstimate;
}

export async function compiledFigures(plan: Plan, tiny: boolean, options: { device?: Device } = {}): Promise<CompiledFigures> {
  // with a device: lowered at the precision it computes in, and costed with the memory estimate
  const assumptions = options.device ? { device: options.device, precision: plan.train.precision } : undefined;
  const compute = assumptions ? computePrecision(assumptions) : 'fp32';
  const { lowered, problem, code, notes } = await lowerForCommand(plan, { tiny, ...(compute !== 'fp32' ? { precision: compute } : {}) });
  const noted = notes.length > 0 ? { notes } : {};
  if (!lowered) return { tiny, problem: `${code}: ${problem}`, ...noted };
  if (assumptions) return { tiny, ...noted, ...programFigures(lowered, assumptions) };
  const state = new Set(lowered.trainable.map((p) => p.name));
  const isState = (name: string) => state.has(name) || name.startsWith('adam.') || name.startsWith('acc.');
  return {
    tiny,
    ...noted,
    parameters: lowered.params.count(),
    graphs: Object.values(lowered.program.graphs).map((g) => graphFigures(g, g.inputs.filter((v) => isState(v.name)))),
  };
}
