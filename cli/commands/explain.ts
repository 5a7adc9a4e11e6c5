// `vplc explain FILE [key=value...]`: the resolved pipeline (every value, where it was set or
// that it is a default) and the figures that follow from it.
import type { Command } from 'commander';
import { flattenPlan, formatPlanValue, type Plan } from '../../compiler/plan.ts';
import { displayFile } from '../../diagnostics/render.ts';
import type { CommandContext } from '../main.ts';
import { write } from '../terminal.ts';
import { checkedPlan } from './arguments.ts';
import { derivedFigures } from '../../compiler/figures.ts';
import { formatCount } from '../../runtime/progress/banner.ts';
import { formatBytes } from './compile.ts';
import { type CompiledFigures, compiledFigures, writeNotes } from './lowering.ts';

export function registerExplain(program: Command, context: CommandContext): void {
  program
    .command('explain')
    .description('print the resolved pipeline, with defaults filled in, and its derived figures')
    .argument('<file>', 'pipeline file')
    .argument('[overrides...]', 'key=value overrides (lora.rank=8)')
    .option('--json', 'print the plan and figures as JSON')
    .option('--graph', 'also compile the pipeline and report each graph: nodes, FLOPs, peak activation memory')
    .option('--tiny', 'with --graph: use random-initialised small versions of the model families')
    .action(async (file: string, rest: string[], options: { json?: boolean; graph?: boolean; tiny?: boolean }) => {
      const { terminal } = context;
      const plan = checkedPlan('explain', file, rest, context);
      if (!plan) return;
      const figures = derivedFigures(plan);
      const graphs = options.graph ? await compiledFigures(plan, options.tiny === true) : undefined;
      if (options.json) {
        const { spans: _spans, ...resolved } = plan;
        write(terminal.out, JSON.stringify({ plan: resolved, figures, ...(graphs ? { graphs } : {}) }, null, 2));
        return;
      }
      // --tiny on a full-size model: what the smoke build changed, as `vplc run --tiny` prints it
      if (graphs?.notes) writeNotes(terminal.err, graphs.notes);
      write(terminal.out, explainText(plan, figures, terminal.cwd));
      if (graphs) write(terminal.out, graphText(graphs));
    });
}

function explainText(plan: Plan, figures: ReturnType<typeof derivedFigures>, cwd: string): string {
  const lines: string[] = [];
  const chain = plan.extends.length ? ` (extends ${plan.extends.map((f) => displayFile(f, cwd)).join(' -> ')})` : '';
  lines.push(`pipeline ${plan.name}: ${displayFile(plan.file, cwd)}${chain}`, '');
  const entries = flattenPlan(plan).filter((e) => e.path !== 'version' && !e.path.startsWith('derived.'));
  const width = Math.max(...entries.map((e) => e.path.length));
  for (const entry of entries) {
    const origin = entry.span ? `${displayFile(entry.span.file, cwd)}:${entry.span.start.line}` : 'default';
    lines.push(`  ${entry.path.padEnd(width)}  ${formatPlanValue(entry.value).padEnd(24)}  ${origin}`);
  }
  lines.push('', 'derived figures:');
  const labelWidth = Math.max(...figures.map((f) => f.label.length));
  for (const figure of figures) lines.push(`  ${figure.label.padEnd(labelWidth)}  ${figure.value}${figure.note ? `  (${figure.note})` : ''}`);
  return lines.join('\n');
}

function graphText(compiled: CompiledFigures): string {
  const title = `graph figures${compiled.tiny ? ' (--tiny: small versions of the model families)' : ''}:`;
  if (!compiled.graphs || !compiled.parameters) return `\n${title}\n  not available: ${compiled.problem}`;
  const lines = ['', title, `  parameters ${formatCount(compiled.parameters.total)}, trainable ${formatCount(compiled.parameters.trainable)}`];
  for (const g of compiled.graphs) {
    lines.push(`  ${g.graph.padEnd(12)} ${String(g.nodes).padStart(6)} nodes  ${formatCount(g.flops).padStart(7)}FLOP per run  peak activations ${formatBytes(g.peakActivationBytes)}`);
  }
  return lines.join('\n');
}
