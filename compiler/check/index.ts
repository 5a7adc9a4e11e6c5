// The checker's entry points: a .vpl file (with the files it extends and command-line
// overrides) in, a Plan and every diagnostic out. It never stops at the first problem and
// never throws on any input.
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { SourceFile, Span } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { diagnostic, hasErrors, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { Plan } from '../plan.ts';
import { buildPlan } from './build.ts';
import { collectLayer, mergeLayers, type Layer } from './layers.ts';
import { commandLineFile, overridesAsSource, parseOverrides } from './overrides.ts';
import { checkRules } from './rules.ts';

export { parseOverride, parseOverrides, commandLineFile } from './overrides.ts';
export { closestName, editDistance } from './suggest.ts';

export interface CheckOptions {
  /** Command-line overrides, one per argument: `lora.rank=8`. */
  overrides?: readonly string[];
  /** Reads an extended file (tests pass an in-memory one). Default: the file system. */
  readFile?: (path: string) => string;
}

export interface CheckResult {
  /** Present when there are no errors (warnings allowed). */
  plan?: Plan;
  diagnostics: Diagnostic[];
  /** The text of every file the diagnostics point into, `<command line>` included. */
  sources: Map<string, string>;
}

const defaultReadFile = (path: string): string => readFileSync(path, 'utf8');

export function checkFile(path: string, options: CheckOptions = {}): CheckResult {
  const readFile = options.readFile ?? defaultReadFile;
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const span = startSpan(path);
    return {
      diagnostics: [diagnostic('VPL4001', span, `cannot read '${path}': ${describeReadError(error)}`, { help: 'check the path (it is relative to the current folder)' })],
      sources: new Map(),
    };
  }
  return checkSource(text, path, { ...options, readFile });
}

export function checkSource(text: string, file: string, options: CheckOptions = {}): CheckResult {
  const diagnostics: Diagnostic[] = [];
  const report = (d: Diagnostic) => diagnostics.push(d);
  const sources = new Map<string, string>([[file, text]]);
  const readFile = options.readFile ?? defaultReadFile;
  const root = nodePath.resolve(file);
  const dir = nodePath.dirname(root);

  try {
    const chain: string[] = [];
    const layer = loadLayers(text, file, [root], { report, readFile, sources, chain });

    let merged = layer;
    if (options.overrides?.length) {
      const parsed = parseOverrides(options.overrides);
      sources.set(commandLineFile, parsed.text);
      diagnostics.push(...parsed.diagnostics);
      merged = mergeLayers(layer, collectLayer(overridesAsSource(parsed.overrides, parsed.text), 'command line', report));
    }

    const resolvePath = (written: string, from: string): string => {
      if (nodePath.isAbsolute(written)) return nodePath.normalize(written);
      const base = from === commandLineFile ? process.cwd() : nodePath.dirname(nodePath.resolve(from));
      const relative = nodePath.relative(dir, nodePath.resolve(base, written));
      return relative.split(nodePath.sep).join('/') || '.';
    };
    const fileSpan = startSpan(file);
    const build = buildPlan(merged, {
      report,
      resolvePath,
      fileSpan,
      file: root,
      dir,
      extends: chain,
      defaultName: nodePath.basename(file).replace(/\.vpl$/, ''),
    });
    checkRules(build, fileSpan, report);
    const sorted = sortDiagnostics(diagnostics, [...sources.keys()]);
    return { plan: hasErrors(sorted) ? undefined : build.plan, diagnostics: sorted, sources };
  } catch (error) {
    // A checker bug must not hide the user's real problems behind a stack trace
    // (VPL_DEBUG shows it, for whoever fixes the checker).
    if (process.env.VPL_DEBUG) throw error;
    const message = error instanceof Error ? error.message : String(error);
    report(diagnostic('VPL2005', startSpan(file), `internal checker error: ${message}`, { help: 'please report this with the .vpl file that caused it' }));
    return { diagnostics: sortDiagnostics(diagnostics, [...sources.keys()]), sources };
  }
}

interface LoadContext {
  report(d: Diagnostic): void;
  readFile(path: string): string;
  sources: Map<string, string>;
  /** Files extended by the root, nearest first (absolute). */
  chain: string[];
}

/** Parses a file and, recursively, the file it extends; returns the merged layer. */
function loadLayers(text: string, file: string, visiting: string[], ctx: LoadContext): Layer {
  const { ast, diagnostics } = parse(text, file);
  diagnostics.forEach(ctx.report);
  let base: Layer | undefined;
  let seenExtends = false;
  for (const statement of ast.body) {
    if (statement.kind !== 'ExtendsDeclaration') continue;
    if (seenExtends) {
      ctx.report(diagnostic('VPL4003', statement.span, 'a pipeline can extend only one file', { help: 'keep one extends line; chain files instead (the base may extend another)' }));
      continue;
    }
    seenExtends = true;
    base = loadBase(statement.path.value, statement.path.span, file, visiting, ctx);
  }
  const own = collectLayer(ast as SourceFile, 'file', ctx.report);
  return base ? mergeLayers(base, own) : own;
}

function loadBase(written: string, span: Span, from: string, visiting: string[], ctx: LoadContext): Layer | undefined {
  const target = nodePath.resolve(nodePath.dirname(nodePath.resolve(from)), written);
  if (visiting.includes(target)) {
    const cycle = [...visiting.slice(visiting.indexOf(target)), target].map(displayPath).join(' -> ');
    ctx.report(diagnostic('VPL4002', span, `'${written}' extends back into itself: ${cycle}`, { help: 'remove one extends from the cycle' }));
    return undefined;
  }
  let text: string;
  try {
    text = ctx.readFile(target);
  } catch (error) {
    ctx.report(diagnostic('VPL4001', span, `cannot read '${written}' (${displayPath(target)}): ${describeReadError(error)}`, { help: `the path is relative to the folder of the file that extends it: ${displayPath(nodePath.dirname(target))}` }));
    return undefined;
  }
  ctx.chain.push(target);
  ctx.sources.set(displayPath(target), text);
  return loadLayers(text, displayPath(target), [...visiting, target], ctx);
}

/** Paths shown to users: relative to the current folder when inside it. */
function displayPath(path: string): string {
  const relative = nodePath.relative(process.cwd(), path);
  return relative && !relative.startsWith('..') && !nodePath.isAbsolute(relative) ? relative.split(nodePath.sep).join('/') : path;
}

function describeReadError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a folder';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

function startSpan(file: string): Span {
  return { file, start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
}

/** The file first, then the files it extends (nearest first), then the command line; by position within each. */
function sortDiagnostics(diagnostics: Diagnostic[], files: string[]): Diagnostic[] {
  const rank = (file: string) => (file === commandLineFile ? files.length : Math.max(0, files.indexOf(file)));
  return diagnostics
    .map((d, index) => ({ d, index }))
    .sort((a, b) => rank(a.d.span.file) - rank(b.d.span.file) || a.d.span.start.offset - b.d.span.start.offset || a.index - b.index)
    .map(({ d }) => d);
}
