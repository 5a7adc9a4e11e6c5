// Matching a checkpoint's tensors to the weights a model expects. Checkpoints name things
// their own way (`model.diffusion_model.input_blocks.0.0.weight`), carry other models'
// weights beside the one wanted (VAE, text encoder) and sometimes store a 1x1 conv where
// the model has a linear layer. Rename rules bridge the names; what cannot be matched is
// reported in one error, grouped by prefix so a 300-key mismatch reads in a few lines.
import { VplError } from '../../diagnostics/error.ts';
import { dtypes, numelOf, type Dtype } from './dtype.ts';

export interface WeightShape {
  shape: readonly number[];
  dtype?: Dtype;
}

export type RenameRule =
  /** Removes a prefix where present (`model.diffusion_model.`); other keys are unchanged. */
  | { stripPrefix: string }
  | { addPrefix: string }
  /** A string replaces its first occurrence; a RegExp follows String.replace. */
  | { replace: string | RegExp; with: string };

export interface MapWeightsOptions {
  rename?: readonly RenameRule[];
  /** Only checkpoint keys under this prefix are considered (the rest belong to other models). */
  select?: string;
  /** Checkpoint keys (after renaming) that may be left over without an error. */
  ignoreUnexpected?: readonly (string | RegExp)[];
  /** Accept shapes that differ only by size-1 dimensions ([320, 320, 1, 1] for [320, 320]). Default true. */
  allowSqueeze?: boolean;
  /** The checkpoint file, for error messages. */
  file?: string;
}

export interface MappedWeight {
  /** The model's name for the weight. */
  target: string;
  /** The checkpoint's key. */
  source: string;
  /** True when the data must be reshaped (size-1 dimensions differ). */
  reshape: boolean;
}

export interface ShapeMismatch {
  target: string;
  source: string;
  expected: readonly number[];
  found: readonly number[];
  /** Set when the shapes agree but the types cannot convert (integers where floats are expected). */
  dtype?: { expected: Dtype; found: Dtype };
}

export interface WeightMapping {
  mapped: MappedWeight[];
  /** Expected names with no checkpoint key. */
  missing: string[];
  /** Checkpoint keys (renamed) that the model does not expect, less the ignored ones. */
  unexpected: string[];
  mismatched: ShapeMismatch[];
}

export function applyRenameRules(key: string, rules: readonly RenameRule[]): string {
  let name = key;
  for (const rule of rules) {
    if ('stripPrefix' in rule) {
      if (name.startsWith(rule.stripPrefix)) name = name.slice(rule.stripPrefix.length);
    } else if ('addPrefix' in rule) {
      name = rule.addPrefix + name;
    } else {
      name = name.replace(rule.replace, rule.with);
    }
  }
  return name;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const squeezed = (shape: readonly number[]): number[] => shape.filter((d) => d !== 1);

/** Matches checkpoint keys to expected weights; reports rather than throws. */
export function mapWeights(
  available: ReadonlyMap<string, WeightShape>,
  expected: ReadonlyMap<string, WeightShape>,
  options: MapWeightsOptions = {},
): WeightMapping {
  const rules = options.rename ?? [];
  const allowSqueeze = options.allowSqueeze ?? true;
  const renamed = new Map<string, string>(); // model name -> checkpoint key
  const unexpected: string[] = [];
  for (const key of available.keys()) {
    if (options.select !== undefined && !key.startsWith(options.select)) continue;
    const name = applyRenameRules(key, rules);
    if (expected.has(name) && !renamed.has(name)) renamed.set(name, key);
    else if (!isIgnored(name, options.ignoreUnexpected)) unexpected.push(name);
  }

  const mapped: MappedWeight[] = [];
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const [target, want] of expected) {
    const source = renamed.get(target);
    if (source === undefined) {
      missing.push(target);
      continue;
    }
    const have = available.get(source)!;
    const exact = sameShape(have.shape, want.shape);
    const fits = exact || (allowSqueeze && numelOf(have.shape) === numelOf(want.shape) && sameShape(squeezed(have.shape), squeezed(want.shape)));
    if (!fits) {
      mismatched.push({ target, source, expected: want.shape, found: have.shape });
    } else if (want.dtype !== undefined && have.dtype !== undefined && dtypes[want.dtype].isFloat && !dtypes[have.dtype].isFloat) {
      mismatched.push({ target, source, expected: want.shape, found: have.shape, dtype: { expected: want.dtype, found: have.dtype } });
    } else {
      mapped.push({ target, source, reshape: !exact });
    }
  }
  return { mapped, missing, unexpected, mismatched };
}

function isIgnored(name: string, patterns: readonly (string | RegExp)[] | undefined): boolean {
  return (patterns ?? []).some((p) => (typeof p === 'string' ? name === p || (p.endsWith('*') && name.startsWith(p.slice(0, -1))) : p.test(name)));
}

/**
 * A short summary of many dotted names, grouped by common prefix so the list stays within
 * `limit` groups: "input_blocks.1.* (24), middle_block.0.weight".
 */
export function summarizeKeys(keys: readonly string[], limit = 5): string {
  if (keys.length === 0) return '';
  const split = keys.map((k) => k.split('.'));
  const maxDepth = Math.max(...split.map((parts) => parts.length - 1));
  const groupAt = (depth: number): Map<string, number> => {
    const groups = new Map<string, number>();
    for (const parts of split) {
      const label = parts.length > depth ? `${parts.slice(0, depth).join('.')}.*` : parts.join('.');
      groups.set(label, (groups.get(label) ?? 0) + 1);
    }
    return groups;
  };
  // The most informative grouping that fits: the most groups within the limit, and of
  // depths that group alike, the shallowest (`a.*` rather than `a.0.*` when all are `a.0`).
  let chosen = groupAt(1);
  for (let depth = 2; depth <= maxDepth; depth++) {
    const groups = groupAt(depth);
    if (groups.size <= limit && groups.size > chosen.size) chosen = groups;
  }
  // A group's label is the shortest prefix that names exactly its keys.
  const countWithPrefix = (prefix: string): number => keys.filter((k) => k.startsWith(prefix)).length;
  const labels = [...chosen].map(([label, count]) => {
    if (!label.endsWith('.*')) return label;
    const parts = label.slice(0, -2).split('.');
    if (count === 1) return keys.find((k) => k.startsWith(`${parts.join('.')}.`))!;
    for (let k = 1; k < parts.length; k++) {
      const prefix = `${parts.slice(0, k).join('.')}.`;
      if (countWithPrefix(prefix) === count) return `${prefix}* (${count})`;
    }
    return `${label} (${count})`;
  });
  const shown = labels.slice(0, limit).join(', ');
  return labels.length > limit ? `${shown}, and ${labels.length - limit} more groups` : shown;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The mapping, or one error listing everything that does not match. */
export function requireWeightMapping(mapping: WeightMapping, options: MapWeightsOptions & { model?: string } = {}): MappedWeight[] {
  const { missing, unexpected, mismatched } = mapping;
  if (missing.length === 0 && unexpected.length === 0 && mismatched.length === 0) return mapping.mapped;
  const lines: string[] = [];
  if (missing.length > 0) lines.push(`missing ${plural(missing.length, 'key')}, e.g. ${summarizeKeys(missing)}`);
  if (unexpected.length > 0) lines.push(`unexpected ${plural(unexpected.length, 'key')}, e.g. ${summarizeKeys(unexpected)}`);
  if (mismatched.length > 0) {
    const shown = mismatched.slice(0, 3).map((m) =>
      m.dtype !== undefined
        ? `'${m.target}' expects ${m.dtype.expected} but the checkpoint has ${m.dtype.found}`
        : `'${m.target}' expects [${m.expected.join(', ')}] but the checkpoint has [${m.found.join(', ')}]`,
    );
    const more = mismatched.length > 3 ? `, and ${mismatched.length - 3} more` : '';
    lines.push(`${mismatched.length} shape ${mismatched.length === 1 ? 'mismatch' : 'mismatches'}: ${shown.join('; ')}${more}`);
  }
  const model = options.model === undefined ? 'the model' : `model '${options.model}'`;
  const hint =
    missing.length > 0 && unexpected.length > 0 && mapping.mapped.length === 0
      ? 'no key matched: the checkpoint probably uses a different prefix; add a rename rule (e.g. strip "model.diffusion_model.")'
      : mismatched.length > 0
        ? 'the checkpoint is for a different model size or variant; check the model name and its config'
        : 'check that the checkpoint is for this model, or add rename rules for its key names';
  return failWith(`the checkpoint does not match ${model}:\n  ${lines.join('\n  ')}`, options.file, hint);
}

function failWith(message: string, file: string | undefined, help: string): never {
  throw new VplError('VPL7030', message, file === undefined ? { help } : { file, help });
}
