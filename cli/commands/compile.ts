// `vplc compile FILE [key=value...] --out DIR [--tiny]`: write the ONNX graphs, the external
// weight data and program.json (schedule, interfaces, weight manifest) so users can inspect
// them (Netron) or run them elsewhere.
import * as path from 'node:path';
import type { Command } from 'commander';
import { graphFigures } from '../../compiler/figures.ts';
import { displayFile } from '../../diagnostics/render.ts';
import { formatCount } from '../../runtime/progress/banner.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { write } from '../terminal.ts';
import { checkedPlan } from './arguments.ts';
import { lowerForCommand, writeNotes } from './lowering.ts';

export function registerCompile(program: Command, context: CommandContext): void {
  program
    .command('compile')
    .description('compile a pipeline to ONNX graphs, external weight data and program.json')
    .argument('<file>', 'pipeline file')
    .argument('[overrides...]', 'key=value overrides (lora.rank=8)')
    .requiredOption('--out <dir>', 'folder to write the program to')
    .option('--tiny', 'use random-initialised small versions of the model families (no weights needed)')
    .action(async (file: string, rest: string[], options: { out: string; tiny?: boolean }) => {
      const { terminal } = context;
      const plan = checkedPlan('compile', file, rest, context);
      if (!plan) return;
      const { lowered, problem, code, notes } = await lowerForCommand(plan, { tiny: options.tiny === true });
      // --tiny on a full-size model: what the smoke build changed, as `vplc run --tiny` prints it
      writeNotes(terminal.err, notes);
      if (!lowered) {
        write(terminal.err, `${displayFile(file, terminal.cwd)}: error ${code}: ${problem}`);
        context.setExitCode(ExitCode.diagnostics);
        return;
      }
      const out = path.resolve(terminal.cwd, options.out);
      const { emitProgram } = await import('../../tensor/program/emit.ts');
      const json = emitProgram(lowered.program, out);
      const state = new Set(lowered.trainable.map((p) => p.name));
      write(terminal.out, `compiled ${plan.name} to ${displayFile(out, terminal.cwd)} (program ${json.hash.slice(0, 12)})`);
      for (const [name, graph] of Object.entries(lowered.program.graphs)) {
        const figures = graphFigures(graph, graph.inputs.filter((v) => state.has(v.name) || v.name.startsWith('adam.') || v.name.startsWith('acc.')));
        write(
          terminal.out,
          `  ${json.graphs[name].file.padEnd(18)} ${String(figures.nodes).padStart(6)} nodes  ${formatCount(figures.flops).padStart(7)}FLOP  peak activations ${formatBytes(figures.peakActivationBytes)}`,
        );
      }
      if (json.externalData) {
        const unwritten = json.externalData.written === false ? ': not written (compiled from shapes, without the checkpoint)' : '';
        write(terminal.out, `  ${json.externalData.file.padEnd(18)} ${formatBytes(json.externalData.bytes)} of frozen weights${unwritten}`);
      }
      const counts = lowered.params.count();
      write(terminal.out, `  parameters ${formatCount(counts.total)}, trainable ${formatCount(counts.trainable)}`);
    });
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
