// The small training helper the tiny world's training scripts share (train-vae, train-clip,
// train-unet): build a forward graph with a trainable ParameterStore, differentiate the loss
// with compiler/autodiff, clip gradients by global norm, append the in-graph AdamW update,
// simplify, and run the whole step (forward + backward + update) as one ORT run, many times in
// one session, carrying parameters and optimizer state from outputs to inputs.
//
//   const t = await Trainer.create({ name: 'vae', seed: 1, build: (nn) => ({ loss, metrics }) });
//   for (...) { const { loss } = await t.step({ frames }, lrAt(i)); }
//   await t.save('stdlib/weights/tiny/tiny_vae.safetensors', { psnr: '...' });
//
// The learning rate is a graph input (`lr`), so schedules need no recompilation.
import * as ort from 'onnxruntime-node';
import { gradients } from '../../tensor/autodiff/grad.ts';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import type { TypedArray } from '../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { adamw } from '../../tensor/optim/adamw.ts';
import { clipByGlobalNorm } from '../../tensor/optim/clip.ts';
import { eliminateCommonSubexpressions, eliminateDeadCode, foldConstants } from '../../tensor/passes/index.ts';
import { numericData } from '../../tensor/ir/numeric.ts';
import { writeSafetensors } from '../../runtime/weights/safetensors.ts';
import { type NN, ParameterStore, type ParameterStoreOptions } from '../../stdlib/nn/index.ts';

export const ORT_TRAIN_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  // The machine is shared: spinning worker threads waste the cores other processes need.
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

export interface BuiltLoss {
  /** Scalar float32 loss. */
  loss: Value;
  /** Other scalars to report each step (name -> value). */
  metrics?: Record<string, Value>;
}

export interface TrainerSpec {
  name: string;
  /** Seed of the parameter initialisers. */
  seed: number;
  /** Builds the forward pass and loss; declares its data inputs with nn.b.input(). */
  build: (nn: NN) => BuiltLoss;
  /** Options of the trainable store (trainable: true is forced). */
  store?: Omit<ParameterStoreOptions, 'trainable'>;
  weightDecay?: number;
  beta2?: number;
  /** Global gradient-norm clip; default 1. */
  maxGradNorm?: number;
  /** Initial parameter values by name (e.g. resume); else the store's initial values. */
  initial?: Map<string, Float32Array>;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  metrics: Record<string, number>;
}

export class Trainer {
  private constructor(
    readonly spec: TrainerSpec,
    readonly store: ParameterStore,
    readonly graph: Graph,
    private readonly session: ort.InferenceSession,
    private readonly state: Record<string, ort.Tensor>,
    /** Output name -> input name it becomes in the next step. */
    private readonly carry: Map<string, string>,
    readonly paramNames: string[],
    private readonly dataInputs: Map<string, Value>,
    private readonly metricNames: string[],
    readonly compileSeconds: number,
  ) {}

  static async create(spec: TrainerSpec): Promise<Trainer> {
    const t0 = performance.now();
    const graph = new Graph(`train_${spec.name}`);
    const b = new Builder(graph);
    const store = new ParameterStore({ ...spec.store, seed: spec.seed, trainable: true });
    const nn: NN = { b, params: store };
    const built = spec.build(nn);
    const paramNames = store.trainable().map((p) => p.name);
    const paramSet = new Set(paramNames);
    const byName = new Map(graph.inputs.map((v) => [v.name, v]));
    const params = paramNames.map((n) => byName.get(n)!);
    const dataInputs = new Map(graph.inputs.filter((v) => !paramSet.has(v.name)).map((v) => [v.name, v]));

    const grads = gradients(graph, built.loss, params);
    const clipped = clipByGlobalNorm(
      b,
      params.map((p) => grads.get(p)!),
      spec.maxGradNorm ?? 1,
    );
    const lr = b.input('lr', []);
    const m = params.map((p) => b.input(`adam.m.${p.name}`, p.shape));
    const v = params.map((p) => b.input(`adam.v.${p.name}`, p.shape));
    const step = b.input('adam.step', [], 'int64');
    const update = adamw(
      b,
      params.map((param, i) => ({ param, grad: clipped.grads[i], m: m[i], v: v[i] })),
      step,
      { lr, weightDecay: spec.weightDecay ?? 0.01, beta2: spec.beta2 ?? 0.999 },
    );
    const output = (value: Value, name: string) => {
      value.name = graph.uniqueName(name);
      graph.markOutput(value);
      return value.name;
    };
    output(built.loss, 'loss');
    output(clipped.norm, 'grad_norm');
    const metricNames: string[] = [];
    for (const [name, value] of Object.entries(built.metrics ?? {})) metricNames.push(output(b.op('Identity', [value]), `metric.${name}`));
    const carry = new Map<string, string>();
    params.forEach((p, i) => {
      carry.set(output(update.params[i], `new.${p.name}`), p.name);
      carry.set(output(update.m[i], `new.adam.m.${p.name}`), m[i].name);
      carry.set(output(update.v[i], `new.adam.v.${p.name}`), v[i].name);
    });
    carry.set(output(update.step, 'new.adam.step'), step.name);

    await foldConstants(graph);
    eliminateCommonSubexpressions(graph);
    eliminateDeadCode(graph);

    const session = await ort.InferenceSession.create(emitModel(graph), ORT_TRAIN_OPTIONS);
    const state: Record<string, ort.Tensor> = {};
    params.forEach((p, i) => {
      const data = spec.initial?.get(p.name) ?? (store.initialValue(p.name) as Float32Array);
      state[p.name] = new ort.Tensor('float32', Float32Array.from(data), [...p.shape]);
      state[m[i].name] = new ort.Tensor('float32', new Float32Array(p.size), [...p.shape]);
      state[v[i].name] = new ort.Tensor('float32', new Float32Array(p.size), [...p.shape]);
    });
    state[step.name] = new ort.Tensor('int64', new BigInt64Array([0n]), []);
    return new Trainer(spec, store, graph, session, state, carry, paramNames, dataInputs, metricNames, (performance.now() - t0) / 1000);
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.paramNames.reduce((n, name) => n + this.state[name].size, 0);
  }

  /** Shapes of the data inputs the build declared. */
  inputShape(name: string): readonly number[] {
    const v = this.dataInputs.get(name);
    if (!v) throw new Error(`${this.spec.name}: no data input '${name}' (has ${[...this.dataInputs.keys()].join(', ')})`);
    return v.shape;
  }

  /** One training step on `data` (every data input by name) at learning rate `lr`. */
  async step(data: Record<string, TypedArray>, lr: number): Promise<StepResult> {
    const feeds: Record<string, ort.Tensor> = { ...this.state, lr: new ort.Tensor('float32', new Float32Array([lr]), []) };
    for (const [name, v] of this.dataInputs) {
      const d = data[name];
      if (!d) throw new Error(`${this.spec.name}: no data for input '${name}'`);
      if (d.length !== v.size) throw new Error(`${this.spec.name}: input '${name}' wants ${v.size} values, got ${d.length}`);
      feeds[name] = new ort.Tensor(v.dtype === 'int64' ? 'int64' : 'float32', d as never, [...v.shape]);
    }
    const out = await this.session.run(feeds);
    for (const [o, i] of this.carry) this.state[i] = out[o];
    const metrics: Record<string, number> = {};
    for (const name of this.metricNames) metrics[name.slice('metric.'.length)] = Number((out[name].data as Float32Array)[0]);
    return { loss: Number((out.loss.data as Float32Array)[0]), gradNorm: Number((out.grad_norm.data as Float32Array)[0]), metrics };
  }

  /** Current parameter values by name. */
  parameters(): Map<string, Float32Array> {
    return new Map(this.paramNames.map((n) => [n, this.state[n].data as Float32Array]));
  }

  /** Write the parameters (keys = parameter names) as a float32 safetensors file. */
  async save(path: string, metadata: Record<string, string> = {}, dtype: 'F32' | 'F16' = 'F32'): Promise<void> {
    await saveParameters(path, this.parameters(), this.store, metadata, dtype);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Write parameters as safetensors with the shapes the store declared: float32, or float16 to
 * halve the file (the store converts back to float32 when it loads them).
 */
export async function saveParameters(path: string, values: Map<string, Float32Array>, store: ParameterStore, metadata: Record<string, string> = {}, dtype: 'F32' | 'F16' = 'F32'): Promise<void> {
  const shapes = new Map(store.list().map((p) => [p.name, p.shape]));
  const tensors = [...values].map(([name, data]) => ({
    name,
    dtype,
    shape: shapes.get(name)!,
    data: dtype === 'F16' ? (numericData('float16', Array.from(data)) as Uint16Array) : data,
  }));
  await writeSafetensors(path, tensors, { metadata });
}

/** Linear warm-up then cosine decay to `floor` x peak. */
export function warmupCosine(step: number, total: number, peak: number, warmup: number, floor = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/**
 * A wall-clock training budget: the run stops after `seconds`, and the learning rate follows
 * warm-up + cosine over the fraction of the budget spent (so a busy machine trains fewer steps
 * rather than overrunning).
 */
export class Budget {
  private readonly t0 = performance.now();
  constructor(
    readonly seconds: number,
    readonly maxSteps = Number.POSITIVE_INFINITY,
  ) {}
  get elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }
  /** Fraction of the budget spent (by time or by steps, whichever is further). */
  progress(step: number): number {
    return Math.min(1, Math.max(this.elapsed / this.seconds, step / this.maxSteps));
  }
  done(step: number): boolean {
    return this.progress(step) >= 1;
  }
  lr(step: number, peak: number, warmupSteps = 30, floor = 0.05): number {
    if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
    return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * this.progress(step))));
  }
}

/** Seconds since `t0` (performance.now()), one decimal. */
export function since(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(1);
}

/** PSNR in dB of images in [-1, 1] (peak-to-peak 2). */
export function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.max(-1, Math.min(1, a[i])) - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return 10 * Math.log10(4 / Math.max(mse, 1e-12));
}
