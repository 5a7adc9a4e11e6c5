// A diagnostic: one problem found in a pipeline, with where it is and how to fix it.
import type { Span } from './span.ts';
import { catalogue, type DiagnosticCode } from './catalogue.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface RelatedInformation {
  span: Span;
  message: string;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  span: Span;
  /** One line that tells the user how to fix it: "did you mean 'pickscore'?", "allowed: 1 to 1024". */
  help?: string;
  /** A machine-applicable fix (used by `vplc lsp` quick fixes): replace `span` with `text`. */
  fix?: { span: Span; text: string; title: string };
  related?: RelatedInformation[];
}

export function diagnostic(
  code: DiagnosticCode,
  span: Span,
  message: string,
  extra: Partial<Pick<Diagnostic, 'help' | 'fix' | 'related' | 'severity'>> = {},
): Diagnostic {
  return { code, severity: extra.severity ?? catalogue[code].severity, message, span, ...extra };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
