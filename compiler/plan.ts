// The Plan: a pipeline fully resolved by the checker. Every field is present, defaults are
// filled, units are normalised (frames, seconds, pixels), and names are checked against the
// catalogue. The compiler and the runtime read only this, never the syntax tree.
//
// Field names are the language's own (snake_case), so a plan path such as `lora.rank` or
// `train.optimizer.lr` is exactly what a user writes in a file or on the command line; the
// semantic diff, hover and overrides all speak in those paths.
import { createHash } from 'node:crypto';
import type { Span } from '../grammar/ast.ts';
import type { ModelFamily, PredictionType, RewardTerm } from '../stdlib/catalogue/index.ts';

export interface Size {
  height: number;
  width: number;
}

export type PlanScalar = number | string | boolean;

export interface ModelPlan {
  name: string;
  family: ModelFamily;
  task: 't2v' | 'i2v';
  prediction: PredictionType;
  /** Null: the runtime's weights folder for this model. Paths are relative to `Plan.dir`. */
  weights: string | null;
  /** The CLIP tokenizer file or folder, relative to `Plan.dir`; absent: found next to the weights. */
  tokenizer?: string;
  frames: number;
  size: Size;
  fps: number;
  /** Null for models conditioned on images only (SVD). */
  text_encoder: string | null;
  vae: string;
  latent_channels: number;
  spatial_stride: number;
  temporal_stride: number;
  // Image-to-video conditioning (SVD family only).
  fps_id?: number;
  motion_bucket_id?: number;
  cond_aug?: number;
}

export interface LoraPlan {
  rank: number;
  /** The update is scaled by alpha / rank; defaults to rank (scale 1). */
  alpha: number;
  dropout: number;
  targets: string[];
}

export type PromptSource = { kind: 'set'; name: string } | { kind: 'file'; path: string };

export interface PromptsPlan {
  source: PromptSource;
}

export interface ImagesPlan {
  /** An image file or a folder of images, relative to `Plan.dir`. */
  source: string;
}

export type DataPlan =
  | { name: 'tiny_shapes'; count: number; seed: number }
  | { name: 'video_folder'; path: string; captions: string };

export type SamplerPlan =
  | { name: 'ddim'; steps: number; eta: number; guidance: number; use_scale: boolean }
  | { name: 'dpm_solver'; steps: number; order: number; guidance: number }
  | { name: 'rf_euler'; steps: number; guidance: number; shift: boolean }
  | { name: 'edm_euler'; steps: number; sigma_min: number; sigma_max: number; rho: number; guidance_min: number; guidance_max: number }
  | { name: 'consistency'; steps: number; guidance: number };

/** One weighted reward of a mix: defined with the rewards (stdlib/catalogue/rewards.ts). */
export type { RewardTerm };

export type DecodePlan = { mode: 'random'; k: number } | { mode: 'frame'; i: number } | { mode: 'every'; n: number } | { mode: 'all' };
export type BackpropPlan = { mode: 'last'; k: number } | { mode: 'random' } | { mode: 'all' };
export type GuidancePlan = { mode: 'uniform'; min: number; max: number } | { mode: 'constant'; value: number };
export type DistancePlan = { mode: 'huber'; c: number } | { mode: 'l2' };
export type NoisePlan = { mode: 'edm'; p_mean: number; p_std: number } | { mode: 'uniform' };

export interface SolverPlan {
  name: 'ddim';
  steps: number;
  skip: number;
  eta: number;
}

/**
 * The reward-hacking watch's fields (objective reward and consistency; compiler/lower/watch.ts,
 * runtime/methods/common/watch.ts). The checker always fills them; they are optional because a
 * plan saved before they existed (a checkpoint's plan.json) has none: watchSettings() reads
 * them with the catalogue's defaults.
 */
export interface WatchFields {
  /** The held-out reward (its name and parameters, every one filled), or null. */
  watch?: ({ name: string } & Record<string, PlanScalar>) | null;
  on_hacking?: 'warn' | 'stop';
  diversity_drop?: number;
}

export type ObjectivePlan =
  | ({ name: 'reward'; reward: RewardTerm[]; decode: DecodePlan; backprop: BackpropPlan; decode_og: boolean } & WatchFields)
  | ({
      name: 'consistency';
      teacher_solver: SolverPlan;
      guidance: GuidancePlan;
      distance: DistancePlan;
      reward: RewardTerm[];
      decode: DecodePlan;
      ema: number;
      guidance_embedding: boolean;
    } & WatchFields)
  | { name: 'denoise'; noise: NoisePlan; distance: DistancePlan };

export interface OptimizerPlan {
  name: 'adamw';
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  warmup: number;
}

export interface TrainPlan {
  optimizer: OptimizerPlan;
  steps: number;
  batch: number;
  accumulate: number;
  clip: number;
  precision: 'fp32' | 'fp16' | 'bf16';
  seed: number;
  remat: boolean;
  /** Null: no validation runs. */
  validate: { every: number; prompts: number } | null;
  /** Null: a single checkpoint at the end. */
  checkpoint: { every: number; keep: number } | null;
}

export interface OutputPlan {
  dir: string;
  formats: ('gif' | 'mp4' | 'png')[];
  tensorboard: boolean;
  log_every: number;
}

/** Figures that follow from the rest, computed once so every consumer agrees. */
export interface DerivedPlan {
  /** Videos per optimizer step: batch x accumulate. */
  effective_batch: number;
  /** [channels, latent frames, latent height, latent width]. */
  latent_shape: [number, number, number, number];
  /** Frames decoded per video for the reward (0 when the objective has no reward). */
  decoded_frames: number;
}

export interface Plan {
  /** Bumped when the Plan's shape changes, so caches keyed by planHash never mix shapes. */
  version: 1;
  name: string;
  /** Absolute path of the pipeline file, and of the files it extends (nearest first). */
  file: string;
  extends: string[];
  /** Folder relative paths in the plan are resolved against (the pipeline file's folder). */
  dir: string;
  model: ModelPlan;
  lora: LoraPlan;
  prompts: PromptsPlan | null;
  images: ImagesPlan | null;
  data: DataPlan | null;
  sampler: SamplerPlan;
  objective: ObjectivePlan;
  train: TrainPlan;
  output: OutputPlan;
  derived: DerivedPlan;
  /** Where each value was written, by plan path (`lora.rank`). Defaults have no entry. */
  spans: Record<string, Span>;
}

/** The parts of a Plan that say where it came from rather than what it does. */
const locationKeys = new Set(['file', 'extends', 'dir', 'spans']);

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * A stable identity of what the pipeline does: sha256 of a canonical JSON of the plan,
 * without spans or file locations, so moving or reformatting a file keeps the hash.
 */
export function planHash(plan: Plan): string {
  const content = Object.fromEntries(Object.entries(plan).filter(([k]) => !locationKeys.has(k)));
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

export interface PlanEntry {
  path: string;
  value: unknown;
  span?: Span;
}

/** Values shown whole in a diff: a size, a call form (`random(1)`), a list. */
function isLeaf(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
  return 'mode' in value || ('height' in value && 'width' in value);
}

/** The span of a path, or of its nearest written ancestor (`train.optimizer` for `train.optimizer.lr`). */
export function spanOf(plan: Plan, path: string): Span | undefined {
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    if (plan.spans[p]) return plan.spans[p];
  }
  return undefined;
}

/** Every leaf value with its plan path, in a stable order: the input of the semantic diff. */
export function flattenPlan(plan: Plan): PlanEntry[] {
  const entries: PlanEntry[] = [];
  const walk = (value: unknown, path: string): void => {
    if (isLeaf(value)) {
      entries.push({ path, value, span: spanOf(plan, path) });
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (child !== undefined) walk(child, path ? `${path}.${key}` : key);
    }
  };
  for (const [key, value] of Object.entries(plan)) {
    if (!locationKeys.has(key)) walk(value, key);
  }
  return entries;
}

/** Formats a plan value the way a user would write it: `random(1)`, `320x512`, `[attn.q, attn.k]`. */
export function formatPlanValue(value: unknown): string {
  if (value === null) return 'none';
  if (Array.isArray(value)) {
    if (value.every((v) => v && typeof v === 'object' && 'reward' in v)) {
      return (value as RewardTerm[]).map((t) => `${t.weight} * ${t.reward}`).join(' + ') || 'none';
    }
    return `[${value.map(formatPlanValue).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('height' in record && 'width' in record) return `${record.height}x${record.width}`;
    if ('mode' in record) {
      const args = Object.entries(record).filter(([k]) => k !== 'mode').map(([, v]) => formatPlanValue(v));
      return args.length ? `${record.mode}(${args.join(', ')})` : String(record.mode);
    }
    if ('kind' in record) return record.kind === 'set' ? String(record.name) : JSON.stringify(record.path);
    return JSON.stringify(value);
  }
  return String(value);
}
