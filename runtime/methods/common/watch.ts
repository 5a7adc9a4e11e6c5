// The reward-hacking watch at every validation, for both method drivers (reward/run.ts: VADER,
// consistency/run.ts: T2V-Turbo). VADER's users report reward hacking (arXiv 2407.08737): a mix
// can rise through the term that is easiest to push (brightness) while the others, and what the
// mix was meant to mean, get worse. The watch logs, besides the validation's `reward.<term>`:
//
//   watch.diversity   mean pairwise (1 - cos) between the validation videos' mean embeddings
//                     (the `watch` graph: compiler/lower/watch.ts), needs 2 or more prompts
//   watch.<reward>    the held-out reward's mean value (objective.watch), never trained on
//
// and compares each validation with the first (`detectHacking`): it warns when diversity fell
// below (1 - objective.diversity_drop) x its first value, or when the training reward rose while
// a term of the mix or the held-out reward fell. With objective.on_hacking = stop the run ends
// after that validation as an interrupted run does (checkpoint saved, the same command resumes)
// with exit code WATCH_STOP_EXIT_CODE. Every warning so far goes to <run>/watch.json for the
// report page (rewritten at each validation from the run's history, so a resume stays right).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoweredProgram } from '../../../compiler/lower/index.ts';
import { WATCH_GRAPH, type WatchInfo, type WatchSettings, watchSettings } from '../../../compiler/lower/watch.ts';
import type { Plan, RewardTerm } from '../../../compiler/plan.ts';
import { rewardClassOf } from '../../../stdlib/catalogue/index.ts';
import { rewards as rewardCatalogue } from '../../../stdlib/catalogue/rewards.ts';
import type { Feed, GraphSession, ProgramSessions } from '../../session.ts';
import type { ValidateContext } from '../../train/index.ts';
import { type DecodedBatch, feedsFor } from './conditioning.ts';
import type { WeightsMode } from './weights.ts';

/**
 * The exit code of a run the watch stopped. Not 0 (it did not finish), 1 (a problem with the
 * pipeline or the run: nothing here needs fixing to resume) or 2 (usage), and not 128 + n,
 * which the shell and the trainer use for a run ended by signal n (130 Ctrl-C, 143 SIGTERM):
 * the stop is like theirs (checkpoint saved, resumable), but the run chose it.
 */
export const WATCH_STOP_EXIT_CODE = 3;

/** The file the watch's warnings go to, in the run folder (read by runtime/report). */
export const WATCH_FILE = 'watch.json';

// ---------------------------------------------------------------- the detector (pure)

/** One validation as the detector reads it. */
export interface WatchPoint {
  step: number;
  /** The training reward: sum of weight x mean value of the terms (`reward`). */
  total?: number;
  /** The mix's terms: each one's weight and mean value (`reward.<name>`). */
  terms: { name: string; weight: number; value: number }[];
  /** The held-out reward (`watch.<name>`). */
  heldOut?: { name: string; value: number };
  /** `watch.diversity` */
  diversity?: number;
}

/** A term that moved the way the mix pushes it (weight x change above the tolerance). */
export interface RisingTerm {
  name: string;
  weight: number;
  from: number;
  to: number;
}

export type HackingSignal =
  | { kind: 'diversity'; step: number; from: number; to: number; floor: number; rising: RisingTerm[] }
  | {
      kind: 'term' | 'held_out';
      step: number;
      /** The reward that got worse, and its first and current values. */
      name: string;
      from: number;
      to: number;
      total: { from: number; to: number };
      /** The terms that carried the rise. */
      rising: RisingTerm[];
    };

export interface DetectorSettings {
  /** Diversity below (1 - diversityDrop) x its first value fires. */
  diversityDrop: number;
  /** The validation videos diversity is measured over: fewer than DIVERSITY_MIN_VIDEOS never fire. */
  videos?: number;
  /** Relative change that counts as a rise or a fall (default WATCH_TOLERANCE). */
  tolerance?: number;
}

/**
 * A value rose or fell when it moved by more than 5% of its first value (of 0.05 at least, for
 * values near 0). Validation samples the same prompts from the same noise every time, so what
 * moves them is training, not sampling; but a handful of prompts on a small model still wobble
 * by a few percent from one validation to the next while nothing is being hacked (the tiny
 * world's tiny_aesthetic and tiny_text_align under a text-only run: test/runtime/methods/
 * watch.test.ts), and the hacking this looks for moves values by far more (the demo: text
 * alignment -17% while brightness doubles).
 */
export const WATCH_TOLERANCE = 0.05;
const SCALE_FLOOR = 0.05;

/**
 * Diversity warns only over 4 or more validation videos (6 pairs or more). One pair is too noisy
 * to judge: on the tiny world with the demo's 2 validation prompts, the one pair's distance went
 * 0.72 -> 1.01 -> 0.26 -> 0.64 in a text-only run that raised text alignment 0.34 -> 0.61; over
 * 4 prompts it stayed within 0.83x-1.07x of its first value. It is logged whenever there are two.
 */
export const DIVERSITY_MIN_VIDEOS = 4;

function change(from: number, to: number, tolerance: number): 'rose' | 'fell' | 'same' {
  const margin = tolerance * Math.max(Math.abs(from), SCALE_FLOOR);
  return to - from > margin ? 'rose' : from - to > margin ? 'fell' : 'same';
}

/**
 * What the validation `current` shows against the first one, `first`. A term is judged in the
 * direction the mix pushes it: a term with a negative weight got worse when its value rose.
 */
export function detectHacking(first: WatchPoint, current: WatchPoint, settings: DetectorSettings): HackingSignal[] {
  if (current.step === first.step) return [];
  const tolerance = settings.tolerance ?? WATCH_TOLERANCE;
  const signals: HackingSignal[] = [];
  const before = new Map(first.terms.map((t) => [t.name, t]));
  const moved = current.terms.flatMap((t) => {
    const f = before.get(t.name);
    if (!f) return [];
    // in the mix's direction: weight x value
    const c = change(Math.sign(t.weight) * f.value, Math.sign(t.weight) * t.value, tolerance);
    return [{ name: t.name, weight: t.weight, from: f.value, to: t.value, change: c }];
  });
  const rising: RisingTerm[] = moved.filter((m) => m.change === 'rose').map(({ change: _, ...m }) => m);
  const enoughVideos = settings.videos === undefined || settings.videos >= DIVERSITY_MIN_VIDEOS;
  if (enoughVideos && first.diversity !== undefined && current.diversity !== undefined && first.diversity > 0) {
    const floor = (1 - settings.diversityDrop) * first.diversity;
    if (current.diversity < floor) signals.push({ kind: 'diversity', step: current.step, from: first.diversity, to: current.diversity, floor, rising });
  }
  if (first.total === undefined || current.total === undefined || change(first.total, current.total, tolerance) !== 'rose') return signals;
  const total = { from: first.total, to: current.total };
  for (const m of moved) if (m.change === 'fell') signals.push({ kind: 'term', step: current.step, name: m.name, from: m.from, to: m.to, total, rising });
  if (first.heldOut && current.heldOut && first.heldOut.name === current.heldOut.name && change(first.heldOut.value, current.heldOut.value, tolerance) === 'fell') {
    signals.push({ kind: 'held_out', step: current.step, name: current.heldOut.name, from: first.heldOut.value, to: current.heldOut.value, total, rising });
  }
  return signals;
}

/** A validation's logged values (without `val/`) as a WatchPoint of the mix `terms`. */
export function watchPoint(step: number, values: Readonly<Record<string, number>>, terms: readonly RewardTerm[], heldOut?: string): WatchPoint {
  const value = (name: string) => (Number.isFinite(values[name]) ? values[name] : undefined);
  return {
    step,
    ...(value('reward') !== undefined ? { total: value('reward') } : {}),
    terms: terms.flatMap((t) => (value(`reward.${t.reward}`) === undefined ? [] : [{ name: t.reward, weight: t.weight, value: value(`reward.${t.reward}`)! }])),
    ...(heldOut && value(`watch.${heldOut}`) !== undefined ? { heldOut: { name: heldOut, value: value(`watch.${heldOut}`)! } } : {}),
    ...(value('watch.diversity') !== undefined ? { diversity: value('watch.diversity') } : {}),
  };
}

/**
 * Mean pairwise (1 - cos) between the videos' mean embeddings: `videos` holds one mean per
 * video (each frame's embedding is L2-normalised; the mean is normalised again here). 0: alike;
 * undefined for fewer than two videos.
 */
export function embeddingDiversity(videos: readonly Float32Array[]): number | undefined {
  if (videos.length < 2) return undefined;
  const unit = videos.map((v) => {
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
    return Array.from(v, (x) => x / norm);
  });
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < unit.length; i++) {
    for (let j = i + 1; j < unit.length; j++) {
      sum += 1 - unit[i]!.reduce((s, x, k) => s + x * unit[j]![k]!, 0);
      pairs++;
    }
  }
  return sum / pairs;
}

// ---------------------------------------------------------------- messages

const n4 = (x: number) => x.toPrecision(4);

/** What a signal means, in a sentence. */
export function signalMessage(s: HackingSignal, info: WatchInfo, settings: Pick<WatchSettings, 'diversityDrop'>): string {
  if (s.kind === 'diversity') {
    const under = info.embedding === 'pixels' ? 'pixels' : `${info.embedding}'s image encoder`;
    return `step ${s.step}: the diversity of the validation videos fell from ${n4(s.from)} to ${n4(s.to)} (under ${under}), below ${1 - settings.diversityDrop} x its first value (objective.diversity_drop = ${settings.diversityDrop}): the videos are becoming alike`;
  }
  const what = s.kind === 'held_out' ? `the held-out reward ${s.name} (never trained on)` : s.name;
  // a term of negative weight gets worse by rising
  const moved = (from: number, to: number) => `${to < from ? 'fell' : 'rose'} from ${n4(from)} to ${n4(to)}`;
  const carried = s.rising.length > 0 ? `; ${s.rising.map((r) => `${r.name} ${moved(r.from, r.to)}`).join(', ')}` : '';
  return `step ${s.step}: ${what} ${moved(s.from, s.to)} while the training reward rose from ${n4(s.total.from)} to ${n4(s.total.to)}${carried}`;
}

/** A reward the mix does not train on, of the same world as its terms, to suggest as `watch`. */
function heldOutSuggestion(terms: readonly RewardTerm[]): string | undefined {
  const used = new Set(terms.map((t) => t.reward));
  const tiny = terms.some((t) => rewardCatalogue.find((r) => r.name === t.reward && rewardClassOf(r) === 'tiny'));
  const candidates = tiny ? ['tiny_aesthetic', 'tiny_text_align'] : ['hps', 'aesthetic', 'pickscore'];
  return candidates.find((c) => !used.has(c));
}

/** What to do about the signals of one validation. */
export function adviceFor(signals: readonly HackingSignal[], terms: readonly RewardTerm[], settings: WatchSettings, lastQuiet: number | undefined): string {
  const rising = [...new Map(signals.flatMap((s) => s.rising).map((r) => [r.name, r])).values()];
  const advice: string[] = [];
  // (a mix of one term has no weight to shift)
  if (terms.length > 1) advice.push(rising.length > 0 ? `lower the weight of ${rising.map((r) => `${r.name} (${r.weight} now)`).join(' and ')}` : 'lower the weight of the term that rises fastest');
  advice.push(`stop earlier${lastQuiet !== undefined ? ` (the last validation without this warning was at step ${lastQuiet})` : ''}`);
  const suggestion = heldOutSuggestion(terms);
  if (!settings.heldOut) advice.push(`add a held-out reward the mix does not train on (objective.watch = ${suggestion ?? '<reward>'})`);
  return advice.join(', or ');
}

// ---------------------------------------------------------------- the run's watch

export interface WatchWarning {
  step: number;
  kind: HackingSignal['kind'];
  name?: string;
  from: number;
  to: number;
  message: string;
  advice: string;
}

/** <run>/watch.json */
export interface WatchFile {
  embedding: string;
  heldOut: string | null;
  diversityDrop: number;
  /** Whether diversity can warn (DIVERSITY_MIN_VIDEOS validation prompts or more). */
  judgesDiversity: boolean;
  onHacking: 'warn' | 'stop';
  /** Validations (steps) it has seen, and the warnings of each that fired. */
  validations: number[];
  warnings: WatchWarning[];
}

/** One validation's collection: the videos' mean embeddings and the held-out reward over the real prompts. */
export interface WatchScan {
  observe(prompts: readonly string[], decoded: DecodedBatch, real: number): Promise<void>;
  values(): Record<string, number>;
}

export interface RunWatchOptions {
  plan: Plan;
  lowered: LoweredProgram;
  sessions: ProgramSessions;
  terms: readonly RewardTerm[];
  runDir: string;
  say: (line: string) => void;
  /** Validation prompts (one video each): diversity needs 2 to be measured, DIVERSITY_MIN_VIDEOS to warn. */
  validationPrompts: number;
  /** What the held-out reward reads of the prompts (the engine's conditioning: text_embed, its own inputs). */
  conditioning: (prompts: readonly string[]) => Promise<{ textEmbed: Float32Array; own?: Readonly<Record<string, Feed>> }>;
}

export class RunWatch {
  readonly settings: WatchSettings;
  readonly info: WatchInfo;
  private readonly graph: GraphSession;
  private readonly framesPerVideo: number;

  constructor(private readonly o: RunWatchOptions) {
    const settings = watchSettings(o.plan);
    if (!settings || !o.lowered.watch) throw new Error(`internal: objective '${o.plan.objective.name}' has no reward-hacking watch`);
    this.settings = settings;
    this.info = o.lowered.watch;
    this.graph = o.sessions.graph(WATCH_GRAPH);
    this.framesPerVideo = o.plan.derived.latent_shape[1];
  }

  /** The banner line: what is watched, how, and what happens. */
  describe(): string {
    const n = this.o.validationPrompts;
    const under = this.info.embedding === 'pixels' ? 'pixels' : `${this.info.embedding} image encoder`;
    const diversity = n < 2 ? 'diversity off (needs 2 or more validation prompts)'
      : n < DIVERSITY_MIN_VIDEOS ? `diversity logged (${under}; warns with ${DIVERSITY_MIN_VIDEOS} or more validation prompts, this run has ${n})`
      : `diversity (${under})`;
    const terms = this.o.terms.length > 0 ? ', each term against the training reward' : '';
    const heldOut = this.info.heldOut ? `, held-out ${this.info.heldOut}` : '';
    return `${diversity}${terms}${heldOut}; on hacking: ${this.settings.onHacking}`;
  }

  scan(): WatchScan {
    const videos: Float32Array[] = [];
    let heldOutSum = 0;
    let count = 0;
    const T = this.framesPerVideo;
    const heldOut = this.info.heldOut;
    return {
      observe: async (prompts, decoded, real) => {
        const readsPrompt = this.graph.inputs.some((i) => i.name !== 'frames');
        const cond = readsPrompt ? await this.o.conditioning(prompts) : undefined;
        const out = await this.graph.run(feedsFor(this.graph, { frames: decoded.frames, ...(cond ? { text_embed: cond.textEmbed, ...cond.own } : {}) }));
        const embedding = out.embedding as Float32Array;
        const dim = embedding.length / (prompts.length * T);
        // a padded batch repeats its first prompt: only the real videos count
        for (let v = 0; v < real; v++) {
          const mean = new Float32Array(dim);
          for (let f = 0; f < T; f++) for (let k = 0; k < dim; k++) mean[k] += embedding[(v * T + f) * dim + k]! / T;
          videos.push(mean);
        }
        if (heldOut) {
          heldOutSum += (out[`reward.${heldOut}`] as Float32Array)[0]! * real;
          count += real;
        }
      },
      values: () => {
        const values: Record<string, number> = {};
        const diversity = embeddingDiversity(videos);
        if (diversity !== undefined) values['watch.diversity'] = diversity;
        if (heldOut && count > 0) values[`watch.${heldOut}`] = heldOutSum / count;
        return values;
      },
    };
  }

  /**
   * After a validation: compares it with the first, says what fired and what to do, rewrites
   * watch.json, and with on_hacking = stop ends the run after this validation.
   */
  review(ctx: Pick<ValidateContext, 'step' | 'phase' | 'history' | 'stop'>, values: Readonly<Record<string, number>>): HackingSignal[] {
    const points = [...ctx.history.filter((h) => h.step < ctx.step), { step: ctx.step, values }].map((h) => watchPoint(h.step, h.values, this.o.terms, this.info.heldOut));
    const first = points[0]!;
    const detect = (p: WatchPoint) => detectHacking(first, p, { ...this.settings, videos: this.o.validationPrompts });
    const perPoint = points.map((p) => ({ step: p.step, signals: detect(p) }));
    const warnings: WatchWarning[] = [];
    let lastQuiet: number | undefined;
    for (const { step, signals } of perPoint) {
      if (signals.length === 0) {
        lastQuiet = step;
        continue;
      }
      const advice = adviceFor(signals, this.o.terms, this.settings, lastQuiet);
      for (const s of signals) warnings.push({ step, kind: s.kind, ...(s.kind === 'diversity' ? {} : { name: s.name }), from: s.from, to: s.to, message: signalMessage(s, this.info, this.settings), advice });
    }
    this.write(points.map((p) => p.step), warnings);
    const current = perPoint[perPoint.length - 1]!.signals;
    if (current.length === 0) return current;
    const mine = warnings.filter((w) => w.step === ctx.step);
    for (const w of mine) this.o.say(`warning: reward hacking? ${w.message}`);
    this.o.say(`  what to do: ${mine[0]!.advice}`);
    if (this.settings.onHacking === 'stop' && ctx.phase === 'during') {
      this.o.say(`the reward-hacking watch stops the run after this validation (objective.on_hacking = stop); resuming checks again at the next validation, objective.on_hacking=warn trains on regardless`);
      ctx.stop({ reason: `stopped by the reward-hacking watch at step ${ctx.step}`, exitCode: WATCH_STOP_EXIT_CODE });
    }
    return current;
  }

  private write(validations: number[], warnings: WatchWarning[]): void {
    const file: WatchFile = {
      embedding: this.info.embedding,
      heldOut: this.info.heldOut ?? null,
      diversityDrop: this.settings.diversityDrop,
      judgesDiversity: this.o.validationPrompts >= DIVERSITY_MIN_VIDEOS,
      onHacking: this.settings.onHacking,
      validations,
      warnings,
    };
    const target = path.join(this.o.runDir, WATCH_FILE);
    const temp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`);
    fs.renameSync(temp, target);
  }
}
