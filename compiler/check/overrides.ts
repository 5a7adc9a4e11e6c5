// Command-line overrides: `lora.rank=8 train.steps=100`. Each argument is parsed as a .vpl
// assignment and becomes one more layer over the file, so it is checked exactly like the file.
// All arguments share one pseudo-file, `<command line>`, whose text is the arguments joined
// by spaces: diagnostics point at the argument and column where the problem is.
import type { Assignment, SourceFile, Span } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';

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
  // Padding keeps every position equal to its place in the joined command line.
  const { ast, diagnostics } = parse(' '.repeat(offset) + text, commandLineFile);
  if (diagnostics.length) return { diagnostics };
  const statements = ast.body;
  if (statements.length !== 1 || statements[0].kind !== 'Assignment') {
    return { diagnostics: [diagnostic('VPL5001', whole, `the override '${text}' is not a single assignment`, { help: `${usage} (one per argument)` })] };
  }
  const assignment = statements[0];
  return { override: { path: assignment.target.parts.map((p) => p.name), assignment }, diagnostics: [] };
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
