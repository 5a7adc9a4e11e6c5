// The reward objective (VADER) on the generic trainer (runtime/train). One micro-step:
//
//   1. draw `batch` prompts (stream 'prompts'); embeddings come from `text_encode`, cached per
//      prompt, with the empty prompt as the unconditional context;
//   2. initial noise (stream 'noise'), then `sample_step` for sampler steps 0..steps-k-1 with
//      the current LoRA and no gradient (each step's scalars from lowered.sampler[i].feeds; for
//      dpm_solver the x0 history moves along, engine.ts);
//   3. `train_step` for the last k steps with gradient, from the latents and the x0 history at
//      the cutoff and the stacked scalars (lowered.trainScalars): the frames to decode (random(k): k
//      distinct latent frames per micro-step from stream 'decode'; frame(i), every(n), all:
//      the fixed indices), the learning rate with linear warm-up, the LoRA, AdamW state and
//      accumulators; it returns the loss, each reward's mean, the gradient norm and the next
//      state (the update and the accumulation are in the graph).
//
//   backprop = random: train_step holds every sampler step and takes `grad_gate`, 1 from a
//   cutoff drawn uniformly per micro-step (stream 'cutoff'), 0 before it.
//
// Logged per step: loss, reward (sum of weight x mean reward value), reward.<name>,
// grad_norm, lr. Validation (before training, every N steps, after the last step) samples the
// same prompts from the same noise (fixed seeds) with every step and every frame, writes one
// video per prompt (videos/before, videos/step-XXXXXX, videos/after) and logs the same
// rewards as val/... . At the end the LoRA goes to <runDir>/lora/ in PEFT layout and
// report.html is written.
import * as path from 'node:path';
import type { TypedArray } from '../../tensor/ir/dtype.ts';
import type { LoweredProgram } from '../../compiler/lower/index.ts';
import type { Plan, RewardTerm } from '../../compiler/plan.ts';
import { decodeFrames } from '../../compiler/lower/index.ts';
import { type PromptSet, promptFileSet, promptSet, PromptSetError } from '../../stdlib/prompts/index.ts';
import { VplError } from '../errors.ts';
import { type VideoFormat, writeVideo } from '../media/video.ts';
import type { ProgressStream } from '../progress/progress.ts';
import { Rng } from '../random.ts';
import type { Device } from '../session.ts';
import { loadProgram, type ProgramSessions } from '../session.ts';
import { type TensorState, type TrainResult, train } from '../train/index.ts';
import { type LoraAdapter, type LoraConfig, writePeftAdapter } from '../weights/lora-peft.ts';
import { type MethodRunOptions, shown, trainerOptions, unknownWordsWarning, validationRewards, warmedUpLr, writeRunReport } from './run-steps.ts';
import { RewardEngine, splitVideos } from './engine.ts';
import type { RewardSetup } from './setup.ts';

export interface RewardRunOptions extends MethodRunOptions {
  setup: RewardSetup;
}

export interface RewardRunResult extends TrainResult {
  /** The PEFT adapter folder (when the run completed). */
  loraDir?: string;
  reportPath?: string;
}

/** The pipeline's prompt source as a PromptSet (a file is relative to the pipeline's folder). */
export function promptSource(plan: Plan): PromptSet {
  const src = plan.prompts?.source;
  if (!src) throw new VplError('VPL7134', 'the pipeline has no prompts', { file: plan.file, help: 'add `prompts = tiny_shapes` (a stdlib set) or `prompts = "my_prompts.txt"`' });
  try {
    return src.kind === 'set' ? promptSet(src.name) : promptFileSet(path.resolve(plan.dir, src.path));
  } catch (error) {
    if (error instanceof PromptSetError) throw new VplError('VPL7134', error.message, { file: plan.file, help: 'name a stdlib prompt set or a text file with one prompt per line' });
    throw error;
  }
}

/** `n` validation prompts, the same every time for a seed (distinct while the set allows). */
export function validationPrompts(set: PromptSet, n: number, seed: number): string[] {
  const rng = new Rng(seed).fixed('validation-prompts');
  const out: string[] = [];
  for (let tries = 0; out.length < n && tries < 50 * n; tries++) {
    const p = set.sample(rng);
    if (!out.includes(p) || (set.size !== undefined && out.length >= set.size)) out.push(p);
  }
  while (out.length < n) out.push(set.sample(rng));
  return out;
}

/** The initial training state: LoRA factors from the lowering, zero optimizer state. */
export function initialRewardState(lowered: LoweredProgram): TensorState {
  const train = lowered.program.graphs.train_step!;
  const trainable = new Set(lowered.trainable.map((p) => p.name));
  const state: TensorState = {};
  for (const v of train.inputs) {
    // ema.<p>: the EMA target network's copy of trainable p (consistency objective), starts equal to p
    const shadowOf = v.name.startsWith('ema.') && trainable.has(v.name.slice(4)) ? v.name.slice(4) : undefined;
    const isState = trainable.has(v.name) || shadowOf !== undefined || v.name.startsWith('adam.') || v.name.startsWith('acc.');
    if (!isState) continue;
    const n = v.shape.reduce((a, b) => a * b, 1);
    let data: TypedArray;
    if (trainable.has(v.name) || shadowOf) data = Float32Array.from(lowered.params.initialValue(shadowOf ?? v.name) as Float32Array);
    else if (v.dtype === 'int64') data = new BigInt64Array(n);
    else data = new Float32Array(n);
    state[v.name] = { dtype: v.dtype, shape: [...v.shape], data };
  }
  return state;
}

/** The LoRA of a state in PEFT layout (module paths of the lowering). */
export function loraAdapter(plan: Plan, lowered: LoweredProgram, state: Readonly<TensorState>, baseModel: string): LoraAdapter {
  const modules = new Map<string, LoraAdapter['modules'] extends Map<string, infer M> ? M : never>();
  for (const m of lowered.lora) {
    modules.set(m.path, { a: state[m.a]!.data as Float32Array, b: state[m.b]!.data as Float32Array, rank: plan.lora.rank, inFeatures: m.in, outFeatures: m.out, ...(m.kernel ? { kernel: m.kernel } : {}) });
  }
  const config: LoraConfig = {
    r: plan.lora.rank,
    loraAlpha: plan.lora.alpha,
    loraDropout: plan.lora.dropout,
    targetModules: [...new Set(lowered.lora.map((m) => m.path.split('.').pop()!))].sort(),
    baseModelNameOrPath: baseModel,
  };
  return { config, modules };
}

/** Weighted sum of mean reward values: what "the reward" of a run is. */
export function totalReward(terms: readonly RewardTerm[], rewards: Readonly<Record<string, number>>): number {
  return terms.reduce((s, t) => s + t.weight * (rewards[t.reward] ?? 0), 0);
}

function videoFormats(plan: Plan): VideoFormat[] {
  const formats = plan.output.formats.map((f) => (f === 'png' ? 'png-grid' : f) as VideoFormat);
  return formats.length > 0 ? formats : ['gif'];
}

/** Writes B videos of a decoded batch, one file per format. */
export async function writeBatchVideos(plan: Plan, frames: Float32Array, batch: number, names: string[], say: (line: string) => void): Promise<string[]> {
  const written: string[] = [];
  const videos = splitVideos(frames, batch, plan);
  for (let i = 0; i < names.length; i++) {
    for (const format of videoFormats(plan)) {
      const w = await writeVideo(videos[i]!, { path: names[i]!, fps: plan.model.fps, format });
      if (w.note) say(`note: ${w.note}`);
      written.push(w.path);
    }
  }
  return written;
}

export async function runReward(options: RewardRunOptions): Promise<RewardRunResult> {
  const { setup, runDir } = options;
  const { plan, lowered, terms } = setup;
  const stderr = options.stderr ?? process.stderr;
  const say = (line: string) => stderr.write(`${line}\n`);
  const prompts = promptSource(plan);
  const sessions: ProgramSessions = await loadProgram(lowered.program, { device: options.device ?? 'cpu', ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  try {
    const engine = new RewardEngine(plan, lowered, sessions);
    const trainStep = sessions.graph('train_step');
    const steps = lowered.sampler.length;
    const k = lowered.backpropSteps;
    const B = plan.train.batch;
    const accumulate = plan.train.accumulate;
    const decode = decodeFrames(plan);
    const T = plan.derived.latent_shape[1];
    const opt = plan.train.optimizer;
    const initial = initialRewardState(lowered);
    const stateNames = Object.keys(initial);
    // the sampler's per-step scalars of the last k steps, stacked (timesteps, alphas_t, ...)
    const fixedTrainFeeds: Record<string, Float32Array> = {};
    for (const [name, values] of Object.entries(lowered.trainScalars ?? {})) fixedTrainFeeds[name] = Float32Array.from(values);
    // one UNet call per step, two with classifier-free guidance (an unconditional context input)
    const cfg = trainStep.inputs.some((i) => i.name === 'uncond_context');
    const needsNoise = trainStep.inputs.some((i) => i.name === 'noise');
    const valPrompts = plan.train.validate ? validationPrompts(prompts, plan.train.validate.prompts, plan.train.seed) : validationPrompts(prompts, Math.min(2, B * 2), plan.train.seed);
    const warnUnknown = unknownWordsWarning(engine.unknown, say);

    const result = await train({
      ...trainerOptions(plan, setup.hash, lowered, initial, { ...options, runDir, stderr }),
      banner: {
        title: `vplc run ${plan.name}: VADER reward alignment`,
        batch: B,
        evaluationsPerMicroStep: steps * B * (cfg ? 2 : 1),
        items: [
          { label: 'model', value: `${plan.model.name} ${plan.model.frames} frames ${plan.model.size.height}x${plan.model.size.width}` },
          { label: 'weights', value: setup.weightsDescription },
          { label: 'reward', value: terms.map((t) => `${t.weight} * ${t.reward}`).join(' + ') },
          { label: 'sampler', value: `${plan.sampler.name}, ${steps} steps, ${lowered.gradGate ? 'gradient from a random cutoff per video (backprop = random)' : plan.objective.name === 'reward' && plan.objective.decode_og ? `stops at step ${lowered.trainFrom}, its x0 estimate decoded with gradient (decode_og)` : `gradient through the last ${k}`}` },
          { label: 'decoded frames', value: `${decode.count} of ${T} per video (${decodeLabel(plan)})` },
          { label: 'device', value: sessions.device },
        ],
      },

      async microStep({ step, micro, state, rng }) {
        const drawn = Array.from({ length: B }, () => prompts.sample(rng.stream('prompts')));
        const cond = await engine.conditioning(drawn);
        warnUnknown();
        const noise = rng.stream('noise');
        const x0 = noise.fillNormal(new Float32Array(engine.latentSize));
        // the latents at the cutoff, and the x0 history there (dpm_solver), without gradient
        const sampled = await engine.sampleSteps(x0, 0, lowered.trainFrom ?? steps - k, cond, state, noise);
        // backprop = random: the cutoff c ~ U{0..steps-1}, gradient through steps c..steps-1
        const gradGate = lowered.gradGate ? cutoffGate(rng.stream('cutoff'), k) : undefined;
        const frameIndices = decode.fixed ? BigInt64Array.from(decode.fixed, BigInt) : randomFrames(rng.stream('decode'), T, decode.count);
        const lr = warmedUpLr(opt, step);
        const out = await trainStep.run(
          engine.feedsFor(
            trainStep,
            {
              latents: sampled.latents,
              ...sampled.history,
              ...fixedTrainFeeds,
              noise: needsNoise ? noise.fillNormal(new Float32Array(k * engine.latentSize)) : undefined,
              context: cond.context,
              uncond_context: cond.uncond,
              text_embed: cond.textEmbed,
              frame_indices: frameIndices,
              grad_gate: gradGate,
              lr: Float32Array.of(lr),
              apply: Uint8Array.of(micro === accumulate - 1 ? 1 : 0),
              seed: BigInt64Array.of(BigInt(plan.train.seed)),
              dropout_step: BigInt64Array.of(BigInt(step * accumulate + micro)),
            },
            state,
          ),
        );
        const rewards: Record<string, number> = {};
        const values: Record<string, number> = { lr, grad_norm: (out.grad_norm as Float32Array)[0]! };
        for (const [name, v] of Object.entries(out)) {
          if (name.startsWith('reward.')) {
            rewards[name.slice(7)] = (v as Float32Array)[0]!;
            values[name] = (v as Float32Array)[0]!;
          }
        }
        values.reward = totalReward(terms, rewards);
        const next: Record<string, TypedArray> = {};
        for (const s of stateNames) next[s] = out[`${s}_out`]!;
        return { loss: (out.loss as Float32Array)[0]!, values, state: next };
      },

      async validate({ state, rng, videoDir }) {
        return validationRewards({ plan, terms, prompts: valPrompts, batch: B, videoDir, say, generate: (batch) => engine.generate(batch, state, rng) });
      },
    });

    if (result.status !== 'completed') return result;
    const loraDir = path.join(runDir, 'lora');
    await writePeftAdapter(loraDir, loraAdapter(plan, lowered, result.state, plan.model.name));
    const reportPath = writeRunReport(runDir, say);
    say(`wrote ${shown(loraDir)}/ (LoRA, PEFT layout) and ${shown(reportPath)}`);
    return { ...result, loraDir, reportPath };
  } finally {
    await sessions.release();
  }
}

/** grad_gate for a cutoff drawn uniformly in [0, steps): 1 from the cutoff on. */
export function cutoffGate(stream: { int(n: number): number }, steps: number): Float32Array {
  const c = stream.int(steps);
  return Float32Array.from({ length: steps }, (_, i) => (i >= c ? 1 : 0));
}

/** k distinct latent frames out of T, in increasing order. */
export function randomFrames(stream: { int(n: number): number }, T: number, k: number): BigInt64Array {
  const idx = Array.from({ length: T }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + stream.int(T - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return BigInt64Array.from(idx.slice(0, k).sort((a, b) => a - b), BigInt);
}

function decodeLabel(plan: Plan): string {
  if (plan.objective.name !== 'reward') return '';
  const d = plan.objective.decode;
  switch (d.mode) {
    case 'random':
      return `random(${d.k})`;
    case 'frame':
      return `frame(${d.i})`;
    case 'every':
      return `every(${d.n})`;
    case 'all':
      return 'all';
  }
}
