// The `--tiny` stand-ins of a full-size pipeline, shared by every command that takes
// `--tiny` (`vplc run`/`sample`, and `vplc compile`, `explain --graph`, `diff --graph`):
// random-initialised small networks of the model's family (the family's shrink: the tiny
// world's widths with the model's own switches) and a small plan: 32x32, few frames, a small
// batch, tiny stand-in rewards for rewards whose networks are not built. Every change is
// listed in `notes`. tiny_vc is the tiny world itself: it needs no shrinking
// (`needsTinyStandIn`).
//
// What a smoke run shrinks depends on the objective: each method's registry entry
// (compiler/methods/<objective>/index.ts) holds its ShrinkRule.
import { compilerMethods } from '../methods/registry.ts';
import { decodeCount } from '../check/build.ts';
import type { Plan, RewardTerm } from '../plan.ts';
import { tinyStandInOf } from '../../stdlib/catalogue/index.ts';
import { familyOf } from '../../stdlib/models/families.ts';
import { type ModelBuild, tinyFamilyBuild } from '../../stdlib/models/registry.ts';

/** The model that is already tiny (the tiny world); every other model is shrunk for --tiny. */
export const TINY_MODEL = 'tiny_vc';

/** Whether `--tiny` replaces the pipeline's model with small networks of its family. */
export function needsTinyStandIn(plan: Plan): boolean {
  return plan.model.name !== TINY_MODEL;
}

/** Side of the smoke run's square frames, and the VAE's spatial stride. */
const TINY_SIZE = 32;
const VAE_STRIDE = 4;

/** The terms with stand-ins for unbuilt rewards (terms naming the same stand-in merge, weights summed). */
export function standInRewards(terms: RewardTerm[], notes: string[]): RewardTerm[] {
  const out: RewardTerm[] = [];
  for (const term of terms) {
    const name = tinyStandInOf(term.reward) ?? term.reward;
    if (name !== term.reward) notes.push(`reward ${term.reward} -> ${name} (random-initialised stand-in of the same kind)`);
    const same = out.find((t) => t.reward === name);
    if (same) same.weight += term.weight;
    else out.push({ reward: name, weight: term.weight, params: name === term.reward ? term.params : {} });
  }
  return out;
}

/** The held-out reward of the watch with its stand-in; none when the stand-in is trained on (a term of the mix). */
function standInWatch(watch: { name: string } & Record<string, string | number | boolean>, terms: readonly RewardTerm[], notes: string[]): ({ name: string } & Record<string, string | number | boolean>) | null {
  const name = tinyStandInOf(watch.name) ?? watch.name;
  if (name === watch.name) return watch;
  if (terms.some((t) => t.reward === name)) {
    notes.push(`watch ${watch.name} -> none (its stand-in ${name} is a term of the mix: not held out)`);
    return null;
  }
  notes.push(`watch ${watch.name} -> ${name} (random-initialised stand-in of the same kind)`);
  return { name };
}

/** How a smoke run shrinks a plan: one entry per objective. */
export interface ShrinkRule {
  /** Frames kept at most. */
  maxFrames: number;
  /** Frames the objective needs whatever maxFrames says (the reward's decode frame(i) keeps frame i). */
  minFrames?: (plan: Plan) => number;
  /** Sampler steps kept at most (undefined: the sampler is left alone). */
  samplerSteps?: number;
  /** Micro-batches accumulated at most; the batch becomes 1. */
  accumulate: number;
  /** Whether rematerialisation is switched off (the small networks fit in memory). */
  rematOff: boolean;
  /** Validation prompts kept at most. */
  validationPrompts: number;
  /** The objective's own changes, after the common ones (the plan `p` is a copy: change it in place). */
  finish?: (p: Plan, frames: number, notes: string[]) => void;
}

/** The objectives a --tiny smoke run can shrink a full-size pipeline for. */
export function canShrink(plan: Plan): boolean {
  return compilerMethods[plan.objective.name]?.shrink !== undefined;
}

export interface TinyStandIn {
  plan: Plan;
  build: ModelBuild;
  /** What changed, one line each, as `vplc run --tiny` prints them (`note: ...`). */
  notes: string[];
}

/** A --tiny smoke run of a full-size model: small networks of its family, a small plan. */
export function tinyStandIn(plan: Plan, base: ModelBuild): TinyStandIn {
  const rule = compilerMethods[plan.objective.name]?.shrink;
  if (!rule) throw new Error(`tinyStandIn: objective '${plan.objective.name}' has no smoke-run shrink`);
  const notes: string[] = [];
  const build = tinyFamilyBuild(base);
  const p = structuredClone(plan) as Plan;
  const [C] = plan.derived.latent_shape;
  const frames = Math.max(Math.min(plan.model.frames, rule.maxFrames), rule.minFrames?.(plan) ?? 0);
  notes.push(`${plan.model.name}: random-initialised tiny networks of its family (${familyOf(build.denoiser).describe(build.denoiser)}, tiny VAE, tiny CLIP)`);
  notes.push(`size ${plan.model.size.height}x${plan.model.size.width} -> ${TINY_SIZE}x${TINY_SIZE}, frames ${plan.model.frames} -> ${frames}`);
  p.model = { ...p.model, size: { height: TINY_SIZE, width: TINY_SIZE }, frames };
  p.derived = { ...p.derived, latent_shape: [C, frames, TINY_SIZE / VAE_STRIDE, TINY_SIZE / VAE_STRIDE] };
  if (rule.samplerSteps !== undefined && p.sampler.steps > rule.samplerSteps) {
    notes.push(`sampler steps ${p.sampler.steps} -> ${rule.samplerSteps}`);
    p.sampler = { ...p.sampler, steps: rule.samplerSteps } as Plan['sampler'];
  }
  if (p.train.batch > 1 || p.train.accumulate > rule.accumulate) {
    const accumulate = Math.min(p.train.accumulate, rule.accumulate);
    notes.push(`batch ${p.train.batch} x accumulate ${p.train.accumulate} -> 1 x ${accumulate}`);
    p.train = { ...p.train, batch: 1, accumulate };
  }
  if (rule.rematOff && p.train.remat) {
    notes.push('remat off (the small networks fit in memory)');
    p.train = { ...p.train, remat: false };
  }
  if (p.train.validate && p.train.validate.prompts > rule.validationPrompts) p.train = { ...p.train, validate: { ...p.train.validate, prompts: rule.validationPrompts } };
  if (p.objective.name === 'reward' || p.objective.name === 'consistency') p.objective = { ...p.objective, reward: standInRewards(p.objective.reward, notes) };
  if ((p.objective.name === 'reward' || p.objective.name === 'consistency') && p.objective.watch) p.objective = { ...p.objective, watch: standInWatch(p.objective.watch, p.objective.reward, notes) };
  rule.finish?.(p, frames, notes);
  // the figures the checker derived, for the small plan (plan.json of a smoke run shows them)
  const decoded = 'decode' in p.objective && p.derived.decoded_frames > 0 ? decodeCount(p.objective.decode, frames) : p.derived.decoded_frames;
  p.derived = { ...p.derived, effective_batch: p.train.batch * p.train.accumulate, decoded_frames: decoded };
  return { plan: p, build, notes };
}

