// Command-line overrides: `lora.rank=8 train.steps=100`. Each argument is parsed as a .vpl
// assignment and becomes one more layer over the file, so it is checked exactly like the file.
// All arguments share one pseudo-file, `<command line>`, whose text is the arguments joined
// by spaces: diagnostics point at the argument and column where the problem is.
import type { Assignment, SourceFile, Span } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { blockParams, lookupBlock, lookupParam, modelCommonParams } from '../../stdlib/catalogue/index.ts';

export const commandLineFile = '<command line>';

export interface ParsedOverride {
  /** `['lora', 'rank']` */
  path: string[];
  assignment: Assignment;
}

export interface OverrideParse {
  overrides: ParsedOverride[];
  /** The pseudo-file's text (arguments joined by spaces), for code frames. */
  text: string;
  diagnostics: Diagnostic[];
}

/** Parses one override at `offset` in the joined command line. */
export function parseOverride(text: string, offset = 0): { override?: ParsedOverride; diagnostics: Diagnostic[] } {
  const whole: Span = spanAt(offset, offset + text.length);
  const usage = 'write block.field=value, e.g. lora.rank=8 or train.optimizer.lr=1e-5';
  if (!text.includes('=')) {
    return { diagnostics: [diagnostic('VPL5001', whole, `the override '${text}' has no '='`, { help: usage })] };
  }
  // `output.dir=runs/x` would parse as a division: for a field that holds a path or a string,
  // an unquoted value is the text as typed (spaces included).
  const eq = text.indexOf('=');
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1);
  if (!value.startsWith('"') && /^[A-Za-z_][\w.]*$/.test(key) && takesText(key.split('.'))) {
    const parsed = parseOverride(`${key}=""`, offset);
    if (parsed.override) {
      parsed.override.assignment.value = { kind: 'String', value, span: spanAt(offset + eq + 1, offset + text.length) };
      parsed.override.assignment.span = spanAt(offset, offset + text.length);
    }
    return parsed;
  }
  // Padding keeps every position equal to its place in the joined command line.
  const { ast, diagnostics } = parse(' '.repeat(offset) + text, commandLineFile);
  if (diagnostics.length) return bareWordAsString(text, offset) ?? { diagnostics };
  const statements = ast.body;
  if (statements.length !== 1 || statements[0].kind !== 'Assignment') {
    return { diagnostics: [diagnostic('VPL5001', whole, `the override '${text}' is not a single assignment`, { help: `${usage} (one per argument)` })] };
  }
  const assignment = statements[0];
  return { override: { path: assignment.target.parts.map((p) => p.name), assignment }, diagnostics: [] };
}

/** Whether a fixed block's field (`output.dir`, `model.weights`) holds a path or a string. */
function takesText(path: readonly string[]): boolean {
  if (path.length !== 2) return false;
  const block = lookupBlock(path[0]!);
  if (!block) return false;
  const param = lookupParam(blockParams(block), path[1]!) ?? (block.component === 'model' ? lookupParam(modelCommonParams, path[1]!) : undefined);
  return param?.type.kind === 'path' || param?.type.kind === 'string';
}

/**
 * Shell users write paths and names without quotes (`output.dir=/tmp/run`): when the value does
 * not parse as an expression but is one bare word, read it as a string. The type check then
 * says whether a string fits the field.
 */
function bareWordAsString(text: string, offset: number): { override?: ParsedOverride; diagnostics: Diagnostic[] } | undefined {
  const eq = text.indexOf('=');
  const raw = text.slice(eq + 1);
  if (!/^[^"\\\s]+$/.test(raw)) return undefined;
  const quoted = parseOverride(`${text.slice(0, eq + 1)}"${raw}"`, offset);
  if (!quoted.override) return undefined;
  const value = quoted.override.assignment.value;
  value.span = spanAt(offset + eq + 1, offset + text.length);
  quoted.override.assignment.span = spanAt(offset, offset + text.length);
  return quoted;
}

/** Parses every override; the result's `text` is the pseudo-file the spans point into. */
export function parseOverrides(args: readonly string[]): OverrideParse {
  const overrides: ParsedOverride[] = [];
  const diagnostics: Diagnostic[] = [];
  let offset = 0;
  for (const arg of args) {
    const result = parseOverride(arg, offset);
    if (result.override) overrides.push(result.override);
    diagnostics.push(...result.diagnostics);
    offset += arg.length + 1;
  }
  return { overrides, text: args.join(' '), diagnostics };
}

/** The overrides as a source file, ready to be collected as a layer. */
export function overridesAsSource(overrides: readonly ParsedOverride[], text: string): SourceFile {
  return { kind: 'SourceFile', body: overrides.map((o) => o.assignment), danglingComments: [], span: spanAt(0, text.length) };
}

function spanAt(start: number, end: number): Span {
  return { file: commandLineFile, start: { offset: start, line: 1, column: start + 1 }, end: { offset: end, line: 1, column: end + 1 } };
}
