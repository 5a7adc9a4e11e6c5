// The semantic diff: two checked Plans (defaults filled, `extends` merged) compared by
// resolved plan path, so reformatting or reordering a file shows nothing, and a default
// changed in a base file shows in every pipeline that inherits it.
import { derivedFigures, type Figure } from '../figures.ts';
import type { Span } from '../../grammar/ast.ts';
import { formatPlanValue, spanOf, type Plan, type RewardTerm } from '../plan.ts';
import { classify, worstClass, type ChangeClass } from './classify.ts';

export { classificationTable, classify, worstClass, type ChangeClass } from './classify.ts';

export interface Change {
  op: '+' | '-' | '~';
  path: string;
  /** Formatted as a user writes it (`random(1)`, `320x512`, `0.5 * aesthetic`); absent for `+`. */
  old?: string;
  /** Absent for `-`. */
  new?: string;
  cls: ChangeClass;
  /** Where the new value (or, for `-`, the old one) was written; absent for defaults. */
  span?: Span;
}

export interface FigureChange {
  label: string;
  old: string;
  new: string;
  note?: string;
}

export interface PlanDiff {
  changes: Change[];
  figures: FigureChange[];
  /** The worst class among the changes; absent when nothing changed. */
  cls?: ChangeClass;
  /** Figures that cannot be compared from plans alone. */
  notes: string[];
}

interface Leaf {
  path: string;
  value: unknown;
  text: string;
}

/** Paths that say where a plan lives or what follows from the rest (compared as figures). */
const skippedRoots = new Set(['version', 'file', 'extends', 'dir', 'spans', 'derived']);

/** Objects shown whole: sizes, call forms, prompt sources. */
function isLeafObject(value: object): boolean {
  return 'mode' in value || 'kind' in value || ('height' in value && 'width' in value);
}

function isRewardMix(value: unknown): value is RewardTerm[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === 'object' && 'reward' in v && 'weight' in v);
}

/**
 * Every comparable leaf of a plan. A reward mix becomes one leaf per term
 * (`objective.reward.aesthetic`, shown as `0.5 * aesthetic`) plus one per reward parameter,
 * so adding a term reads `+ objective.reward 0.5 * aesthetic`.
 */
export function planLeaves(plan: Plan): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (value: unknown, path: string): void => {
    if (isRewardMix(value)) {
      for (const term of value) {
        leaves.push({ path: `${path}.${term.reward}`, value: term.weight, text: `${term.weight} * ${term.reward}` });
        for (const [name, param] of Object.entries(term.params)) {
          leaves.push({ path: `${path}.${term.reward}.${name}`, value: param, text: formatPlanValue(param) });
        }
      }
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value) || isLeafObject(value)) {
      leaves.push({ path, value, text: formatPlanValue(value) });
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (child !== undefined) walk(child, `${path}.${key}`);
    }
  };
  for (const [key, value] of Object.entries(plan)) {
    if (!skippedRoots.has(key)) walk(value, key);
  }
  return leaves;
}

/** `objective.reward.aesthetic` (a whole term) is shown as `objective.reward`. */
function displayPath(path: string, plan: Plan): string {
  const parts = path.split('.');
  if (parts.length === 3 && parts[0] === 'objective' && parts[1] === 'reward' && 'reward' in plan.objective) return 'objective.reward';
  return path;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function diffPlans(oldPlan: Plan, newPlan: Plan): PlanDiff {
  const oldLeaves = planLeaves(oldPlan);
  const newLeaves = planLeaves(newPlan);
  const oldByPath = new Map(oldLeaves.map((l) => [l.path, l]));
  const newByPath = new Map(newLeaves.map((l) => [l.path, l]));
  const changes: Change[] = [];

  // A value that became a group (`train.validate none` -> `.every`, `.prompts`) or the reverse
  // reads best as one change of the whole group.
  const groupText = (leaves: Leaf[], prefix: string): string | undefined => {
    const inside = leaves.filter((l) => l.path.startsWith(`${prefix}.`));
    if (inside.length === 0) return undefined;
    return `{ ${inside.map((l) => `${l.path.slice(prefix.length + 1)} = ${l.text}`).join(', ')} }`;
  };
  const handled = new Set<string>();
  for (const leaf of oldLeaves) {
    if (leaf.value !== null || newByPath.has(leaf.path)) continue;
    const text = groupText(newLeaves, leaf.path);
    if (!text) continue;
    changes.push(change('~', leaf.path, leaf.text, text, newPlan));
    handled.add(leaf.path);
    newLeaves.filter((l) => l.path.startsWith(`${leaf.path}.`)).forEach((l) => handled.add(l.path));
  }
  for (const leaf of newLeaves) {
    if (leaf.value !== null || oldByPath.has(leaf.path)) continue;
    const text = groupText(oldLeaves, leaf.path);
    if (!text) continue;
    changes.push(change('~', leaf.path, text, leaf.text, newPlan));
    handled.add(leaf.path);
    oldLeaves.filter((l) => l.path.startsWith(`${leaf.path}.`)).forEach((l) => handled.add(l.path));
  }

  // In the order of the new plan, with removed paths where they stood in the old one.
  for (const leaf of oldLeaves) {
    if (handled.has(leaf.path) || newByPath.has(leaf.path)) continue;
    if (isTermParam(leaf.path, oldByPath, newByPath)) continue;
    changes.push(change('-', displayPath(leaf.path, oldPlan), leaf.text, undefined, oldPlan, leaf.path));
  }
  for (const leaf of newLeaves) {
    if (handled.has(leaf.path)) continue;
    const before = oldByPath.get(leaf.path);
    if (!before) {
      if (isTermParam(leaf.path, oldByPath, newByPath)) continue;
      changes.push(change('+', displayPath(leaf.path, newPlan), undefined, leaf.text, newPlan, leaf.path));
    } else if (!sameValue(before.value, leaf.value)) {
      changes.push(change('~', displayPath(leaf.path, newPlan), before.text, leaf.text, newPlan, leaf.path));
    }
  }
  changes.sort((a, b) => order(newLeaves, oldLeaves, a) - order(newLeaves, oldLeaves, b));

  const figures = figureChanges(oldPlan, newPlan);
  const notes = ['peak memory and FLOPs per step come from the compiled graph, not the plan: `vplc diff --graph` compiles both and compares them'];
  return { changes, figures, cls: worstClass(changes.map((c) => c.cls)), notes };
}

/** A parameter of a reward term that was added or removed whole: the term's line says it all. */
function isTermParam(path: string, oldByPath: Map<string, Leaf>, newByPath: Map<string, Leaf>): boolean {
  const parts = path.split('.');
  if (parts.length !== 4 || parts[0] !== 'objective' || parts[1] !== 'reward') return false;
  const term = parts.slice(0, 3).join('.');
  return !(oldByPath.has(term) && newByPath.has(term));
}

function order(newLeaves: Leaf[], oldLeaves: Leaf[], c: Change & { leafPath?: string }): number {
  const path = c.leafPath ?? c.path;
  const inNew = newLeaves.findIndex((l) => l.path === path || l.path.startsWith(`${path}.`));
  if (inNew >= 0) return inNew;
  // A removed path sorts just after the new-plan leaf that shares its longest prefix.
  const oldIndex = oldLeaves.findIndex((l) => l.path === path || l.path.startsWith(`${path}.`));
  for (let i = oldIndex - 1; i >= 0; i--) {
    const j = newLeaves.findIndex((l) => l.path === oldLeaves[i]!.path);
    if (j >= 0) return j + 0.5;
  }
  return -0.5;
}

function change(op: Change['op'], path: string, old: string | undefined, now: string | undefined, plan: Plan, leafPath = path): Change {
  const span = spanOf(plan, leafPath.split('.').slice(0, leafPath.startsWith('objective.reward.') ? 2 : undefined).join('.'));
  const c: Change & { leafPath?: string } = { op, path, cls: classify(leafPath).cls };
  if (old !== undefined) c.old = old;
  if (now !== undefined) c.new = now;
  if (span) c.span = span;
  if (leafPath !== path) Object.defineProperty(c, 'leafPath', { value: leafPath, enumerable: false });
  return c;
}

function figureChanges(oldPlan: Plan, newPlan: Plan): FigureChange[] {
  const before = new Map(derivedFigures(oldPlan).map((f: Figure) => [f.label, f]));
  const out: FigureChange[] = [];
  for (const figure of derivedFigures(newPlan)) {
    const old = before.get(figure.label);
    if (old && old.value !== figure.value) out.push({ label: figure.label, old: old.value, new: figure.value, note: ratio(old.value, figure.value) });
  }
  const lora = loraParameterChange(oldPlan, newPlan);
  if (lora) out.push(lora);
  return out;
}

function ratio(a: string, b: string): string | undefined {
  const x = Number.parseFloat(a);
  const y = Number.parseFloat(b);
  if (!Number.isFinite(x) || !Number.isFinite(y) || x === 0) return undefined;
  return `x${formatRatio(y / x)}`;
}

function formatRatio(r: number): string {
  return Number.isInteger(r) ? String(r) : r.toPrecision(3).replace(/\.?0+$/, '');
}

/**
 * Trainable LoRA parameters: a LoRA on a layer of shape d_out x d_in has
 * rank * (d_in + d_out) parameters, so with the same model and targets the count scales
 * exactly with the rank. The catalogue has no per-layer sizes, so only that ratio is given;
 * with other targets or another model it cannot be estimated from the plan.
 */
function loraParameterChange(oldPlan: Plan, newPlan: Plan): FigureChange | undefined {
  if (oldPlan.lora.rank === newPlan.lora.rank) return undefined;
  const sameLayers = oldPlan.model.name === newPlan.model.name && sameValue([...oldPlan.lora.targets].sort(), [...newPlan.lora.targets].sort());
  if (!sameLayers) return undefined;
  return {
    label: 'trainable LoRA parameters',
    old: '1',
    new: formatRatio(newPlan.lora.rank / oldPlan.lora.rank),
    note: `x${formatRatio(newPlan.lora.rank / oldPlan.lora.rank)}: rank x (d_in + d_out) per adapted layer, same layers`,
  };
}

// ------------------------------------------------------------------------ rendering

/** `~ lora.rank 16 -> 8 [retrain]` */
export function formatChange(c: Change): string {
  if (c.op === '+') return `+ ${c.path} ${c.new} [${c.cls}]`;
  if (c.op === '-') return `- ${c.path} ${c.old} [${c.cls}]`;
  return `~ ${c.path} ${c.old} -> ${c.new} [${c.cls}]`;
}

/** `3 changes: 1 retrain, 2 resumable: old checkpoints no longer apply` */
export function summaryLine(diff: PlanDiff): string {
  if (diff.changes.length === 0) return 'no semantic change';
  const counts = (['retrain', 'resumable', 'cosmetic'] as const)
    .map((cls) => [cls, diff.changes.filter((c) => c.cls === cls).length] as const)
    .filter(([, n]) => n > 0)
    .map(([cls, n]) => `${n} ${cls}`);
  const verdict =
    diff.cls === 'retrain' ? 'old checkpoints no longer apply: retrain' : diff.cls === 'resumable' ? 'old checkpoints load: training can resume' : 'training is unaffected';
  return `${diff.changes.length} change${diff.changes.length === 1 ? '' : 's'} (${counts.join(', ')}): ${verdict}`;
}

export function formatDiff(diff: PlanDiff): string {
  const lines = diff.changes.map(formatChange);
  if (diff.figures.length > 0) {
    lines.push('', 'derived figures:');
    const width = Math.max(...diff.figures.map((f) => f.label.length));
    for (const f of diff.figures) {
      lines.push(f.label === 'trainable LoRA parameters' ? `  ${f.label.padEnd(width)}  ${f.note}` : `  ${f.label.padEnd(width)}  ${f.old} -> ${f.new}${f.note ? `  (${f.note})` : ''}`);
    }
  }
  if (lines.length > 0) lines.push('');
  lines.push(summaryLine(diff));
  return lines.join('\n');
}

/**
 * The canonical resolved text of a plan, one `path = value` a line with derived figures as
 * comments: what `vplc textconv` prints so `git diff` shows semantic changes.
 */
export function canonicalText(plan: Plan): string {
  const lines = [`# vplc resolved pipeline (defaults filled, extends merged)`, `name = ${plan.name}`];
  for (const leaf of planLeaves(plan)) if (leaf.path !== 'name') lines.push(`${leaf.path} = ${leaf.text}`);
  lines.push('');
  for (const f of derivedFigures(plan)) lines.push(`# ${f.label}: ${f.value}${f.note ? ` (${f.note})` : ''}`);
  return `${lines.join('\n')}\n`;
}
