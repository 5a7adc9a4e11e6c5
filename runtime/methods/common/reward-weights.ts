// The learned rewards' networks (PickScore, HPS, aesthetic, ViCLIP, ...) of a full-size run:
// where their files are expected, and the stop before anything is compiled while vplc cannot
// load them. Their graphs exist (stdlib/rewards/clip-score.ts, for compile and explain); loading
// their checkpoints is the reward networks' own piece of work, so a run that names one stops
// here with the files it will need — never with a randomly initialised scorer. Analytic rewards
// (brightness, ...) need nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Plan, spanOf } from '../../../compiler/plan.ts';
import { diagnostic, type Diagnostic } from '../../../diagnostics/diagnostic.ts';
import { rewardClassOf } from '../../../stdlib/catalogue/index.ts';
import { rewards as rewardCatalogue } from '../../../stdlib/catalogue/rewards.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { weightsRoot } from './weights.ts';

/** The folder a reward's files are looked for in: `<weights root>/rewards/<name>/`. */
export function defaultRewardWeightsDir(reward: string, env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): string {
  return path.join(weightsRoot(env, cwd), 'rewards', reward);
}

/** The learned rewards of a plan's objective (none for analytic-only mixes). */
export function learnedRewards(plan: Plan): string[] {
  const terms = plan.objective.name === 'denoise' ? [] : plan.objective.reward;
  return terms.map((t) => t.reward).filter((name) => {
    const entry = rewardCatalogue.find((r) => r.name === name);
    return entry !== undefined && rewardClassOf(entry) === 'learned';
  });
}

/** The public files a learned reward's network comes from, in words (from the catalogue). */
function rewardFiles(name: string): string {
  const entry = rewardCatalogue.find((r) => r.name === name)!;
  return entry.checkpoint ? `${entry.checkpoint.files.join(', ')} (from ${entry.checkpoint.source})` : 'its network weights';
}

/** Stops (VPL7136) when the plan uses a learned reward: its files are listed, and whether they are there. */
export function requireRewardWeights(plan: Plan, command: string, options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string } = {}): void {
  const names = learnedRewards(plan);
  if (names.length === 0) return;
  const lines = names.map((name) => {
    const dir = defaultRewardWeightsDir(name, options.env, options.cwd);
    const files = rewardFiles(name);
    const state = fs.existsSync(dir) ? `${dir} exists, but vplc cannot load this network's weights yet` : `missing: ${dir} does not exist`;
    return `${name} needs ${files}; ${state}`;
  });
  throw new VplError('VPL7136', `${command} needs the weights of the learned reward${names.length > 1 ? 's' : ''} ${names.join(', ')}:\n  ${lines.join('\n  ')}`, {
    file: plan.file,
    help: 'loading the reward networks is not built yet; train with an analytic reward meanwhile (e.g. `objective.reward=1.0 * brightness`), or run with --tiny for a smoke run on stand-in rewards',
  });
}

/**
 * `vplc check`'s look at the disk: a warning for each learned reward whose folder is missing,
 * at the reward mix in the pipeline (the run itself stops with VPL7136).
 */
export function missingRewardFiles(plan: Plan, options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string } = {}): Diagnostic[] {
  const span = spanOf(plan, 'objective.reward');
  if (!span) return [];
  return learnedRewards(plan).flatMap((name) => {
    const dir = defaultRewardWeightsDir(name, options.env, options.cwd);
    if (fs.existsSync(dir)) return [];
    return [diagnostic('VPL4004', span, `reward '${name}' needs ${rewardFiles(name)}, and ${dir} does not exist`, {
      help: `put its files in ${dir} (or set VPLC_WEIGHTS_DIR to the folder holding rewards/${name}/); \`vplc run --tiny\` runs on a stand-in meanwhile`,
    })];
  });
}
