// What the method drivers (reward/run.ts: VADER, consistency/run.ts: T2V-Turbo) do alike around the
// generic trainer: the warmed-up learning rate, one warning for words the tiny tokenizer does not
// know, validation (sample fixed prompts, write one video each, average the rewards) and the files
// a finished run leaves (the LoRA in PEFT layout and report.html).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan, RewardTerm } from '../../../compiler/plan.ts';
import { validationVideoName } from '../../media/video.ts';
import { writeReport } from '../../report/report.ts';
import type { LoweredProgram } from '../../../compiler/lower/index.ts';
import type { ProgressStream } from '../../progress/progress.ts';
import type { Device } from '../../session.ts';
import type { TensorState, TrainOptions } from '../../train/index.ts';
import { peftConfigJson } from '../../weights/lora-peft.ts';
import type { DecodedBatch } from './conditioning.ts';
import { loraAdapter } from './state.ts';
import { totalReward, writeBatchVideos } from './videos.ts';
import type { WatchScan } from './watch.ts';

/** What `vplc run` passes both method drivers from its command line. */
export interface MethodRunOptions {
  runDir: string;
  pipelineFile?: string;
  fresh?: boolean;
  device?: Device;
  /** Optimizer steps (default: the plan's train.steps; smoke runs). */
  steps?: number;
  /** Progress and messages (default process.stderr). */
  stderr?: ProgressStream;
  env?: Readonly<Record<string, string | undefined>>;
  handleSignals?: boolean;
  /** Where compiled programs are cached (default .cache/vplc under the current folder). */
  cacheRoot?: string;
}

/**
 * The trainer options both methods take from the plan and the command line alike; each adds its
 * banner, micro-step and validation.
 */
export function trainerOptions(
  plan: Plan,
  planHash: string,
  lowered: LoweredProgram,
  state: TensorState,
  o: MethodRunOptions & { stderr: ProgressStream },
): Omit<TrainOptions, 'banner' | 'microStep' | 'validate'> {
  return {
    runDir: o.runDir,
    planHash,
    plan: plan as unknown,
    ...(o.pipelineFile ? { pipelineFile: o.pipelineFile } : {}),
    totalSteps: o.steps ?? plan.train.steps,
    accumulate: plan.train.accumulate,
    ...(plan.train.checkpoint ? { checkpointEvery: plan.train.checkpoint.every, keep: plan.train.checkpoint.keep } : {}),
    validateEvery: plan.train.validate?.every,
    seed: plan.train.seed,
    fresh: o.fresh ?? false,
    state,
    trainable: lowered.trainable.map((p) => p.name),
    checkpointJson: { 'adapter_config.json': peftConfigJson(loraAdapter(plan, lowered, state, plan.model.name).config) as never },
    logEvery: plan.output.log_every,
    tensorboard: plan.output.tensorboard,
    stderr: o.stderr,
    ...(o.env ? { env: o.env } : {}),
    handleSignals: o.handleSignals ?? true,
  };
}

/** The learning rate of optimizer step `step` (0-based): linear warm-up, then constant. */
export function warmedUpLr(optimizer: Plan['train']['optimizer'], step: number): number {
  const warm = optimizer.warmup > 0 ? Math.min(1, (step + 1) / optimizer.warmup) : 1;
  return optimizer.lr * warm;
}

/** Says once, the first time the set is not empty, which words read as [UNK]. */
export function unknownWordsWarning(unknown: ReadonlySet<string>, say: (line: string) => void): () => void {
  let warned = false;
  return () => {
    if (warned || unknown.size === 0) return;
    warned = true;
    say(`warning: the tiny tokenizer does not know ${[...unknown].slice(0, 8).map((w) => `'${w}'`).join(', ')}: those words read as [UNK]`);
  };
}

export interface ValidationOptions {
  plan: Plan;
  terms: readonly RewardTerm[];
  prompts: readonly string[];
  batch: number;
  videoDir: string;
  say: (line: string) => void;
  /** Sample and decode one batch of prompts (fixed noise comes from the caller's stream). */
  generate: (prompts: string[]) => Promise<DecodedBatch>;
  /** The reward-hacking watch's collection (./watch.ts): sees every decoded batch, adds its values. */
  watch?: WatchScan;
}

/**
 * Samples the validation prompts batch by batch (a short last batch is padded with its first
 * prompt), writes one video per prompt and returns `reward.<name>` means over the prompts and
 * the weighted total `reward` (and the watch's `watch.<name>` values).
 */
export async function validationRewards(o: ValidationOptions): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (let start = 0; start < o.prompts.length; start += o.batch) {
    const chunk = o.prompts.slice(start, start + o.batch);
    const batch = Array.from({ length: o.batch }, (_, i) => chunk[i] ?? chunk[0]!);
    const decoded = await o.generate(batch);
    const names = chunk.map((p, i) => path.join(o.videoDir, path.basename(validationVideoName(0, start + i, p))));
    fs.mkdirSync(o.videoDir, { recursive: true });
    await writeBatchVideos(o.plan, decoded.frames, o.batch, names, o.say);
    await o.watch?.observe(batch, decoded, chunk.length);
    // the batch's mean counts once per real prompt in it
    for (const [name, v] of Object.entries(decoded.rewards)) sums[name] = (sums[name] ?? 0) + v * chunk.length;
  }
  const means = Object.fromEntries(Object.entries(sums).map(([n, v]) => [n, v / o.prompts.length]));
  const values: Record<string, number> = {};
  for (const [name, v] of Object.entries(means)) values[`reward.${name}`] = v;
  if (o.terms.length > 0) values.reward = totalReward(o.terms, means);
  return { ...values, ...o.watch?.values() };
}

/** report.html for a finished run; its warnings are said. */
export function writeRunReport(runDir: string, say: (line: string) => void): string {
  const report = writeReport(runDir);
  for (const w of report.warnings) say(`warning: ${w}`);
  return report.path;
}

/** A path as the user reads it: relative to the working folder when inside it. */
export const shown = (file: string): string => path.relative(process.cwd(), file) || file;
