// The graph builders of every reward the lowering can build, on one parameter store: the tiny
// world's (on the tiny CLIP, under `clip.`) and the full-size CLIP scorers (under
// `reward.<name>.`). Analytic rewards need none (stdlib/rewards/mix.ts builds them).
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { NN } from '../../stdlib/nn/parameters.ts';
import { clipScoreBuilders } from '../../stdlib/rewards/clip-score.ts';
import type { RewardBuilder } from '../../stdlib/rewards/mix.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';

export function rewardBuilders(nn: NN, build: ModelBuild): Record<string, RewardBuilder> {
  return { ...clipScoreBuilders(nn), ...tinyRewardBuilders(nn, build.text, 'clip') };
}
