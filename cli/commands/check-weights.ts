// `vplc check-weights FILE [key=value...] [--weights PATH] [--json]`: open the pipeline's
// model checkpoint the way `vplc run` finds it (--weights, else `model.weights` relative to the
// pipeline's folder, else the default place) and check it against the model's networks:
// every missing, unexpected and mismatched tensor at once, by name and file. Nothing is
// compiled or run; only headers and pickles are read. Exit 0 when the checkpoint is clean.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { Plan } from '../../compiler/plan.ts';
import { displayFile } from '../../diagnostics/render.ts';
import { VplError } from '../../diagnostics/error.ts';
import { defaultWeightsPath, modelBuildFor } from '../../runtime/methods/common/weights.ts';
import { componentCounts, formatLoadReport, isClean, type LoadReport } from '../../runtime/weights/load-report.ts';
import { openModelCheckpoint } from '../../runtime/weights/model-checkpoint.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { write } from '../terminal.ts';
import { checkedPlan } from './arguments.ts';
import { formatBytes } from './compile.ts';

interface CheckWeightsOptions {
  weights?: string;
  json?: boolean;
  variant?: string;
}

/** The checkpoint to check, and how it was chosen (for messages). */
function weightsPath(plan: Plan, options: CheckWeightsOptions, context: CommandContext): { file: string; where: string } | undefined {
  const { terminal } = context;
  if (options.weights) return { file: path.resolve(terminal.cwd, options.weights), where: '--weights' };
  if (plan.model.weights) return { file: path.resolve(plan.dir, plan.model.weights), where: `model.weights = "${plan.model.weights}" in the pipeline` };
  // The tiny world's model runs on the shipped files of stdlib/weights/tiny, not a checkpoint.
  if (plan.model.name === 'tiny_vc') return undefined;
  return {
    file: defaultWeightsPath(plan.model.name, terminal.env, terminal.cwd),
    where: `the default place for ${plan.model.name}'s weights (set model.weights, --weights or VPLC_WEIGHTS_DIR to use another)`,
  };
}

function table(report: LoadReport): string[] {
  const header = ['component', 'matched', 'missing', 'unexpected', 'mismatched', 'absent', 'size', 'dtypes'];
  const rows = Object.entries(componentCounts(report)).map(([component, c]) => [
    component,
    String(c.matched),
    String(c.missing),
    String(c.unexpected),
    String(c.mismatched),
    String(c.absent),
    formatBytes(c.bytes),
    Object.entries(c.dtypes).map(([dtype, n]) => `${dtype} ${n}`).join(', ') || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((cells) => `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}`);
}

export function registerCheckWeights(program: Command, context: CommandContext): void {
  program
    .command('check-weights')
    .description("check a pipeline's model checkpoint against the model: every missing, unexpected and mismatched tensor at once")
    .argument('<file>', 'pipeline file')
    .argument('[overrides...]', 'key=value overrides (model.weights=...)')
    .option('--weights <path>', 'the checkpoint file or diffusers folder to check (default: as `vplc run` finds it)')
    .option('--variant <name>', 'diffusers folders: prefer the files of this variant (fp16)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, rest: string[], options: CheckWeightsOptions) => {
      const { terminal } = context;
      const plan = checkedPlan('check-weights', file, rest, context);
      if (!plan) return;
      if (options.variant !== undefined && options.variant !== 'fp16') {
        write(terminal.err, `vplc check-weights: --variant takes fp16, not '${options.variant}'`);
        context.setExitCode(ExitCode.usage);
        return;
      }
      const build = modelBuildFor(plan, 'vplc check-weights');
      const chosen = weightsPath(plan, options, context);
      if (!chosen) {
        write(terminal.out, `${plan.model.name} runs on the tiny world's shipped weights (stdlib/weights/tiny), which \`vplc run\` checks as it loads them; give --weights PATH to check a checkpoint`);
        return;
      }
      const { file: target, where } = chosen;
      if (!fs.existsSync(target)) {
        throw new VplError('VPL7130', `the weights of model '${plan.model.name}' are missing: ${target} does not exist (${where})`, {
          file: plan.file,
          help: `put the ${plan.model.name} checkpoint (safetensors, .ckpt or .pt, or a diffusers folder) at ${target}, or give another with --weights`,
        });
      }
      const checkpoint = await openModelCheckpoint(build, target, options.variant === 'fp16' ? { variant: 'fp16' } : {});
      try {
        const { report } = checkpoint;
        const clean = isClean(report);
        const shown = displayFile(target, terminal.cwd);
        if (options.json) {
          write(terminal.out, JSON.stringify({ path: shown, model: plan.model.name, layout: checkpoint.layout, clean, files: checkpoint.files.map((f) => displayFile(f, terminal.cwd)), counts: componentCounts(report), report }, null, 2));
        } else {
          write(terminal.out, `${shown}: ${checkpoint.layout} checkpoint for model '${plan.model.name}'`);
          for (const line of table(report)) write(terminal.out, line);
          for (const line of formatLoadReport(report)) write(terminal.out, line);
        }
        if (clean) {
          if (!options.json) write(terminal.out, `ok: all ${report.matched.length} parameters match`);
          return;
        }
        const problems = [
          report.missing.length > 0 ? `${report.missing.length} missing` : '',
          report.unexpected.length > 0 ? `${report.unexpected.length} unexpected` : '',
          report.mismatched.length > 0 ? `${report.mismatched.length} mismatched` : '',
        ].filter(Boolean);
        write(terminal.err, `${shown}: error VPL7030: the checkpoint does not match model '${plan.model.name}': ${problems.join(', ')} (listed above)`);
        write(terminal.err, report.matched.length === 0 ? `help: nothing matched: this is not a ${checkpoint.layout} checkpoint of ${plan.model.name}` : 'help: check that the checkpoint is the one for this model and variant');
        context.setExitCode(ExitCode.diagnostics);
      } finally {
        await checkpoint.close();
      }
    });
}
