// Whether a run may resume from a checkpoint written by a (possibly) different pipeline.
//
// The plan hash decides: equal hashes resume. When they differ and both plans are known (the
// checkpoint keeps a copy of the plan it was trained with, plan.json), the changed plan paths
// are listed; changes that only say how long or how visibly to train (train.steps, the
// validation and checkpoint schedules, the reward-hacking watch, output settings) keep the
// checkpoint valid and resume with a warning; any other change is refused with the list of what
// changed.
import type { JsonValue } from '../checkpoint/state.ts';

/** Plan paths whose change keeps a checkpoint's weights and optimizer state meaningful. */
export const resumeSafePaths: readonly string[] = [
  'train.steps', 'train.validate', 'train.checkpoint', 'output',
  // the reward-hacking watch only looks at validation (a run it stopped resumes with on_hacking = warn)
  'objective.watch', 'objective.on_hacking', 'objective.diversity_drop',
];

export interface PlanChange {
  path: string;
  saved: string;
  current: string;
}

const isLeaf = (v: unknown): boolean =>
  v === null || typeof v !== 'object' || Array.isArray(v) || 'mode' in (v as object) || ('height' in (v as object) && 'width' in (v as object));

const locationKeys = new Set(['file', 'extends', 'dir', 'spans']);

function flatten(plan: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: unknown, path: string): void => {
    if (isLeaf(value)) {
      out.set(path, JSON.stringify(value));
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (path === '' && locationKeys.has(key)) continue;
      if (child !== undefined) walk(child, path ? `${path}.${key}` : key);
    }
  };
  walk(plan, '');
  return out;
}

/** The leaf paths that differ between two plans (as plain JSON), in a stable order. */
export function diffPlans(saved: JsonValue | unknown, current: JsonValue | unknown): PlanChange[] {
  const a = flatten(saved);
  const b = flatten(current);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths
    .filter((p) => a.get(p) !== b.get(p))
    .map((p) => ({ path: p, saved: a.get(p) ?? '(absent)', current: b.get(p) ?? '(absent)' }));
}

export function isResumeSafe(change: PlanChange): boolean {
  return resumeSafePaths.some((p) => change.path === p || change.path.startsWith(`${p}.`));
}

export function describeChanges(changes: readonly PlanChange[], limit = 6): string {
  const shown = changes.slice(0, limit).map((c) => `${c.path}: ${c.saved} -> ${c.current}`);
  if (changes.length > limit) shown.push(`and ${changes.length - limit} more`);
  return shown.join('; ');
}
