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
  // ---- names and types (compiler/check)
  VPL2001: { severity: 'error', summary: 'Unknown block: the keyword is not a pipeline block.' },
  VPL2002: { severity: 'error', summary: 'Unknown component: the block names a model, sampler, objective or dataset the stdlib does not have.' },
  VPL2003: { severity: 'error', summary: 'Unknown field: the block or component has no such parameter.' },
  VPL2004: { severity: 'error', summary: 'Written twice: a field, block, clause, reward or pipeline name appears more than once.' },
  VPL2005: { severity: 'error', summary: 'Wrong type: the value is not of the type the field takes.' },
  VPL2006: { severity: 'error', summary: 'Wrong unit: the unit written does not apply to this field.' },
  VPL2007: { severity: 'error', summary: 'Out of range: the value is outside the range the field allows.' },
  VPL2008: { severity: 'error', summary: 'Unknown name in a value: a reward, prompt set, enum value, LoRA target or component the stdlib does not have.' },
  VPL2009: { severity: 'error', summary: 'Missing: a required field or block is not given.' },
  VPL2010: { severity: 'error', summary: 'Wrong arguments: a call form got too many, too few or unknown arguments.' },
  VPL2011: { severity: 'error', summary: 'Variant misuse: the block needs a component name, or takes none.' },
  VPL2012: { severity: 'error', summary: 'Misplaced statement: a clause or declaration where it is not allowed.' },
  // ---- cross-field rules (compiler/check/rules.ts)
  VPL3001: { severity: 'error', summary: 'Truncated backprop reaches further back than the sampler has steps.' },
  VPL3002: { severity: 'error', summary: 'A reward needs more frames than are decoded or generated.' },
  VPL3003: { severity: 'error', summary: 'The objective learns from real videos and needs a `data` block.' },
  VPL3004: { severity: 'error', summary: 'An image-to-video model needs an `images` block.' },
  VPL3005: { severity: 'warning', summary: 'An `images` block is ignored by a text-to-video model.' },
  VPL3006: { severity: 'error', summary: 'The frames to decode lie outside the video.' },
  VPL3007: { severity: 'error', summary: 'The size is not a multiple of the model\'s spatial stride.' },
  VPL3008: { severity: 'error', summary: 'The frame count does not fit the model\'s temporal VAE.' },
  VPL3009: { severity: 'error', summary: 'A range is reversed: its lower bound is above its upper bound.' },
  VPL3010: { severity: 'error', summary: 'The sampler cannot integrate this model\'s prediction type.' },
  VPL3011: { severity: 'warning', summary: 'An interval is longer than the whole run, so it never fires.' },
  VPL3012: { severity: 'error', summary: 'The pipeline needs prompts (a text-to-video model or a text reward) but has none.' },
  VPL3013: { severity: 'error', summary: 'Consistency distillation needs an epsilon-prediction model as its teacher.' },
  VPL3014: { severity: 'error', summary: 'The teacher solver grid runs past the training schedule (steps x skip > 1000).' },
  VPL3015: { severity: 'error', summary: 'EDM noise levels need an EDM model (svd, svd_xt).' },
  // ---- files and extends
  VPL4001: { severity: 'error', summary: 'A pipeline file (or a file it extends) cannot be read.' },
  VPL4002: { severity: 'error', summary: 'The `extends` chain comes back to a file already in it.' },
  VPL4003: { severity: 'error', summary: 'More than one `extends` in a file.' },
  // ---- command line
  VPL5001: { severity: 'error', summary: 'A command-line override is not of the form `block.field=value`.' },
  VPL5002: { severity: 'error', summary: 'A command-line override names no block of the pipeline language.' },
  // ---- compile (compiler/lower, cli compile/explain)
  VPL6001: { severity: 'error', summary: 'The pipeline cannot be compiled: its model weights are missing or it uses a feature not lowered yet.' },
} as const satisfies Record<string, CatalogueEntry>;

export type DiagnosticCode = keyof typeof catalogue;
