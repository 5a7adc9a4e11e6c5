// `vplc explain FILE [key=value...]`: the resolved pipeline (every value, where it was set or
// that it is a default) and the figures that follow from it. With --graph, the compiled
// program's figures: each graph's nodes, FLOPs and memory by kind, the total the run needs on
// the device (compiler/memory-estimate.ts: an upper bound, its assumptions stated) and whether
// that fits common GPUs or `--gpu-memory`.
import type { Command } from 'commander';
import { flattenPlan, formatPlanValue, type Plan } from '../../compiler/plan.ts';
import { displayFile } from '../../diagnostics/render.ts';
import type { CommandContext } from '../main.ts';
import { write } from '../terminal.ts';
import { checkedPlan } from './arguments.ts';
import { derivedFigures } from '../../compiler/figures.ts';
import { COMMON_GPUS, fitOn, type GpuFit, type GpuSize, parseMemorySize } from '../../compiler/gpus.ts';
import type { Device, GraphMemory, MemoryEstimate } from '../../compiler/memory-estimate.ts';
import { VplError } from '../../diagnostics/error.ts';
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
    .option('--graph', 'also compile the pipeline and report each graph: nodes, FLOPs, memory, and whether the run fits a GPU')
    .option('--tiny', 'with --graph: use random-initialised small versions of the model families')
    .option('--device <device>', 'with --graph: the device the memory estimate is for, cpu or cuda (default cuda)')
    .option('--gpu-memory <size>', 'with --graph: check the estimate against this much GPU memory (24GB, 80GiB) instead of common cards')
    .action(async (file: string, rest: string[], options: ExplainOptions) => {
      const { terminal } = context;
      const device = parseDevice(options.device ?? 'cuda');
      const gpus: readonly GpuSize[] | undefined = options.gpuMemory !== undefined
        ? [{ bytes: parseMemorySize(options.gpuMemory), label: `--gpu-memory ${options.gpuMemory}` }]
        : device === 'cuda' ? COMMON_GPUS : undefined;
      const plan = checkedPlan('explain', file, rest, context);
      if (!plan) return;
      const figures = derivedFigures(plan);
      // --device and --gpu-memory ask about the compiled program: they imply --graph
      const graph = options.graph === true || options.device !== undefined || options.gpuMemory !== undefined;
      const compiled = graph ? await compiledFigures(plan, options.tiny === true, { device }) : undefined;
      const fit = compiled?.memory && gpus ? fitOn(compiled.memory.totalBytes, gpus) : undefined;
      const graphs = compiled ? { ...compiled, ...(fit ? { fit } : {}) } : undefined;
      if (options.json) {
        const { spans: _spans, ...resolved } = plan;
        write(terminal.out, JSON.stringify({ plan: resolved, figures, ...(graphs ? { graphs } : {}) }, null, 2));
        return;
      }
      // --tiny on a full-size model: what the smoke build changed, as `vplc run --tiny` prints it
      if (graphs?.notes) writeNotes(terminal.err, graphs.notes);
      write(terminal.out, explainText(plan, figures, terminal.cwd));
      if (compiled) write(terminal.out, graphText(compiled));
      if (compiled?.memory) write(terminal.out, memoryText(compiled.memory, fit));
    });
}

interface ExplainOptions {
  json?: boolean;
  graph?: boolean;
  tiny?: boolean;
  device?: string;
  gpuMemory?: string;
}

/** As `vplc run --device` reads it (cli/commands/run.ts, not imported: explain never loads the runtime). */
function parseDevice(value: string): Device {
  if (value === 'cpu' || value === 'cuda') return value;
  throw new VplError('VPL7100', `unknown device '${value}'`, { help: 'use --device cuda (the default for explain) or --device cpu' });
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

// ------------------------------------------------------------------ memory

/** The columns of the memory table: the kinds of GraphMemory, shown where some graph has them. */
const MEMORY_COLUMNS: ReadonlyArray<{ key: keyof Omit<GraphMemory, 'graph' | 'peakNode' | 'total' | 'nodes'>; title: string }> = [
  { key: 'weights', title: 'weights' },
  { key: 'trainable', title: 'LoRA' },
  { key: 'optimizer', title: 'optimizer' },
  { key: 'accumulators', title: 'accum.' },
  { key: 'inputs', title: 'inputs' },
  { key: 'outputs', title: 'outputs' },
  { key: 'activations', title: 'activations' },
  { key: 'arena', title: 'arena' },
];

function memoryText(memory: MemoryEstimate, fit: GpuFit[] | undefined): string {
  const precision = memory.compute === 'fp32'
    ? `fp32${memory.precision !== 'fp32' ? ` (train.precision ${memory.precision} applies with --device cuda)` : ''}`
    : `${memory.compute} compute and frozen weights, fp32 LoRA and optimizer state`;
  const lines = ['', `memory on ${memory.device}, ${precision}: an upper bound (compiler/memory-estimate.ts)`];
  const columns = MEMORY_COLUMNS.filter((c) => memory.graphs.some((g) => g[c.key] > 0));
  const cell = (bytes: number) => (bytes > 0 ? formatBytes(bytes) : '-');
  const rows = [
    ['graph', ...columns.map((c) => c.title), 'total'],
    ...memory.graphs.map((g) => [g.graph, ...columns.map((c) => cell(g[c.key])), cell(g.total)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) lines.push(`  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`);
  lines.push(`  arena: what onnxruntime's memory arena holds beyond outputs + activations (measured on CPU${memory.device === 'cuda' ? ', assumed alike on CUDA' : ''})`, '');
  const host = "onnxruntime's graph objects; training state, output copies, weights and models in JavaScript";
  const sessions = `all ${memory.sessions.length} loaded at once, as \`vplc run\` loads them, each with its own weights and arena`;
  const totals: [string, number, string][] = memory.device === 'cuda'
    ? [
        ['sessions', memory.sessionBytes, sessions],
        ['CUDA context', memory.contextBytes, 'an allowance: context, cuBLAS/cuDNN handles and workspaces'],
        ['on the GPU', memory.totalBytes, ''],
        ['host RAM', memory.host.total, `${host}; besides the base of node and onnxruntime`],
      ]
    : [
        ['sessions', memory.sessionBytes, sessions],
        ['host', memory.host.total, host],
        ['in RAM', memory.totalBytes, 'besides the base of node and onnxruntime'],
      ];
  const valueWidth = Math.max(...totals.map(([, bytes]) => formatBytes(bytes).length));
  for (const [label, bytes, note] of totals) lines.push(`  ${label.padEnd(12)}  ${formatBytes(bytes).padStart(valueWidth)}${note ? `  ${note}` : ''}`);
  if (fit) {
    lines.push('', memory.device === 'cuda' ? 'fits on:' : 'fits in:');
    const sizeWidth = Math.max(...fit.map((f) => formatBytes(f.bytes).length));
    const labelWidth = Math.max(...fit.map((f) => f.label.length));
    for (const f of fit) {
      const verdict = f.fits ? `yes, ${formatBytes(f.spareBytes)} to spare` : `no, ${formatBytes(-f.spareBytes)} short`;
      lines.push(`  ${formatBytes(f.bytes).padStart(sizeWidth)}  ${f.label.padEnd(labelWidth)}  ${verdict}`);
    }
  }
  return lines.join('\n');
}
