// Which rewards of a plan are learned networks (PickScore, HPS, aesthetic, ViCLIP, actpred), and
// where their files are looked for by default; ./reward-networks.ts opens them. Analytic rewards
// (brightness, ...) need nothing.
import * as path from 'node:path';
import type { Plan } from '../../../compiler/plan.ts';
import { rewardClassOf } from '../../../stdlib/catalogue/index.ts';
import { rewards as rewardCatalogue } from '../../../stdlib/catalogue/rewards.ts';
import { weightsRoot } from './weights.ts';

/** The folder a reward's files are looked for in: `<weights root>/rewards/<name>/`. */
export function defaultRewardWeightsDir(reward: string, env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  return path.join(weightsRoot(env, cwd), 'rewards', reward);
}

/** Whether a reward is scored by a real network (not a formula, not the tiny world's). */
export function isLearnedReward(name: string): boolean {
  const entry = rewardCatalogue.find((r) => r.name === name);
  return entry !== undefined && rewardClassOf(entry) === 'learned';
}

/** The learned rewards of a plan's objective (none for analytic-only mixes). */
export function learnedRewards(plan: Plan): string[] {
  const terms = plan.objective.name === 'denoise' ? [] : plan.objective.reward;
  return terms.map((t) => t.reward).filter(isLearnedReward);
}
