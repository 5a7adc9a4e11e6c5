// The reward mix: sum_i w_i * loss_i(r_i), each reward with the loss form its catalogue entry
// gives (stdlib/catalogue/rewards.ts, `lossForm`: the form its reference code minimises,
// mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py), plus the per-reward mean
// values for logging.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { rewards as rewardCatalogue, type LossConstant, type LossForm, type RewardParamValue, type RewardTerm } from '../catalogue/rewards.ts';
import { type AnalyticReward, analyticRewards, brightness, colourfulness, contrast, saturation, temporalSmoothness } from './analytic.ts';

export type { LossForm, RewardParamValue, RewardTerm };

/**
 * A reward mix that cannot be built as the plan asks (a reward whose network has no graph
 * builder yet, a term given twice): the lowerings report it as a pipeline problem, not a bug.
 */
export class RewardMixError extends Error {
  override name = 'RewardMixError';
}

/**
 * The loss form of a term of `reward` with `params`: the catalogue's `lossForm` with parameter
 * constants resolved (a parameter the term leaves out takes its catalogue default). A reward the
 * catalogue does not have (a caller's own builder) is maximised: -mean(r).
 */
export function rewardLossForm(reward: string, params: Record<string, RewardParamValue> = {}): LossForm {
  const entry = rewardCatalogue.find((r) => r.name === reward);
  if (!entry) return { kind: 'neg' };
  const constant = (c: LossConstant): number => {
    if (typeof c === 'number') return c;
    const value = params[c.param] ?? entry.params.find((p) => p.name === c.param)?.default;
    if (value === undefined) throw new RewardMixError(`reward '${reward}': its loss reads parameter '${c.param}', which has no value`);
    return Number(value);
  };
  const form = entry.lossForm;
  return form.kind === 'abs_to_target' ? { kind: 'abs_to_target', scale: form.scale, target: constant(form.target) } : form;
}

/** The scalar loss of per-item rewards `r` ([N] or [B]) under `form`. */
export function rewardLoss(b: Builder, r: Value, form: LossForm): Value {
  const mean = (x: Value) => b.reduceMean(x, undefined, false);
  switch (form.kind) {
    case 'abs_to_target':
      return b.mul(mean(b.abs(b.sub(r, b.scalarLike(r, form.target)))), b.scalarLike(r, form.scale));
    case 'one_minus':
      return mean(b.sub(b.scalarLike(r, 1), r));
    case 'abs_one_minus_scaled':
      return mean(b.abs(b.sub(b.scalarLike(r, 1), b.div(r, b.scalarLike(r, form.divisor)))));
    case 'neg':
      return b.neg(mean(r));
  }
}

/** JS reference of rewardLoss. */
export function rewardLossReference(r: readonly number[], form: LossForm): number {
  const mean = (f: (x: number) => number) => r.reduce((a, x) => a + f(x), 0) / r.length;
  switch (form.kind) {
    case 'abs_to_target':
      return form.scale * mean((x) => Math.abs(x - form.target));
    case 'one_minus':
      return mean((x) => 1 - x);
    case 'abs_one_minus_scaled':
      return mean((x) => Math.abs(1 - x / form.divisor));
    case 'neg':
      return -mean((x) => x);
  }
}

/** What a reward builder receives. */
export interface RewardInputs {
  /** Decoded frames [N, 3, H, W] in [-1, 1], video-major (frames of video 0 first). */
  frames: Value;
  /** Decoded frames per video (N = videos * framesPerVideo). */
  framesPerVideo: number;
  /** Text embedding per video for image-text rewards ([videos, D]), when the reward needs one. */
  text?: Value;
  /**
   * Per learned reward, what its own towers take from the prompt: its own text embedding
   * [videos, E] and the class each prompt names [videos] (stdlib/rewards/networks).
   */
  own?: Readonly<Record<string, { text?: Value; label?: Value }>>;
}

/** Builds per-item reward values ([N] per frame or [B] per video) for one term. */
export type RewardBuilder = (b: Builder, inputs: RewardInputs, params: Record<string, RewardParamValue>) => Value;

const analyticBuilders: Record<AnalyticReward, RewardBuilder> = {
  brightness: (b, { frames }) => brightness(b, frames),
  saturation: (b, { frames }) => saturation(b, frames),
  contrast: (b, { frames }) => contrast(b, frames),
  colourfulness: (b, { frames }) => colourfulness(b, frames),
  temporal_smoothness: (b, { frames, framesPerVideo }) => temporalSmoothness(b, frames, framesPerVideo),
};

export function isAnalyticReward(name: string): name is AnalyticReward {
  return (analyticRewards as readonly string[]).includes(name);
}

export interface RewardMixResult {
  /** sum_i weight_i * loss_i, a float32 scalar. */
  loss: Value;
  /** Per term (by reward name): the mean reward value (scalar), for logging. */
  rewards: Record<string, Value>;
  /** Per term: the unweighted loss (scalar). */
  losses: Record<string, Value>;
}

/**
 * Builds the mix. `builders` supplies the rewards beyond the analytic ones (learned models); a
 * term whose reward has no builder is an error naming the reward.
 */
export function rewardMix(b: Builder, terms: readonly RewardTerm[], inputs: RewardInputs, builders: Record<string, RewardBuilder> = {}): RewardMixResult {
  if (terms.length === 0) throw new Error('reward mix: no reward terms');
  return b.within('reward', () => {
    const rewards: Record<string, Value> = {};
    const losses: Record<string, Value> = {};
    let total: Value | undefined;
    for (const term of terms) {
      const build = builders[term.reward] ?? (isAnalyticReward(term.reward) ? analyticBuilders[term.reward] : undefined);
      if (!build) throw new RewardMixError(`reward '${term.reward}' has no graph builder in this build (its model is not available)`);
      if (rewards[term.reward]) throw new RewardMixError(`reward '${term.reward}' appears twice in the mix`);
      const r = b.within(term.reward, () => b.cast(build(b, inputs, term.params), 'float32'));
      const loss = b.within(term.reward, () => rewardLoss(b, r, rewardLossForm(term.reward, term.params)));
      rewards[term.reward] = b.reduceMean(r, undefined, false);
      losses[term.reward] = loss;
      const weighted = b.mul(loss, b.scalar(term.weight));
      total = total ? b.add(total, weighted) : weighted;
    }
    return { loss: total!, rewards, losses };
  });
}
