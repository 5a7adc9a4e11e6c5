// The consistency objective (T2V-Turbo, arXiv 2405.18750) on the generic trainer
// (runtime/train). Before training, the data block's videos are VAE-encoded once (latents
// cached on disk by content: data.ts, latent-cache.ts). One micro-step:
//
//   1. B (latents, caption) pairs drawn uniformly (stream 'data'); the captions' context and
//      text_embed from `text_encode` (cached per caption), the empty prompt as uncond_context;
//   2. per video a grid index n ~ U{0..steps-1} (stream 'timesteps') -> t_s, t_e, alpha-bars and
//      boundary scalings (cdStepNumbers), and w ~ U[min, max] (stream 'guidance', guidanceScale);
//   3. eps ~ N(0, 1) (stream 'noise'), the decoded frames for the image rewards (random(k): k
//      distinct latent frames from stream 'decode'; frame/every/all: fixed), lr with warm-up;
//   4. `train_step`: the student's one-step prediction, the CFG teacher's DDIM step, the
//      self-target, L_cd, the reward losses on the decoded prediction, clipping, AdamW; it
//      returns the next LoRA / W_proj / AdamW state.
//
// Logged per step: loss, loss.cd, reward (sum of weight x mean reward), reward.<name>,
// loss.<name>, grad_norm, lr, w. Checkpoints hold the LoRA factors and W_proj (lora.safetensors)
// and AdamW (optimizer.safetensors). Validation (before, every N steps, after) samples fixed
// captions from fixed noise with the multistep consistency sampler (sampler consistency steps,
// guidance w), writes one video per caption and logs val/reward.<name> and the reward-hacking
// watch's values (../common/watch.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TypedArray } from '../../../tensor/ir/dtype.ts';
import { cdStepNumbers, decodeFrames, EMA_PREFIX, GUIDANCE_PROJECTION, guidanceScale } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { validationVideoName } from '../../media/video.ts';
import { Rng, type RngStream } from '../../random.ts';
import type { Device } from '../../session.ts';
import { loadProgram, type ProgramSessions } from '../../session.ts';
import { type TensorState, type TrainResult, toWrite, train } from '../../train/index.ts';
import { readSafetensors, writeSafetensors } from '../../weights/safetensors.ts';
import { writePeftAdapter } from '../../weights/lora-peft.ts';
import { type LatentDataset, loadLatentData } from './data.ts';
import { type MethodRunOptions, shown, trainerOptions, unknownWordsWarning, validationRewards, warmedUpLr, writeRunReport } from '../common/run-steps.ts';
import { ConsistencyEngine } from './engine.ts';
import type { ConsistencySetup } from './setup.ts';
import { shapesItem } from '../../../stdlib/data/shapes.ts';
import { listVideoFolder } from '../../data/video-folder.ts';
import { locateLora, readLoraState, initialRewardState, loraAdapter } from '../common/state.ts';
import { promptSource } from '../common/prompts.ts';
import { randomFrames, totalReward, writeBatchVideos } from '../common/videos.ts';
import { RunWatch } from '../common/watch.ts';

type ConsistencyObjective = Extract<Plan['objective'], { name: 'consistency' }>;

export interface ConsistencyRunOptions extends MethodRunOptions {
  setup: ConsistencySetup;
  /** Compiled programs go to <cacheRoot>, latents to <cacheRoot>/latents (default: <runDir>/latents). */
  cacheRoot?: string;
  /** ffmpeg for video_folder data (tests); default found on PATH. */
  ffmpeg?: string | null;
  /**
   * Fixed probe batches (0: none): train_step with lr 0 on the same (latents, n, w, eps) for the
   * initial and the final state, so CD loss and reward compare like with like (tests, bench).
   */
  probeBatches?: number;
}

export interface ProbeValues {
  'loss.cd': number;
  reward: number;
  rewards: Record<string, number>;
}

export interface ConsistencyRunResult extends TrainResult {
  loraDir?: string;
  reportPath?: string;
  data: Pick<LatentDataset, 'total' | 'hits' | 'encoded' | 'skipped' | 'cacheDir'> & { videos: number };
  probe?: { before: ProbeValues; after: ProbeValues };
}

/** `n` distinct captions of the dataset, the same for a seed. */
export function validationCaptions(captions: readonly string[], n: number, seed: number): string[] {
  const unique = [...new Set(captions)];
  const rng = new Rng(seed).fixed('validation-prompts');
  const order = rng.shuffle([...unique]);
  const out = order.slice(0, n);
  while (out.length < n) out.push(order[out.length % order.length]!);
  return out;
}

/** The sampling guidance w: sampler consistency's, else the middle of the training range. */
export function samplingGuidance(plan: Plan): number {
  if (plan.sampler.name === 'consistency') return plan.sampler.guidance;
  const g = (plan.objective as ConsistencyObjective).guidance;
  return g.mode === 'constant' ? g.value : (g.min + g.max) / 2;
}

export async function runConsistency(options: ConsistencyRunOptions): Promise<ConsistencyRunResult> {
  const { setup, runDir } = options;
  const { plan, lowered, terms } = setup;
  const objective = plan.objective as ConsistencyObjective;
  const stderr = options.stderr ?? process.stderr;
  const say = (line: string) => stderr.write(`${line}\n`);
  const sessions: ProgramSessions = await loadProgram(lowered.program, { device: options.device ?? 'cpu', ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  try {
    const engine = new ConsistencyEngine(plan, lowered, sessions, setup.tokenizer, setup.readers);
    const B = engine.batch;
    const cacheDir = options.cacheRoot ? path.join(options.cacheRoot, 'latents') : path.join(runDir, 'latents');
    const data = await loadLatentData({
      plan, vaeIdentity: setup.vaeIdentity, cacheDir, batch: B, say,
      encode: (videos) => engine.encode(videos),
      ...(options.ffmpeg !== undefined ? { ffmpeg: options.ffmpeg } : {}),
    });
    const trainStep = sessions.graph('train_step');
    const accumulate = plan.train.accumulate;
    const decode = decodeFrames(plan);
    const T = plan.derived.latent_shape[1];
    const opt = plan.train.optimizer;
    const solver = objective.teacher_solver;
    const initial = initialRewardState(lowered);
    const stateNames = Object.keys(initial);
    const valCaptions = validationCaptions(data.items.map((i) => i.caption), plan.train.validate?.prompts ?? Math.min(2, B * 2), plan.train.seed);
    const guidanceW = samplingGuidance(plan);
    const latentSize = engine.latentSize;
    const g = objective.guidance;
    const warnUnknown = unknownWordsWarning(engine.unknown, say);
    const watch = new RunWatch({ plan, lowered, sessions, terms, runDir, say, validationPrompts: valCaptions.length, conditioning: (batch) => engine.conditioning(batch) });

    /** One train_step call: a batch, n and w per video, eps, decode frames from the named streams. */
    const runStep = async (stream: (name: string) => RngStream, state: Readonly<TensorState>, lr: number, apply: boolean, microIndex: number) => {
      const dataRng = stream('data');
      const batch = Array.from({ length: B }, () => data.items[dataRng.int(data.items.length)]!);
      const cond = await engine.conditioning(batch.map((i) => i.caption));
      const z0 = new Float32Array(B * latentSize);
      batch.forEach((item, i) => z0.set(item.latents, i * latentSize));
      const ts = stream('timesteps');
      const numbers = Array.from({ length: B }, () => cdStepNumbers(solver, ts.int(solver.steps)));
      const gs = stream('guidance');
      const w = Float32Array.from({ length: B }, () => guidanceScale(g, gs.uniform()));
      const per = (f: (n: (typeof numbers)[number]) => number) => Float32Array.from(numbers, f);
      const eps = stream('noise').fillNormal(new Float32Array(B * latentSize));
      const frameIndices = decode.fixed ? BigInt64Array.from(decode.fixed, BigInt) : randomFrames(stream('decode'), T, decode.count);
      const out = await trainStep.run(
        engine.feedsFor(
          trainStep,
          {
            z0, eps,
            t_s: per((n) => n.tS), t_e: per((n) => n.tE), alpha_s: per((n) => n.alphaS), alpha_e: per((n) => n.alphaE),
            c_skip_s: per((n) => n.cSkipS), c_out_s: per((n) => n.cOutS), c_skip_e: per((n) => n.cSkipE), c_out_e: per((n) => n.cOutE),
            guidance: w,
            context: cond.context,
            uncond_context: cond.uncond,
            text_embed: cond.textEmbed,
              ...cond.own,
            frame_indices: frameIndices,
            lr: Float32Array.of(lr),
            apply: Uint8Array.of(apply ? 1 : 0),
            seed: BigInt64Array.of(BigInt(plan.train.seed)),
            dropout_step: BigInt64Array.of(BigInt(microIndex)),
          },
          state,
        ),
      );
      return { out, w };
    };

    /**
     * Mean CD loss and rewards of `state` on fixed batches (lr 0: nothing is updated). The target
     * is the student itself (an EMA copy is set to the student), so probes of different runs and
     * of ema = 0 and ema > 0 measure the same self-consistency.
     */
    const probe = async (given: Readonly<TensorState>, batches: number): Promise<ProbeValues> => {
      const state: TensorState = { ...given };
      for (const name of Object.keys(state)) if (name.startsWith(EMA_PREFIX)) state[name] = state[name.slice(EMA_PREFIX.length)]!;
      const fixed = new Rng(plan.train.seed);
      const streams = new Map<string, RngStream>();
      const stream = (name: string) => streams.get(name) ?? streams.set(name, fixed.fixed(`probe:${name}`)).get(name)!;
      let cd = 0;
      const sums: Record<string, number> = {};
      for (let i = 0; i < batches; i++) {
        const { out } = await runStep(stream, state, 0, true, 0);
        cd += (out['loss.cd'] as Float32Array)[0]!;
        for (const name of Object.keys(out)) if (name.startsWith('reward.')) sums[name.slice(7)] = (sums[name.slice(7)] ?? 0) + (out[name] as Float32Array)[0]! / batches;
      }
      return { 'loss.cd': cd / batches, reward: totalReward(terms, sums), rewards: sums };
    };
    const probeBatches = options.probeBatches ?? 0;
    const before = probeBatches > 0 ? await probe(initial, probeBatches) : undefined;

    const result = await train({
      ...trainerOptions(plan, setup.hash, lowered, initial, { ...options, runDir, stderr }),
      banner: {
        title: `vplc run ${plan.name}: T2V-Turbo consistency distillation`,
        batch: B,
        // student (grad) + teacher [uncond; cond] + target student
        evaluationsPerMicroStep: 4 * B,
        items: [
          { label: 'model', value: `${plan.model.name} ${plan.model.frames} frames ${plan.model.size.height}x${plan.model.size.width}` },
          { label: 'weights', value: setup.weightsDescription },
          { label: 'data', value: `${plan.data?.name}: ${data.items.length} videos (${data.hits} cached latents, ${data.encoded} encoded, ${data.skipped.length} skipped)` },
          { label: 'teacher', value: `DDIM ${solver.steps} steps (skip ${solver.skip}), CFG w ~ ${g.mode === 'constant' ? g.value : `U[${g.min}, ${g.max}]`}` },
          { label: 'student', value: `LoRA rank ${plan.lora.rank}${objective.guidance_embedding ? ' + guidance embedding W_proj' : ''}; sampled in ${lowered.consistencySampler.length} steps` },
          { label: 'target', value: objective.ema > 0 ? `EMA of the student's weights (rate ${objective.ema}), no gradient` : 'the student itself, no gradient' },
          { label: 'loss', value: `${objective.distance.mode === 'huber' ? `huber(${objective.distance.c})` : 'l2'}${terms.length > 0 ? ` + ${terms.map((t) => `${t.weight} * ${t.reward}`).join(' + ')}` : ''}` },
          { label: 'watch', value: watch.describe() },
          { label: 'device', value: sessions.device },
        ],
      },

      async microStep({ step, micro, state, rng }) {
        const lr = warmedUpLr(opt, step);
        const { out, w } = await runStep((name) => rng.stream(name), state, lr, micro === accumulate - 1, step * accumulate + micro);
        warnUnknown();
        const scalar = (name: string) => (out[name] as Float32Array)[0]!;
        const rewards: Record<string, number> = {};
        const values: Record<string, number> = { lr, grad_norm: scalar('grad_norm'), 'loss.cd': scalar('loss.cd'), w: w.reduce((a, b) => a + b, 0) / B };
        for (const name of Object.keys(out)) {
          if (name.startsWith('reward.')) {
            rewards[name.slice(7)] = scalar(name);
            values[name] = scalar(name);
          } else if (name.startsWith('loss.') && !name.endsWith('_out')) values[name] = scalar(name);
        }
        if (terms.length > 0) values.reward = totalReward(terms, rewards);
        const next: Record<string, TypedArray> = {};
        for (const s of stateNames) next[s] = out[`${s}_out`]!;
        return { loss: scalar('loss'), values, state: next };
      },

      async validate(ctx) {
        const { state, rng, videoDir } = ctx;
        const values = await validationRewards({ plan, terms, prompts: valCaptions, batch: B, videoDir, say, generate: (batch) => engine.generate(batch, state, rng, guidanceW), watch: watch.scan() });
        watch.review(ctx, values);
        return values;
      },
    });

    const dataSummary = { total: data.total, hits: data.hits, encoded: data.encoded, skipped: data.skipped, cacheDir: data.cacheDir, videos: data.items.length };
    if (result.status !== 'completed') return { ...result, data: dataSummary };
    let probed: ConsistencyRunResult['probe'];
    if (before) {
      const after = await probe(result.state, probeBatches);
      probed = { before, after };
      say(`probe (${probeBatches} fixed batches): loss.cd ${before['loss.cd'].toPrecision(4)} -> ${after['loss.cd'].toPrecision(4)}, reward ${before.reward.toPrecision(4)} -> ${after.reward.toPrecision(4)}`);
    }
    const loraDir = path.join(runDir, 'lora');
    await writePeftAdapter(loraDir, loraAdapter(plan, lowered, result.state, plan.model.name));
    const wProj = result.state[GUIDANCE_PROJECTION];
    if (wProj) await writeSafetensors(path.join(loraDir, GUIDANCE_FILE), [toWrite(GUIDANCE_PROJECTION, wProj)]);
    const reportPath = writeRunReport(runDir, say);
    say(`wrote ${shown(loraDir)}/ (LoRA in PEFT layout, W_proj in ${GUIDANCE_FILE}) and ${shown(reportPath)}`);
    return { ...result, loraDir, reportPath, data: dataSummary, ...(probed ? { probe: probed } : {}) };
  } finally {
    await sessions.release();
  }
}

// ---------------------------------------------------------------- sampling (vplc sample)

/** Where runConsistency puts W_proj next to the PEFT adapter (<runDir>/lora/). */
export const GUIDANCE_FILE = 'guidance_embedding.safetensors';

/**
 * The student's state from --lora: a checkpoint's lora.safetensors (LoRA + W_proj), or a PEFT
 * folder / run folder (LoRA from the adapter, W_proj from guidance_embedding.safetensors
 * beside it). Without a path: the base model (B = 0, W_proj = 0).
 */
export async function readConsistencyState(given: string | undefined, lowered: ConsistencySetup['lowered'], say: (line: string) => void = () => {}): Promise<TensorState> {
  if (given === undefined) return initialStudentState(lowered);
  // a run folder or its lora/: the newest checkpoint's lora.safetensors holds every factor and W_proj
  for (const run of [given, path.dirname(given)]) {
    const ckpts = path.join(run, 'checkpoints');
    if (!fs.existsSync(ckpts) || (run !== given && path.basename(given) !== 'lora')) continue;
    const steps = fs.readdirSync(ckpts).filter((d) => /^step-\d+$/.test(d) && fs.existsSync(path.join(ckpts, d, 'lora.safetensors'))).sort();
    if (steps.length > 0) return readLoraState(path.join(ckpts, steps[steps.length - 1]!, 'lora.safetensors'), lowered);
  }
  const where = locateLora(given);
  if (where.kind === 'file') return readLoraState(where.file, lowered);
  const hasProj = lowered.trainable.some((p) => p.name === GUIDANCE_PROJECTION);
  const state = await readLoraState(where.dir, { ...lowered, trainable: lowered.trainable.filter((p) => p.name !== GUIDANCE_PROJECTION) });
  if (hasProj) {
    const init = initialStudentState(lowered)[GUIDANCE_PROJECTION]!;
    const file = path.join(where.dir, GUIDANCE_FILE);
    if (fs.existsSync(file)) {
      const t = (await readSafetensors(file)).tensors.get(GUIDANCE_PROJECTION);
      if (!t || t.data.length !== init.data.length) throw new Error(`${file}: no ${GUIDANCE_PROJECTION} of ${init.shape.join('x')}`);
      init.data = Float32Array.from(t.data as Float32Array);
    } else say(`warning: ${file} is not there: the guidance embedding W_proj stays zero`);
    state[GUIDANCE_PROJECTION] = init;
  }
  return state;
}

/** LoRA factors and W_proj at their initial values (the base model). */
export function initialStudentState(lowered: ConsistencySetup['lowered']): TensorState {
  const state: TensorState = {};
  for (const p of lowered.trainable) state[p.name] = { dtype: 'float32', shape: [...p.shape], data: Float32Array.from(lowered.params.initialValue(p.name) as Float32Array) };
  return state;
}

export interface ConsistencySampleOptions {
  setup: ConsistencySetup;
  prompts: string[];
  outDir: string;
  seed: number;
  /** The student's state (LoRA + W_proj): a checkpoint's lora.safetensors, read by the caller. */
  state: TensorState;
  device?: Device;
  cacheRoot?: string;
  say?: (line: string) => void;
}

/** Videos from the student with the multistep consistency sampler, one per prompt. */
export async function sampleConsistency(options: ConsistencySampleOptions): Promise<{ files: string[]; rewards: { prompt: string; reward: number }[] }> {
  const { setup } = options;
  const { plan, lowered } = setup;
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sessions = await loadProgram(lowered.program, { device: options.device ?? 'cpu', ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  try {
    const engine = new ConsistencyEngine(plan, lowered, sessions, setup.tokenizer, setup.readers);
    const files: string[] = [];
    const rewards: { prompt: string; reward: number }[] = [];
    fs.mkdirSync(options.outDir, { recursive: true });
    for (let i = 0; i < options.prompts.length; i++) {
      const rng: RngStream = new Rng(options.seed).fixed(`sample:${i}`);
      const prompt = options.prompts[i]!;
      const decoded = await engine.generate(Array.from({ length: engine.batch }, () => prompt), options.state, rng, samplingGuidance(plan));
      const name = path.join(options.outDir, path.basename(validationVideoName(0, i, prompt)));
      const written = await writeBatchVideos(plan, decoded.frames, engine.batch, [name], say);
      files.push(...written);
      const reward = totalReward(setup.terms, decoded.rewards);
      rewards.push({ prompt, reward });
      say(`${written.map((f) => path.relative(process.cwd(), f) || f).join(', ')}  (reward ${reward.toPrecision(4)})`);
    }
    return { files, rewards };
  } finally {
    await sessions.release();
  }
}

/** Prompts for `vplc sample` without --prompt: the pipeline's prompts, else captions of its data. */
export function consistencySamplePrompts(plan: Plan, n: number): string[] {
  let captions: string[];
  const data = plan.data;
  if (plan.prompts) captions = Array.from({ length: 64 }, (_, i) => promptSource(plan).sample(new Rng(plan.train.seed).fixed(`prompt:${i}`)));
  else if (data?.name === 'tiny_shapes') captions = Array.from({ length: data.count }, (_, i) => shapesItem(data.seed, i, { frames: 1, height: 8, width: 8 }).caption);
  else if (data?.name === 'video_folder') captions = listVideoFolder(path.resolve(plan.dir, data.path), { captions: path.resolve(plan.dir, data.captions) }).map((e) => e.caption);
  else captions = ['a red circle moving left'];
  return validationCaptions(captions, n, plan.train.seed);
}
