// The lowering contract every method's lowering shares: its options, what it returns (the
// Program plus what the runtime needs to drive it), its error type, and the basis every
// lowering starts from (the networks' configs, the parameter store, the shapes).
import type { DType } from '../../tensor/ir/dtype.ts';
import type { Graph, Shape, Value } from '../../tensor/ir/graph.ts';
import type { Program } from '../../tensor/program/program.ts';
import { checkpointKey, type ModelBuild, modelBuild } from '../../stdlib/models/registry.ts';
import type { LoraModule } from '../../stdlib/nn/lora.ts';
import { ParameterStore, type ParameterInfo, type WeightSource } from '../../stdlib/nn/parameters.ts';
import type { AttentionLowering } from '../../stdlib/nn/attention.ts';
import type { RewardConfigs } from '../../stdlib/rewards/networks/index.ts';
import type { Plan } from '../plan.ts';
import { rewardPromptDoc } from './reward-inputs.ts';
import { type LowPrecision, lowDtype } from './training-step.ts';
import type { WatchInfo } from './watch.ts';

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
  /** Per learned reward, the sizes its network is built at (default the published ones; tests: reduced). */
  rewardConfigs?: RewardConfigs;
  /**
   * No weights: the frozen networks are built from their configs with lazy weights (shapes and
   * checkpoint keys only), for `vplc compile`/`explain --graph`/`diff --graph` of a full-size
   * model whose checkpoint is not there. Such a program can be inspected and costed, not run.
   */
  shapesOnly?: boolean;
  /**
   * Lower activations of sample_step and train_step to fp16/bf16 with float32 master copies of
   * the trainable weights (plan.train.precision, on a GPU); the frozen weights are stored in
   * fp16/bf16 (frozenWeightDtype: `weights` should deliver them so, or they are converted).
   * Unset: float32, the right choice on CPU, where onnxruntime computes fp16 in float32 anyway.
   */
  precision?: LowPrecision;
  /**
   * Score bytes one attention chunk may take (stdlib/nn/attention.ts, default 64 MiB): larger
   * attention is built in query chunks, recomputed one at a time in the backward pass; a
   * feed-forward whose hidden activation is larger, in token chunks (stdlib/nn/feedforward.ts).
   * Infinity: one block, whatever its size.
   */
  attentionChunkBytes?: number;
  /**
   * Attention of the graphs no gradient flows through (sample_step) as onnxruntime's fused
   * com.microsoft MultiHeadAttention: for --device cuda (a contrib op; the plain ops elsewhere).
   */
  fusedAttention?: boolean;
}

/** How a graph's attention is built: fused only where nothing is differentiated. */
export function attentionLowering(options: LowerOptions, graph: 'forward' | 'differentiated'): AttentionLowering {
  return {
    ...(options.attentionChunkBytes !== undefined ? { chunkBytes: options.attentionChunkBytes } : {}),
    ...(options.fusedAttention && graph === 'forward' ? { fused: true } : {}),
  };
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
  /** What the `watch` graph measures (the reward-hacking watch, ./watch.ts), when the program has one. */
  watch?: WatchInfo;
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
  /** The learned rewards' network sizes (LowerOptions.rewardConfigs). */
  rewardConfigs: RewardConfigs;
}

/**
 * The dtype a lowering at `precision` stores frozen weights in (the dtype to open their
 * checkpoint in): the low one, since nothing updates them, so they need no float32 master copy.
 * Mixed-precision LoRA training does the same (huggingface/diffusers,
 * examples/text_to_image/train_text_to_image_lora.py casts the frozen unet, vae and text
 * encoder to the weight dtype; mihirp1998/VADER, VADER-VideoCrafter/scripts/main/
 * train_t2v_lora.py halves the VAE and text encoder). float32 without precision.
 */
export function frozenWeightDtype(precision: LowPrecision | undefined): 'float32' | 'float16' | 'bfloat16' {
  return precision ? lowDtype(precision) : 'float32';
}

export function loweringBasis(plan: Plan, options: LowerOptions): LoweringBasis {
  const base = options.build ?? modelBuild(plan.model.name);
  const build: ModelBuild = options.tiny ? { ...base, denoiser: { ...base.denoiser, zeroInit: false } } : base;
  if (!options.tiny && !options.weights && !options.shapesOnly) {
    throw new LoweringError(`model '${plan.model.name}' needs its weights (pass them, or use --tiny for a random-initialised smoke run)`);
  }
  const lazy = !options.tiny && !options.weights;
  const params = new ParameterStore({
    seed: plan.train.seed,
    trainable: false,
    weights: options.weights,
    keyOf: options.weights || lazy ? checkpointKey(build) : undefined,
    lazyFrozen: lazy,
    ...(options.precision ? { frozenDtype: lowDtype(options.precision) } : {}),
  });
  const [C, T, h, w] = plan.derived.latent_shape;
  const B = plan.train.batch;
  const D = build.text.text.width;
  if (D !== build.denoiser.contextDim) throw new LoweringError(`text encoder width ${D} does not match the denoiser's context ${build.denoiser.contextDim}`);
  return { build, params, B, latentShape: [B, C, T, h, w], L: build.text.text.contextLength, D, E: build.text.embedDim, rewardConfigs: options.rewardConfigs ?? {} };
}


/** The interface of a graph, each tensor documented by `docOf` unless `docs` names it. */
export function describeGraph(graph: Graph, docOf: (name: string) => string, docs: Record<string, string> = {}): GraphInterface {
  const spec = (v: Value): TensorInterface => ({ name: v.name, dtype: v.dtype, shape: [...v.shape], doc: docs[v.name] ?? docOf(v.name) });
  return { inputs: graph.inputs.map(spec), outputs: graph.outputs.map(spec) };
}

/**
 * The interface texts every method's graphs share (state, outputs of the reward mix, the
 * optimizer's inputs); undefined for a name only the method knows.
 */
export function sharedDoc(name: string): string | undefined {
  if (name.endsWith('_out') && name !== 'latents_out') return `next value of ${name.slice(0, -4)}`;
  if (name.includes('.lora_')) return 'state: LoRA factor (trainable)';
  if (name.startsWith('adam.') || name.startsWith('acc.')) return 'state: optimizer';
  if (name.startsWith('reward.')) return `mean reward value of ${name.slice(7)}`;
  const prompt = rewardPromptDoc(name);
  if (prompt) return prompt;
  if (name.startsWith('loss.') && name !== 'loss.cd') return `unweighted loss of ${name.slice(5)}`;
  return SHARED_DOCS[name];
}

const SHARED_DOCS: Readonly<Record<string, string>> = {
  uncond_context: 'output: text_encode/context of the empty prompt',
  lr: 'learning rate of this optimizer step (warm-up applied by the runtime)',
  apply: 'accumulation: true on the last micro-step of a window',
  seed: 'LoRA dropout seed',
  dropout_step: 'LoRA dropout: global micro-step number',
  grad_norm: 'global gradient norm before clipping',
};

/** The LoRA modules once each, in build order (each graph that uses the UNet adapts the same layers). */
export function dedupeModules(modules: readonly LoraModule[]): LoraModule[] {
  const seen = new Set<string>();
  return modules.filter((m) => !seen.has(m.path) && seen.add(m.path));
}
