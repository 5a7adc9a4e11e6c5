// `vplc fmt`: formats a file, but only one that parses cleanly; a file with syntax errors is
// returned unchanged with its diagnostics, so formatting can never lose what a user wrote.
import { hasErrors, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { parse } from './parser.ts';
import { print } from './printer.ts';

export interface FormatResult {
  text: string;
  diagnostics: Diagnostic[];
}

export function format(text: string, file: string): FormatResult {
  const { ast, diagnostics } = parse(text, file);
  if (hasErrors(diagnostics)) return { text, diagnostics };
  return { text: print(ast), diagnostics };
}
