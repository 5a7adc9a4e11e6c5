// `vplc diff OLD.vpl NEW.vpl` / `vplc diff FILE [--git REV]`: the semantic diff of two
// pipelines, for review. `vplc textconv FILE`: the canonical resolved text git's diff driver
// shows (docs/review.md). Exit codes: 0 no change, 1 error, 2 changes (like diff(1)).
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { checkFile, checkSource, type CheckResult } from '../../compiler/check/index.ts';
import { canonicalText, diffPlans, formatDiff, summaryLine } from '../../compiler/diff/index.ts';
import type { Plan } from '../../compiler/plan.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { displayFile, renderDiagnostics } from '../../diagnostics/render.ts';
import { format } from '../../grammar/index.ts';
import type { CommandContext } from '../main.ts';
import { colorEnabled, write } from '../terminal.ts';
import { formatBytes } from './compile.ts';
import { type CompiledFigures, compiledFigures, writeNotes } from './lowering.ts';
import { formatCount } from '../../runtime/progress/banner.ts';

export const DiffExit = { same: 0, error: 1, changed: 2 } as const;

export function registerDiff(program: Command, context: CommandContext): void {
  program
    .command('diff')
    .description('semantic diff of two pipelines (after defaults and extends), each change classed retrain/resumable/cosmetic')
    .argument('<old>', 'the old pipeline file (or, with --git or alone, the file to compare with a git revision)')
    .argument('[new]', 'the new pipeline file')
    .option('--git <rev>', 'compare FILE with its version at a git revision (default HEAD when only one file is given)')
    .option('--json', 'print the changes as JSON')
    .option('--graph', 'also compile both pipelines and compare parameters, FLOPs and peak activation memory per graph')
    .option('--tiny', 'with --graph: compile random-initialised small versions of the model families')
    .action(async (first: string, second: string | undefined, options: { git?: string; json?: boolean; graph?: boolean; tiny?: boolean }) => {
      const { terminal } = context;
      const fail = (message: string) => {
        write(terminal.err, `vplc diff: ${message}`);
        context.setExitCode(DiffExit.error);
      };
      if (second !== undefined && options.git !== undefined) return fail('give two files, or one file with --git REV, not both');
      const resolved = (file: string) => nodePath.resolve(terminal.cwd, file);

      let oldResult: CheckResult;
      let newResult: CheckResult;
      if (second !== undefined) {
        oldResult = checkFile(resolved(first));
        newResult = checkFile(resolved(second));
      } else {
        const rev = options.git ?? 'HEAD';
        newResult = checkFile(resolved(first));
        try {
          oldResult = checkAtRevision(resolved(first), rev);
        } catch (error) {
          return fail(error instanceof Error ? error.message : String(error));
        }
      }
      const color = colorEnabled(terminal.err, terminal.env);
      let ok = true;
      for (const result of [oldResult, newResult]) {
        if (result.diagnostics.length > 0) write(terminal.err, renderDiagnostics(result.diagnostics, { sources: result.sources, cwd: terminal.cwd, color }));
        if (!result.plan || hasErrors(result.diagnostics)) ok = false;
      }
      if (!ok) return fail('cannot compare pipelines with errors');

      const diff = diffPlans(oldResult.plan as Plan, newResult.plan as Plan);
      const graphs = options.graph ? await compareGraphs(oldResult.plan as Plan, newResult.plan as Plan, options.tiny === true) : undefined;
      if (options.json) {
        const changes = diff.changes.map(({ span, ...c }) => (span ? { ...c, at: `${displayFile(span.file, terminal.cwd)}:${span.start.line}:${span.start.column}` } : c));
        write(terminal.out, JSON.stringify({ changes, figures: diff.figures, ...(graphs ? { graphs } : {}), class: diff.cls ?? null, summary: summaryLine(diff), notes: diff.notes }, null, 2));
      } else {
        if (graphs) writeGraphNotes(terminal.err, graphs);
        write(terminal.out, formatDiff(diff));
        if (graphs) write(terminal.out, formatGraphComparison(graphs, options.tiny === true));
      }
      context.setExitCode(diff.changes.length > 0 ? DiffExit.changed : DiffExit.same);
    });
}

export function registerTextconv(program: Command, context: CommandContext): void {
  program
    .command('textconv')
    .description('print a pipeline as canonical resolved text, for git (git config diff.vpl.textconv "npx vplc textconv")')
    .argument('<file>', 'pipeline file')
    .action((file: string) => {
      write(context.terminal.out, textconv(nodePath.resolve(context.terminal.cwd, file)));
    });
}

/**
 * What git shows for a .vpl file. git hands the old side over as a temporary copy, whose
 * `extends` cannot be found next to it; then (or on any error) the formatted source is
 * shown instead, so `git diff` never fails. `vplc diff --git REV` resolves both sides fully.
 */
export function textconv(file: string): string {
  const result = checkFile(file);
  if (result.plan && !hasErrors(result.diagnostics)) return canonicalText(result.plan);
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const reason = result.diagnostics.find((d) => d.severity === 'error');
  const note = reason ? `# vplc textconv: not resolved (${reason.code}: ${reason.message}); showing the formatted source\n` : '';
  return note + format(text, file).text;
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`git ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`);
  }
}

/** Checks `file` as it was at `rev`, reading the files it extends from the same revision. */
export function checkAtRevision(file: string, rev: string): CheckResult {
  const dir = nodePath.dirname(file);
  const top = realpathSync(git(['rev-parse', '--show-toplevel'], dir).trim());
  const inRepo = (path: string): string => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      real = nodePath.join(realpathSync(nodePath.dirname(path)), nodePath.basename(path));
    }
    const relative = nodePath.relative(top, real);
    if (relative.startsWith('..') || nodePath.isAbsolute(relative)) throw new Error(`${path} is outside the git repository ${top}`);
    return relative.split(nodePath.sep).join('/');
  };
  const show = (path: string): string => git(['show', `${rev}:${inRepo(path)}`], top);
  const text = show(file);
  return checkSource(text, file, {
    readFile: (path) => {
      try {
        return show(path);
      } catch {
        throw Object.assign(new Error(`not in revision ${rev}`), { code: 'ENOENT' });
      }
    },
  });
}

interface GraphComparison {
  old: CompiledFigures;
  new: CompiledFigures;
}

async function compareGraphs(oldPlan: Plan, newPlan: Plan, tiny: boolean): Promise<GraphComparison> {
  return { old: await compiledFigures(oldPlan, tiny), new: await compiledFigures(newPlan, tiny) };
}

/**
 * The --tiny notes of both sides (a full-size model compiled small), as `vplc run --tiny`
 * prints them: those of both sides once, then each side's own (`old: `, `new: `).
 */
function writeGraphNotes(stream: Writable, graphs: GraphComparison): void {
  const [o, n] = [graphs.old.notes ?? [], graphs.new.notes ?? []];
  writeNotes(stream, n.filter((note) => o.includes(note)));
  writeNotes(stream, o.filter((note) => !n.includes(note)), 'old: ');
  writeNotes(stream, n.filter((note) => !o.includes(note)), 'new: ');
}

/** `train_step  12.7G -> 25.4G FLOP (x2)  peak activations 70.1 MiB -> 140.2 MiB (x2)` */
function formatGraphComparison(graphs: GraphComparison, tiny: boolean): string {
  const title = `\ncompiled graphs${tiny ? ' (--tiny: small versions of the model families)' : ''}:`;
  const problem = graphs.old.problem ?? graphs.new.problem;
  if (problem) return `${title}\n  not available: ${problem}`;
  const ratio = (a: number, b: number) => {
    const r = a > 0 ? (b / a).toPrecision(3) : '1.00';
    return r === '1.00' ? '' : `  (x${r.replace(/\.?0+$/, '')})`;
  };
  const lines = [title];
  const [po, pn] = [graphs.old.parameters!, graphs.new.parameters!];
  lines.push(`  trainable parameters  ${formatCount(po.trainable)} -> ${formatCount(pn.trainable)}${ratio(po.trainable, pn.trainable)}`);
  for (const g of graphs.new.graphs!) {
    const o = graphs.old.graphs!.find((x) => x.graph === g.graph);
    if (!o) {
      lines.push(`  + ${g.graph}`);
      continue;
    }
    lines.push(`  ${g.graph.padEnd(12)} ${formatCount(o.flops)} -> ${formatCount(g.flops)} FLOP${ratio(o.flops, g.flops)}   peak activations ${formatBytes(o.peakActivationBytes)} -> ${formatBytes(g.peakActivationBytes)}${ratio(o.peakActivationBytes, g.peakActivationBytes)}`);
  }
  return lines.join('\n');
}
