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
// rewards as val/..., with the reward-hacking watch's (../common/watch.ts). At the end the LoRA goes to <runDir>/lora/ in PEFT layout and
// report.html is written.
import * as path from 'node:path';
import type { TypedArray } from '../../../tensor/ir/dtype.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { decodeFrames } from '../../../compiler/lower/index.ts';
import { loadProgram, type ProgramSessions } from '../../session.ts';
import { type TrainResult, train } from '../../train/index.ts';
import { writePeftAdapter } from '../../weights/lora-peft.ts';
import { type MethodRunOptions, shown, trainerOptions, unknownWordsWarning, validationRewards, warmedUpLr, writeRunReport } from '../common/run-steps.ts';
import { RewardEngine } from './engine.ts';
import type { RewardSetup } from './setup.ts';
import { promptSource, validationPrompts } from '../common/prompts.ts';
import { checkPromptClasses } from '../common/reward-networks.ts';
import { initialRewardState, loraAdapter } from '../common/state.ts';
import { randomFrames, totalReward } from '../common/videos.ts';
import { RunWatch } from '../common/watch.ts';

export interface RewardRunOptions extends MethodRunOptions {
  setup: RewardSetup;
}

export interface RewardRunResult extends TrainResult {
  /** The PEFT adapter folder (when the run completed). */
  loraDir?: string;
  reportPath?: string;
}

export async function runReward(options: RewardRunOptions): Promise<RewardRunResult> {
  const { setup, runDir } = options;
  const { plan, lowered, terms } = setup;
  const stderr = options.stderr ?? process.stderr;
  const say = (line: string) => stderr.write(`${line}\n`);
  const prompts = promptSource(plan);
  checkPromptClasses(setup.readers, prompts.list, plan.file);
  const sessions: ProgramSessions = await loadProgram(lowered.program, { device: options.device ?? 'cpu', ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  try {
    const engine = new RewardEngine(plan, lowered, sessions, setup.tokenizer, setup.readers);
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
    const watch = new RunWatch({ plan, lowered, sessions, terms, runDir, say, validationPrompts: valPrompts.length, conditioning: (batch) => engine.conditioning(batch) });

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
          { label: 'watch', value: watch.describe() },
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
              ...cond.own,
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

      async validate(ctx) {
        const { state, rng, videoDir } = ctx;
        const values = await validationRewards({ plan, terms, prompts: valPrompts, batch: B, videoDir, say, generate: (batch) => engine.generate(batch, state, rng), watch: watch.scan() });
        watch.review(ctx, values);
        return values;
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
