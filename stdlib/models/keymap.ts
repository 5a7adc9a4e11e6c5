// Declarative key maps: for each vplc parameter name, where it comes from in a checkpoint
// layout. Pure data and pure name functions (no IO): runtime/weights/model-checkpoint.ts applies
// a map lazily to the tensors of a file or folder.
//
// A map is a list of blocks. A block pairs a vplc name prefix with a source key prefix
// (`unet.input_blocks.1.0.` <- `unet/down_blocks.0.resnets.0.`) and may carry a leaf table for
// the names inside it (ResBlock `in_layers.0.` <- `norm1.`). The longest matching block wins,
// then the longest matching leaf; a name no leaf matches keeps its rest unchanged. Leaves can
// also build a tensor from several sources (q/k/v -> a packed in_proj), take one part of a
// source, transpose it, or accept other size-1 axes (a 1x1 conv stored as a linear).
//
// Source keys that no parameter reads are unexpected unless an ignore rule names them, with why.

/** Where a leaf's tensor comes from, relative to the block's source prefix. */
export type LeafSource =
  /** One tensor under another name (a prefix when the leaf's target ends with '.'). */
  | string
  /** The first of these names the checkpoint has (old and new spellings of one layout). */
  | { anyOf: readonly string[] }
  /** Several tensors joined along `axis`, in order (HF CLIP q_proj, k_proj, v_proj -> in_proj_weight). */
  | { concat: readonly string[]; axis: number }
  /** Part `index` of `parts` equal parts of one tensor along `axis` (in_proj_weight -> q_proj). */
  | { split: string; axis: number; index: number; parts: number }
  /** One tensor with its axes permuted (HF text_projection.weight [E, W] -> open_clip [W, E]). */
  | { transpose: string; perm: readonly number[] };

export interface Leaf {
  /** The rest of the vplc name after the block's prefix; a trailing '.' makes it a prefix. */
  target: string;
  from: LeafSource;
  /**
   * The layout stores the tensor with other size-1 axes (Linear [o, i] for a 1x1 Conv2d
   * [o, i, 1, 1] or Conv1d [o, i, 1]): same bytes, the parameter's shape is taken.
   */
  reshape?: boolean;
  /** Why the layout may lack it: then the parameter is reported absent, not missing. */
  optional?: string;
}

export interface Block {
  /** vplc parameter name prefix ending in '.', or one full name. */
  target: string;
  /** Source key prefix (or the full key, for a full-name target without leaves). */
  source: string;
  leaves?: readonly Leaf[];
}

export interface IgnoreRule {
  /** Source keys: exact, or a prefix ending in '*'. */
  keys: readonly string[];
  why: string;
}

export interface KeyMap {
  /** The layout's name, for messages (`lightning`, `diffusers`). */
  layout: string;
  blocks: readonly Block[];
  ignore: readonly IgnoreRule[];
}

/** What one parameter is made from: inputs (each a list of alternative keys) and the operation. */
export type SourcePlan = {
  /** Per input, the keys to try in order (the first present is used). */
  inputs: readonly (readonly string[])[];
  reshape: boolean;
  optional?: string;
} & (
  | { op: 'copy' }
  | { op: 'concat'; axis: number }
  | { op: 'split'; axis: number; index: number; parts: number }
  | { op: 'transpose'; perm: readonly number[] }
);

const isPrefix = (target: string) => target.endsWith('.');
const covers = (target: string, name: string) => (isPrefix(target) ? name.startsWith(target) : name === target);

function longest<T extends { target: string }>(items: readonly T[], name: string): T | undefined {
  let best: T | undefined;
  for (const item of items) if (covers(item.target, name) && (!best || item.target.length > best.target.length)) best = item;
  return best;
}

/** Where the parameter `name` comes from under `map`; undefined when no block covers it. */
export function sourceOf(map: KeyMap, name: string): SourcePlan | undefined {
  const block = longest(map.blocks, name);
  if (!block) return undefined;
  // A full-name block's leaves have the target '' (a transform of the block's one tensor).
  const rest = isPrefix(block.target) ? name.slice(block.target.length) : '';
  const leaf = longest(block.leaves ?? [], rest);
  if (!leaf) return { op: 'copy', inputs: [[block.source + rest]], reshape: false };
  const tail = rest.slice(leaf.target.length);
  const key = (k: string) => block.source + k + tail;
  const common = { reshape: leaf.reshape ?? false, ...(leaf.optional ? { optional: leaf.optional } : {}) };
  const from = leaf.from;
  if (typeof from === 'string') return { op: 'copy', inputs: [[key(from)]], ...common };
  if ('anyOf' in from) return { op: 'copy', inputs: [from.anyOf.map(key)], ...common };
  if ('concat' in from) return { op: 'concat', axis: from.axis, inputs: from.concat.map((k) => [key(k)]), ...common };
  if ('split' in from) return { op: 'split', axis: from.axis, index: from.index, parts: from.parts, inputs: [[key(from.split)]], ...common };
  return { op: 'transpose', perm: from.perm, inputs: [[key(from.transpose)]], ...common };
}

/** Why `key` is not read, when an ignore rule names it. */
export function ignoredBecause(map: KeyMap, key: string): string | undefined {
  for (const rule of map.ignore) {
    if (rule.keys.some((k) => (k.endsWith('*') ? key.startsWith(k.slice(0, -1)) : key === k))) return rule.why;
  }
  return undefined;
}

/** Blocks of `blocks` moved under other prefixes (a component's map placed in a whole model's). */
export function underPrefixes(blocks: readonly Block[], target: string, source: string): Block[] {
  return blocks.map((b) => ({ ...b, target: target + b.target, source: source + b.source }));
}

/** The shape a source of `shape` has after `plan`'s operation (before the size-1 reshape). */
export function plannedShape(plan: SourcePlan, shapes: readonly (readonly number[])[]): number[] | string {
  switch (plan.op) {
    case 'copy':
      return [...shapes[0]];
    case 'concat': {
      const [first, ...others] = shapes;
      const axis = plan.axis;
      for (const s of others) {
        if (s.length !== first.length || s.some((d, i) => i !== axis && d !== first[i])) return `cannot join [${first.join(', ')}] and [${s.join(', ')}] along axis ${axis}`;
      }
      const out = [...first];
      out[axis] = shapes.reduce((n, s) => n + s[axis], 0);
      return out;
    }
    case 'split': {
      const out = [...shapes[0]];
      if (out[plan.axis] % plan.parts !== 0) return `axis ${plan.axis} of [${out.join(', ')}] does not split into ${plan.parts} parts`;
      out[plan.axis] /= plan.parts;
      return out;
    }
    case 'transpose': {
      const s = shapes[0];
      if (s.length !== plan.perm.length) return `cannot permute [${s.join(', ')}] by [${plan.perm.join(', ')}]`;
      return plan.perm.map((p) => s[p]);
    }
  }
}
