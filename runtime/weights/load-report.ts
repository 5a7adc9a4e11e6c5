// What opening a model checkpoint found, by name and file: the parameters it matched, those
// it lacks, the keys nothing reads, and the shape and dtype mismatches, all at once. A report
// with problems becomes one VPL7030 error (grouped like mapping.ts's mismatch summary), and
// `vplc check-weights` prints it whole.
import { VplError } from '../../diagnostics/error.ts';
import type { Dtype } from './dtype.ts';
import { summarizeKeys } from './mapping.ts';
import type { ModelComponent } from './model-parameters.ts';

export type ReportComponent = ModelComponent | 'other';

export interface MatchedParameter {
  name: string;
  component: ModelComponent;
  /** The source keys it is made of (one, or the parts of a concatenation). */
  keys: string[];
  file: string;
  /** The source's dtype and shape (before conversion and reshaping). */
  dtype: Dtype;
  shape: number[];
  bytes: number;
  /**
   * How it is loaded: a byte range of the file handed to onnxruntime as is; read into memory
   * (converted to the compute dtype, or from a compressed or strided storage); or built from
   * its parts (concatenated, split, transposed).
   */
  load: 'external' | 'copied' | 'transformed';
}

export interface MissingParameter {
  name: string;
  component: ModelComponent;
  shape: number[];
  /** The source keys the key map looked for and did not find (empty: no key map entry). */
  looked: string[];
}

export interface UnexpectedKey {
  key: string;
  component: ReportComponent;
  file: string;
  dtype: Dtype;
  shape: number[];
  /** The nearest key the map looked for and did not find. */
  didYouMean?: string;
}

export interface Mismatch {
  name: string;
  component: ModelComponent;
  keys: string[];
  file: string;
  kind: 'shape' | 'dtype';
  expected: { shape: number[]; dtype: string };
  found: { shape: number[]; dtype: Dtype };
  /** Set when the parts cannot be combined at all (concatenating unequal shapes). */
  why?: string;
}

export interface AbsentParameter {
  name: string;
  component: ModelComponent;
  why: string;
}

export interface IgnoredKeys {
  why: string;
  keys: string[];
}

export interface LoadReport {
  /** The file or folder opened. */
  path: string;
  layout: string;
  model: string;
  /** The components counted even when nothing of them was read (default unet, vae, clip). */
  components?: string[];
  matched: MatchedParameter[];
  missing: MissingParameter[];
  unexpected: UnexpectedKey[];
  mismatched: Mismatch[];
  /** Parameters the layout does not carry by design (the key map says why): not errors. */
  absent: AbsentParameter[];
  ignored: IgnoredKeys[];
}

export interface ComponentCounts {
  matched: number;
  missing: number;
  unexpected: number;
  mismatched: number;
  absent: number;
  bytes: number;
  /** Source dtypes of the matched tensors, with counts. */
  dtypes: Partial<Record<Dtype, number>>;
}

export function isClean(report: LoadReport): boolean {
  return report.missing.length === 0 && report.unexpected.length === 0 && report.mismatched.length === 0;
}

export function componentCounts(report: LoadReport): Record<ReportComponent, ComponentCounts> {
  const out = {} as Record<ReportComponent, ComponentCounts>;
  const of = (c: ReportComponent) => (out[c] ??= { matched: 0, missing: 0, unexpected: 0, mismatched: 0, absent: 0, bytes: 0, dtypes: {} });
  for (const c of report.components ?? ['unet', 'vae', 'clip']) of(c);
  for (const m of report.matched) {
    const counts = of(m.component);
    counts.matched++;
    counts.bytes += m.bytes;
    counts.dtypes[m.dtype] = (counts.dtypes[m.dtype] ?? 0) + 1;
  }
  for (const m of report.missing) of(m.component).missing++;
  for (const u of report.unexpected) of(u.component).unexpected++;
  for (const m of report.mismatched) of(m.component).mismatched++;
  for (const a of report.absent) of(a.component).absent++;
  return out;
}

const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
const shape = (s: readonly number[]) => `[${s.join(', ')}]`;

export function describeMissing(m: MissingParameter): string {
  return m.looked.length === 0 ? `${m.name} ${shape(m.shape)}: no key map entry` : `${m.name} ${shape(m.shape)} (looked for ${m.looked.join(', ')})`;
}

export function describeUnexpected(u: UnexpectedKey): string {
  return `${u.key} ${u.dtype} ${shape(u.shape)} in ${u.file}${u.didYouMean ? ` (did you mean ${u.didYouMean}?)` : ''}`;
}

export function describeMismatch(m: Mismatch): string {
  const from = `${m.keys.join(' + ')} in ${m.file}`;
  if (m.why) return `${m.name}: ${m.why} (${from})`;
  if (m.kind === 'dtype') return `${m.name} wants ${m.expected.dtype}, ${from} is ${m.found.dtype}: integers cannot be weights`;
  return `${m.name} wants ${shape(m.expected.shape)}, ${from} gives ${shape(m.found.shape)}`;
}

/** Every problem and note of the report, one per line, grouped (what `vplc check-weights` prints). */
export function formatLoadReport(report: LoadReport): string[] {
  const lines: string[] = [];
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`${title}:`);
    for (const item of items) lines.push(`  ${item}`);
  };
  section(`missing (${report.missing.length})`, report.missing.map(describeMissing));
  section(`unexpected (${report.unexpected.length})`, report.unexpected.map(describeUnexpected));
  section(`mismatched (${report.mismatched.length})`, report.mismatched.map(describeMismatch));
  section(`absent by layout (${report.absent.length})`, report.absent.map((a) => `${a.name}: ${a.why}`));
  section('ignored', report.ignored.map((i) => `${plural(i.keys.length, 'key')} (${summarizeKeys(i.keys, 3)}): ${i.why}`));
  return lines;
}

/** At most `limit` items by name, then how many more and their groups. */
function listSome<T>(items: readonly T[], describe: (item: T) => string, keyOf: (item: T) => string, limit = 6): string {
  const shown = items.slice(0, limit).map(describe);
  if (items.length > limit) shown.push(`and ${items.length - limit} more: ${summarizeKeys(items.slice(limit).map(keyOf))}`);
  return shown.join('; ');
}

/** VPL7030 naming every kind of problem of a report (undefined when it is clean). */
export function loadReportError(report: LoadReport): VplError | undefined {
  if (isClean(report)) return undefined;
  const lines: string[] = [];
  const { missing, unexpected, mismatched } = report;
  if (missing.length > 0) lines.push(`missing ${plural(missing.length, 'parameter')}: ${listSome(missing, describeMissing, (m) => m.name)}`);
  if (unexpected.length > 0) lines.push(`unexpected ${plural(unexpected.length, 'key')}: ${listSome(unexpected, describeUnexpected, (u) => u.key)}`);
  const shapes = mismatched.filter((m) => m.kind === 'shape');
  const types = mismatched.filter((m) => m.kind === 'dtype');
  if (shapes.length > 0) lines.push(`${plural(shapes.length, 'shape mismatch', 'shape mismatches')}: ${listSome(shapes, describeMismatch, (m) => m.name)}`);
  if (types.length > 0) lines.push(`${plural(types.length, 'dtype mismatch', 'dtype mismatches')}: ${listSome(types, describeMismatch, (m) => m.name)}`);
  const help =
    report.matched.length === 0
      ? `no parameter matched: the checkpoint is not in the ${report.layout} layout of '${report.model}' (another model, or other key prefixes); \`vplc check-weights\` lists every key`
      : mismatched.length > 0
        ? 'the checkpoint is for another size or variant of the model: check the model name and the file'
        : 'the checkpoint is incomplete or for another variant of the model; `vplc check-weights` lists every key';
  return new VplError('VPL7030', `the ${report.layout} checkpoint does not match model '${report.model}':\n  ${lines.join('\n  ')}`, { file: report.path, help });
}
