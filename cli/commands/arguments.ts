// Positional arguments shared by commands: pipeline files, and `key=value` overrides.
import { checkFile } from '../../compiler/check/index.ts';
import type { Plan } from '../../compiler/plan.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics } from '../../diagnostics/render.ts';
import { ExitCode } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { colorEnabled, write } from '../terminal.ts';

export interface PipelineArguments {
  files: string[];
  overrides: string[];
}

/** `vplc check a.vpl lora.rank=8`: an argument with `=` before any `/` is an override. */
export function splitArguments(args: readonly string[]): PipelineArguments {
  const files: string[] = [];
  const overrides: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq > 0 && !arg.slice(0, eq).includes('/') && !arg.endsWith('.vpl')) overrides.push(arg);
    else files.push(arg);
  }
  return { files, overrides };
}

/**
 * The key=value overrides after a command's one pipeline file; undefined (the usage error
 * written, the exit code set) when another file is among them.
 */
export function overridesOf(command: string, rest: readonly string[], context: CommandContext): string[] | undefined {
  const { files, overrides } = splitArguments(rest);
  if (files.length === 0) return overrides;
  write(context.terminal.err, `vplc ${command}: takes one pipeline file; '${files[0]}' is not a key=value override`);
  context.setExitCode(ExitCode.usage);
  return undefined;
}

/**
 * The Plan of one pipeline file plus overrides, for commands that go on to use it: diagnostics
 * are printed, and undefined (with the exit code set) means the command should stop.
 */
export function checkedPlan(command: string, file: string, rest: readonly string[], context: CommandContext): Plan | undefined {
  const { terminal } = context;
  const overrides = overridesOf(command, rest, context);
  if (!overrides) return undefined;
  const result = checkFile(file, { overrides });
  if (result.diagnostics.length > 0) {
    write(terminal.err, renderDiagnostics(result.diagnostics, { sources: result.sources, cwd: terminal.cwd, color: colorEnabled(terminal.err, terminal.env) }));
  }
  if (!result.plan || hasErrors(result.diagnostics)) {
    context.setExitCode(ExitCode.diagnostics);
    return undefined;
  }
  return result.plan;
}
