// Diagnostics as text for a terminal (`file:line:col - error VPLnnnn: message`, a code frame
// with a caret, then `help: ...`) or as JSON for tools.
import { codeFrameColumns } from '@babel/code-frame';
import * as nodePath from 'node:path';
import type { Diagnostic } from './diagnostic.ts';

export interface RenderOptions {
  /** ANSI colours in the code frame and header. Default: false. */
  color?: boolean;
  /** File texts for the code frames (a file not listed gets no frame). */
  sources?: ReadonlyMap<string, string>;
  /** Paths are shown relative to this folder. Default: process.cwd(). */
  cwd?: string;
}

const ansi = { red: '\x1b[31m', yellow: '\x1b[33m', cyan: '\x1b[36m', bold: '\x1b[1m', reset: '\x1b[0m' };

export function displayFile(file: string, cwd = process.cwd()): string {
  if (!nodePath.isAbsolute(file)) return file;
  const relative = nodePath.relative(cwd, file);
  return relative && !relative.startsWith('..') ? relative.split(nodePath.sep).join('/') : file;
}

export function renderDiagnostic(d: Diagnostic, options: RenderOptions = {}): string {
  const color = options.color ?? false;
  const paint = (code: string, text: string) => (color ? `${code}${text}${ansi.reset}` : text);
  const where = `${displayFile(d.span.file, options.cwd)}:${d.span.start.line}:${d.span.start.column}`;
  const severity = paint(d.severity === 'error' ? ansi.red : d.severity === 'warning' ? ansi.yellow : ansi.cyan, d.severity);
  const lines = [`${paint(ansi.cyan, where)} - ${severity} ${d.code}: ${paint(ansi.bold, d.message)}`];
  const source = options.sources?.get(d.span.file);
  if (source !== undefined) lines.push('', frame(source, d, color), '');
  if (d.help) lines.push(`help: ${d.help}`);
  for (const related of d.related ?? []) {
    lines.push(`note: ${related.message} (${displayFile(related.span.file, options.cwd)}:${related.span.start.line}:${related.span.start.column})`);
  }
  return lines.join('\n');
}

function frame(source: string, d: Diagnostic, color: boolean): string {
  const { start, end } = d.span;
  // A span that ends on a later line would make the frame long; mark its first line only.
  const sameLine = end.line === start.line && end.column > start.column;
  const location = { start: { line: start.line, column: start.column }, ...(sameLine ? { end: { line: end.line, column: end.column } } : {}) };
  return codeFrameColumns(source, location, { highlightCode: color, forceColor: color, linesAbove: 1, linesBelow: 0 });
}

/** Every diagnostic, separated by blank lines, then a count line. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], options: RenderOptions = {}): string {
  if (diagnostics.length === 0) return '';
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const summary = [errors && `${errors} error${errors === 1 ? '' : 's'}`, warnings && `${warnings} warning${warnings === 1 ? '' : 's'}`].filter(Boolean).join(', ');
  return `${diagnostics.map((d) => renderDiagnostic(d, options)).join('\n\n')}\n\n${summary || `${diagnostics.length} note${diagnostics.length === 1 ? '' : 's'}`}\n`;
}

/** Machine-readable diagnostics (for editors and CI): paths shown as in the text output. */
export function renderJson(diagnostics: readonly Diagnostic[], options: Pick<RenderOptions, 'cwd'> = {}): string {
  const withPaths = diagnostics.map((d) => ({
    ...d,
    span: { ...d.span, file: displayFile(d.span.file, options.cwd) },
    ...(d.fix ? { fix: { ...d.fix, span: { ...d.fix.span, file: displayFile(d.fix.span.file, options.cwd) } } } : {}),
    ...(d.related ? { related: d.related.map((r) => ({ ...r, span: { ...r.span, file: displayFile(r.span.file, options.cwd) } })) } : {}),
  }));
  return `${JSON.stringify(withPaths, null, 2)}\n`;
}
