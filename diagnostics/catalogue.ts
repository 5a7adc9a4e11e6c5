// Every diagnostic vplc can report, with its stable code. Codes never change meaning once
// shipped: tools and users grep for them. Ranges:
//   VPL1xxx syntax          (grammar/)
//   VPL2xxx names and types (compiler/check)
//   VPL3xxx cross-field     (compiler/check rules)
//   VPL4xxx files and extends
//   VPL5xxx command line (overrides, arguments)
//   VPL6xxx compile (graph building, shapes)
//   VPL7xxx runtime (weights, checkpoints, numerics)
import type { Severity } from './diagnostic.ts';

export interface CatalogueEntry {
  severity: Severity;
  /** What the code means, for docs/diagnostics.md and hover. */
  summary: string;
}

export const catalogue = {
  // ---- syntax (grammar/)
  VPL1001: { severity: 'error', summary: 'Unexpected character in the source text.' },
  VPL1002: { severity: 'error', summary: 'Unterminated string literal.' },
  VPL1003: { severity: 'error', summary: 'Invalid escape sequence in a string.' },
  VPL1004: { severity: 'error', summary: 'Malformed number (bad exponent, unit or size literal).' },
  VPL1010: { severity: 'error', summary: 'Unexpected token: the parser expected something else here.' },
  VPL1011: { severity: 'error', summary: 'Missing closing brace, bracket or parenthesis.' },
  VPL1012: { severity: 'error', summary: 'Expected a value after `=`.' },
  VPL1013: { severity: 'error', summary: 'Nesting too deep.' },
  VPL1014: { severity: 'error', summary: 'The file is not valid UTF-8 text.' },
} as const satisfies Record<string, CatalogueEntry>;

export type DiagnosticCode = keyof typeof catalogue;
