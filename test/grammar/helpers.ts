// Assertions the grammar tests share.
import { expect } from 'vitest';
import type { Span } from '../../grammar/ast.ts';
import { LineMap } from '../../grammar/positions.ts';
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';

/** `line:column` of a span's start, for compact expectations. */
export function at(span: Span): string {
  return `${span.start.line}:${span.start.column}`;
}

export function summarize(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.code} ${at(d.span)}`);
}

/** Every span must lie inside the text, with line/column matching its offset. */
export function expectValidSpan(span: Span, text: string, lines: LineMap, file: string): void {
  // plain checks first: this runs for every span of large trees, and expect() is not free
  const start = lines.position(span.start.offset);
  const end = lines.position(span.end.offset);
  const valid =
    span.file === file &&
    span.start.offset >= 0 &&
    span.start.offset <= span.end.offset &&
    span.end.offset <= text.length &&
    start.line === span.start.line &&
    start.column === span.start.column &&
    end.line === span.end.line &&
    end.column === span.end.column;
  if (!valid) expect({ file: span.file, start: span.start, end: span.end }).toEqual({ file, start, end });
}

export { LineMap };
