// The parameter store: layers ask it for named parameters (shape + initialiser); it decides
// what each one becomes in the graph and keeps the list model builders map checkpoints with.
//
//   trainable -> a graph input (its initial value from initialValue(): checkpoint or seeded init)
//   frozen    -> an initializer: external data from a checkpoint file, inline checkpoint data,
//                or inline seeded init (random-initialised tiny models)
//
// With `frozenDtype` (fp16/bf16 lowering on a GPU) frozen float32 parameters are stored in that
// dtype, as the base model of mixed-precision LoRA training is, and a graph reads them through
// a Cast up to the float32 the layer asked for; tensor/optim/precision.ts then feeds the low
// initializer straight to the ops it lowers, so only float32 ops keep the Cast.
//
// Names follow the builder's scope path ("down.0.attn.to_q.weight"), the way torch state-dict
// keys do, so a checkpoint maps by name (optionally through `keyOf`). One store serves several
// graphs (sampling and training graphs of the same model); in one graph a parameter asked for
// twice (the conditional and unconditional UNet calls of CFG) is the same value.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { DType, TypedArray } from '../../tensor/ir/dtype.ts';
import { type ExternalData, formatShape, type Graph, numel, type Shape, type Value } from '../../tensor/ir/graph.ts';
import { float16ToNumber, numericData } from '../../tensor/ir/numeric.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { Rng } from './random.ts';

// ------------------------------------------------------------------ initialisers

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  /** torch.nn.init.kaiming_uniform_(a, mode='fan_in', nonlinearity='leaky_relu'); a = sqrt(5) is torch's Linear/Conv default. */
  | { kind: 'kaimingUniform'; a?: number }
  /** torch.nn.init.kaiming_normal_(a, mode='fan_in'). */
  | { kind: 'kaimingNormal'; a?: number }
  /** torch.nn.init.xavier_uniform_(gain). */
  | { kind: 'xavierUniform'; gain?: number }
  /** torch's default bias init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn of the weight. */
  | { kind: 'fanInUniform'; fanIn: number };

export const init = {
  zeros: (): Init => ({ kind: 'zeros' }),
  ones: (): Init => ({ kind: 'ones' }),
  constant: (value: number): Init => ({ kind: 'constant', value }),
  normal: (std = 1, mean = 0): Init => ({ kind: 'normal', std, mean }),
  uniform: (low: number, high: number): Init => ({ kind: 'uniform', low, high }),
  kaimingUniform: (a = Math.sqrt(5)): Init => ({ kind: 'kaimingUniform', a }),
  kaimingNormal: (a = 0): Init => ({ kind: 'kaimingNormal', a }),
  xavierUniform: (gain = 1): Init => ({ kind: 'xavierUniform', gain }),
  fanInUniform: (fanIn: number): Init => ({ kind: 'fanInUniform', fanIn }),
};

/** torch's _calculate_fan_in_and_fan_out: weight [out, in, k...]. */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) return { fanIn: shape[0] ?? 1, fanOut: shape[0] ?? 1 };
  const receptive = numel(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Values of `init` for a tensor of `shape`, drawn from `rng`. */
export function initialValues(spec: Init, shape: Shape, rng: Rng): number[] {
  const n = numel(shape);
  const { fanIn, fanOut } = fans(shape);
  const uniform = (bound: number) => Array.from({ length: n }, () => rng.uniformIn(-bound, bound));
  switch (spec.kind) {
    case 'zeros':
      return Array(n).fill(0);
    case 'ones':
      return Array(n).fill(1);
    case 'constant':
      return Array(n).fill(spec.value);
    case 'normal':
      return Array.from({ length: n }, () => rng.normal(spec.mean ?? 0, spec.std));
    case 'uniform':
      return Array.from({ length: n }, () => rng.uniformIn(spec.low, spec.high));
    case 'kaimingUniform': {
      const a = spec.a ?? Math.sqrt(5);
      const gain = Math.sqrt(2 / (1 + a * a));
      return uniform(gain * Math.sqrt(3 / fanIn));
    }
    case 'kaimingNormal': {
      const a = spec.a ?? 0;
      const std = Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fanIn);
      return Array.from({ length: n }, () => rng.normal(0, std));
    }
    case 'xavierUniform':
      return uniform((spec.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut)));
    case 'fanInUniform':
      return uniform(spec.fanIn > 0 ? 1 / Math.sqrt(spec.fanIn) : 0);
  }
}

// ------------------------------------------------------------------ checkpoints

/** One tensor of a checkpoint: inline data, or a byte range of a file (safetensors). */
export interface CheckpointTensor {
  dtype: DType;
  shape: Shape;
  data?: TypedArray;
  external?: ExternalData;
}

/** What the store needs from a checkpoint reader (runtime/weights adapts its files to this). */
export interface WeightSource {
  /** Shown in messages ("checkpoints/videocrafter2/model.ckpt"). */
  readonly description: string;
  get(key: string): CheckpointTensor | undefined;
  keys(): Iterable<string>;
}

// ------------------------------------------------------------------ the store

export interface ParameterStoreOptions {
  /** Seed of every initialiser (each parameter draws from its own stream derived from its name). */
  seed?: number;
  /** Default dtype of parameters (layers usually ask for their input's dtype). */
  dtype?: DType;
  /** Which parameters are trained: all, none (the default), or by name. A request's own flag wins. */
  trainable?: boolean | ((name: string) => boolean);
  /** Frozen and trainable values come from here when it has the key. */
  weights?: WeightSource;
  /** Parameter name -> checkpoint key (default: the name itself). */
  keyOf?: (name: string) => string;
  /** A parameter the checkpoint lacks: 'error' (listed by problems(), the default with weights) or 'init'. */
  onMissing?: 'error' | 'init';
  /**
   * Frozen parameters are known by shape only (no checkpoint, no random init): they become
   * lazy initializers that name their checkpoint key. For compiling and costing a full-size
   * model without its weights; trainable parameters (LoRA factors) are still initialised.
   */
  lazyFrozen?: boolean;
  /**
   * Frozen parameters asked for as float32 are stored in this dtype instead (their
   * initializers, the dtype checkpoint tensors must have to go by reference); graphs read them
   * through a Cast to float32. Trainable parameters stay float32 (the master copies).
   */
  frozenDtype?: 'float16' | 'bfloat16';
}

export interface ParameterRequest {
  init: Init;
  dtype?: DType;
  /** Overrides the store's policy (LoRA factors ask for true). */
  trainable?: boolean;
}

export interface ParameterInfo {
  name: string;
  shape: number[];
  dtype: DType;
  trainable: boolean;
  init: Init;
  /** Where the value comes from. */
  source: 'init' | 'checkpoint';
  /** The checkpoint key, when it comes from one. */
  key?: string;
}

interface Entry {
  /** info.dtype is the stored dtype; `asked` the one layers ask for (they differ with frozenDtype). */
  info: ParameterInfo;
  asked: DType;
  checkpoint?: CheckpointTensor;
  data?: TypedArray;
}

/** What layers receive: the builder and the parameter store. */
export interface NN {
  b: Builder;
  params: ParameterStore;
}

export class ParameterStore {
  private readonly entries = new Map<string, Entry>();
  private readonly values = new WeakMap<Graph, Map<string, Value>>();
  private readonly issues: string[] = [];

  constructor(readonly options: ParameterStoreOptions = {}) {}

  /** The parameter `name` of the current scope of `b` ("<scope>.<name>"), created on first use. */
  get(b: Builder, name: string, shape: Shape, request: ParameterRequest): Value {
    const entry = this.entry(b, name, shape, request);
    const full = entry.info.name;
    let perGraph = this.values.get(b.graph);
    if (!perGraph) this.values.set(b.graph, (perGraph = new Map()));
    const existing = perGraph.get(full);
    if (existing) return existing;
    const stored = this.materialise(b.graph, entry);
    if (stored.name !== full) throw new Error(`parameter '${full}' clashes with another graph value of that name`);
    const value = b.cast(stored, entry.asked);
    perGraph.set(full, value);
    return value;
  }

  /** What get() would return a value of, declared on first use but not added to any graph. */
  resolve(b: Builder, name: string, shape: Shape, request: ParameterRequest): ParameterInfo {
    const { info } = this.entry(b, name, shape, request);
    return { ...info, shape: [...info.shape] };
  }

  private entry(b: Builder, name: string, shape: Shape, request: ParameterRequest): Entry {
    const full = b.scope ? `${b.scope}.${name}` : name;
    const dtype = request.dtype ?? this.options.dtype ?? 'float32';
    let entry = this.entries.get(full);
    if (!entry) {
      entry = this.declare(full, shape, dtype, request);
      this.entries.set(full, entry);
    } else {
      const known = entry.info;
      if (known.shape.length !== shape.length || known.shape.some((d, i) => d !== shape[i]) || entry.asked !== dtype) {
        throw new ShapeError(
          `parameter '${full}' was declared as ${entry.asked} ${formatShape(known.shape)} and is now asked for as ${dtype} ${formatShape(shape)}`,
        );
      }
    }
    return entry;
  }

  /** Every parameter asked for so far, in order of declaration. */
  list(): ParameterInfo[] {
    return [...this.entries.values()].map((e) => ({ ...e.info, shape: [...e.info.shape] }));
  }

  trainable(): ParameterInfo[] {
    return this.list().filter((p) => p.trainable);
  }

  /** Total element counts (all and trainable). */
  count(): { total: number; trainable: number } {
    let total = 0;
    let trainable = 0;
    for (const { info } of this.entries.values()) {
      const n = numel(info.shape);
      total += n;
      if (info.trainable) trainable += n;
    }
    return { total, trainable };
  }

  /**
   * The initial value of a parameter (the feed of a trainable one): checkpoint data when it is
   * in memory, else the seeded initialiser. Checkpoint tensors held as external data are read
   * by the runtime, which gets the location from externalData().
   */
  initialValue(name: string): TypedArray {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`no parameter '${name}'`);
    if (entry.checkpoint?.external && !entry.checkpoint.data) {
      throw new Error(`parameter '${name}' is stored in ${entry.checkpoint.external.file}; read it from there`);
    }
    if (this.options.lazyFrozen && !entry.checkpoint && !entry.info.trainable) {
      throw new Error(`parameter '${name}' is known by shape only (compiled without weights)`);
    }
    return this.inlineData(entry);
  }

  externalData(name: string): ExternalData | undefined {
    return this.entries.get(name)?.checkpoint?.external;
  }

  /** Missing checkpoint keys, shape and dtype mismatches: all of them, not just the first. */
  problems(): string[] {
    return [...this.issues];
  }

  /** Checkpoint keys no parameter asked for (often a sign of a naming mismatch). */
  unusedKeys(): string[] {
    const weights = this.options.weights;
    if (!weights) return [];
    const used = new Set([...this.entries.values()].map((e) => e.info.key).filter((k): k is string => k !== undefined));
    return [...weights.keys()].filter((k) => !used.has(k));
  }

  /** Throw one error listing every problem, if there are any. */
  assertComplete(): void {
    if (this.issues.length === 0) return;
    const source = this.options.weights?.description ?? 'the checkpoint';
    throw new Error(`${this.issues.length} parameter problem(s) with ${source}:\n  ${this.issues.join('\n  ')}`);
  }

  // ---------------------------------------------------------------- internals

  private declare(name: string, shape: Shape, asked: DType, request: ParameterRequest): Entry {
    const policy = this.options.trainable ?? false;
    const trainable = request.trainable ?? (typeof policy === 'function' ? policy(name) : policy);
    const low = this.options.frozenDtype;
    const dtype = low && !trainable && asked === 'float32' ? low : asked;
    const info: ParameterInfo = { name, shape: [...shape], dtype, trainable, init: request.init, source: 'init' };
    const entry: Entry = { info, asked };
    const weights = this.options.weights;
    if (!weights) return entry;
    const key = this.options.keyOf ? this.options.keyOf(name) : name;
    const tensor = weights.get(key);
    if (!tensor) {
      if ((this.options.onMissing ?? 'error') === 'error') this.issues.push(`'${name}' is missing (key '${key}')`);
      return entry;
    }
    // Shapes that differ only by size-1 axes hold the same bytes (a 1x1 conv stored for a linear).
    const squeezed = (t: Shape) => t.filter((d) => d !== 1).join(',');
    if (squeezed(tensor.shape) !== squeezed(shape)) {
      this.issues.push(`'${name}' is ${formatShape(tensor.shape)} in the checkpoint (key '${key}'), the model wants ${formatShape(shape)}`);
      return entry;
    }
    if (tensor.dtype !== dtype && !tensor.data) {
      this.issues.push(`'${name}' is ${tensor.dtype} in the checkpoint (key '${key}'), the model wants ${dtype}; convert the checkpoint`);
      return entry;
    }
    info.source = 'checkpoint';
    info.key = key;
    entry.checkpoint = tensor;
    return entry;
  }

  private materialise(graph: Graph, entry: Entry): Value {
    const { name, shape, dtype, trainable } = entry.info;
    if (trainable) return graph.addInput(name, { dtype, shape });
    const external = entry.checkpoint?.external;
    if (external && entry.checkpoint?.dtype === dtype) return graph.addInitializer(name, { dtype, shape }, { external });
    if (this.options.lazyFrozen && !entry.checkpoint) {
      return graph.addInitializer(name, { dtype, shape }, { lazy: { key: this.options.keyOf ? this.options.keyOf(name) : name } });
    }
    return graph.addInitializer(name, { dtype, shape }, { data: this.inlineData(entry) });
  }

  private inlineData(entry: Entry): TypedArray {
    if (entry.data) return entry.data;
    const { name, shape, dtype } = entry.info;
    const ckpt = entry.checkpoint;
    if (ckpt?.data) {
      entry.data = ckpt.dtype === dtype ? ckpt.data : numericData(dtype, toNumbers(ckpt.dtype, ckpt.data));
    } else {
      const rng = new Rng(this.options.seed ?? 0, name);
      entry.data = numericData(dtype, initialValues(entry.info.init, shape, rng));
    }
    return entry.data;
  }
}

function toNumbers(dtype: DType, data: TypedArray): number[] {
  if (dtype === 'float16') return Array.from(data as Uint16Array, float16ToNumber);
  if (dtype === 'bfloat16') return Array.from(data as Uint16Array, (bits) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]);
  if (data instanceof BigInt64Array) return Array.from(data, Number);
  return Array.from(data as ArrayLike<number>);
}

/**
 * A view of `store` in which every trainable parameter reads from the graph input
 * `<prefix><name>` (same shape and dtype) and every frozen one is shared. Built through it, a
 * network is a copy whose trainable weights are fed separately: the EMA target network of
 * consistency distillation (`ema.` + the student's LoRA factors).
 */
export function shadowTrainable(store: ParameterStore, prefix: string): ParameterStore {
  const view = Object.create(store) as ParameterStore;
  view.get = (b, name, shape, request) => {
    const info = store.resolve(b, name, shape, request);
    if (!info.trainable) return store.get(b, name, shape, request);
    const shadow = `${prefix}${info.name}`;
    return b.graph.inputs.find((v) => v.name === shadow) ?? b.graph.addInput(shadow, { dtype: info.dtype, shape: info.shape });
  };
  return view;
}

/** Ask the store of `nn` for a parameter of the current scope. */
export function parameter(nn: NN, name: string, shape: Shape, request: ParameterRequest): Value {
  return nn.params.get(nn.b, name, shape, request);
}
