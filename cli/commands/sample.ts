// `vplc sample FILE [key=value...] [--lora PATH] [--prompt TEXT]... [--out DIR] [--seed N]
// [--tiny] [--device cpu|cuda]`: videos from the pipeline's model and sampler, with a trained
// LoRA or without (the base model). Without --prompt, the pipeline's validation prompts.
// Default output: <run folder>/samples/ (the run folder as `vplc run` resolves it).
import * as path from 'node:path';
import type { Command } from 'commander';
import { checkFile } from '../../compiler/check/index.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics } from '../../diagnostics/render.ts';
import { runtimeMethodFor } from '../../runtime/methods/registry.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { colorEnabled, write } from '../terminal.ts';
import { overridesOf } from './arguments.ts';
import { parseDevice, parsePositive } from './run.ts';
import { locateLora } from '../../runtime/methods/common/state.ts';

interface SampleFlags {
  lora?: string;
  prompt: string[];
  out?: string;
  seed?: string;
  count?: string;
  tiny?: boolean;
  device: string;
}

export function registerSample(program: Command, context: CommandContext): void {
  program
    .command('sample')
    .description('generate videos with a pipeline\'s model and sampler (and a trained LoRA)')
    .argument('<file>', 'pipeline file')
    .argument('[overrides...]', 'key=value overrides (sampler.steps=50)')
    .option('--lora <path>', 'LoRA: runs/<name>/lora/, a checkpoint folder, or a run folder (default: none, the base model)')
    .option('--prompt <text>', 'a prompt (repeat for more; default: the pipeline\'s validation prompts)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--count <n>', 'without --prompt: how many prompts to draw from the pipeline\'s prompts')
    .option('--out <dir>', 'output folder (default: <run folder>/samples)')
    .option('--seed <n>', 'seed of the initial noise (default: train.seed)')
    .option('--tiny', 'random-initialised small networks of the same model families (no weights needed)')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .action(async (file: string, rest: string[], flags: SampleFlags) => {
      const { terminal } = context;
      const overrides = overridesOf('sample', rest, context);
      if (!overrides) return;
      const device = parseDevice(flags.device);
      const seed = flags.seed === undefined ? undefined : flags.seed === '0' ? 0 : parsePositive(flags.seed, '--seed');
      const count = flags.count === undefined ? undefined : parsePositive(flags.count, '--count');
      const result = checkFile(path.resolve(terminal.cwd, file), { overrides });
      if (result.diagnostics.length > 0) {
        write(terminal.err, renderDiagnostics(result.diagnostics, { sources: result.sources, cwd: terminal.cwd, color: colorEnabled(terminal.err, terminal.env) }));
      }
      if (!result.plan || hasErrors(result.diagnostics)) {
        context.setExitCode(ExitCode.diagnostics);
        return;
      }
      if (flags.lora) locateLora(path.resolve(terminal.cwd, flags.lora));
      const method = runtimeMethodFor(result.plan, 'vplc sample');
      const prepared = await method.prepare(result.plan, { device, tiny: flags.tiny === true, samplingOnly: true, env: terminal.env, cwd: terminal.cwd });
      for (const note of prepared.notes) write(terminal.err, `note: ${note}`);
      const plan = prepared.plan;
      const outDir = path.resolve(terminal.cwd, flags.out ?? path.join(plan.output.dir, 'samples'));
      const sampled = await prepared.sample({
        ...(flags.prompt.length > 0 ? { prompts: flags.prompt } : {}),
        count: count ?? plan.train.validate?.prompts ?? 2,
        outDir,
        seed: seed ?? plan.train.seed,
        ...(flags.lora ? { lora: path.resolve(terminal.cwd, flags.lora) } : {}),
        device,
        cacheRoot: path.join(terminal.cwd, '.cache', 'vplc'),
        say: (line) => write(terminal.err, line),
      });
      write(terminal.out, `wrote ${sampled.files.length} file${sampled.files.length === 1 ? '' : 's'} to ${path.relative(terminal.cwd, outDir) || outDir}`);
    });
}
