// Lowering of the reward objective (VADER): Plan -> Program with three graphs.
//
//   text_encode   tokens [B, L] int64 -> context [B, L, D] (UNet cross-attention),
//                 text_embed [B, E] (pooled, for image-text rewards). Frozen; run once for the
//                 prompts and once for the empty prompt (-> uncond_context).
//   sample_step   one sampler step (DDIM, or DPM-Solver++ multistep) with CFG and the current
//                 LoRA, no gradient: the sampler steps before the backprop cutoff (steps - k of
//                 them), and every step of validation and `vplc sample`.
//   train_step    the last k sampler steps with gradient into the LoRA factors, the VAE decode of
//                 the chosen latent frames (a Gather on the frame axis, indices as an input),
//                 the reward mix, the loss, the gradients (compiler/autodiff), global-norm
//                 clipping, [gradient accumulation], AdamW; remat of UNet/VAE/CLIP segments when
//                 plan.train.remat. With decode_og, sampling stops at the backprop cutoff c
//                 (steps - k for last(k), 0 for all): train_step holds the one step c (k = 1) and
//                 decodes its x0 estimate instead of latents; sample_step runs steps 0..c-1.
//                 backprop = random (VADER's `rand`): train_step holds ALL the sampler steps
//                 (k = steps, no sample_step runs before it) and each step's guided UNet output
//                 passes a gradient gate eps = g_i * eps + (1 - g_i) * stopGradient(eps), g_i =
//                 grad_gate[i]. The forward value is unchanged (bitwise: 1*e + 0*e = e); steps
//                 with g_i = 0 contribute no gradient, so the LoRA gradient equals that of last(steps
//                 - c) at the drawn cutoff c. Why one gated graph: one train graph per k would be
//                 `steps` graphs (25 for VideoCrafter2) to compile, load and keep; the price is that
//                 every micro-step pays the forward+backward (and activation memory) of backprop =
//                 all, since onnxruntime still runs the zeroed backward nodes (use train.remat).
//
// Interface naming (stable; the runtime drives the graphs by these names):
//   state       every LoRA factor `<module>.lora_A.weight` / `.lora_B.weight` (graph inputs of
//               all three graphs that use the UNet), AdamW `adam.m.<p>`, `adam.v.<p>`,
//               `adam.step` (int64 []), accumulators `acc.<p>` when accumulate > 1.
//               train_step outputs the next state as `<name>_out`.
//   per step    latents [B, C, T, h, w]; sample_step: the step's scalars float32 [] (ddim:
//               timestep, alpha_t, alpha_prev [, scale_t, scale_prev], and noise [B, C, T, h, w]
//               when eta > 0; dpm_solver: timestep, alpha_t, coef_x, coef_x0 [, coef_hist1
//               [, coef_hist2]] and the x0 history x0_hist1 [, x0_hist2] [B, C, T, h, w]);
//               train_step: the scalars stacked over its k steps (timesteps [k], alphas_t [k],
//               ..., coefs_x [k], ...; noise [k, B, C, T, h, w]), for dpm_solver the x0 history
//               at the cutoff it needs (x0_hist1 [, x0_hist2]: sample_step's x0 outputs of the
//               steps before the cutoff, no gradient), context / uncond_context [B, L, D],
//               text_embed [B, E] (when a
//               reward needs text), frame_indices [n] int64, lr float32 [], apply bool [] (when
//               accumulate > 1), seed / dropout_step int64 [] (when LoRA dropout > 0),
//               grad_gate float32 [steps] (backprop = random only): per micro-step the runtime
//               draws the cutoff c uniformly in [0, steps) and feeds grad_gate[i] = i >= c ? 1 : 0
//               (one draw for the micro-step's batch, as VADER draws once per sampling call);
//               fractional values scale a step's gradient.
//   outputs     sample_step: latents_out, x0. train_step: loss, reward.<name> (mean reward),
//               loss.<name> (unweighted), grad_norm, frames (the decoded frames [B n, 3, H, W]),
//               and the state outputs.
// Per-step numbers come from stdlib/samplers, in sampling order: ddimSchedule(steps, {eta,
// useScale}) or dpmSolverSchedule(steps, {order}). LoweredProgram.sampler[i].feeds holds step i's
// scalar inputs of sample_step by name, and LoweredProgram.trainScalars train_step's stacked
// ones, so the runtime feeds them without knowing the sampler. sample_step runs entries
// 0..steps-k-1, train_step gets entries steps-k..steps-1 (backprop = random: k = steps, train_step
// gets every entry and the latents are N(0,1)).
//
// DPM-Solver++ (stdlib/samplers/dpm-solver.ts) writes every step as x_prev = c_x x_t + c_x0 x0 +
// c_hist1 x0_hist1 + c_hist2 x0_hist2 with coefficients from the schedule, so one sample_step
// serves every step: it takes as many history inputs as the schedule's highest order needs
// (order - 1; none when every step is first order, e.g. 2 steps), and the runtime carries them:
// zeros at step 0, then after each call x0_hist2 <- x0_hist1, x0_hist1 <- x0 (LoweredProgram.history
// names them, most recent first). train_step takes the history at the cutoff as inputs (only the
// entries its steps use) and carries it in-graph through its k steps, where the x0 estimates
// carry gradient. Each step's order is fixed by the schedule, so train_step builds only the
// history terms a step uses. CFG is as for DDIM; DPM-Solver is deterministic (no eta, noise or
// use_scale).
import { stopGradient } from '../../tensor/autodiff/grad.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { buildTextEncodeGraph } from './text-encode.ts';
import { appendOptimizerStep, applyPrecision, type LowPrecision, nameOutput, weightManifest } from './training-step.ts';
import type { DType } from '../../tensor/ir/dtype.ts';
import { Graph, type Shape, type Value } from '../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../tensor/passes/dce.ts';
import { rematerialize } from '../../tensor/passes/remat.ts';
import type { Plan, RewardTerm } from '../plan.ts';
import type { Program, ScheduleEntry } from '../../tensor/program/program.ts';
import { type ModelBuild, modelBuild } from '../../stdlib/models/registry.ts';
import { buildUNet3D } from '../../stdlib/models/unet3d/index.ts';
import { buildVaeDecoder } from '../../stdlib/models/vae/index.ts';
import { type LoraModule, withLora } from '../../stdlib/nn/lora.ts';
import { type NN, ParameterStore, type ParameterInfo, type WeightSource } from '../../stdlib/nn/parameters.ts';
import { framesFirst } from '../../stdlib/models/common.ts';
import { tinyRewardBuilders } from '../../stdlib/rewards/tiny.ts';
import { rewardMix } from '../../stdlib/rewards/mix.ts';
import { cfgCombine, ddimSchedule, ddimStep, type DpmSolverStepParams, dpmSolverSchedule, dpmSolverStep } from '../../stdlib/samplers/index.ts';

export class LoweringError extends Error {
  override name = 'LoweringError';
}

export interface LowerOptions {
  /**
   * Random-initialised small versions of the model's networks (`--tiny`), seeded by
   * plan.train.seed. Zero-initialised output layers are random too, so the smoke run
   * exercises every gradient path.
   */
  tiny?: boolean;
  /** Checkpoint tensors of the base model, VAE and text encoder (keys as checkpointKey maps). */
  weights?: WeightSource;
  /** Override the network configs (tests build smaller ones). */
  build?: ModelBuild;
  /**
   * Lower activations of sample_step and train_step to fp16/bf16 with float32 master weights
   * (plan.train.precision, on a GPU). Unset: float32, the right choice on CPU, where
   * onnxruntime computes fp16 in float32 anyway.
   */
  precision?: LowPrecision;
}

export interface TensorInterface {
  name: string;
  dtype: DType;
  shape: number[];
  /** What it is and where its value comes from. */
  doc: string;
}

export interface GraphInterface {
  inputs: TensorInterface[];
  outputs: TensorInterface[];
}

/** One sampler step as the runtime drives it. */
export interface SamplerStep {
  /** Index in sampling order (0 = first, noisiest step). */
  index: number;
  t: number;
  /** The timestep the step goes to (-1 for the last step: the data end). */
  tPrev: number;
  alphaT: number;
  alphaPrev: number;
  /**
   * The step's scalar inputs of sample_step (float32 []) by input name: the runtime feeds them as
   * they are. Every lowering of the reward objective fills it.
   */
  feeds?: Readonly<Record<string, number>>;
}

export interface LoweredProgram {
  program: Program;
  /** The parameter store (initial values of the LoRA factors: params.initialValue(name)). */
  params: ParameterStore;
  lora: LoraModule[];
  /** The trainable parameters (LoRA A/B), in the order of the optimizer state. */
  trainable: ParameterInfo[];
  /** Per-step numbers of the sampler, in sampling order (feeds: sample_step's scalar inputs). */
  sampler: SamplerStep[];
  /**
   * train_step's per-step scalar inputs stacked over its k steps, by input name (timesteps,
   * alphas_t, ...), in step order.
   */
  trainScalars?: Record<string, number[]>;
  /**
   * The x0-history inputs of sample_step, most recent first (dpm_solver of order >= 2): zeros
   * at step 0; after each sample_step the runtime shifts its `x0` output in front. train_step
   * takes the values at the cutoff under the same names (those of them it declares).
   */
  history?: string[];
  /** Steps with gradient (in train_step); with gradGate, the steps train_step holds (all). */
  backpropSteps: number;
  /**
   * Sampler steps run by sample_step before train_step (its entries are trainFrom..trainFrom +
   * backpropSteps - 1): steps - backpropSteps, except with decode_og (the cutoff).
   */
  trainFrom?: number;
  /** backprop = random: train_step has the `grad_gate` input (see the top comment). */
  gradGate?: boolean;
  /** Latent frames decoded per video. */
  decodedFrames: number;
  interfaces: Record<string, GraphInterface>;
}

/** Parameter name (scope path) -> checkpoint key of the reference checkpoints. */
export function checkpointKey(build: ModelBuild): (name: string) => string {
  return (name) => {
    if (name.startsWith('unet.')) return build.unet.checkpointPrefix + name.slice(5);
    if (name.startsWith('vae.')) return build.vae.checkpointPrefix + name.slice(4);
    if (name.startsWith('clip.')) return build.text.checkpointPrefix + name.slice(5);
    return name;
  };
}

/** What every lowering starts from: the networks' configs, the parameter store and the shapes. */
export interface LoweringBasis {
  build: ModelBuild;
  params: ParameterStore;
  /** Videos per micro-step. */
  B: number;
  /** [B, C, T, h, w] */
  latentShape: Shape;
  /** Text context length, width, pooled embedding width. */
  L: number;
  D: number;
  E: number;
}

export function loweringBasis(plan: Plan, options: LowerOptions): LoweringBasis {
  const base = options.build ?? modelBuild(plan.model.name);
  const build: ModelBuild = options.tiny ? { ...base, unet: { ...base.unet, zeroInit: false } } : base;
  if (!options.tiny && !options.weights) {
    throw new LoweringError(`model '${plan.model.name}' needs its weights (pass them, or use --tiny for a random-initialised smoke run)`);
  }
  const params = new ParameterStore({
    seed: plan.train.seed,
    trainable: false,
    weights: options.weights,
    keyOf: options.weights ? checkpointKey(build) : undefined,
  });
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const D = build.text.text.width;
  if (D !== build.unet.contextDim) throw new LoweringError(`text encoder width ${D} does not match the UNet's context ${build.unet.contextDim}`);
  return { build, params, B, latentShape: [B, C, T, h, w], L: build.text.text.contextLength, D, E: build.text.embedDim };
}

/** How many latent frames `decode` picks, and the fixed indices when they do not vary. */
export function decodeFrames(plan: Plan): { count: number; fixed?: number[] } {
  if (plan.objective.name !== 'reward') throw new LoweringError('decodeFrames: not a reward objective');
  const frames = plan.derived.latent_shape[1];
  const d = plan.objective.decode;
  switch (d.mode) {
    case 'random':
      return { count: Math.min(d.k, frames) };
    case 'frame':
      return { count: 1, fixed: [d.i < 0 ? frames + d.i : d.i] };
    case 'every': {
      const fixed = Array.from({ length: Math.ceil(frames / d.n) }, (_, i) => i * d.n);
      return { count: fixed.length, fixed };
    }
    case 'all':
      return { count: frames, fixed: Array.from({ length: frames }, (_, i) => i) };
  }
}


export function lowerReward(plan: Plan, options: LowerOptions = {}): LoweredProgram {
  const objective = plan.objective;
  if (objective.name !== 'reward') throw new LoweringError(`lowerReward: objective '${objective.name}' is not 'reward'`);
  const sampler = plan.sampler;
  if (sampler.name !== 'ddim' && sampler.name !== 'dpm_solver') {
    throw new LoweringError(`the reward objective is lowered for the ddim and dpm_solver samplers only (got sampler '${sampler.name}')`);
  }
  const { build, params, B, latentShape, L, D, E } = loweringBasis(plan, options);
  const T = plan.derived.latent_shape[1];
  const steps = sampler.steps;
  let k: number;
  let gated = false;
  /** Sampler steps that run (in sample_step, no gradient) before train_step's first. */
  let trainFrom: number;
  if (objective.decode_og) {
    // sampling stops at the cutoff c and the reward scores the x0 estimate of step c: one UNet
    // call with gradient (c = steps - k for last(k), 0 for all)
    if (objective.backprop.mode === 'random') {
      throw new LoweringError('decode_og with backprop = random is not lowered yet (the cutoff would vary per video): use backprop = last(k) or all with decode_og');
    }
    k = 1;
    trainFrom = objective.backprop.mode === 'last' ? steps - Math.min(objective.backprop.k, steps) : 0;
  } else {
    if (objective.backprop.mode === 'last') k = Math.min(objective.backprop.k, steps);
    else if (objective.backprop.mode === 'all') k = steps;
    else {
      k = steps;
      gated = true;
    }
    trainFrom = steps - k;
  }

  const ddim = sampler.name === 'ddim' ? sampler : undefined;
  const dpm: DpmSolverStepParams[] | undefined = sampler.name === 'dpm_solver' ? dpmSolverSchedule(steps, { order: sampler.order }) : undefined;
  const schedule: SamplerStep[] = ddim ? ddimSchedule(steps, { eta: ddim.eta, useScale: ddim.use_scale }) : dpm!;
  const scalars = samplerScalars(sampler.name);
  /** dpm_solver: history entries sample_step takes (the schedule's highest order - 1). */
  const historyCount = dpm ? Math.max(0, ...dpm.map((s) => s.order - 1)) : 0;
  const historyNames = HISTORY.slice(0, historyCount);
  const loraModules: LoraModule[] = [];
  const interfaces: Record<string, GraphInterface> = {};
  const describe = (graph: Graph, docs: Record<string, string>) => {
    const spec = (v: Value): TensorInterface => ({ name: v.name, dtype: v.dtype, shape: [...v.shape], doc: docs[v.name] ?? docOf(v.name, sampler.name) });
    interfaces[graph.name] = { inputs: graph.inputs.map(spec), outputs: graph.outputs.map(spec) };
  };

  /** The UNet with LoRA (and CFG): eps for latents x at timestep t (float32 []). */
  const guidedEps = (nn: NN, x: Value, t: Value, context: Value, uncond: Value | undefined): Value => {
    const { b } = nn;
    const withCfg = uncond !== undefined;
    const batch = withCfg ? 2 * B : B;
    const xs = withCfg ? b.concat([x, x], 0) : x;
    const ctx = withCfg ? b.concat([uncond, context], 0) : context;
    const ts = b.expand(b.reshape(t, [1]), [batch]);
    const eps = b.within('unet', () => buildUNet3D(nn, build.unet, { x: xs, timesteps: ts, context: ctx, fps: plan.model.fps }));
    if (!withCfg) return eps;
    const [eu, ec] = b.split(eps, 0, [B, B]);
    return cfgCombine(b, eu, ec, sampler.guidance);
  };
  const useCfg = sampler.guidance !== 1;
  const loraNN = (b: Builder, rng?: { seed: Value; step: Value }) => {
    const made = withLora({ b, params }, { ...plan.lora, family: build.family, dropoutRng: rng });
    return { nn: made.nn, modules: made.modules };
  };

  // ---------------------------------------------------------------- text_encode
  const text = buildTextEncodeGraph(params, build, B);
  describe(text, { tokens: 'data: tokenized prompts (the empty prompt for uncond_context)' });

  // ---------------------------------------------------------------- sample_step
  const sample = new Graph('sample_step');
  {
    const b = new Builder(sample);
    const latents = b.input('latents', latentShape);
    let step: { prev: Value; x0: Value };
    if (ddim) {
      const timestep = b.input('timestep', []);
      const alphaT = b.input('alpha_t', []);
      const alphaPrev = b.input('alpha_prev', []);
      const scaleT = ddim.use_scale ? b.input('scale_t', []) : undefined;
      const scalePrev = ddim.use_scale ? b.input('scale_prev', []) : undefined;
      const noise = ddim.eta !== 0 ? b.input('noise', latentShape) : undefined;
      const context = b.input('context', [B, L, D]);
      const uncond = useCfg ? b.input('uncond_context', [B, L, D]) : undefined;
      const { nn, modules } = loraNN(b);
      const eps = guidedEps(nn, latents, timestep, context, uncond);
      step = ddimStep(b, { x_t: latents, eps, alphaT, alphaPrev, eta: ddim.eta, noise, scaleT, scalePrev });
      loraModules.push(...modules);
    } else {
      const hist = historyNames.map((name) => b.input(name, latentShape));
      const timestep = b.input('timestep', []);
      const alphaT = b.input('alpha_t', []);
      const cx = b.input('coef_x', []);
      const c0 = b.input('coef_x0', []);
      const ch = historyNames.map((_, j) => b.input(`coef_hist${j + 1}`, []));
      const context = b.input('context', [B, L, D]);
      const uncond = useCfg ? b.input('uncond_context', [B, L, D]) : undefined;
      const { nn, modules } = loraNN(b);
      const eps = guidedEps(nn, latents, timestep, context, uncond);
      step = dpmSolverStep(b, { x_t: latents, eps, alphaT, cx, c0, ...(hist[0] ? { hist1: hist[0], c1: ch[0] } : {}), ...(hist[1] ? { hist2: hist[1], c2: ch[1] } : {}) });
      loraModules.push(...modules);
    }
    nameOutput(sample, step.prev, 'latents_out');
    nameOutput(sample, step.x0, 'x0');
    applyPrecision(sample, options.precision);
    eliminateDeadCode(sample);
    describe(sample, {});
  }

  // ---------------------------------------------------------------- train_step
  const train = new Graph('train_step');
  const decode = decodeFrames(plan);
  const terms: RewardTerm[] = objective.reward;
  const needsText = terms.some((t) => t.reward === 'tiny_text_align' || t.reward === 'hps' || t.reward === 'pickscore');
  const trainable: ParameterInfo[] = [];
  {
    const b = new Builder(train);
    let x = b.input('latents', latentShape);
    // dpm_solver: train step i (sampler step cutoff + i) reads its lag-h estimate (h < order) from
    // the history input x0_hist{h - i} when it comes from before the cutoff, else from step i - h
    const cutoff = trainFrom;
    const tail = dpm?.slice(cutoff, cutoff + k) ?? [];
    const histInputs: (Value | undefined)[] = HISTORY.map((name, j) =>
      tail.some((s, i) => s.order - 1 >= i + j + 1) ? b.input(name, latentShape) : undefined,
    );
    const maxLag = Math.max(0, ...tail.map((s) => s.order - 1));
    const timesteps = b.input('timesteps', [k]);
    const alphasT = b.input('alphas_t', [k]);
    const alphasPrev = ddim ? b.input('alphas_prev', [k]) : undefined;
    const scalesT = ddim?.use_scale ? b.input('scales_t', [k]) : undefined;
    const scalesPrev = ddim?.use_scale ? b.input('scales_prev', [k]) : undefined;
    const noise = ddim && ddim.eta !== 0 ? b.input('noise', [k, ...latentShape]) : undefined;
    const coefsX = dpm ? b.input('coefs_x', [k]) : undefined;
    const coefsX0 = dpm ? b.input('coefs_x0', [k]) : undefined;
    const coefsHist = HISTORY.map((_, j) => (maxLag >= j + 1 ? b.input(`coefs_hist${j + 1}`, [k]) : undefined));
    const context = b.input('context', [B, L, D]);
    const uncond = useCfg ? b.input('uncond_context', [B, L, D]) : undefined;
    const textEmbed = needsText ? b.input('text_embed', [B, E]) : undefined;
    const frameIndices = b.input('frame_indices', [decode.count], 'int64');
    const lr = b.input('lr', []);
    const adamStep = b.input('adam.step', [], 'int64');
    const accumulate = plan.train.accumulate;
    const apply = accumulate > 1 ? b.input('apply', [], 'bool') : undefined;
    const rng = plan.lora.dropout > 0 ? { seed: b.input('seed', [], 'int64'), step: b.input('dropout_step', [], 'int64') } : undefined;
    const gate = gated ? b.input('grad_gate', [k]) : undefined;
    const { nn } = loraNN(b, rng);
    const at = (v: Value, i: number) => b.reshape(b.slice(v, 0, i, i + 1), []);
    let x0: Value | undefined;
    const x0s: Value[] = [];
    for (let i = 0; i < k; i++) {
      // no per-step scope: parameter names come from the scope, and every step uses the same weights
      {
        let eps = guidedEps(nn, x, at(timesteps, i), context, uncond);
        if (gate) {
          const g = b.cast(at(gate, i), eps.dtype);
          eps = b.add(b.mul(eps, g), b.mul(stopGradient(b, eps), b.sub(b.scalarLike(g, 1), g)));
        }
        let r: { prev: Value; x0: Value };
        if (ddim) {
          r = ddimStep(b, {
            x_t: x,
            eps,
            alphaT: at(alphasT, i),
            alphaPrev: at(alphasPrev!, i),
            eta: ddim.eta,
            noise: noise ? b.reshape(b.slice(noise, 0, i, i + 1), [...latentShape]) : undefined,
            scaleT: scalesT ? at(scalesT, i) : undefined,
            scalePrev: scalesPrev ? at(scalesPrev, i) : undefined,
          });
        } else {
          const order = tail[i]!.order;
          const lagged = (h: number): Value => {
            const v = i - h >= 0 ? x0s[i - h] : histInputs[h - i - 1];
            if (!v) throw new Error(`internal: no x0 estimate ${h} steps before train step ${i}`);
            return v;
          };
          r = dpmSolverStep(b, {
            x_t: x,
            eps,
            alphaT: at(alphasT, i),
            cx: at(coefsX!, i),
            c0: at(coefsX0!, i),
            ...(order >= 2 ? { hist1: lagged(1), c1: at(coefsHist[0]!, i) } : {}),
            ...(order >= 3 ? { hist2: lagged(2), c2: at(coefsHist[1]!, i) } : {}),
          });
        }
        x = r.prev;
        x0 = r.x0;
        x0s.push(r.x0);
      }
    }
    const decoded = objective.decode_og ? x0! : x;
    const plain: NN = { b, params };
    const frames = b.within('vae', () => {
      const picked = b.gather(decoded, frameIndices, 2); // [B, C, n, h, w]
      return buildVaeDecoder(plain, build.vae, framesFirst(plain, picked), { scaled: true });
    });
    const mix = rewardMix(b, terms, { frames, framesPerVideo: decode.count, text: textEmbed }, tinyRewardBuilders(plain, build.text, 'clip'));
    const forwardNodes = train.nodes.length;

    // LoRA factors are the graph inputs of trainable parameters
    const loraInputs = train.inputs.filter((v) => params.list().some((p) => p.trainable && p.name === v.name));
    for (const v of loraInputs) trainable.push(params.list().find((p) => p.name === v.name)!);
    if (loraInputs.length === 0) throw new LoweringError(`LoRA targets [${plan.lora.targets.join(', ')}] match no layer of ${plan.model.name}`);
    nameOutput(train, mix.loss, 'loss');
    for (const [name, v] of Object.entries(mix.rewards)) nameOutput(train, v, `reward.${name}`);
    for (const [name, v] of Object.entries(mix.losses)) nameOutput(train, v, `loss.${name}`);
    nameOutput(train, frames, 'frames');
    appendOptimizerStep(b, plan, { loss: mix.loss, wrt: loraInputs, lr, adamStep, apply, accumulate, precision: options.precision });
    if (plan.train.remat) rematerialize(train, { forwardNodes });
    eliminateDeadCode(train);
    describe(train, {});
  }

  // the scalar inputs each graph really declares, with their values per step
  const has = (graph: Graph, name: string) => graph.inputs.some((v) => v.name === name);
  const sampleScalars = scalars.filter((c) => has(sample, c.name));
  const trainScalarSpecs = scalars.filter((c) => has(train, c.stacked));
  const valueOf = (s: SamplerStep, field: string) => (s as unknown as Record<string, number>)[field]!;
  const samplerSteps: SamplerStep[] = schedule.map((s) => ({ ...s, feeds: Object.fromEntries(sampleScalars.map((c) => [c.name, valueOf(s, c.field)])) }));
  const tailSteps = schedule.slice(trainFrom, trainFrom + k);
  const trainScalars = Object.fromEntries(trainScalarSpecs.map((c) => [c.stacked, tailSteps.map((s) => valueOf(s, c.field))]));
  const trainHistory = train.inputs.filter((v) => HISTORY.includes(v.name)).map((v) => v.name);

  const program: Program = {
    name: plan.name,
    graphs: { text_encode: text, sample_step: sample, train_step: train },
    schedule: rewardSchedule(plan, { steps, k, from: trainFrom, trainable, useCfg, needsText, gated, sampleScalars, trainScalars: trainScalarSpecs, history: historyNames, trainHistory }),
    weights: weightManifest(params),
  };
  return {
    program,
    params,
    lora: dedupe(loraModules),
    trainable,
    sampler: samplerSteps,
    trainScalars,
    ...(historyNames.length > 0 ? { history: [...historyNames] } : {}),
    backpropSteps: k,
    trainFrom,
    ...(gated ? { gradGate: true } : {}),
    decodedFrames: decode.count,
    interfaces,
  };
}

/** The x0-history input names of the dpm_solver graphs, most recent first. */
const HISTORY = ['x0_hist1', 'x0_hist2'];

/** A per-step scalar input: its sample_step name, its stacked train_step name, its schedule field. */
interface ScalarSpec {
  name: string;
  stacked: string;
  field: string;
}

/** Every per-step scalar input a sampler's graphs may take (each graph declares a subset). */
function samplerScalars(sampler: 'ddim' | 'dpm_solver'): ScalarSpec[] {
  const common: ScalarSpec[] = [
    { name: 'timestep', stacked: 'timesteps', field: 't' },
    { name: 'alpha_t', stacked: 'alphas_t', field: 'alphaT' },
  ];
  if (sampler === 'ddim') {
    return [
      ...common,
      { name: 'alpha_prev', stacked: 'alphas_prev', field: 'alphaPrev' },
      { name: 'scale_t', stacked: 'scales_t', field: 'scaleT' },
      { name: 'scale_prev', stacked: 'scales_prev', field: 'scalePrev' },
    ];
  }
  return [
    ...common,
    { name: 'coef_x', stacked: 'coefs_x', field: 'cx' },
    { name: 'coef_x0', stacked: 'coefs_x0', field: 'c0' },
    { name: 'coef_hist1', stacked: 'coefs_hist1', field: 'c1' },
    { name: 'coef_hist2', stacked: 'coefs_hist2', field: 'c2' },
  ];
}

function dedupe(modules: LoraModule[]): LoraModule[] {
  const seen = new Set<string>();
  return modules.filter((m) => !seen.has(m.path) && seen.add(m.path));
}


function docOf(name: string, sampler: 'ddim' | 'dpm_solver'): string {
  if (name.endsWith('_out')) return `next value of ${name.slice(0, -4)}`;
  if (name.includes('.lora_')) return 'state: LoRA factor (trainable)';
  if (name.startsWith('adam.') || name.startsWith('acc.')) return 'state: optimizer';
  const fn = sampler === 'ddim' ? 'ddimSchedule()' : 'dpmSolverSchedule()';
  const step = (field: string, what = '') => `sampler: ${fn}[i].${field}${what} (LoweredProgram.sampler[i].feeds)`;
  const stacked = (field: string) => `sampler: ${field} of the last k schedule entries (LoweredProgram.trainScalars)`;
  const docs: Record<string, string> = {
    latents: 'latents [B, C, T, h, w] (sample_step: N(0,1) at step 0, then its own latents_out)',
    timestep: step('t'),
    alpha_t: step('alphaT'),
    alpha_prev: step('alphaPrev'),
    scale_t: step('scaleT', ' (use_scale)'),
    scale_prev: step('scalePrev', ' (use_scale)'),
    coef_x: step('cx', ': weight of latents in latents_out'),
    coef_x0: step('c0', ': weight of this step\'s x0'),
    coef_hist1: step('c1', ': weight of x0_hist1'),
    coef_hist2: step('c2', ': weight of x0_hist2'),
    x0_hist1: 'sampler history: the x0 output of the step before (sample_step: zeros at step 0; train_step: sample_step/x0 of the step before the cutoff)',
    x0_hist2: 'sampler history: the x0 output two steps before (zeros until there is one)',
    noise: 'random: standard normal noise (stacked over the train steps in train_step)',
    timesteps: stacked('t'),
    alphas_t: stacked('alphaT'),
    alphas_prev: stacked('alphaPrev'),
    scales_t: stacked('scaleT'),
    scales_prev: stacked('scalePrev'),
    coefs_x: stacked('cx'),
    coefs_x0: stacked('c0'),
    coefs_hist1: stacked('c1'),
    coefs_hist2: stacked('c2'),
    context: 'output: text_encode/context of the prompts',
    uncond_context: 'output: text_encode/context of the empty prompt',
    text_embed: 'output: text_encode/text_embed of the prompts',
    frame_indices: 'random/fixed: latent frames to decode (objective.decode)',
    grad_gate: 'random cutoff (backprop = random): c ~ U{0..steps-1} per micro-step; grad_gate[i] = i >= c ? 1 : 0',
    lr: 'learning rate of this optimizer step (warm-up applied by the runtime)',
    apply: 'accumulation: true on the last micro-step of a window',
    seed: 'LoRA dropout seed',
    dropout_step: 'LoRA dropout: global micro-step number',
    loss: 'total loss (sum of weighted reward losses)',
    grad_norm: 'global gradient norm before clipping',
    frames: 'decoded frames [B n, 3, H, W] in [-1, 1] (video-major)',
    x0: 'the step\'s data prediction (x_t - sqrt(1 - a_t) eps) / sqrt(a_t) (dpm_solver: the next x0_hist1)',
  };
  if (name.startsWith('reward.')) return `mean reward value of ${name.slice(7)}`;
  if (name.startsWith('loss.')) return `unweighted loss of ${name.slice(5)}`;
  return docs[name] ?? '';
}

interface ScheduleShape {
  steps: number;
  k: number;
  /** sample_step runs steps 0..from-1, train_step from..from+k-1. */
  from: number;
  trainable: ParameterInfo[];
  useCfg: boolean;
  needsText: boolean;
  gated: boolean;
  /** The per-step scalars sample_step / train_step declare. */
  sampleScalars: ScalarSpec[];
  trainScalars: ScalarSpec[];
  /** x0-history inputs of sample_step and of train_step. */
  history: string[];
  trainHistory: string[];
}

function rewardSchedule(plan: Plan, shape: ScheduleShape): ScheduleEntry[] {
  const { steps, k, from, trainable, useCfg, needsText, gated } = shape;
  const last = from + k - 1;
  const state = Object.fromEntries(trainable.map((p) => [p.name, `state:${p.name}`]));
  const name = plan.sampler.name;
  const noisy = plan.sampler.name === 'ddim' && plan.sampler.eta !== 0;
  const tail = `${from}..${last}`;
  const entries: ScheduleEntry[] = [
    { graph: 'text_encode', when: 'every micro-step: the batch prompts', feeds: { tokens: 'data:prompt_tokens' } },
  ];
  if (useCfg) entries.push({ graph: 'text_encode', when: 'once: the empty prompt -> uncond_context', feeds: { tokens: 'data:empty_prompt_tokens' } });
  if (from > 0) {
    entries.push({
      graph: 'sample_step',
      when: `every micro-step: sampler steps 0..${from - 1} (no gradient)`,
      repeat: from,
      feeds: {
        latents: 'random:normal at step 0, then output:sample_step/latents_out',
        ...Object.fromEntries(shape.history.map((h, j) => [h, `zeros until step ${j + 1}, then output:sample_step/x0 of step i - ${j + 1}`])),
        ...Object.fromEntries(shape.sampleScalars.map((c) => [c.name, `sampler:${name}[i].${c.field}`])),
        ...(noisy ? { noise: 'random:normal' } : {}),
        context: 'output:text_encode/context',
        ...(useCfg ? { uncond_context: 'output:text_encode(empty)/context' } : {}),
        ...state,
      },
    });
  }
  entries.push({
    graph: 'train_step',
    when: gated
      ? `every micro-step: sampler steps 0..${last}, gradient from a random cutoff (grad_gate), decode, reward, update`
      : plan.objective.name === 'reward' && plan.objective.decode_og
        ? `every micro-step: sampler step ${from} with gradient, its x0 estimate decoded (decode_og), reward, update`
        : `every micro-step: sampler steps ${from}..${last} with gradient, decode, reward, update`,
    feeds: {
      latents: from > 0 ? 'output:sample_step/latents_out' : 'random:normal',
      ...Object.fromEntries(shape.trainHistory.map((h) => [h, `output:sample_step/x0 of step ${from - Number(h.slice(-1))} (no gradient)`])),
      ...Object.fromEntries(shape.trainScalars.map((c) => [c.stacked, `sampler:${name}[${tail}].${c.field}`])),
      ...(noisy ? { noise: 'random:normal' } : {}),
      context: 'output:text_encode/context',
      ...(useCfg ? { uncond_context: 'output:text_encode(empty)/context' } : {}),
      ...(needsText ? { text_embed: 'output:text_encode/text_embed' } : {}),
      frame_indices: `decode:${plan.objective.name === 'reward' ? JSON.stringify(plan.objective.decode) : ''}`,
      ...(gated ? { grad_gate: `random:cutoff c in [0, ${steps}); grad_gate[i] = i >= c ? 1 : 0` } : {}),
      lr: 'optimizer:lr',
      'adam.step': 'state:adam.step',
      ...state,
    },
  });
  return entries;
}
