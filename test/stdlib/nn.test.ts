// nn layers, the parameter store and the PRNG, each run in onnxruntime against a naive JS
// reference written here.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import type { DType } from '../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import {
  attention,
  avgPool,
  conv2d,
  conv3d,
  dropout,
  embedding,
  feedForward,
  fans,
  gelu,
  groupNorm,
  init,
  initialValues,
  layerNorm,
  linear,
  type NN,
  ParameterStore,
  type ParameterStoreOptions,
  Rng,
  silu,
  sinusoidalTimestepEmbedding,
  upsampleNearest,
  type WeightSource,
} from '../../stdlib/nn/index.ts';

// ------------------------------------------------------------------ helpers

const prod = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
function data(n: number, seed = 1): number[] {
  let s = seed * 7919 + 17;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
/** Row-major index helpers. */
function at(shape: readonly number[], ...idx: number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + idx[i];
  return flat;
}

interface Setup {
  nn: NN;
  feeds: Record<string, Float32Array>;
  input(name: string, shape: number[], seed?: number, dtype?: DType): [Value, number[]];
  run(outputs: Value[]): Promise<number[][]>;
  /** The values of a parameter (frozen or trainable) by its full name. */
  param(name: string): number[];
}
function setup(options: ParameterStoreOptions = {}): Setup {
  const b = new Builder(new Graph('g'));
  const params = new ParameterStore({ seed: 3, ...options });
  const feeds: Record<string, Float32Array> = {};
  return {
    nn: { b, params },
    feeds,
    input(name, shape, seed = 1, dtype = 'float32') {
      const v = b.input(name, shape, dtype);
      feeds[v.name] = Float32Array.from(data(prod(shape), seed));
      return [v, Array.from(feeds[v.name])];
    },
    async run(outputs) {
      for (const p of params.trainable()) feeds[p.name] = params.initialValue(p.name) as Float32Array;
      for (const o of outputs) b.graph.markOutput(o);
      const result = await evaluate(b.graph, feeds);
      return outputs.map((o) => Array.from(result[o.name] as Float32Array));
    },
    param: (name) => Array.from(params.initialValue(name) as Float32Array),
  };
}

/** y[r, o] = sum_i x[r, i] w[o, i] + bias[o] on rows of x [R, I]. */
function linearRef(x: number[], rows: number, inF: number, w: number[], outF: number, bias?: number[]): number[] {
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y.push(acc);
    }
  }
  return y;
}

/** Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - poly * Math.exp(-a * a));
}
const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanhRef = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

// ------------------------------------------------------------------ random

describe('Rng (xoshiro128** + Box-Muller)', () => {
  it('matches a BigInt re-implementation of xoshiro128** from the same state', () => {
    const rng = new Rng(42);
    const s = Array.from(rng.state, BigInt);
    const M = 0xffffffffn;
    const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
    for (let i = 0; i < 50; i++) {
      const expected = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
      const t = (s[1] << 9n) & M;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = rotl(s[3], 11n);
      expect(rng.nextUint32()).toBe(Number(expected));
    }
  });

  it('is deterministic per seed and stream, and streams differ', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.uniform())(new Rng(7, 'w')));
    const b = Array.from({ length: 5 }, ((r) => () => r.uniform())(new Rng(7, 'w')));
    const c = Array.from({ length: 5 }, ((r) => () => r.uniform())(new Rng(7, 'v')));
    const d = Array.from({ length: 5 }, ((r) => () => r.uniform())(new Rng(8, 'w')));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(d);
  });

  it('draws uniforms in [0, 1) and standard normals with the right moments', () => {
    const rng = new Rng(1);
    const n = 200000;
    let sum = 0;
    let sq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      sum += u;
      sq += u * u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sq / n - (sum / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
    let ns = 0;
    let nsq = 0;
    let tail = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      ns += z;
      nsq += z * z;
      if (Math.abs(z) > 1.96) tail++;
    }
    expect(Math.abs(ns / n)).toBeLessThan(0.01);
    expect(Math.abs(nsq / n - 1)).toBeLessThan(0.02);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.004);
  });
});

// ------------------------------------------------------------------ parameters

describe('ParameterStore', () => {
  it('names parameters by scope, makes trainable ones graph inputs and frozen ones initializers', () => {
    const t = setup({ trainable: (name) => name.includes('to_q') });
    const [x] = t.input('x', [1, 4, 8]);
    t.nn.b.within('down', () => t.nn.b.within('0', () => attention(t.nn, 'attn', x, { heads: 2, dimHead: 4 })));
    const names = t.nn.params.list().map((p) => p.name);
    expect(names).toEqual(['down.0.attn.to_q.weight', 'down.0.attn.to_k.weight', 'down.0.attn.to_v.weight', 'down.0.attn.to_out.0.weight', 'down.0.attn.to_out.0.bias']);
    const graph = t.nn.b.graph;
    expect(graph.inputs.map((v) => v.name)).toEqual(['x', 'down.0.attn.to_q.weight']);
    expect([...graph.initializers.keys()].map((v) => v.name)).toContain('down.0.attn.to_k.weight');
    expect(t.nn.params.count()).toEqual({ total: 4 * 8 * 8 + 8, trainable: 64 });
  });

  it('returns the same value when a layer is applied twice in one graph, and checks shapes', () => {
    const t = setup();
    const [x] = t.input('x', [2, 5]);
    const y1 = linear(t.nn, 'proj', x, { out: 3 });
    const y2 = linear(t.nn, 'proj', x, { out: 3 });
    expect(y1.producer).not.toBe(y2.producer);
    expect(t.nn.params.list().length).toBe(2);
    expect(t.nn.b.graph.initializers.size).toBe(2);
    expect(() => linear(t.nn, 'proj', x, { out: 4 })).toThrow(/parameter 'proj.weight' was declared as float32 \[3, 5\] and is now asked for as float32 \[4, 5\]/);
  });

  it('initialises deterministically per name, independent of declaration order', () => {
    const a = new ParameterStore({ seed: 5 });
    const ba = new Builder(new Graph('a'));
    a.get(ba, 'p', [3], { init: init.normal(1) });
    a.get(ba, 'q', [3], { init: init.normal(1) });
    const c = new ParameterStore({ seed: 5 });
    const bc = new Builder(new Graph('c'));
    c.get(bc, 'q', [3], { init: init.normal(1) });
    c.get(bc, 'p', [3], { init: init.normal(1) });
    expect(Array.from(a.initialValue('p') as Float32Array)).toEqual(Array.from(c.initialValue('p') as Float32Array));
    const other = new ParameterStore({ seed: 6 });
    other.get(new Builder(new Graph('o')), 'p', [3], { init: init.normal(1) });
    expect(Array.from(a.initialValue('p') as Float32Array)).not.toEqual(Array.from(other.initialValue('p') as Float32Array));
  });

  it('implements torch fan computation and the kaiming/xavier/bias bounds', () => {
    expect(fans([8, 3, 3, 3])).toEqual({ fanIn: 27, fanOut: 72 });
    const rng = new Rng(0);
    const kaiming = initialValues(init.kaimingUniform(), [64, 27], rng);
    const bound = Math.sqrt(2 / 6) * Math.sqrt(3 / 27); // = 1/sqrt(27)
    expect(Math.max(...kaiming.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...kaiming.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const xavier = initialValues(init.xavierUniform(2), [30, 20], rng);
    expect(Math.max(...xavier.map(Math.abs))).toBeLessThanOrEqual(2 * Math.sqrt(6 / 50));
    const normal = initialValues(init.normal(0.02), [10000], rng);
    const std = Math.sqrt(normal.reduce((p, v) => p + v * v, 0) / normal.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001);
  });

  it('loads frozen weights from a checkpoint (inline and external) and lists every problem', () => {
    const tensors: Record<string, ReturnType<WeightSource['get']>> = {
      'enc.proj.weight': { dtype: 'float32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
      'enc.proj.bias': { dtype: 'float32', shape: [2], external: { file: 'model.safetensors', offset: 128, length: 8 } },
      'enc.out.weight': { dtype: 'float32', shape: [5, 2], data: new Float32Array(10) },
      'unused.key': { dtype: 'float32', shape: [1], data: new Float32Array(1) },
      'enc.conv.weight': { dtype: 'float32', shape: [4, 2, 1, 1], data: Float32Array.of(8, 7, 6, 5, 4, 3, 2, 1) },
      'enc.conv.bias': { dtype: 'float16', shape: [4], data: Uint16Array.of(0x3c00, 0xc000, 0x3800, 0) },
    };
    const weights: WeightSource = { description: 'model.safetensors', get: (k) => tensors[k], keys: () => Object.keys(tensors) };
    const t = setup({ weights });
    const [x] = t.input('x', [1, 3]);
    t.nn.b.within('enc', () => {
      const h = linear(t.nn, 'proj', x, { out: 2 });
      linear(t.nn, 'out', h, { out: 4 });
      linear(t.nn, 'conv', h, { out: 4 }); // a 1x1 conv in the checkpoint, fp16 bias converted
    });
    expect(Array.from(t.nn.params.initialValue('enc.conv.weight') as Float32Array)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(t.nn.params.initialValue('enc.conv.bias') as Float32Array)).toEqual([1, -2, 0.5, 0]);
    const byName = Object.fromEntries(t.nn.params.list().map((p) => [p.name, p]));
    expect(byName['enc.proj.weight'].source).toBe('checkpoint');
    expect(Array.from(t.nn.params.initialValue('enc.proj.weight') as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const bias = [...t.nn.b.graph.initializers].find(([v]) => v.name === 'enc.proj.bias')![1];
    expect(bias.external).toEqual({ file: 'model.safetensors', offset: 128, length: 8 });
    expect(t.nn.params.problems()).toEqual([
      "'enc.out.weight' is [5, 2] in the checkpoint (key 'enc.out.weight'), the model wants [4, 2]",
      "'enc.out.bias' is missing (key 'enc.out.bias')",
    ]);
    expect(t.nn.params.unusedKeys()).toEqual(['enc.out.weight', 'unused.key']);
    expect(() => t.nn.params.assertComplete()).toThrow(/2 parameter problem\(s\) with model.safetensors/);
  });
});

// ------------------------------------------------------------------ layers

describe('layers', () => {
  it('linear on [2, 3, 5] with bias, and a trainable linear fed as an input', async () => {
    const t = setup({ trainable: (name) => name.startsWith('train') });
    const [x, xv] = t.input('x', [2, 3, 5]);
    const y = linear(t.nn, 'proj', x, { out: 4 });
    const z = linear(t.nn, 'train', x, { out: 2, bias: false });
    expect(y.shape).toEqual([2, 3, 4]);
    expect(t.nn.b.graph.inputs.map((v) => v.name)).toEqual(['x', 'train.weight']);
    const [yo, zo] = await t.run([y, z]);
    expectClose(yo, linearRef(xv, 6, 5, t.param('proj.weight'), 4, t.param('proj.bias')));
    expectClose(zo, linearRef(xv, 6, 5, t.param('train.weight'), 2));
  });

  it('conv2d with stride, asymmetric padding and groups against a naive loop', async () => {
    const t = setup();
    const xs = [2, 4, 7, 6];
    const [x, xv] = t.input('x', xs);
    const y = conv2d(t.nn, 'conv', x, { out: 6, kernel: [3, 2], stride: [2, 1], padding: [1, 0, 0, 1], groups: 2 });
    const w = t.param('conv.weight');
    const bias = t.param('conv.bias');
    const [oh, ow] = [Math.floor((7 + 1 - 3) / 2) + 1, Math.floor((6 + 1 - 2) / 1) + 1];
    expect(y.shape).toEqual([2, 6, oh, ow]);
    const ref: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let o = 0; o < 6; o++) {
        const g = Math.floor(o / 3);
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            let acc = bias[o];
            for (let c = 0; c < 2; c++) {
              for (let ki = 0; ki < 3; ki++) {
                for (let kj = 0; kj < 2; kj++) {
                  const hh = i * 2 - 1 + ki;
                  const ww = j + kj;
                  if (hh < 0 || hh >= 7 || ww >= 6) continue;
                  acc += xv[at(xs, n, g * 2 + c, hh, ww)] * w[at([6, 2, 3, 2], o, c, ki, kj)];
                }
              }
            }
            ref.push(acc);
          }
        }
      }
    }
    expectClose((await t.run([y]))[0], ref);
  });

  it("conv3d with a temporal (3, 1, 1) kernel and 'same' padding", async () => {
    const t = setup();
    const xs = [1, 2, 5, 3, 2];
    const [x, xv] = t.input('x', xs);
    const y = conv3d(t.nn, 'temporal', x, { out: 3, kernel: [3, 1, 1], padding: 'same' });
    expect(y.shape).toEqual([1, 3, 5, 3, 2]);
    const w = t.param('temporal.weight');
    const bias = t.param('temporal.bias');
    const ref: number[] = [];
    for (let o = 0; o < 3; o++) {
      for (let f = 0; f < 5; f++) {
        for (let h = 0; h < 3; h++) {
          for (let q = 0; q < 2; q++) {
            let acc = bias[o];
            for (let c = 0; c < 2; c++) {
              for (let k = 0; k < 3; k++) {
                const ff = f - 1 + k;
                if (ff >= 0 && ff < 5) acc += xv[at(xs, 0, c, ff, h, q)] * w[at([3, 2, 3, 1, 1], o, c, k, 0, 0)];
              }
            }
            ref.push(acc);
          }
        }
      }
    }
    expectClose((await t.run([y]))[0], ref);
  });

  it('groupNorm with checkpoint affine parameters against per-group statistics', async () => {
    const weight = Float32Array.from(data(6, 9));
    const bias = Float32Array.from(data(6, 10));
    const weights: WeightSource = {
      description: 'test',
      get: (k) => (k === 'gn.weight' ? { dtype: 'float32', shape: [6], data: weight } : k === 'gn.bias' ? { dtype: 'float32', shape: [6], data: bias } : undefined),
      keys: () => ['gn.weight', 'gn.bias'],
    };
    const t = setup({ weights });
    const xs = [2, 6, 3, 5];
    const [x, xv] = t.input('x', xs);
    const y = groupNorm(t.nn, 'gn', x, { groups: 3, eps: 1e-6 });
    const ref = Array(prod(xs)).fill(0);
    const per = 2 * 15; // channels per group x spatial
    for (let n = 0; n < 2; n++) {
      for (let g = 0; g < 3; g++) {
        const start = n * 90 + g * per;
        const slice = xv.slice(start, start + per);
        const mu = slice.reduce((p, v) => p + v, 0) / per;
        const variance = slice.reduce((p, v) => p + (v - mu) ** 2, 0) / per;
        slice.forEach((v, i) => {
          const c = g * 2 + Math.floor(i / 15);
          ref[start + i] = ((v - mu) / Math.sqrt(variance + 1e-6)) * weight[c] + bias[c];
        });
      }
    }
    expectClose((await t.run([y]))[0], ref);
    expect(() => groupNorm(t.nn, 'bad', x, { groups: 4 })).toThrow(/in bad: groupNorm with 4 groups .* got \[2, 6, 3, 5\]/);
  });

  it('layerNorm over the last axis (affine and not)', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 3, 7]);
    const y = layerNorm(t.nn, 'ln', x, { eps: 1e-5 });
    const plain = layerNorm(t.nn, 'ln2', x, { affine: false });
    const [yo, po] = await t.run([y, plain]);
    const ref: number[] = [];
    for (let r = 0; r < 6; r++) {
      const row = xv.slice(r * 7, r * 7 + 7);
      const mu = row.reduce((p, v) => p + v, 0) / 7;
      const variance = row.reduce((p, v) => p + (v - mu) ** 2, 0) / 7;
      row.forEach((v) => ref.push((v - mu) / Math.sqrt(variance + 1e-5)));
    }
    expectClose(yo, ref); // weight ones, bias zeros
    expectClose(po, ref);
  });

  /** Reference attention on plain arrays: x [B, Lq, C], ctx [B, Lk, Ck]. */
  function attentionRef(
    t: Setup,
    prefix: string,
    x: number[],
    ctx: number[],
    [B, Lq, C]: number[],
    [Lk, Ck]: number[],
    heads: number,
    dh: number,
    mask?: (bi: number, i: number, j: number) => boolean,
  ): number[] {
    const inner = heads * dh;
    const q = linearRef(x, B * Lq, C, t.param(`${prefix}.to_q.weight`), inner);
    const k = linearRef(ctx, B * Lk, Ck, t.param(`${prefix}.to_k.weight`), inner);
    const v = linearRef(ctx, B * Lk, Ck, t.param(`${prefix}.to_v.weight`), inner);
    const merged: number[] = Array(B * Lq * inner).fill(0);
    for (let bi = 0; bi < B; bi++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < Lq; i++) {
          const s: number[] = [];
          for (let j = 0; j < Lk; j++) {
            let dot = 0;
            for (let d = 0; d < dh; d++) dot += q[(bi * Lq + i) * inner + h * dh + d] * k[(bi * Lk + j) * inner + h * dh + d];
            s.push(mask && !mask(bi, i, j) ? -Infinity : dot / Math.sqrt(dh));
          }
          const m = Math.max(...s);
          const e = s.map((z) => Math.exp(z - m));
          const z = e.reduce((p, v2) => p + v2, 0);
          for (let d = 0; d < dh; d++) {
            let acc = 0;
            for (let j = 0; j < Lk; j++) acc += (e[j] / z) * v[(bi * Lk + j) * inner + h * dh + d];
            merged[(bi * Lq + i) * inner + h * dh + d] = acc;
          }
        }
      }
    }
    return linearRef(merged, B * Lq, inner, t.param(`${prefix}.to_out.0.weight`), C, t.param(`${prefix}.to_out.0.bias`));
  }

  it('self-attention and masked cross-attention against a per-head loop', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 5, 6], 1);
    const [ctx, cv] = t.input('ctx', [2, 3, 4], 2);
    const keep = (bi: number, i: number, j: number) => (bi + i + j) % 3 !== 0;
    const maskValues: boolean[] = [];
    for (let bi = 0; bi < 2; bi++) for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) maskValues.push(keep(bi, i, j));
    const mask = t.nn.b.constant(Uint8Array.from(maskValues, Number), [2, 5, 3], 'bool', 'mask');
    const self = attention(t.nn, 'attn1', x, { heads: 2, dimHead: 3 });
    const cross = attention(t.nn, 'attn2', x, { heads: 3, dimHead: 2, context: ctx, mask });
    expect(self.shape).toEqual([2, 5, 6]);
    const [so, co] = await t.run([self, cross]);
    expectClose(so, attentionRef(t, 'attn1', xv, xv, [2, 5, 6], [5, 6], 2, 3));
    expectClose(co, attentionRef(t, 'attn2', xv, cv, [2, 5, 6], [3, 4], 3, 2, keep));
  });

  it('attention, linear and groupNorm also build and run in float64 (for finite differences)', async () => {
    const b = new Builder(new Graph('f64'));
    const nn: NN = { b, params: new ParameterStore({ seed: 1 }) };
    const x = b.input('x', [1, 4, 6], 'float64');
    const xv = data(24, 4);
    const h = attention(nn, 'attn', x, { heads: 2, dimHead: 3 });
    const g = groupNorm(nn, 'gn', b.transpose(h, [0, 2, 1]), { groups: 2 });
    expect(nn.params.list().every((p) => p.dtype === 'float64')).toBe(true);
    b.graph.markOutput(h);
    b.graph.markOutput(g);
    // 'basic': the extended level fuses MatMul + Mul(scale) into FusedMatMul with a float32 alpha.
    const out = await evaluate(b.graph, { x: Float64Array.from(xv) }, { graphOptimizationLevel: 'basic' });
    const p = (name: string) => Array.from(nn.params.initialValue(name) as Float64Array);
    const inner = 6;
    const q = linearRef(xv, 4, 6, p('attn.to_q.weight'), inner);
    const k = linearRef(xv, 4, 6, p('attn.to_k.weight'), inner);
    const v = linearRef(xv, 4, 6, p('attn.to_v.weight'), inner);
    const merged: number[] = Array(4 * inner).fill(0);
    for (let hd = 0; hd < 2; hd++) {
      for (let i = 0; i < 4; i++) {
        const s = [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((acc, d) => acc + q[i * inner + hd * 3 + d] * k[j * inner + hd * 3 + d], 0) / Math.sqrt(3));
        const e = s.map((z) => Math.exp(z));
        const z = e.reduce((a, c) => a + c, 0);
        for (let d = 0; d < 3; d++) merged[i * inner + hd * 3 + d] = [0, 1, 2, 3].reduce((acc, j) => acc + (e[j] / z) * v[j * inner + hd * 3 + d], 0);
      }
    }
    expectClose(out[h.name] as Float64Array, linearRef(merged, 4, inner, p('attn.to_out.0.weight'), 6, p('attn.to_out.0.bias')), 1e-12);
    expect((out[g.name] as Float64Array).length).toBe(24);
  });

  it('attention shape errors name the layer and both shapes', () => {
    const t = setup();
    const [x] = t.input('x', [2, 5, 6]);
    const [ctx] = t.input('ctx', [3, 4, 4]);
    expect(() => t.nn.b.within('mid', () => attention(t.nn, 'attn2', x, { heads: 2, dimHead: 3, context: ctx }))).toThrow(
      /in mid\.attn2: attention expects .* got \[2, 5, 6\] and \[3, 4, 4\]/,
    );
    const [bad] = t.input('m', [2, 4, 4]);
    expect(() => attention(t.nn, 'a3', x, { heads: 2, dimHead: 3, mask: bad })).toThrow(/in a3: attention mask \[2, 4, 4\] does not broadcast to the scores \[2, 2, 5, 5\]/);
    expect(() => linear(t.nn, 'lin', x, { in: 5, out: 2 })).toThrow(/in lin: linear expects input \[\.\.\., 5\] \(weight \[2, 5\]\), got \[2, 5, 6\]/);
    expect(() => conv2d(t.nn, 'c', x, { out: 2, kernel: 3 })).toThrow(ShapeError);
  });

  it('feedForward (GEGLU and GELU-tanh) with LDM parameter names', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [1, 3, 4]);
    const geglu = feedForward(t.nn, 'ff', x, { mult: 2 });
    const plain = feedForward(t.nn, 'ff2', x, { inner: 5, out: 3, activation: 'gelu-tanh' });
    expect(t.nn.params.list().map((p) => p.name)).toEqual([
      'ff.net.0.proj.weight',
      'ff.net.0.proj.bias',
      'ff.net.2.weight',
      'ff.net.2.bias',
      'ff2.net.0.0.weight',
      'ff2.net.0.0.bias',
      'ff2.net.2.weight',
      'ff2.net.2.bias',
    ]);
    const [go, po] = await t.run([geglu, plain]);
    const proj = linearRef(xv, 3, 4, t.param('ff.net.0.proj.weight'), 16, t.param('ff.net.0.proj.bias'));
    const hidden: number[] = [];
    for (let r = 0; r < 3; r++) for (let i = 0; i < 8; i++) hidden.push(proj[r * 16 + i] * geluRef(proj[r * 16 + 8 + i]));
    expectClose(go, linearRef(hidden, 3, 8, t.param('ff.net.2.weight'), 4, t.param('ff.net.2.bias')));
    const h2 = linearRef(xv, 3, 4, t.param('ff2.net.0.0.weight'), 5, t.param('ff2.net.0.0.bias')).map(geluTanhRef);
    expectClose(po, linearRef(h2, 3, 5, t.param('ff2.net.2.weight'), 3, t.param('ff2.net.2.bias')));
  });

  it('silu and both gelu forms (gelu-tanh also in float64)', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [3, 7]);
    const scaled = t.nn.b.mul(x, t.nn.b.scalar(3));
    const [so, go, to] = await t.run([silu(t.nn.b, scaled), gelu(t.nn.b, scaled), gelu(t.nn.b, scaled, 'tanh')]);
    const sx = xv.map((v) => Math.fround(v * 3));
    expectClose(so, sx.map((v) => v / (1 + Math.exp(-v))));
    expectClose(go, sx.map(geluRef));
    expectClose(to, sx.map(geluTanhRef));

    const b = new Builder(new Graph('f64'));
    const x64 = b.input('x', [5], 'float64');
    const y64 = gelu(b, x64, 'tanh');
    b.graph.markOutput(y64);
    const values = [-2.5, -0.3, 0, 0.7, 3.1];
    const out = await evaluate(b.graph, { x: Float64Array.from(values) });
    expectClose(out[y64.name] as Float64Array, values.map(geluTanhRef), 1e-12);
  });

  it('upsampleNearest (expand and Resize agree with floor(i / f)) and avgPool (blocks and padded)', async () => {
    const t = setup();
    const xs = [1, 2, 3, 4, 5];
    const [x, xv] = t.input('x', xs);
    const up = upsampleNearest(t.nn.b, x, [1, 2, 3]);
    const upResize = upsampleNearest(t.nn.b, x, [1, 2, 3], 'resize');
    expect(up.shape).toEqual([1, 2, 3, 8, 15]);
    const [x2, x2v] = t.input('x2', [1, 2, 6, 4]);
    const pooled = avgPool(t.nn.b, x2, 2);
    const padded = avgPool(t.nn.b, x2, 3, { stride: 2, padding: 1 });
    const [uo, ro, po, pdo] = await t.run([up, upResize, pooled, padded]);
    const refUp: number[] = [];
    for (let c = 0; c < 2; c++) for (let f = 0; f < 3; f++) for (let h = 0; h < 8; h++) for (let w = 0; w < 15; w++) refUp.push(xv[at(xs, 0, c, f, Math.floor(h / 2), Math.floor(w / 3))]);
    expectClose(uo, refUp, 0);
    expectClose(ro, refUp, 0);
    const refPool: number[] = [];
    const refPad: number[] = [];
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 2; j++) {
          let s = 0;
          for (let a = 0; a < 2; a++) for (let bb = 0; bb < 2; bb++) s += x2v[at([1, 2, 6, 4], 0, c, 2 * i + a, 2 * j + bb)];
          refPool.push(s / 4);
        }
      }
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 2; j++) {
          let s = 0;
          for (let a = 0; a < 3; a++) {
            for (let bb = 0; bb < 3; bb++) {
              const hh = 2 * i - 1 + a;
              const ww = 2 * j - 1 + bb;
              if (hh >= 0 && hh < 6 && ww >= 0 && ww < 4) s += x2v[at([1, 2, 6, 4], 0, c, hh, ww)];
            }
          }
          refPad.push(s / 9); // torch's count_include_pad=True
        }
      }
    }
    expectClose(po, refPool);
    expectClose(pdo, refPad);
  });

  it('embedding gathers rows of its weight; float ids are rejected', async () => {
    const t = setup();
    const ids = [3, 0, 4, 4, 1, 2];
    const idv = t.nn.b.constantOf(ids, [2, 3], 'int64');
    const y = embedding(t.nn, 'tok', idv, { num: 5, dim: 4 });
    expect(y.shape).toEqual([2, 3, 4]);
    const w = t.param('tok.weight');
    const [yo] = await t.run([y]);
    expectClose(yo, ids.flatMap((id) => w.slice(id * 4, id * 4 + 4)), 0);
    const [f] = t.input('f', [3]);
    expect(() => embedding(t.nn, 'tok2', f, { num: 5, dim: 4 })).toThrow(/in tok2: embedding ids must be int64 or int32, got float32 \[3\]/);
  });

  it('sinusoidalTimestepEmbedding: [sin, cos] (diffusers defaults), LDM form, odd dims', async () => {
    const t = setup();
    const ts = [0, 1, 250, 999];
    const tv = t.nn.b.constantOf(ts, [4], 'int64');
    const dflt = sinusoidalTimestepEmbedding(t.nn.b, tv, 6);
    const ldm = sinusoidalTimestepEmbedding(t.nn.b, tv, 7, { flipSinToCos: true, downscaleFreqShift: 0 });
    expect(ldm.shape).toEqual([4, 7]);
    const [d, l] = await t.run([dflt, ldm]);
    const ref = (dim: number, shift: number, flip: boolean) =>
      ts.flatMap((time) => {
        const half = Math.floor(dim / 2);
        const args = Array.from({ length: half }, (_, i) => time * Math.exp((-Math.log(10000) * i) / (half - shift)));
        const sin = args.map(Math.sin);
        const cos = args.map(Math.cos);
        return [...(flip ? [...cos, ...sin] : [...sin, ...cos]), ...(dim % 2 ? [0] : [])];
      });
    expectClose(d, ref(6, 1, false), 2e-4);
    expectClose(l, ref(7, 0, true), 2e-4);
  });

  it('dropout is the identity without a mask and x * mask / (1 - p) with one', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 4]);
    expect(dropout(t.nn.b, x, { p: 0.1 })).toBe(x);
    const maskValues = [1, 0, 1, 1, 0, 1, 1, 0];
    const mask = t.nn.b.constantOf(maskValues, [2, 4]);
    const [y] = await t.run([dropout(t.nn.b, x, { p: 0.25, mask })]);
    expectClose(y, xv.map((v, i) => (v * maskValues[i]) / 0.75));
  });
});
