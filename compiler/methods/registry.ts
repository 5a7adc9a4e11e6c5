// The objectives the compiler lowers, one entry each (compiler/methods/<objective>/index.ts):
// what every command that compiles a pipeline (`compile`, `explain --graph`, `diff --graph`,
// and `run`/`sample` through runtime/methods) reaches through `compilerMethodFor`, so no
// command branches on the objective. The runtime side of each method is registered in
// runtime/methods/registry.ts under the same name.
import type { Plan } from '../plan.ts';
import { LoweringError, type LoweredProgram, type LowerOptions } from '../lower/contract.ts';
import type { ShrinkRule } from '../tiny/stand-in.ts';
import { consistencyMethod } from './consistency/index.ts';
import { rewardMethod } from './reward/index.ts';

export interface CompilerMethod {
  /** The objective's name in the catalogue (`objective <name> { ... }`). */
  objective: string;
  /** What it reproduces, for messages. */
  title: string;
  lower(plan: Plan, options: LowerOptions): LoweredProgram;
  /** How `--tiny` shrinks a full-size pipeline of this objective (undefined: no smoke run). */
  shrink?: ShrinkRule;
}

export const compilerMethods: Readonly<Record<string, CompilerMethod>> = {
  reward: rewardMethod,
  consistency: consistencyMethod,
};

/** Catalogue objectives the compiler does not lower yet, and what lands them. */
export const unloweredObjectives: Readonly<Record<string, string>> = {
  denoise: 'the denoising fine-tuning of Stable Video Diffusion (the denoise lowering)',
};

/** The plan's method; a LoweringError naming what is missing for an objective not lowered yet. */
export function compilerMethodFor(plan: Plan): CompilerMethod {
  const name = plan.objective.name;
  const method = compilerMethods[name];
  if (method) return method;
  const lands = unloweredObjectives[name];
  throw new LoweringError(`objective '${name}' is not lowered yet${lands ? ` (it lands with ${lands})` : ''}`);
}

/** Plan -> Program, through the plan's method. */
export function lower(plan: Plan, options: LowerOptions = {}): LoweredProgram {
  return compilerMethodFor(plan).lower(plan, options);
}
