// The benchmark network, vplc side (bench/net_torch.py is its PyTorch twin):
//
//   x [B, Cin, H, W] -> conv1 3x3 -> norm1 GroupNorm -> SiLU -> conv2 3x3
//     -> tokens [B, H*W, C] -> norm2 LayerNorm -> attn (to_q, to_k, to_v, to_out.0) -> + tokens
//     -> [extraBlocks x (t += attn(norm(t)); t += mlp(t)), names blocks.<i>.*]
//     -> mlp (net.0.0 Linear, exact GELU, net.2 Linear) -> mean-squared error to target [B, H*W, C]
//
// built with the stdlib nn layers, differentiated by compiler/autodiff, updated by the in-graph
// AdamW of compiler/optim, simplified by compiler/passes, optionally rematerialised per block.
// The whole training step (forward + backward + AdamW) is one graph and one ORT run.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { gradients } from '../tensor/autodiff/grad.ts';
import { emitModel } from '../tensor/emit/onnx.ts';
import { Builder } from '../tensor/ir/builder.ts';
import type { TypedArray } from '../tensor/ir/dtype.ts';
import { Graph, type Node, type Value } from '../tensor/ir/graph.ts';
import { eliminateCommonSubexpressions, eliminateDeadCode, foldConstants, rematerialize, scheduleForMemory } from '../tensor/passes/index.ts';
import { type AdamWConfig, adamw } from '../tensor/optim/adamw.ts';
import { writeF32 } from './common.ts';
import { attention, conv2d, feedForward, groupNorm, layerNorm, type NN, ParameterStore, Rng, silu } from '../stdlib/nn/index.ts';

export interface NetConfig {
  batch: number;
  inChannels: number;
  channels: number;
  height: number;
  width: number;
  groups: number;
  heads: number;
  mlp: number;
  /** Extra transformer blocks (t += attn(norm(t)); t += mlp(t)) before the final MLP; default 0. */
  extraBlocks?: number;
}

/** The cross-check size (the brief's example). */
export const SMALL: NetConfig = { batch: 2, inChannels: 8, channels: 32, height: 16, width: 16, groups: 8, heads: 4, mlp: 128 };
/** A size where the step is dominated by real work rather than per-op overhead. */
export const MEDIUM: NetConfig = { batch: 4, inChannels: 16, channels: 64, height: 32, width: 32, groups: 8, heads: 4, mlp: 256 };
/** MEDIUM with 3 more attention + MLP blocks: where per-block remat has activations to drop. */
export const DEEP: NetConfig = { ...MEDIUM, extraBlocks: 3 };
export const CONFIGS: Record<string, NetConfig> = { small: SMALL, medium: MEDIUM, deep: DEEP };

export const ADAMW: Required<AdamWConfig> & { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number } = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
};

export const SEED = 1234;

/** The forward pass; remat segments per block (conv block, attention block, MLP). */
export function forward(nn: NN, cfg: NetConfig, x: Value): Value {
  const { b } = nn;
  const c = cfg.channels;
  const h = b.inSegment('conv_block', () => {
    let h = conv2d(nn, 'conv1', x, { out: c, kernel: 3, padding: 1 });
    h = silu(b, groupNorm(nn, 'norm1', h, { groups: cfg.groups }));
    return conv2d(nn, 'conv2', h, { out: c, kernel: 3, padding: 1 });
  });
  let t = b.inSegment('attn_block', () => {
    const tokens = b.transpose(b.reshape(h, [cfg.batch, c, cfg.height * cfg.width]), [0, 2, 1]);
    const n = layerNorm(nn, 'norm2', tokens);
    return b.add(tokens, attention(nn, 'attn', n, { heads: cfg.heads, dimHead: c / cfg.heads }));
  });
  for (let i = 1; i <= (cfg.extraBlocks ?? 0); i++) {
    t = b.inSegment(`block${i}`, () =>
      b.within(`blocks.${i}`, () => {
        const a = b.add(t, attention(nn, 'attn', layerNorm(nn, 'norm', t), { heads: cfg.heads, dimHead: c / cfg.heads }));
        return b.add(a, feedForward(nn, 'mlp', a, { inner: cfg.mlp, activation: 'gelu' }));
      }),
    );
  }
  return b.inSegment('mlp_block', () => feedForward(nn, 'mlp', t, { inner: cfg.mlp, activation: 'gelu' }));
}

export interface TrainStepOptions {
  /** Rematerialise each block's activations in the backward pass. */
  remat?: boolean;
  /** Also output each parameter's gradient (`grad.<name>`), for the cross-check. */
  exposeGrads?: boolean;
  seed?: number;
  adamw?: AdamWConfig;
}

export interface TrainStep {
  graph: Graph;
  store: ParameterStore;
  /** Trainable parameter names, in declaration order. */
  names: string[];
  /** Output name -> the input it becomes in the next step (params, AdamW state, step). */
  carry: Map<string, string>;
  lossName: string;
  gradNames: Map<string, string>;
  /** Forward nodes (after simplification), nodes recomputed by remat. */
  forwardNodes: number;
  recomputed: number;
  /** Seconds spent building, differentiating, simplifying. */
  compileSeconds: number;
}

function rename(graph: Graph, v: Value, name: string): void {
  v.name = graph.uniqueName(name);
}

export async function buildTrainStep(cfg: NetConfig, options: TrainStepOptions = {}): Promise<TrainStep> {
  const t0 = performance.now();
  const graph = new Graph('train_step');
  const b = new Builder(graph);
  const store = new ParameterStore({ seed: options.seed ?? SEED, trainable: true });
  const nn: NN = { b, params: store };
  const tokens = cfg.height * cfg.width;
  const x = b.input('x', [cfg.batch, cfg.inChannels, cfg.height, cfg.width]);
  const target = b.input('target', [cfg.batch, tokens, cfg.channels]);
  const y = forward(nn, cfg, x);
  const loss = b.within('loss', () => {
    const d = b.sub(y, target);
    return b.reduceMean(b.mul(d, d), undefined, false);
  });
  const forwardSet = new Set<Node>(graph.nodes);

  const names = store.trainable().map((p) => p.name);
  const byName = new Map(graph.inputs.map((v) => [v.name, v]));
  const params = names.map((n) => byName.get(n)!);
  const grads = gradients(graph, loss, params);

  const m = params.map((p) => b.input(`adam.m.${p.name}`, p.shape));
  const v = params.map((p) => b.input(`adam.v.${p.name}`, p.shape));
  const step = b.input('adam.step', [], 'int64');
  const update = adamw(
    b,
    params.map((param, i) => ({ param, grad: grads.get(param)!, m: m[i], v: v[i] })),
    step,
    options.adamw ?? ADAMW,
  );

  rename(graph, loss, 'loss');
  graph.markOutput(loss);
  const carry = new Map<string, string>();
  const gradNames = new Map<string, string>();
  if (options.exposeGrads) {
    params.forEach((p) => {
      const g = grads.get(p)!;
      rename(graph, g, `grad.${p.name}`);
      graph.markOutput(g);
      gradNames.set(p.name, g.name);
    });
  }
  const out = (value: Value, name: string, input: string) => {
    rename(graph, value, name);
    graph.markOutput(value);
    carry.set(value.name, input);
  };
  params.forEach((p, i) => {
    out(update.params[i], `new.${p.name}`, p.name);
    out(update.m[i], `new.adam.m.${p.name}`, m[i].name);
    out(update.v[i], `new.adam.v.${p.name}`, v[i].name);
  });
  out(update.step, 'new.adam.step', step.name);

  // Simplify (these keep the relative order of the nodes, so the forward pass stays a prefix).
  await foldConstants(graph);
  eliminateCommonSubexpressions(graph);
  eliminateDeadCode(graph);
  const forwardNodes = graph.nodes.filter((n) => forwardSet.has(n)).length;
  let recomputed = 0;
  if (options.remat) {
    const report = rematerialize(graph, { forwardNodes });
    for (const n of report.recomputed.values()) recomputed += n;
    eliminateDeadCode(graph);
  }
  scheduleForMemory(graph);
  return {
    graph,
    store,
    names,
    carry,
    lossName: loss.name,
    gradNames,
    forwardNodes,
    recomputed,
    compileSeconds: (performance.now() - t0) / 1000,
  };
}

/** Seeded inputs: x ~ N(0, 1), target ~ N(0, 0.5). */
export function makeInputs(cfg: NetConfig, seed = SEED): { x: Float32Array; target: Float32Array } {
  const x = new Float32Array(cfg.batch * cfg.inChannels * cfg.height * cfg.width);
  const target = new Float32Array(cfg.batch * cfg.height * cfg.width * cfg.channels);
  new Rng(seed, 'inputs.x').fillNormal(x);
  new Rng(seed, 'inputs.target').fillNormal(target, 0, 0.5);
  return { x, target };
}

/** Initial feeds of the step: inputs, seeded-init parameters, zero AdamW state, step 0. */
export function initialFeeds(step: TrainStep, cfg: NetConfig, seed = SEED): Record<string, TypedArray> {
  const { x, target } = makeInputs(cfg, seed);
  const feeds: Record<string, TypedArray> = { x, target };
  for (const value of step.graph.inputs) {
    if (value.name === 'adam.step') feeds[value.name] = new BigInt64Array([0n]);
    else if (value.name.startsWith('adam.')) feeds[value.name] = new Float32Array(value.size);
    else if (!(value.name in feeds)) feeds[value.name] = step.store.initialValue(value.name);
  }
  return feeds;
}

export const ORT_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 2, // the PyTorch side uses 2 threads too
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/** A compiled training step in an ORT session; `run()` does one step and carries the state. */
export class StepRunner {
  private constructor(
    readonly step: TrainStep,
    readonly session: ort.InferenceSession,
    public feeds: Record<string, ort.Tensor>,
  ) {}

  static async create(step: TrainStep, feeds: Record<string, TypedArray>, options: ort.InferenceSession.SessionOptions = ORT_OPTIONS): Promise<StepRunner> {
    const session = await ort.InferenceSession.create(emitModel(step.graph), options);
    const tensors: Record<string, ort.Tensor> = {};
    for (const v of step.graph.inputs) {
      const data = feeds[v.name];
      if (!data) throw new Error(`no feed for '${v.name}'`);
      tensors[v.name] = new ort.Tensor(v.dtype === 'int64' ? 'int64' : 'float32', data as never, [...v.shape]);
    }
    return new StepRunner(step, session, tensors);
  }

  /** One training step; returns every output (loss, grads, new state) and carries the state. */
  async run(): Promise<Record<string, ort.Tensor>> {
    const results = await this.session.run(this.feeds);
    for (const [output, input] of this.step.carry) this.feeds[input] = results[output];
    return results;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Write what bench/net_torch.py reads: config.json, weights.safetensors, inputs.safetensors. */
export async function exportForTorch(dir: string, step: TrainStep, cfg: NetConfig, feeds: Record<string, TypedArray>, steps = 0): Promise<void> {
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ net: cfg, adamw: ADAMW, steps }, null, 2));
  const shapeOf = new Map(step.graph.inputs.map((v) => [v.name, v.shape]));
  await writeF32(
    path.join(dir, 'weights.safetensors'),
    step.names.map((name) => ({ name, shape: shapeOf.get(name)!, data: feeds[name] })),
  );
  await writeF32(path.join(dir, 'inputs.safetensors'), [
    { name: 'x', shape: shapeOf.get('x')!, data: feeds.x },
    { name: 'target', shape: shapeOf.get('target')!, data: feeds.target },
  ]);
}
