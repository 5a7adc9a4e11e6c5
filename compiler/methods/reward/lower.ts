// Lowering of the reward objective (VADER): Plan -> Program with five graphs (decode_all:
// ../../lower/decode-all.ts; watch, the reward-hacking watch's at validation: ../../lower/watch.ts).
//
//   text_encode   tokens [B, L] int64 -> context [B, L, D] (UNet cross-attention),
//                 text_embed [B, E] (pooled, for the tiny world's text rewards), and each learned
//                 reward's own tokens.<name> -> text_embed.<name>. Frozen; run once for the
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
//               what the rewards read of the prompt (text_embed [B, E], text_embed.<reward>,
//               label.<reward>: ../../lower/reward-inputs.ts), frame_indices [n] int64, lr float32 [], apply bool [] (when
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
// The samplers' own inputs and steps are in ./samplers.ts (one entry per sampler), the
// interface texts in ./docs.ts, the schedule in ./schedule.ts, the decode choice in ./decode.ts.
import { stopGradient } from '../../../tensor/autodiff/grad.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { rematerialize } from '../../../tensor/passes/remat.ts';
import type { Program } from '../../../tensor/program/program.ts';
import { framesFirst } from '../../../stdlib/models/common.ts';
import { familyOf } from '../../../stdlib/models/families.ts';
import { buildVaeDecoder } from '../../../stdlib/models/vae/index.ts';
import { type LoraModule, withLora } from '../../../stdlib/nn/lora.ts';
import { withAttentionLowering } from '../../../stdlib/nn/attention.ts';
import type { NN, ParameterInfo } from '../../../stdlib/nn/parameters.ts';
import { rewardMix } from '../../../stdlib/rewards/mix.ts';
import { rewardBuilders } from '../../lower/reward-builders.ts';
import { cfgCombine } from '../../../stdlib/samplers/index.ts';
import type { Plan, RewardTerm } from '../../plan.ts';
import { attentionLowering, dedupeModules, describeGraph, type GraphInterface, loweringBasis, type LoweredProgram, LoweringError, type LowerOptions, type SamplerStep } from '../../lower/contract.ts';
import { buildDecodeAllGraph } from '../../lower/decode-all.ts';
import { buildWatchGraph, WATCH_GRAPH, watchDocs, watchSettings } from '../../lower/watch.ts';
import { callDenoiser } from '../../lower/denoiser-call.ts';
import { buildTextEncodeGraph } from '../../lower/text-encode.ts';
import { declareRewardPromptInputs, rewardPromptFeeds, withHeldOut } from '../../lower/reward-inputs.ts';
import { appendOptimizerStep, applyPrecision, nameOutput, weightManifest } from '../../lower/training-step.ts';
import { decodeFrames } from '../../lower/decode-frames.ts';
import { rewardDocOf } from './docs.ts';
import { HISTORY, rewardSamplerLowering } from './samplers.ts';
import { rewardSchedule } from './schedule.ts';


/** The sampler steps train_step holds and where they start, from `objective.backprop` and `decode_og`. */
export function backpropWindow(objective: Extract<Plan['objective'], { name: 'reward' }>, steps: number): { k: number; from: number; gated: boolean } {
  if (objective.decode_og) {
    // sampling stops at the cutoff c and the reward scores the x0 estimate of step c: one UNet
    // call with gradient (c = steps - k for last(k), 0 for all)
    if (objective.backprop.mode === 'random') {
      throw new LoweringError('decode_og with backprop = random is not lowered yet (the cutoff would vary per video): use backprop = last(k) or all with decode_og');
    }
    return { k: 1, from: objective.backprop.mode === 'last' ? steps - Math.min(objective.backprop.k, steps) : 0, gated: false };
  }
  if (objective.backprop.mode === 'last') {
    const k = Math.min(objective.backprop.k, steps);
    return { k, from: steps - k, gated: false };
  }
  return { k: steps, from: 0, gated: objective.backprop.mode === 'random' };
}

export function lowerReward(plan: Plan, options: LowerOptions = {}): LoweredProgram {
  const objective = plan.objective;
  if (objective.name !== 'reward') throw new LoweringError(`lowerReward: objective '${objective.name}' is not 'reward'`);
  const sampler = rewardSamplerLowering(plan);
  const { build, params, B, latentShape, L, D, rewardConfigs } = loweringBasis(plan, options);
  const steps = sampler.schedule.length;
  const { k, from: trainFrom, gated } = backpropWindow(objective, steps);
  const guidance = (plan.sampler as { guidance: number }).guidance;
  const useCfg = guidance !== 1;
  /** Each LoRA-adapted graph's module list (filled while the graph is built). */
  const loraModules: LoraModule[][] = [];
  const interfaces: Record<string, GraphInterface> = {};
  const describe = (graph: Graph) => {
    interfaces[graph.name] = describeGraph(graph, (name) => rewardDocOf(name, sampler.name));
  };

  /** The denoiser with LoRA (and CFG): eps for latents x at timestep t (float32 []). */
  const guidedEps = (nn: NN, x: Value, t: Value, context: Value, uncond: Value | undefined): Value => {
    const { b } = nn;
    const withCfg = uncond !== undefined;
    const batch = withCfg ? 2 * B : B;
    const xs = withCfg ? b.concat([x, x], 0) : x;
    const ctx = withCfg ? b.concat([uncond, context], 0) : context;
    const ts = b.expand(b.reshape(t, [1]), [batch]);
    const eps = callDenoiser(nn, build, plan, { x: xs, timesteps: ts, context: ctx });
    if (!withCfg) return eps;
    const [eu, ec] = b.split(eps, 0, [B, B]);
    return cfgCombine(b, eu, ec, guidance);
  };
  const loraNN = (b: Builder, rng?: { seed: Value; step: Value }) => {
    const made = withLora({ b, params }, { ...plan.lora, table: familyOf(build.denoiser).loraTargets, family: build.denoiser.family, dropoutRng: rng });
    loraModules.push(made.modules);
    return made.nn;
  };

  // ---------------------------------------------------------------- text_encode
  const text = buildTextEncodeGraph(params, build, B, { terms: withHeldOut(plan, objective.reward), configs: rewardConfigs });
  interfaces[text.name] = describeGraph(text, (name) => rewardDocOf(name, sampler.name), { tokens: 'data: tokenized prompts (the empty prompt for uncond_context)' });

  // ---------------------------------------------------------------- sample_step
  const sample = new Graph('sample_step');
  {
    const b = new Builder(sample);
    const latents = b.input('latents', latentShape);
    const inputs = sampler.declareSample(b, latentShape);
    const context = b.input('context', [B, L, D]);
    const uncond = useCfg ? b.input('uncond_context', [B, L, D]) : undefined;
    const nn = withAttentionLowering(loraNN(b), attentionLowering(options, 'forward'));
    const step = inputs.step(latents, guidedEps(nn, latents, inputs.timestep, context, uncond));
    nameOutput(sample, step.prev, 'latents_out');
    nameOutput(sample, step.x0, 'x0');
    applyPrecision(sample, options.precision);
    eliminateDeadCode(sample);
    describe(sample);
  }

  // ---------------------------------------------------------------- train_step
  const train = new Graph('train_step');
  const decode = decodeFrames(plan);
  const terms: RewardTerm[] = objective.reward;
  const trainable: ParameterInfo[] = [];
  {
    const b = new Builder(train);
    let x = b.input('latents', latentShape);
    const inputs = sampler.declareTrain(b, latentShape, trainFrom, k);
    const context = b.input('context', [B, L, D]);
    const uncond = useCfg ? b.input('uncond_context', [B, L, D]) : undefined;
    const prompt = declareRewardPromptInputs(b, terms, B, build, rewardConfigs);
    const frameIndices = b.input('frame_indices', [decode.count], 'int64');
    const lr = b.input('lr', []);
    const adamStep = b.input('adam.step', [], 'int64');
    const accumulate = plan.train.accumulate;
    const apply = accumulate > 1 ? b.input('apply', [], 'bool') : undefined;
    const rng = plan.lora.dropout > 0 ? { seed: b.input('seed', [], 'int64'), step: b.input('dropout_step', [], 'int64') } : undefined;
    const gate = gated ? b.input('grad_gate', [k]) : undefined;
    const nn = withAttentionLowering(loraNN(b, rng), attentionLowering(options, 'differentiated'));
    const x0s: Value[] = [];
    // no per-step scope: parameter names come from the scope, and every step uses the same weights
    for (let i = 0; i < k; i++) {
      let eps = guidedEps(nn, x, b.reshape(b.slice(inputs.timesteps, 0, i, i + 1), []), context, uncond);
      if (gate) {
        const g = b.cast(b.reshape(b.slice(gate, 0, i, i + 1), []), eps.dtype);
        eps = b.add(b.mul(eps, g), b.mul(stopGradient(b, eps), b.sub(b.scalarLike(g, 1), g)));
      }
      const r = inputs.step(i, x, eps, x0s);
      x = r.prev;
      x0s.push(r.x0);
    }
    const decoded = objective.decode_og ? x0s[k - 1]! : x;
    const plain: NN = { b, params };
    const frames = b.within('vae', () => {
      const picked = b.gather(decoded, frameIndices, 2); // [B, C, n, h, w]
      return buildVaeDecoder(plain, build.vae, framesFirst(plain, picked), { scaled: true });
    });
    const mix = rewardMix(b, terms, { frames, framesPerVideo: decode.count, ...prompt }, rewardBuilders(plain, build, rewardConfigs));

    // LoRA factors are the graph inputs of trainable parameters
    const loraInputs = train.inputs.filter((v) => params.list().some((p) => p.trainable && p.name === v.name));
    for (const v of loraInputs) trainable.push(params.list().find((p) => p.name === v.name)!);
    if (loraInputs.length === 0) throw new LoweringError(`LoRA targets [${plan.lora.targets.join(', ')}] match no layer of ${plan.model.name}`);
    nameOutput(train, mix.loss, 'loss');
    for (const [name, v] of Object.entries(mix.rewards)) nameOutput(train, v, `reward.${name}`);
    for (const [name, v] of Object.entries(mix.losses)) nameOutput(train, v, `loss.${name}`);
    nameOutput(train, frames, 'frames');
    // the forward pass as rematerialize counts it: after the precision casts and the named outputs
    const { forwardNodes } = appendOptimizerStep(b, plan, { loss: mix.loss, wrt: loraInputs, lr, adamStep, apply, accumulate, precision: options.precision });
    if (plan.train.remat) rematerialize(train, { forwardNodes });
    eliminateDeadCode(train);
    describe(train);
  }

  // ---------------------------------------------------------------- decode_all
  const decodeAll = buildDecodeAllGraph(plan, params, build, terms, { rewardConfigs });
  describe(decodeAll);

  // ---------------------------------------------------------------- watch (validation only)
  const watch = buildWatchGraph(plan, params, build, terms, watchSettings(plan)!, { rewardConfigs });
  interfaces[watch.graph.name] = describeGraph(watch.graph, (name) => rewardDocOf(name, sampler.name), watchDocs(watch.info));

  // the scalar inputs each graph really declares, with their values per step
  const has = (graph: Graph, name: string) => graph.inputs.some((v) => v.name === name);
  const sampleScalars = sampler.scalars.filter((c) => has(sample, c.name));
  const trainScalarSpecs = sampler.scalars.filter((c) => has(train, c.stacked));
  const valueOf = (s: SamplerStep, field: string) => (s as unknown as Record<string, number>)[field]!;
  const samplerSteps: SamplerStep[] = sampler.schedule.map((s) => ({ ...s, feeds: Object.fromEntries(sampleScalars.map((c) => [c.name, valueOf(s, c.field)])) }));
  const tailSteps = sampler.schedule.slice(trainFrom, trainFrom + k);
  const trainScalars = Object.fromEntries(trainScalarSpecs.map((c) => [c.stacked, tailSteps.map((s) => valueOf(s, c.field))]));
  const trainHistory = train.inputs.filter((v) => HISTORY.includes(v.name)).map((v) => v.name);
  const history = sampler.history;

  const program: Program = {
    name: plan.name,
    graphs: { text_encode: text, sample_step: sample, train_step: train, decode_all: decodeAll, [WATCH_GRAPH]: watch.graph },
    schedule: rewardSchedule(plan, { steps, k, from: trainFrom, trainable, useCfg, promptFeeds: rewardPromptFeeds(terms), gated, sampleScalars, trainScalars: trainScalarSpecs, history, trainHistory }),
    weights: weightManifest(params),
  };
  return {
    program,
    params,
    lora: dedupeModules(loraModules.flat()),
    trainable,
    sampler: samplerSteps,
    trainScalars,
    ...(history.length > 0 ? { history: [...history] } : {}),
    backpropSteps: k,
    trainFrom,
    ...(gated ? { gradGate: true } : {}),
    decodedFrames: decode.count,
    interfaces,
    watch: watch.info,
  };
}
