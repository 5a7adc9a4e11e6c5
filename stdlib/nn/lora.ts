// LoRA on linear and conv layers.
//   linear: y = W x + b + (alpha / rank) * B (A dropout(x)), A [rank, in] kaiming-uniform
//           (a = sqrt 5, PEFT's default), B [out, rank] zeros.
//   conv:   y = conv(x; W) + (alpha / rank) * conv1x1(conv(dropout(x); A); B) with A [rank, in, k...]
//           sharing the layer's kernel, stride, padding and dilation (kaiming-uniform over
//           fan_in = in * prod(k)) and B [out, rank, 1...] zeros (PEFT's LoRA Conv layout).
// B starts at zero, so an adapted model starts exactly equal to the base model. A and B are
// trainable parameters (graph inputs) named `<module path>.lora_A.weight` / `.lora_B.weight`;
// with the prefix `base_model.model.` (peftKey) these are PEFT's state-dict keys. For a conv
// (groups 1), W + scale * B A is mergeLora on the weights flattened to [out, in * prod(k)].
//
// Which layers: a plan's targets (`attn.q`, `temporal_attn.v`, `ff`, `conv`, ...) are resolved
// through the model family's target table (stdlib/models/<family>/lora-targets.ts) to patterns
// over module paths (the builder's scope paths, which are the checkpoint keys). Layers are
// adapted through the `linearHook` of stdlib/nn/linear and the `convHook` of stdlib/nn/conv. The
// targets `linear` and `conv` match by layer kind (every linear / every conv); the others by
// path, whatever the layer kind.
import type { Value } from '../../tensor/ir/graph.ts';
import { hashCounters, noiseKey, PRIME } from '../../tensor/optim/random.ts';
import type { ConvHook, ConvLayerInfo } from './conv.ts';
import type { LinearHook } from './linear.ts';
import { init, type NN, parameter } from './parameters.ts';
import { hashString } from './random.ts';

export interface LoraConfig {
  rank: number;
  /** Update scale is alpha / rank. */
  alpha: number;
  dropout: number;
  targets: readonly string[];
}

/** Plan target -> module-path patterns: one table per model family. */
export type LoraTargetTable = Readonly<Record<string, readonly RegExp[]>>;

/** A pattern matching a module path that ends in `body`. */
export const at = (body: string): RegExp => new RegExp(String.raw`(?:^|\.)${body}$`);

/** The kind of layer a hook adapts. */
export type LoraLayerKind = 'linear' | 'conv';

/** Targets that only apply to one kind of layer (in every family); the others apply to both. */
export const loraTargetKinds: Readonly<Record<string, LoraLayerKind>> = { linear: 'linear', conv: 'conv' };

/**
 * The target (plan name) that adapts the layer at `path` of the given kind, or undefined.
 * Unknown targets throw.
 */
export function loraMatcher(table: LoraTargetTable, targets: readonly string[], family = 'model'): (path: string, kind?: LoraLayerKind) => string | undefined {
  const rules = targets.map((t) => {
    const patterns = table[t];
    if (!patterns) throw new Error(`LoRA: '${t}' is not a target of the ${family} family (known: ${Object.keys(table).join(', ')})`);
    return { target: t, patterns, kind: loraTargetKinds[t] as LoraLayerKind | undefined };
  });
  return (path, kind = 'linear') => rules.find((r) => (r.kind === undefined || r.kind === kind) && r.patterns.some((p) => p.test(path)))?.target;
}

export interface LoraModule {
  /** Module path (the layer's scope). */
  path: string;
  target: string;
  in: number;
  out: number;
  /** Conv layers only: the kernel; A is [rank, in, ...kernel], B [out, rank, 1...]. */
  kernel?: number[];
  /** Parameter (graph input) names. */
  a: string;
  b: string;
}

export interface LoraOptions extends LoraConfig {
  /** The model family's target table, and its name for messages. */
  table: LoraTargetTable;
  family?: string;
  /**
   * In-graph dropout masks: int64 scalars (seed, step). Without them (sampling graphs) dropout
   * is the identity. Masks are a pure function of (seed, step, module), so rematerialisation
   * recomputes the same mask.
   */
  dropoutRng?: { seed: Value; step: Value };
}

/** The scale of the update. */
export function loraScale(config: Pick<LoraConfig, 'rank' | 'alpha'>): number {
  return config.alpha / config.rank;
}

/**
 * An NN that adapts the targeted linears and convs of whatever is built with it. `modules` lists
 * the adapted layers (once each, in build order).
 */
export function withLora(nn: NN, options: LoraOptions): { nn: NN & { linearHook: LinearHook; convHook: ConvHook }; modules: LoraModule[] } {
  const match = loraMatcher(options.table, options.targets, options.family);
  const modules: LoraModule[] = [];
  const seen = new Set<string>();
  const scale = loraScale(options);
  if (!(options.rank >= 1) || !Number.isInteger(options.rank)) throw new Error(`LoRA rank must be a positive integer, got ${options.rank}`);
  if (options.dropout < 0 || options.dropout >= 1) throw new Error(`LoRA dropout must be in [0, 1), got ${options.dropout}`);
  const hook: LinearHook = (inner, x, y, layer) => {
    const target = match(layer.path, 'linear');
    if (!target) return y;
    const { b } = inner;
    const r = options.rank;
    const a = b.within('lora_A', () => parameter(inner, 'weight', [r, layer.in], { init: init.kaimingUniform(), dtype: 'float32', trainable: true }));
    const bw = b.within('lora_B', () => parameter(inner, 'weight', [layer.out, r], { init: init.zeros(), dtype: 'float32', trainable: true }));
    if (!seen.has(layer.path)) {
      seen.add(layer.path);
      modules.push({ path: layer.path, target, in: layer.in, out: layer.out, a: a.name, b: bw.name });
    }
    return b.within('lora', () => {
      let h = x.rank === 1 ? b.unsqueeze(x, [0]) : x;
      if (options.dropout > 0 && options.dropoutRng) h = loraDropout(inner, h, options.dropout, options.dropoutRng, layer.path);
      h = b.matmul(h, b.transpose(b.cast(a, h.dtype), [1, 0]));
      h = b.matmul(h, b.transpose(b.cast(bw, h.dtype), [1, 0]));
      if (x.rank === 1) h = b.squeeze(h, [0]);
      return b.add(y, b.mul(h, b.scalarLike(h, scale)));
    });
  };
  const convHook: ConvHook = (inner, x, y, layer) => {
    const target = match(layer.path, 'conv');
    if (!target) return y;
    const { b } = inner;
    const r = options.rank;
    const channelsLast = layer.layout === 'channels-last';
    if (layer.groups !== 1) throw new Error(`LoRA: ${layer.path} is a grouped convolution (${layer.groups} groups); LoRA adapts ungrouped convs only`);
    if (channelsLast && !isPointwise(layer)) throw new Error(`LoRA: ${layer.path}: a channels-last conv must be 1x1, stride 1, unpadded`);
    const ones = layer.kernel.map(() => 1);
    const a = b.within('lora_A', () => parameter(inner, 'weight', [r, layer.in, ...layer.kernel], { init: init.kaimingUniform(), dtype: 'float32', trainable: true }));
    const bw = b.within('lora_B', () => parameter(inner, 'weight', [layer.out, r, ...ones], { init: init.zeros(), dtype: 'float32', trainable: true }));
    if (!seen.has(layer.path)) {
      seen.add(layer.path);
      modules.push({ path: layer.path, target, in: layer.in, out: layer.out, kernel: [...layer.kernel], a: a.name, b: bw.name });
    }
    return b.within('lora', () => {
      let h = x;
      if (options.dropout > 0 && options.dropoutRng) h = loraDropout(inner, h, options.dropout, options.dropoutRng, layer.path);
      const av = b.cast(a, h.dtype);
      const bv = b.cast(bw, h.dtype);
      if (channelsLast) {
        h = b.matmul(h, b.transpose(b.reshape(av, [r, layer.in]), [1, 0]));
        h = b.matmul(h, b.transpose(b.reshape(bv, [layer.out, r]), [1, 0]));
      } else {
        h = b.conv(h, av, undefined, { strides: layer.strides, pads: layer.pads, dilations: layer.dilations });
        h = b.conv(h, bv);
      }
      return b.add(y, b.mul(h, b.scalarLike(h, scale)));
    });
  };
  return { nn: { ...nn, linearHook: hook, convHook }, modules };
}

function isPointwise(layer: ConvLayerInfo): boolean {
  return layer.kernel.every((k) => k === 1) && layer.strides.every((s) => s === 1) && layer.pads.every((p) => p === 0);
}

/**
 * The (seed, step) key every LoRA module's dropout starts from, built once per graph: the key's
 * hash rounds are scalar nodes, and a full-size UNet has hundreds of LoRA modules per call
 * (built per module, they were 60% of a VideoCrafter2 training graph's nodes).
 */
const baseKeys = new WeakMap<Value, WeakMap<Value, Value>>();
function dropoutBaseKey(b: NN['b'], seed: Value, step: Value): Value {
  let bySeed = baseKeys.get(seed);
  if (!bySeed) baseKeys.set(seed, (bySeed = new WeakMap()));
  let key = bySeed.get(step);
  if (!key) bySeed.set(step, (key = noiseKey(b, seed, step, 0)));
  return key;
}

/** Inverted dropout with a keep mask hashed from (seed, step, module path). */
function loraDropout(nn: NN, x: Value, p: number, rng: { seed: Value; step: Value }, path: string): Value {
  const { b } = nn;
  // the module's own stream: the shared key offset by the path's hash (the counter hash mixes it)
  const prime = b.scalar(Number(PRIME), 'int64');
  const offset = b.scalar(hashString(path) % 1_000_000_007, 'int64');
  const key = b.op('Mod', [b.add(dropoutBaseKey(b, rng.seed, rng.step), offset), prime]);
  const u = b.div(b.cast(hashCounters(b, b.arange(x.size, 'int64'), key), 'float32'), b.scalar(2 ** 31));
  const keep = b.cast(b.reshape(b.op('Not', [b.op('Less', [u, b.scalar(p)])]), [...x.shape]), x.dtype);
  return b.mul(b.mul(x, keep), b.scalarLike(x, 1 / (1 - p)));
}

/** PEFT's state-dict key of a LoRA parameter name. */
export function peftKey(name: string, prefix = 'base_model.model.'): string {
  return `${prefix}${name}`;
}

/**
 * Merge LoRA into a base weight for sampling: W + scale * B A (all row-major float32;
 * W [out, in], A [rank, in], B [out, rank]). Returns a new array. For an (ungrouped) conv pass
 * in = in * prod(kernel): W [out, in, k...], A [rank, in, k...] and B [out, rank, 1...] are
 * exactly those matrices in row-major order.
 */
export function mergeLora(weight: Float32Array, a: Float32Array, bw: Float32Array, shape: { out: number; in: number; rank: number }, scale: number): Float32Array {
  const { out, rank } = shape;
  const inn = shape.in;
  if (weight.length !== out * inn || a.length !== rank * inn || bw.length !== out * rank) {
    throw new Error(`mergeLora: sizes do not match W [${out}, ${inn}], A [${rank}, ${inn}], B [${out}, ${rank}]`);
  }
  const merged = new Float32Array(weight);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < rank; k++) {
      const coef = scale * bw[o * rank + k];
      if (coef === 0) continue;
      for (let i = 0; i < inn; i++) merged[o * inn + i] += coef * a[k * inn + i];
    }
  }
  return merged;
}
