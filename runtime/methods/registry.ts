// The methods `vplc run` and `vplc sample` drive, one entry each (runtime/methods/<objective>/
// index.ts), under the same names as the compiler's (compiler/methods/registry.ts). A command
// prepares the plan's method once (weights, the --tiny shrink, lowering) and then trains or
// samples through the prepared value, so no command branches on the objective.
import type { Plan } from '../../compiler/plan.ts';
import { unloweredObjectives } from '../../compiler/methods/registry.ts';
import { VplError } from '../../diagnostics/error.ts';
import type { Device } from '../session.ts';
import type { MethodRunOptions } from './common/run-steps.ts';
import { consistencyRuntime } from './consistency/index.ts';
import { rewardRuntime } from './reward/index.ts';

export interface PrepareOptions {
  tiny?: boolean;
  /** Only what sampling needs (`vplc sample`): no training graph. */
  samplingOnly?: boolean;
  device?: Device;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

export interface MethodSampleOptions {
  /** The prompts to sample; undefined: `count` of the pipeline's validation prompts. */
  prompts?: string[];
  count: number;
  outDir: string;
  seed: number;
  /** A trained LoRA (a PEFT folder, a checkpoint or run folder); undefined: the base model. */
  lora?: string;
  device: Device;
  cacheRoot: string;
  say: (line: string) => void;
}

/** A plan's method, ready to train or sample. */
export interface PreparedMethod {
  /** The plan it runs (a --tiny smoke run of a full-size model shrinks it). */
  plan: Plan;
  /** What the user should know before compiling (substitutions, precision on the CPU). */
  notes: string[];
  run(options: MethodRunOptions): Promise<{ exitCode: number }>;
  sample(options: MethodSampleOptions): Promise<{ files: string[] }>;
}

export interface RuntimeMethod {
  objective: string;
  prepare(plan: Plan, options: PrepareOptions): Promise<PreparedMethod>;
}

export const runtimeMethods: Readonly<Record<string, RuntimeMethod>> = {
  reward: rewardRuntime,
  consistency: consistencyRuntime,
};

/** The plan's method, or VPL7131 naming what lands it. */
export function runtimeMethodFor(plan: Plan, command: string): RuntimeMethod {
  const name = plan.objective.name;
  const method = runtimeMethods[name];
  if (method) return method;
  const lands = unloweredObjectives[name];
  throw new VplError('VPL7131', `not supported yet by ${command}: objective ${name}${lands ? ` (lands with ${lands})` : ''}`, {
    file: plan.file,
    help: `\`vplc check\` and \`vplc explain\` work on this pipeline today; ${command} takes ${Object.keys(runtimeMethods).map((name) => `\`objective ${name}\``).join(' and ')} pipelines`,
  });
}
