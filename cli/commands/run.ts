// `vplc run FILE [key=value...] [--tiny] [--fresh] [--device cpu|cuda] [--steps N]`: check the
// pipeline, resolve its run folder, lower and compile it, train (resuming from the newest
// checkpoint unless --fresh), write the LoRA (PEFT layout) and report.html.
//
// The run folder is `output.dir` when the pipeline sets it, else runs/<pipeline name>; either
// is relative to the CURRENT folder. Exit codes: 0 done, 1 the pipeline or the run has a
// problem (diagnostics or a VPLxxxx error were printed), 130 stopped by Ctrl-C (a checkpoint
// was saved: the same command resumes), 143 by SIGTERM, 3 stopped by the reward-hacking watch
// (objective.on_hacking = stop: likewise saved and resumable; runtime/methods/common/watch.ts).
import * as path from 'node:path';
import type { Command } from 'commander';
import { checkFile } from '../../compiler/check/index.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { displayFile, renderDiagnostics } from '../../diagnostics/render.ts';
import { VplError } from '../../diagnostics/error.ts';
import { runtimeMethodFor } from '../../runtime/methods/registry.ts';
import type { Device } from '../../runtime/session.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { colorEnabled, write } from '../terminal.ts';
import { overridesOf } from './arguments.ts';

interface RunOptions {
  tiny?: boolean;
  fresh?: boolean;
  device: string;
  steps?: string;
}

export function parseDevice(value: string): Device {
  if (value === 'cpu' || value === 'cuda') return value;
  throw new VplError('VPL7100', `unknown device '${value}'`, { help: 'use --device cpu (the default) or --device cuda' });
}

export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new VplError('VPL7112', `${flag} must be a positive integer, got '${value}'`, { help: `for example ${flag} 10` });
  }
  return n;
}

export function registerRun(program: Command, context: CommandContext): void {
  program
    .command('run')
    .description('train a pipeline (VADER reward alignment, T2V-Turbo consistency distillation): checkpoints, metrics, videos, report.html in runs/<name>/')
    .argument('<file>', 'pipeline file')
    .argument('[overrides...]', 'key=value overrides (train.steps=100 lora.rank=8)')
    .option('--tiny', 'random-initialised small networks of the same model families: a smoke run without weights')
    .option('--fresh', 'remove the run folder\'s checkpoints and metrics and start over (default: resume)')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--steps <n>', 'optimizer steps (overrides train.steps)')
    .action(async (file: string, rest: string[], options: RunOptions) => {
      const { terminal } = context;
      const overrides = overridesOf('run', rest, context);
      if (!overrides) return;
      const device = parseDevice(options.device);
      const steps = options.steps === undefined ? undefined : parsePositive(options.steps, '--steps');
      const result = checkFile(path.resolve(terminal.cwd, file), { overrides });
      if (result.diagnostics.length > 0) {
        write(terminal.err, renderDiagnostics(result.diagnostics, { sources: result.sources, cwd: terminal.cwd, color: colorEnabled(terminal.err, terminal.env) }));
      }
      if (!result.plan || hasErrors(result.diagnostics)) {
        context.setExitCode(ExitCode.diagnostics);
        return;
      }
      const method = runtimeMethodFor(result.plan, 'vplc run');
      const prepared = await method.prepare(result.plan, { device, tiny: options.tiny === true, env: terminal.env, cwd: terminal.cwd });
      const plan = prepared.plan;
      for (const note of prepared.notes) write(terminal.err, `note: ${note}`);
      write(terminal.err, `compiling ${displayFile(plan.file, terminal.cwd)} ...`);
      const outcome = await prepared.run({
        runDir: path.resolve(terminal.cwd, plan.output.dir),
        pipelineFile: plan.file,
        fresh: options.fresh === true,
        device,
        ...(steps === undefined ? {} : { steps }),
        stderr: terminal.err,
        env: terminal.env,
        cacheRoot: path.join(terminal.cwd, '.cache', 'vplc'),
      });
      context.setExitCode(outcome.exitCode);
    });
}
