// Lowering of the consistency objective (T2V-Turbo, arXiv 2405.18750): Plan -> Program.
//
//   text_encode       tokens [B, L] int64 -> context [B, L, D], text_embed [B, E] (and each learned
//                     reward's own tokens.<name> -> text_embed.<name>). Frozen; run for
//                     the captions and once for the empty prompt (-> uncond_context).
//   encode_video      video [B, 3, F, H, W] in [-1, 1], noise [B, C, T, h, w] -> z0 = (mean +
//                     exp(logvar / 2) noise) * scale_factor (a draw of the VAE posterior; zero
//                     noise gives the mean). Frozen.
//   train_step        one consistency-distillation step with reward feedback:
//                       z_s    = sqrt(a_s) z0 + sqrt(1 - a_s) eps
//                       e_hat  = student(z_s, t_s, text, fps, w)       UNet + LoRA + W_proj emb
//                       x0_hat = (z_s - sqrt(1 - a_s) e_hat) / sqrt(a_s)
//                       pred   = c_skip(t_s) z_s + c_out(t_s) x0_hat
//                       teacher (frozen base UNet: no LoRA, no guidance embedding), one batched
//                       call on [uncond; cond]: x0 = x0_c + w (x0_c - x0_u), eps likewise
//                       x_prev = sqrt(a_e) x0 + sqrt(1 - a_e) eps       (DDIM, eta 0, to t_e)
//                       target = stopGradient(c_skip(t_e) x_prev + c_out(t_e) x0_student(x_prev, t_e, w))
//                       L_cd   = mean(sqrt((pred - target)^2 + c^2) - c)  (huber(c))  | mean((pred - target)^2)  (l2)
//                       L      = L_cd + sum_i beta_i loss_i(R_i)         rewardMix's loss forms, on
//                                the VAE decode of `pred` (the student's one-step x0): image rewards
//                                on the frames `frame_indices` (objective.decode), video rewards on
//                                n evenly strided frames (n = the reward's `frames`, else all).
//                     gradients into the LoRA factors and W_proj, [accumulation], global-norm
//                     clipping, AdamW; remat of UNet/VAE/CLIP segments when plan.train.remat.
//   consistency_step  one step of the multistep consistency sampler (no CFG: w embedded), see
//                     stdlib/samplers/consistency-sampler.ts.
//
// Sign convention: rewardMix returns sum_i beta_i loss_i with loss_i the reward's own loss form
// (hps: mean(1 - r), viclip and analytic rewards: -mean(r), ...), so L = L_cd - sum_i beta_i R_i
// up to constants, which is the paper's L = L_CD - b_img R_img - b_vid R_vid.
//
// Interface naming (stable; the runtime drives the graphs by these names):
//   state     LoRA factors `<module>.lora_A.weight` / `.lora_B.weight`, the guidance projection
//             `guidance_embedding.weight` [modelChannels, 256] (zero-initialised, trainable; when
//             objective.guidance_embedding), AdamW `adam.m.<p>`, `adam.v.<p>`, `adam.step` (int64
//             []), `acc.<p>` when accumulate > 1, `ema.<p>` when objective.ema > 0. train_step
//             outputs the next state as `<name>_out`.
//   per step  z0, eps [B, C, T, h, w]; t_s, t_e, alpha_s, alpha_e, c_skip_s, c_out_s, c_skip_e,
//             c_out_e float32 [B] (cdStepNumbers(plan, n) of a grid index n drawn per video);
//             guidance [B] (w: guidanceScale(plan, u)); context / uncond_context [B, L, D];
//             what the rewards read of the prompt (../../lower/reward-inputs.ts); frame_indices [k] int64 (when an image
//             reward is mixed in); lr float32 []; apply bool [] (accumulate > 1); seed /
//             dropout_step int64 [] (LoRA dropout > 0).
//   outputs   loss, loss.cd, reward.<name>, loss.<name>, grad_norm, frames (decoded image-reward
//             frames [B k, 3, H, W], when there are image rewards), the state outputs.
//
// EMA target (objective.ema = r > 0): the target branch is the student's network over graph
// inputs `ema.<p>` (one per trainable p: LoRA factors, W_proj), and train_step outputs
// `ema.<p>_out` = r ema.<p> + (1 - r) <p>_out after the optimizer (only when it applies). The
// runtime starts them at the student's initial values and checkpoints them with the optimizer.
import { stopGradient } from '../../../tensor/autodiff/grad.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { buildTextEncodeGraph } from '../../lower/text-encode.ts';
import { declareRewardPromptInputs, rewardPromptFeeds, withHeldOut } from '../../lower/reward-inputs.ts';
import { appendOptimizerStep, applyPrecision, nameOutput, weightManifest } from '../../lower/training-step.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { rematerialize } from '../../../tensor/passes/remat.ts';
import type { DistancePlan, GuidancePlan, Plan, RewardTerm, SolverPlan } from '../../plan.ts';
import type { Program, ScheduleEntry } from '../../../tensor/program/program.ts';
import { rewardScoresVideo } from '../../../stdlib/catalogue/index.ts';
import { framesFirst } from '../../../stdlib/models/common.ts';
import { familyOf } from '../../../stdlib/models/families.ts';
import { buildVaeDecoder, encodeVideo } from '../../../stdlib/models/vae/index.ts';
import { init, linear, type NN, type ParameterInfo, shadowTrainable, sinusoidalTimestepEmbedding } from '../../../stdlib/nn/index.ts';
import { type LoraModule, withLora } from '../../../stdlib/nn/lora.ts';
import { rewardMix, type RewardMixResult } from '../../../stdlib/rewards/mix.ts';
import { rewardBuilders } from '../../lower/reward-builders.ts';
import { consistencyScalings } from '../../../stdlib/samplers/consistency.ts';
import { buildConsistencyStepGraph, type ConsistencySamplerStep, consistencySamplerSchedule } from '../../../stdlib/samplers/consistency-sampler.ts';
import { type DdimStepParams, defaultAlphasCumprod } from '../../../stdlib/samplers/schedule.ts';
import { dedupeModules, describeGraph, type GraphInterface, loweringBasis, type LoweredProgram, LoweringError, type LowerOptions, sharedDoc } from '../../lower/contract.ts';
import { buildDecodeAllGraph } from '../../lower/decode-all.ts';
import { buildWatchGraph, WATCH_GRAPH, watchDocs, watchSettings } from '../../lower/watch.ts';
import { decodeCount } from '../../check/build.ts';
import { callDenoiser } from '../../lower/denoiser-call.ts';

/** Prefix of the EMA target network's weights (state `ema.<p>` for every trainable p). */
export const EMA_PREFIX = 'ema.';

/** Width of the sinusoidal guidance-scale features (T2V-Turbo: 256). */
export const GUIDANCE_EMBEDDING_DIM = 256;
/** Name of the guidance projection W_proj [modelChannels, 256]. */
export const GUIDANCE_PROJECTION = 'guidance_embedding.weight';

export interface ConsistencyLoweredProgram extends LoweredProgram {
  /** The teacher's solver grid (ascending): (i + 1) skip - 1. */
  grid: number[];
  /** The multistep sampler's numbers (consistency_step), in sampling order. */
  consistencySampler: ConsistencySamplerStep[];
  /** Latent frames each video reward scores (evenly strided), by reward name. */
  videoFrames: Record<string, number[]>;
}

/** The distillation grid of the teacher solver: (i + 1) skip - 1 for i in 0..steps-1. */
export function distillationGrid(solver: Pick<SolverPlan, 'steps' | 'skip'>): number[] {
  return Array.from({ length: solver.steps }, (_, i) => (i + 1) * solver.skip - 1);
}

/** The train_step numbers of grid index n (feeds t_s ... c_out_e, one entry per video). */
export interface CdStepNumbers {
  index: number;
  tS: number;
  tE: number;
  alphaS: number;
  alphaE: number;
  cSkipS: number;
  cOutS: number;
  cSkipE: number;
  cOutE: number;
}

/** t_s = grid[n], t_e = max(t_s - skip, 0), alpha-bar at both and the boundary scalings at both. */
export function cdStepNumbers(solver: Pick<SolverPlan, 'steps' | 'skip'>, index: number, alphas: readonly number[] = defaultAlphasCumprod()): CdStepNumbers {
  const grid = distillationGrid(solver);
  if (!Number.isInteger(index) || index < 0 || index >= grid.length) throw new LoweringError(`distillation grid index ${index} is not in 0..${grid.length - 1}`);
  const tS = grid[index];
  const tE = Math.max(tS - solver.skip, 0);
  const s = consistencyScalings(tS);
  const e = consistencyScalings(tE);
  return { index, tS, tE, alphaS: alphas[tS], alphaE: alphas[tE], cSkipS: s.cSkip, cOutS: s.cOut, cSkipE: e.cSkip, cOutE: e.cOut };
}

/** The guidance scale w for a uniform draw u in [0, 1). */
export function guidanceScale(guidance: GuidancePlan, u: number): number {
  return guidance.mode === 'constant' ? guidance.value : guidance.min + (guidance.max - guidance.min) * u;
}

/** n evenly strided frames of `total` (floor(i total / n)). */
export function stridedFrames(total: number, n: number): number[] {
  const k = Math.max(1, Math.min(n, total));
  return Array.from({ length: k }, (_, i) => Math.floor((i * total) / k));
}

/** The distance between the student's prediction and the target, as a scalar mean. */
export function consistencyDistance(b: Builder, pred: Value, target: Value, distance: DistancePlan): Value {
  return b.within('distance', () => {
    const d = b.sub(pred, target);
    const sq = b.mul(d, d);
    if (distance.mode === 'l2') return b.reduceMean(sq, undefined, false);
    const c = b.scalarLike(d, distance.c);
    return b.reduceMean(b.sub(b.sqrt(b.add(sq, b.mul(c, c))), c), undefined, false);
  });
}

/** JS reference of consistencyDistance. */
export function consistencyDistanceReference(pred: ArrayLike<number>, target: ArrayLike<number>, distance: DistancePlan): number {
  let sum = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - target[i];
    sum += distance.mode === 'l2' ? d * d : Math.sqrt(d * d + distance.c * distance.c) - distance.c;
  }
  return sum / pred.length;
}

/** sin/cos features of 1000 w (LCM's guidance_scale_embedding: [sin, cos], freqs exp(-ln 1e4 i / (half - 1))). */
export function guidanceFeatures(b: Builder, w: Value, dim = GUIDANCE_EMBEDDING_DIM): Value {
  return sinusoidalTimestepEmbedding(b, b.mul(b.cast(w, 'float32'), b.scalar(1000)), dim, { flipSinToCos: false, downscaleFreqShift: 1 });
}


const isVideoReward = (term: RewardTerm) => rewardScoresVideo(term.reward);

export function lowerConsistency(plan: Plan, options: LowerOptions = {}): ConsistencyLoweredProgram {
  const objective = plan.objective;
  if (objective.name !== 'consistency') throw new LoweringError(`lowerConsistency: objective '${objective.name}' is not 'consistency'`);
  if (objective.teacher_solver.eta !== 0) throw new LoweringError(`the teacher's DDIM solver is lowered with eta = 0 only (got ${objective.teacher_solver.eta})`);
  const { build, params, B, latentShape, L, D, rewardConfigs } = loweringBasis(plan, options);
  const T = plan.derived.latent_shape[1];
  const mc = familyOf(build.denoiser).timeFeatureWidth(build.denoiser);
  const embedGuidance = objective.guidance_embedding;
  const interfaces: Record<string, GraphInterface> = {};
  /** Each LoRA-adapted graph's module list (filled while the graph is built). */
  const loraModules: LoraModule[][] = [];
  const describe = (graph: Graph) => {
    interfaces[graph.name] = describeGraph(graph, docOf);
  };
  const loraNN = (b: Builder, rng?: { seed: Value; step: Value }) => {
    const made = withLora({ b, params }, { ...plan.lora, table: familyOf(build.denoiser).loraTargets, family: build.denoiser.family, dropoutRng: rng });
    loraModules.push(made.modules);
    return made.nn;
  };
  /** W_proj(sinusoidal(1000 w)): [B, modelChannels]; a plain NN, so LoRA never adapts it. */
  const guidanceEmbedding = (nn: NN, guidance: Value): Value =>
    linear({ b: nn.b, params: nn.params }, 'guidance_embedding', guidanceFeatures(nn.b, guidance), { out: mc, bias: false, weightInit: init.zeros(), trainable: true });
  const unet = (nn: NN, x: Value, t: Value, context: Value, extra?: Value): Value =>
    callDenoiser(nn, build, plan, { x, timesteps: t, context, ...(extra ? { extraTimeEmbedding: extra } : {}) });
  /** The student: UNet + LoRA (+ the guidance embedding): eps_hat. */
  const student = (nn: NN, x: Value, t: Value, context: Value, guidance: Value): Value =>
    unet(nn, x, t, context, embedGuidance ? guidanceEmbedding(nn, guidance) : undefined);

  // ---------------------------------------------------------------- text_encode
  const text = buildTextEncodeGraph(params, build, B, { terms: withHeldOut(plan, objective.reward), configs: rewardConfigs });
  describe(text);

  // ---------------------------------------------------------------- encode_video
  const encode = new Graph('encode_video');
  {
    const b = new Builder(encode);
    const nn: NN = { b, params };
    const video = b.input('video', [B, build.vae.inChannels, plan.model.frames, plan.model.size.height, plan.model.size.width]);
    const noise = b.input('noise', latentShape);
    const { mean, logvar } = b.within('vae', () => encodeVideo(nn, build.vae, video));
    if (mean.shape.some((d, i) => d !== latentShape[i])) throw new LoweringError(`the VAE encodes [${video.shape.join(', ')}] to [${mean.shape.join(', ')}], not the plan's latents [${latentShape.join(', ')}]`);
    const z = b.add(mean, b.mul(b.exp(b.mul(logvar, b.scalar(0.5))), noise));
    nameOutput(encode, b.mul(z, b.scalar(build.vae.scaleFactor)), 'z0');
    eliminateDeadCode(encode);
    describe(encode);
  }

  // ---------------------------------------------------------------- train_step
  const train = new Graph('train_step');
  const terms = objective.reward;
  const imageTerms = terms.filter((t) => !isVideoReward(t));
  const videoTerms = terms.filter(isVideoReward);
  const imageCount = imageTerms.length > 0 ? decodeCount(objective.decode, T) : 0;
  const videoFrames: Record<string, number[]> = {};
  for (const term of videoTerms) {
    const n = typeof term.params.frames === 'number' ? term.params.frames : T;
    videoFrames[term.reward] = stridedFrames(T, n);
  }
  const trainable: ParameterInfo[] = [];
  {
    const b = new Builder(train);
    const z0 = b.input('z0', latentShape);
    const eps = b.input('eps', latentShape);
    const per = (name: string) => b.input(name, [B]);
    const tS = per('t_s');
    const tE = per('t_e');
    const aS = per('alpha_s');
    const aE = per('alpha_e');
    const cSkipS = per('c_skip_s');
    const cOutS = per('c_out_s');
    const cSkipE = per('c_skip_e');
    const cOutE = per('c_out_e');
    const guidance = per('guidance');
    const context = b.input('context', [B, L, D]);
    const uncond = b.input('uncond_context', [B, L, D]);
    const prompt = declareRewardPromptInputs(b, terms, B, build, rewardConfigs);
    const frameIndices = imageCount > 0 ? b.input('frame_indices', [imageCount], 'int64') : undefined;
    const lr = b.input('lr', []);
    const adamStep = b.input('adam.step', [], 'int64');
    const accumulate = plan.train.accumulate;
    const apply = accumulate > 1 ? b.input('apply', [], 'bool') : undefined;
    const rng = plan.lora.dropout > 0 ? { seed: b.input('seed', [], 'int64'), step: b.input('dropout_step', [], 'int64') } : undefined;

    const bc = (v: Value) => b.reshape(v, [B, 1, 1, 1, 1]); // per-video numbers against latents
    const one = b.scalar(1);
    const sqrt1m = (a: Value) => b.sqrt(b.sub(one, a));
    const x0Of = (x: Value, e: Value, a: Value) => b.div(b.sub(x, b.mul(bc(sqrt1m(a)), e)), bc(b.sqrt(a)));
    const boundary = (x: Value, x0: Value, cSkip: Value, cOut: Value) => b.within('consistency', () => b.add(b.mul(bc(cSkip), x), b.mul(bc(cOut), x0)));

    // noisy latents at t_s and the student's one-step prediction (with gradient)
    const zS = b.within('add_noise', () => b.add(b.mul(bc(b.sqrt(aS)), z0), b.mul(bc(sqrt1m(aS)), eps)));
    const studentNN = loraNN(b, rng);
    const epsHat = student(studentNN, zS, tS, context, guidance);
    const pred = boundary(zS, x0Of(zS, epsHat, aS), cSkipS, cOutS);

    // teacher: frozen base UNet, [uncond; cond] in one call, guided x0 and eps, DDIM (eta 0) to t_e
    // (no scopes around model calls: parameter names come from the scope)
    const xPrev = (() => {
      const plain: NN = { b, params };
      const both = unet(plain, b.concat([zS, zS], 0), b.concat([tS, tS], 0), b.concat([uncond, context], 0));
      const [eu, ec] = b.split(both, 0, [B, B]);
      const x0u = x0Of(zS, eu, aS);
      const x0c = x0Of(zS, ec, aS);
      const wb = bc(guidance);
      const guide = (c: Value, u: Value) => b.add(c, b.mul(wb, b.sub(c, u)));
      const x0 = guide(x0c, x0u);
      const e = guide(ec, eu);
      return stopGradient(b, b.add(b.mul(bc(b.sqrt(aE)), x0), b.mul(bc(sqrt1m(aE)), e)));
    })();

    // target at (x_prev, t_e), without gradient: the student itself (no dropout), or with ema > 0
    // the same network over the EMA copies `ema.<p>` of its trainable weights
    const target = (() => {
      const targetNN = objective.ema > 0
        ? withLora({ b, params: shadowTrainable(params, EMA_PREFIX) }, { ...plan.lora, table: familyOf(build.denoiser).loraTargets, family: build.denoiser.family }).nn
        : loraNN(b);
      const epsT = student(targetNN, xPrev, tE, context, guidance);
      return stopGradient(b, boundary(xPrev, x0Of(xPrev, epsT, aE), cSkipE, cOutE));
    })();
    const lossCd = consistencyDistance(b, pred, target, objective.distance);

    // reward feedback on the decoded one-step prediction
    let loss = lossCd;
    const mixes: RewardMixResult[] = [];
    let imageFrames: Value | undefined;
    if (terms.length > 0) {
      const plain: NN = { b, params };
      const builders = rewardBuilders(plain, build, rewardConfigs);
      const decodeAt = (indices: Value, n: number) => {
        const frames = b.within('vae', () => buildVaeDecoder(plain, build.vae, framesFirst(plain, b.gather(pred, indices, 2)), { scaled: true }));
        return { frames, n };
      };
      if (imageTerms.length > 0) {
        const { frames } = decodeAt(frameIndices!, imageCount);
        imageFrames = frames;
        mixes.push(rewardMix(b, imageTerms, { frames, framesPerVideo: imageCount, ...prompt }, builders));
      }
      const byFrames = new Map<string, RewardTerm[]>();
      for (const term of videoTerms) {
        const key = videoFrames[term.reward].join(',');
        byFrames.set(key, [...(byFrames.get(key) ?? []), term]);
      }
      for (const [key, group] of byFrames) {
        const idx = key.split(',').map(Number);
        const { frames } = decodeAt(b.constantOf(idx, [idx.length], 'int64', 'video_frames'), idx.length);
        mixes.push(rewardMix(b, group, { frames, framesPerVideo: idx.length, ...prompt }, builders));
      }
      for (const mix of mixes) loss = b.add(loss, mix.loss);
    }

    const names = new Set(params.trainable().map((p) => p.name));
    const wrt = train.inputs.filter((v) => names.has(v.name));
    for (const v of wrt) trainable.push(params.list().find((p) => p.name === v.name)!);
    if (!wrt.some((v) => v.name.includes('.lora_'))) throw new LoweringError(`LoRA targets [${plan.lora.targets.join(', ')}] match no layer of ${plan.model.name}`);
    nameOutput(train, loss, 'loss');
    nameOutput(train, lossCd, 'loss.cd');
    for (const mix of mixes) {
      for (const [name, v] of Object.entries(mix.rewards)) nameOutput(train, v, `reward.${name}`);
      for (const [name, v] of Object.entries(mix.losses)) nameOutput(train, v, `loss.${name}`);
    }
    if (imageFrames) nameOutput(train, imageFrames, 'frames');
    // the forward pass as rematerialize counts it: after the precision casts and the named outputs
    const { forwardNodes } = appendOptimizerStep(b, plan, { loss: loss, wrt: wrt, lr, adamStep, apply, accumulate, precision: options.precision });
    if (objective.ema > 0) appendEmaUpdate(b, wrt, objective.ema, apply);
    if (plan.train.remat) rematerialize(train, { forwardNodes });
    eliminateDeadCode(train);
    describe(train);
  }

  // ---------------------------------------------------------------- consistency_step
  const samplerSteps = plan.sampler.name === 'consistency' ? plan.sampler.steps : 4;
  const step = buildConsistencyStepGraph({
    latentShape,
    contextShape: [B, L, D],
    student: (b, x, t, context, guidance) => student(loraNN(b), x, t, context, guidance),
  });
  applyPrecision(step, options.precision);
  eliminateDeadCode(step);
  describe(step);

  const alphas = defaultAlphasCumprod();
  const consistencySampler = consistencySamplerSchedule(samplerSteps, alphas, objective.teacher_solver.steps);
  const sampler: DdimStepParams[] = consistencySampler.map((s) => ({
    index: s.index, t: s.t, tPrev: s.tNext, alphaT: s.alphaT, alphaPrev: s.alphaNext, sigma: 0, scaleT: 1, scalePrev: 1,
  }));
  const decodeAll = buildDecodeAllGraph(plan, params, build, terms, { rewardConfigs });
  describe(decodeAll);
  // the reward-hacking watch at validation (../../lower/watch.ts)
  const watch = buildWatchGraph(plan, params, build, terms, watchSettings(plan)!, { rewardConfigs });
  interfaces[watch.graph.name] = describeGraph(watch.graph, docOf, watchDocs(watch.info));
  const program: Program = {
    name: plan.name,
    graphs: { text_encode: text, encode_video: encode, train_step: train, consistency_step: step, decode_all: decodeAll, [WATCH_GRAPH]: watch.graph },
    schedule: consistencySchedule(plan, trainable, rewardPromptFeeds(terms), imageCount, samplerSteps),
    weights: weightManifest(params),
  };
  const lora = dedupeModules(loraModules.flat());
  return {
    program, params, lora, trainable, sampler, backpropSteps: 1, decodedFrames: imageCount, interfaces, watch: watch.info,
    grid: distillationGrid(objective.teacher_solver), consistencySampler, videoFrames,
  };
}

/**
 * After the optimizer: `ema.<p>_out` = rate ema.<p> + (1 - rate) <p>_out for every trainable p
 * (LCM's update_ema, once per optimizer step: unchanged on micro-steps that do not apply).
 */
function appendEmaUpdate(b: Builder, wrt: readonly Value[], rate: number, apply: Value | undefined): void {
  const graph = b.graph;
  for (const p of wrt) {
    const ema = graph.inputs.find((v) => v.name === `${EMA_PREFIX}${p.name}`);
    if (!ema) throw new LoweringError(`internal: the EMA target network does not use '${p.name}'`);
    const next = graph.outputs.find((v) => v.name === `${p.name}_out`)!;
    let out = b.add(b.mul(ema, b.scalarLike(ema, rate)), b.mul(next, b.scalarLike(next, 1 - rate)));
    if (apply) out = b.where(apply, out, ema);
    nameOutput(graph, out, `${EMA_PREFIX}${p.name}_out`);
  }
}



function docOf(name: string): string {
  if (name.startsWith(EMA_PREFIX) && !name.endsWith('_out')) return `state: EMA target copy of ${name.slice(EMA_PREFIX.length)} (objective.ema)`;
  if (name === GUIDANCE_PROJECTION) return 'state: guidance projection W_proj [modelChannels, 256] (trainable, zero-initialised)';
  const shared = sharedDoc(name);
  if (shared !== undefined) return shared;
  const docs: Record<string, string> = {
    tokens: 'data: tokenized captions (the empty prompt for uncond_context)',
    context: 'output: text_encode/context of the captions',
    text_embed: 'output: text_encode/text_embed of the captions',
    video: 'data: the batch videos [B, 3, F, H, W] in [-1, 1]',
    noise: 'random: standard normal noise of the latents\' shape',
    z0: 'encode_video: VAE posterior draw times the latent scale factor (train_step: output:encode_video/z0)',
    eps: 'train_step: random standard normal noise (forward diffusion to t_s); consistency_step: the student\'s eps_hat',
    t_s: 'cdStepNumbers(n).tS per video: grid[n], n uniform in the solver grid',
    t_e: 'cdStepNumbers(n).tE per video: max(t_s - skip, 0)',
    alpha_s: 'cdStepNumbers(n).alphaS: alpha-bar at t_s',
    alpha_e: 'cdStepNumbers(n).alphaE: alpha-bar at t_e',
    c_skip_s: 'cdStepNumbers(n).cSkipS: c_skip(t_s)',
    c_out_s: 'cdStepNumbers(n).cOutS: c_out(t_s)',
    c_skip_e: 'cdStepNumbers(n).cSkipE: c_skip(t_e)',
    c_out_e: 'cdStepNumbers(n).cOutE: c_out(t_e)',
    guidance: 'guidance scale w per video (train_step: guidanceScale(plan, u); sampling: sampler.guidance)',
    frame_indices: 'random/fixed: latent frames decoded for the image rewards (objective.decode)',
    loss: 'total loss: loss.cd + sum of weighted reward losses',
    'loss.cd': 'consistency-distillation distance (huber or l2, mean)',
    frames: 'decoded image-reward frames [B k, 3, H, W] in [-1, 1] (video-major)',
    latents: 'sampler: N(0, 1) at step 0, then output:consistency_step/latents_out',
    timestep: 'consistencySamplerSchedule()[i].t',
    alpha_t: 'consistencySamplerSchedule()[i].alphaT',
    c_skip: 'consistencySamplerSchedule()[i].cSkip',
    c_out: 'consistencySamplerSchedule()[i].cOut',
    alpha_next: 'consistencySamplerSchedule()[i].alphaNext (1 on the last step)',
    latents_out: 'next latents (denoised, re-noised to the next timestep)',
    denoised: 'c_out x0_hat + c_skip x: the sample after the last step',
    x0: 'the student\'s x0_hat',
  };
  return docs[name] ?? '';
}

function consistencySchedule(plan: Plan, trainable: ParameterInfo[], promptFeeds: Record<string, string>, imageCount: number, samplerSteps: number): ScheduleEntry[] {
  const ownTokens = Object.keys(promptFeeds).filter((n) => n.startsWith('text_embed.')).map((n) => [`tokens.${n.slice(11)}`, `data:caption_tokens of ${n.slice(11)}'s tokenizer`]);
  const state = Object.fromEntries(trainable.map((p) => [p.name, `state:${p.name}`]));
  const objective = plan.objective as Extract<Plan['objective'], { name: 'consistency' }>;
  const numbers = (k: string) => `cd:${k}[n ~ U{0..${objective.teacher_solver.steps - 1}} per video]`;
  return [
    { graph: 'text_encode', when: 'every micro-step: the batch captions', feeds: { tokens: 'data:caption_tokens', ...Object.fromEntries(ownTokens) } },
    { graph: 'text_encode', when: 'once: the empty prompt -> uncond_context', feeds: { tokens: 'data:empty_prompt_tokens' } },
    { graph: 'encode_video', when: 'every micro-step: the batch videos', feeds: { video: 'data:videos', noise: 'random:normal' } },
    {
      graph: 'train_step',
      when: 'every micro-step: consistency distillation, reward feedback, update',
      feeds: {
        z0: 'output:encode_video/z0',
        eps: 'random:normal',
        t_s: numbers('tS'), t_e: numbers('tE'), alpha_s: numbers('alphaS'), alpha_e: numbers('alphaE'),
        c_skip_s: numbers('cSkipS'), c_out_s: numbers('cOutS'), c_skip_e: numbers('cSkipE'), c_out_e: numbers('cOutE'),
        guidance: `guidance:${JSON.stringify(objective.guidance)}`,
        context: 'output:text_encode/context',
        uncond_context: 'output:text_encode(empty)/context',
        ...promptFeeds,
        ...(imageCount > 0 ? { frame_indices: `decode:${JSON.stringify(objective.decode)}` } : {}),
        lr: 'optimizer:lr',
        'adam.step': 'state:adam.step',
        ...state,
      },
    },
    {
      graph: 'consistency_step',
      when: `sampling (validation, vplc sample): ${samplerSteps} steps`,
      repeat: samplerSteps,
      feeds: {
        latents: 'random:normal at step 0, then output:consistency_step/latents_out',
        timestep: 'sampler:consistency[i].t', alpha_t: 'sampler:consistency[i].alphaT', c_skip: 'sampler:consistency[i].cSkip',
        c_out: 'sampler:consistency[i].cOut', alpha_next: 'sampler:consistency[i].alphaNext', noise: 'random:normal',
        context: 'output:text_encode/context', guidance: `constant:${plan.sampler.name === 'consistency' ? plan.sampler.guidance : 7.5}`,
        ...state,
      },
    },
  ];
}
