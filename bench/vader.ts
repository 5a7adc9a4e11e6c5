// The tiny VADER step for the benchmarks: pipelines/demo.vpl changed to what the PyTorch twin
// (bench/vader_torch.py) re-implements, lowered by `lower(plan, { tiny: true })`, and its
// `train_step` graph run in onnxruntime exactly as the lowering emits it.
//
// Changes to demo.vpl (as of db3233f; the plan is written out below): reward = 1.0 * brightness (analytic, so no CLIP in the step),
// decode = random(1) (one decoded frame, fed as frame_indices), backprop = last(1), LoRA
// dropout 0. Kept: tiny_vc (8 frames of 32x32 -> latents [2, 4, 8, 8, 8]), LoRA rank 4 on
// attn.q/k/v, DDIM 10 steps with eta 1 and CFG 5 (cond and uncond in one UNet batch of 4),
// AdamW lr 1e-3, clip 1, batch 2, seed 0. train_step gets the last schedule entry (t = 1).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { checkSource } from '../compiler/check/index.ts';
import type { TypedArray } from '../tensor/ir/dtype.ts';
import type { Graph } from '../tensor/ir/graph.ts';
import { emitModel } from '../tensor/emit/onnx.ts';
import { type LoweredProgram, lower } from '../compiler/lower/index.ts';
import type { Plan } from '../compiler/plan.ts';
import { modelBuild } from '../stdlib/models/registry.ts';
import { Rng } from '../stdlib/nn/index.ts';
import { writeF32 } from './common.ts';

export const VADER_TORCH_SCRIPT = fileURLToPath(new URL('./vader_torch.py', import.meta.url));
const DEMO = fileURLToPath(new URL('../pipelines/demo.vpl', import.meta.url));

/** The latent frame decoded in the benchmarks (any of 0..7; fixed so both sides agree). */
export const FRAME_INDEX = 5;
/** Std of the non-zero LoRA B factors used for the comparison (B is zero-initialised in vplc). */
export const LORA_B_STD = 0.05;
export const SEED = 0;

/**
 * The bench plan, written out here (pipelines/demo.vpl as of commit db3233f with the changes in
 * the header comment) so that later edits of the demo do not change what is measured.
 */
export const VADER_BENCH_SOURCE = `pipeline bench_vader

model tiny_vc {
  frames = 8
  size = 32x32
  fps = 8
}

lora {
  rank = 4
  dropout = 0
  targets = [attn.q, attn.k, attn.v]
}

prompts = tiny_shapes

sampler ddim {
  steps = 10
  eta = 1.0
  guidance = 5.0
}

objective reward {
  reward = 1.0 * brightness
  decode = random(1)
  backprop = last(1)
}

train {
  optimizer = adamw { lr = 1e-3  weight_decay = 0 }
  steps = 60
  batch = 2
  accumulate = 1
  seed = 0
}
`;

export function vaderPlan(options: { remat?: boolean } = {}): Plan {
  const remat = options.remat ?? true;
  const result = checkSource(VADER_BENCH_SOURCE, path.join(path.dirname(DEMO), 'bench_vader.vpl'), { overrides: [`train.remat=${remat}`] });
  if (!result.plan) throw new Error(`bench plan does not check: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  if (result.plan.train.remat !== remat) throw new Error('the train.remat override did not take');
  return result.plan;
}

export interface VaderStep {
  plan: Plan;
  lowered: LoweredProgram;
  graph: Graph;
  /** Trainable LoRA factor names (graph inputs), in optimizer order. */
  lora: string[];
  /** Output name -> the input it becomes in the next step. */
  carry: Map<string, string>;
  lowerSeconds: number;
}

export function buildVaderStep(options: { remat?: boolean } = {}): VaderStep {
  const t0 = performance.now();
  const plan = vaderPlan(options);
  const lowered = lower(plan, { tiny: true });
  const graph = lowered.program.graphs.train_step;
  if (!graph) throw new Error('the lowering made no train_step');
  const lora = lowered.trainable.map((p) => p.name);
  const carry = new Map<string, string>();
  for (const name of lora) {
    carry.set(`${name}_out`, name);
    carry.set(`adam.m.${name}_out`, `adam.m.${name}`);
    carry.set(`adam.v.${name}_out`, `adam.v.${name}`);
  }
  carry.set('adam.step_out', 'adam.step');
  return { plan, lowered, graph, lora, carry, lowerSeconds: (performance.now() - t0) / 1000 };
}

/** Seeded feeds: data inputs, sampler numbers of the last k schedule entries, LoRA (B non-zero), zero AdamW state. */
export function vaderFeeds(step: VaderStep): Record<string, TypedArray> {
  const { lowered, graph, plan } = step;
  const k = lowered.backpropSteps;
  const entries = lowered.sampler.slice(lowered.sampler.length - k);
  const feeds: Record<string, TypedArray> = {
    timesteps: Float32Array.from(entries, (e) => e.t),
    alphas_t: Float32Array.from(entries, (e) => e.alphaT),
    alphas_prev: Float32Array.from(entries, (e) => e.alphaPrev),
    frame_indices: BigInt64Array.from([BigInt(FRAME_INDEX)]),
    lr: Float32Array.of(plan.train.optimizer.lr),
    'adam.step': BigInt64Array.of(0n),
  };
  const loraSet = new Set(step.lora);
  for (const v of graph.inputs) {
    if (v.name in feeds) continue;
    if (v.name.startsWith('adam.')) feeds[v.name] = new Float32Array(v.size);
    else if (loraSet.has(v.name)) {
      const init = lowered.params.initialValue(v.name) as Float32Array;
      if (v.name.endsWith('.lora_B.weight')) {
        const b = new Float32Array(init.length);
        new Rng(SEED, `bench.${v.name}`).fillNormal(b, 0, LORA_B_STD);
        feeds[v.name] = b;
      } else feeds[v.name] = Float32Array.from(init);
    } else if (v.dtype === 'float32') {
      const data = new Float32Array(v.size);
      new Rng(SEED, `bench.input.${v.name}`).fillNormal(data);
      feeds[v.name] = data;
    } else throw new Error(`no feed for '${v.name}' (${v.dtype})`);
  }
  return feeds;
}

export function sessionOptions(threads: number, level: ort.InferenceSession.SessionOptions['graphOptimizationLevel'] = 'all'): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: level };
}

/** The train_step in an ORT session; `run()` is one step and carries LoRA, AdamW state and step. */
export class VaderRunner {
  private constructor(
    readonly step: VaderStep,
    readonly session: ort.InferenceSession,
    public feeds: Record<string, ort.Tensor>,
  ) {}

  static async create(step: VaderStep, feeds: Record<string, TypedArray>, options: ort.InferenceSession.SessionOptions): Promise<VaderRunner> {
    const session = await ort.InferenceSession.create(emitModel(step.graph), options);
    const tensors: Record<string, ort.Tensor> = {};
    for (const v of step.graph.inputs) {
      const data = feeds[v.name];
      if (!data) throw new Error(`no feed for '${v.name}'`);
      tensors[v.name] = new ort.Tensor(v.dtype as 'float32' | 'int64', data as never, [...v.shape]);
    }
    return new VaderRunner(step, session, tensors);
  }

  async run(): Promise<Record<string, ort.Tensor>> {
    const results = await this.session.run(this.feeds);
    for (const [output, input] of this.step.carry) this.feeds[input] = results[output];
    return results;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Write what bench/vader_torch.py reads: config.json, weights.safetensors (UNet, VAE, LoRA), inputs.safetensors. */
export async function exportVaderForTorch(dir: string, step: VaderStep, feeds: Record<string, TypedArray>, steps = 0): Promise<void> {
  const { plan, lowered } = step;
  const mb = modelBuild(plan.model.name);
  if (plan.objective.name !== 'reward' || plan.sampler.name !== 'ddim') throw new Error('bench plan: expected a reward objective with ddim');
  const terms = plan.objective.reward;
  if (terms.length !== 1 || terms[0].reward !== 'brightness') throw new Error('bench plan: the torch twin implements the brightness reward only');
  const opt = plan.train.optimizer;
  const config = {
    unet: { ...mb.denoiser, zeroInit: false }, // the lowering's --tiny build
    vae: mb.vae,
    lora: { rank: plan.lora.rank, alpha: plan.lora.alpha, names: step.lora },
    guidance: plan.sampler.guidance,
    eta: plan.sampler.eta,
    fps: plan.model.fps,
    frame_indices: Array.from(feeds.frame_indices as BigInt64Array, Number),
    reward_weight: terms[0].weight,
    clip: plan.train.clip,
    adamw: { lr: opt.lr, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps, weightDecay: opt.weight_decay },
    steps,
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const lora = new Set(step.lora);
  const used = new Set(step.graph.inputs.map((v) => v.name));
  for (const v of step.graph.initializers.keys()) used.add(v.name);
  const weights = lowered.params
    .list()
    .filter((p) => used.has(p.name))
    .map((p) => ({ name: p.name, shape: p.shape, data: lora.has(p.name) ? feeds[p.name] : lowered.params.initialValue(p.name) }));
  await writeF32(path.join(dir, 'weights.safetensors'), weights);
  const inputs = ['latents', 'noise', 'context', 'uncond_context', 'timesteps', 'alphas_t', 'alphas_prev'];
  const shapeOf = new Map(step.graph.inputs.map((v) => [v.name, v.shape]));
  await writeF32(
    path.join(dir, 'inputs.safetensors'),
    inputs.map((name) => ({ name, shape: shapeOf.get(name)!, data: feeds[name] })),
  );
}
