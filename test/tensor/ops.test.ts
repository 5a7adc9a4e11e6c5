// Every forward op of the table, emitted at opset 17 and run in onnxruntime, against a naive
// JS reference written here (loops over indices, no shared code with the compiler).
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import type { DType } from '../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { float16Bits, float16ToNumber } from '../../tensor/ir/numeric.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';

// ------------------------------------------------------------------ reference helpers

/** Deterministic test data in [-1, 1). */
function data(n: number, seed = 1): number[] {
  let s = seed * 2654435761 + 12345;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
const prod = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

function stridesOf(shape: readonly number[]): number[] {
  const out = Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}
function unravel(index: number, shape: readonly number[]): number[] {
  const st = stridesOf(shape);
  return shape.map((_, i) => Math.floor(index / st[i]) % shape[i]);
}
function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((p, v, i) => p + v * st[i], 0);
}
function* positions(shape: readonly number[]): Generator<number[]> {
  for (let i = 0; i < prod(shape); i++) yield unravel(i, shape);
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol * (1 + Math.abs(expected[i]))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

interface Built {
  b: Builder;
  feeds: Record<string, Float32Array | Float64Array>;
  input(name: string, shape: number[], seed?: number, dtype?: DType): [Value, number[]];
}
function setup(): Built {
  const b = new Builder(new Graph('g'));
  const feeds: Built['feeds'] = {};
  return {
    b,
    feeds,
    input(name, shape, seed = 1, dtype = 'float32') {
      const v = b.input(name, shape, dtype);
      const values = data(prod(shape), seed);
      feeds[v.name] = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
      return [v, Array.from(feeds[v.name])];
    },
  };
}
async function run(t: Built, outputs: Value[]): Promise<number[][]> {
  for (const o of outputs) t.b.graph.markOutput(o);
  const result = await evaluate(t.b.graph, t.feeds);
  return outputs.map((o) => Array.from(result[o.name] as ArrayLike<number>, Number));
}

interface ConvGeom {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
}
function convRef(x: number[], xs: number[], w: number[], ws: number[], bias: number[] | undefined, g: ConvGeom) {
  const n = xs.length - 2;
  const [N, , ...inS] = xs;
  const [O, Cg, ...kS] = ws;
  const Og = O / g.group;
  const outS = inS.map((d, i) => Math.floor((d + g.pads[i] + g.pads[n + i] - g.dilations[i] * (kS[i] - 1) - 1) / g.strides[i]) + 1);
  const os = [N, O, ...outS];
  const out = Array(prod(os)).fill(0);
  for (const [bi, o, ...p] of positions(os)) {
    const grp = Math.floor(o / Og);
    let acc = bias ? bias[o] : 0;
    for (let c = 0; c < Cg; c++) {
      for (const k of positions(kS)) {
        const at = p.map((pi, i) => pi * g.strides[i] - g.pads[i] + k[i] * g.dilations[i]);
        if (at.some((a, i) => a < 0 || a >= inS[i])) continue;
        acc += x[ravel([bi, grp * Cg + c, ...at], xs)] * w[ravel([o, c, ...k], ws)];
      }
    }
    out[ravel([bi, o, ...p], os)] = acc;
  }
  return { out, shape: os };
}

function convTransposeRef(x: number[], xs: number[], w: number[], ws: number[], g: ConvGeom & { outputPadding: number[] }) {
  const n = xs.length - 2;
  const [N, C, ...inS] = xs;
  const [, Og, ...kS] = ws;
  const Cg = C / g.group;
  const outS = inS.map((d, i) => g.strides[i] * (d - 1) + g.outputPadding[i] + (kS[i] - 1) * g.dilations[i] + 1 - g.pads[i] - g.pads[n + i]);
  const os = [N, Og * g.group, ...outS];
  const out = Array(prod(os)).fill(0);
  for (const [bi, c, ...p] of positions(xs)) {
    const grp = Math.floor(c / Cg);
    for (let o = 0; o < Og; o++) {
      for (const k of positions(kS)) {
        const at = p.map((pi, i) => pi * g.strides[i] - g.pads[i] + k[i] * g.dilations[i]);
        if (at.some((a, i) => a < 0 || a >= outS[i])) continue;
        out[ravel([bi, grp * Og + o, ...at], os)] += x[ravel([bi, c, ...p], xs)] * w[ravel([c, o, ...k], ws)];
      }
    }
  }
  return { out, shape: os };
}

// ------------------------------------------------------------------ tests

describe('Conv', () => {
  const cases: [string, number[], number[], ConvGeom, boolean][] = [
    ['1d, stride 2, asymmetric pads, dilation 2', [2, 3, 11], [4, 3, 3], { strides: [2], pads: [1, 2], dilations: [2], group: 1 }, true],
    ['2d, groups 2, strides [2, 1]', [1, 4, 7, 5], [6, 2, 3, 2], { strides: [2, 1], pads: [1, 0, 1, 1], dilations: [1, 1], group: 2 }, true],
    ['2d depthwise, dilation [1, 2]', [1, 3, 6, 7], [3, 1, 3, 3], { strides: [1, 1], pads: [2, 2, 2, 2], dilations: [1, 2], group: 3 }, false],
    ['3d temporal kernel (3, 1, 1)', [1, 2, 5, 3, 3], [3, 2, 3, 1, 1], { strides: [1, 1, 1], pads: [1, 0, 0, 1, 0, 0], dilations: [1, 1, 1], group: 1 }, true],
    ['3d, stride 2', [1, 2, 5, 5, 4], [2, 2, 3, 3, 3], { strides: [2, 2, 2], pads: [1, 1, 1, 1, 1, 1], dilations: [1, 1, 1], group: 1 }, false],
  ];
  for (const [name, xs, ws, geom, withBias] of cases) {
    it(name, async () => {
      const t = setup();
      const [x, xv] = t.input('x', xs, 1);
      const [w, wv] = t.input('w', ws, 2);
      const [bias, bv] = withBias ? t.input('b', [ws[0]], 3) : [undefined, undefined];
      const y = t.b.conv(x, w, bias, geom);
      const ref = convRef(xv, xs, wv, ws, bv, geom);
      expect(y.shape).toEqual(ref.shape);
      const [out] = await run(t, [y]);
      expectClose(out, ref.out);
    });
  }

  it('names the layer and both shapes on a channel mismatch', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [1, 3, 8, 8]);
    const w = b.input('w', [4, 2, 3, 3]);
    expect(() => b.within('vae.conv_in', () => b.conv(x, w))).toThrow(ShapeError);
    expect(() => b.within('vae.conv_in', () => b.conv(x, w))).toThrow(/in vae\.conv_in: Conv.*\[4, 2, 3, 3\].*\[1, 3, 8, 8\]/);
  });
});

describe('ConvTranspose', () => {
  const cases: [string, number[], number[], ConvGeom & { outputPadding: number[] }][] = [
    ['1d, stride 2, output_padding 1', [1, 3, 6], [3, 2, 3], { strides: [2], pads: [1, 1], dilations: [1], group: 1, outputPadding: [1] }],
    ['2d, groups 2, stride [2, 3], dilation [2, 1]', [2, 4, 3, 4], [4, 3, 3, 2], { strides: [2, 3], pads: [1, 0, 0, 1], dilations: [2, 1], group: 2, outputPadding: [1, 2] }],
  ];
  for (const [name, xs, ws, geom] of cases) {
    it(name, async () => {
      const t = setup();
      const [x, xv] = t.input('x', xs, 4);
      const [w, wv] = t.input('w', ws, 5);
      const y = t.b.convTranspose(x, w, undefined, geom);
      const ref = convTransposeRef(xv, xs, wv, ws, geom);
      expect(y.shape).toEqual(ref.shape);
      const [out] = await run(t, [y]);
      expectClose(out, ref.out);
    });
  }

  it('is the adjoint of Conv (input-gradient form): <conv(x), y> = <x, convT(y)>', async () => {
    const geom = { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 2], group: 2 };
    const xs = [1, 4, 9, 8];
    const ws = [6, 2, 3, 3];
    const t = setup();
    const [x, xv] = t.input('x', xs, 6);
    const [w] = t.input('w', ws, 7);
    const y = t.b.conv(x, w, undefined, geom);
    const [dy, dyv] = t.input('dy', [...y.shape], 8);
    // the output padding that recovers x's spatial size
    const outputPadding = xs.slice(2).map((d, i) => (d + geom.pads[i] + geom.pads[2 + i] - geom.dilations[i] * (ws[2 + i] - 1) - 1) % geom.strides[i]);
    const dx = t.b.convTranspose(dy, w, undefined, { ...geom, outputPadding });
    expect(dx.shape).toEqual(xs);
    const [yv, dxv] = await run(t, [y, dx]);
    const lhs = yv.reduce((p, v, i) => p + v * dyv[i], 0);
    const rhs = dxv.reduce((p, v, i) => p + v * xv[i], 0);
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * (1 + Math.abs(lhs)));
  });
});

describe('Gemm, Clip, LayerNormalization, InstanceNormalization', () => {
  it('Gemm with transposes, alpha, beta and a broadcast C', async () => {
    const t = setup();
    const [a, av] = t.input('a', [3, 5], 1); // transA -> [5, 3]
    const [bm, bv] = t.input('b', [4, 3], 2); // transB -> [3, 4]
    const [c, cv] = t.input('c', [4], 3);
    const y = t.b.gemm(a, bm, c, { alpha: 0.5, beta: 2, transA: true, transB: true });
    expect(y.shape).toEqual([5, 4]);
    const ref: number[] = [];
    for (let m = 0; m < 5; m++) {
      for (let n = 0; n < 4; n++) {
        let acc = 0;
        for (let k = 0; k < 3; k++) acc += av[k * 5 + m] * bv[n * 3 + k];
        ref.push(0.5 * acc + 2 * cv[n]);
      }
    }
    expectClose((await run(t, [y]))[0], ref);
  });

  it('Clip with min/max as scalar constant inputs, in float32 and float64, and one-sided', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const t = setup();
      const [x, xv] = t.input('x', [3, 5], 9, dtype);
      const both = t.b.clip(x, -0.25, 0.5);
      const lower = t.b.clip(x, undefined, 0.1);
      const [o1, o2] = await run(t, [both, lower]);
      expectClose(o1, xv.map((v) => Math.min(Math.max(v, -0.25), 0.5)), 1e-6);
      expectClose(o2, xv.map((v) => Math.min(v, 0.1)), 1e-6);
    }
  });

  it('emits float16 constant inputs as IEEE half bit patterns (Clip on a float16 tensor)', async () => {
    expect([1, -2, 65504, 0.5, 6e-8, 1e-8, 1e6].map(float16Bits)).toEqual([0x3c00, 0xc000, 0x7bff, 0x3800, 0x0001, 0x0000, 0x7c00]);
    expect(float16ToNumber(0x3555)).toBeCloseTo(1 / 3, 3);
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [4], 'float16');
    const y = b.clip(x, -0.5, 0.25);
    b.graph.markOutput(y);
    const values = [-3, -0.25, 0.125, 2];
    const out = await evaluate(b.graph, { x: Uint16Array.from(values, float16Bits) });
    expect(Array.from(out[y.name] as Uint16Array, float16ToNumber)).toEqual([-0.5, -0.25, 0.125, 0.25]);
  });

  it('LayerNormalization over the last two axes, with Mean and InvStdDev outputs', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [3, 2, 5], 1);
    const [s, sv] = t.input('s', [2, 5], 2);
    const [bb, bv] = t.input('bb', [2, 5], 3);
    const [y, mean, inv] = t.b.layerNormalization(x, s, bb, 1, 1e-3);
    expect(mean.shape).toEqual([3, 1, 1]);
    const [yo, mo, io] = await run(t, [y, mean, inv]);
    const refY: number[] = [];
    const refM: number[] = [];
    const refI: number[] = [];
    for (let r = 0; r < 3; r++) {
      const row = xv.slice(r * 10, r * 10 + 10);
      const mu = row.reduce((p, v) => p + v, 0) / 10;
      const varr = row.reduce((p, v) => p + (v - mu) ** 2, 0) / 10;
      const is = 1 / Math.sqrt(varr + 1e-3);
      refM.push(mu);
      refI.push(is);
      row.forEach((v, i) => refY.push((v - mu) * is * sv[i] + bv[i]));
    }
    expectClose(yo, refY);
    expectClose(mo, refM);
    expectClose(io, refI);
  });

  it('InstanceNormalization', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 3, 7], 1);
    const [s, sv] = t.input('s', [3], 2);
    const [bb, bv] = t.input('bb', [3], 3);
    const y = t.b.instanceNormalization(x, s, bb, 1e-5);
    const ref: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 3; c++) {
        const row = xv.slice((n * 3 + c) * 7, (n * 3 + c + 1) * 7);
        const mu = row.reduce((p, v) => p + v, 0) / 7;
        const varr = row.reduce((p, v) => p + (v - mu) ** 2, 0) / 7;
        row.forEach((v) => ref.push(((v - mu) / Math.sqrt(varr + 1e-5)) * sv[c] + bv[c]));
      }
    }
    expectClose((await run(t, [y]))[0], ref);
  });
});

describe('indexing: Gather, GatherElements, ScatterND', () => {
  it('Gather on axis 1 with a 2-D index', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 5, 3], 1);
    const idx = [4, 0, 2, 2, 1, 3];
    const y = t.b.gather(x, t.b.constantOf(idx, [2, 3], 'int64'), 1);
    expect(y.shape).toEqual([2, 2, 3, 3]);
    const ref: number[] = [];
    for (const [a, i, j, c] of positions([2, 2, 3, 3])) ref.push(xv[ravel([a, idx[i * 3 + j], c], [2, 5, 3])]);
    expectClose((await run(t, [y]))[0], ref, 0);
  });

  it('GatherElements on axis 0', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [4, 3], 1);
    const idx = [3, 0, 1, 2, 2, 0];
    const y = t.b.gatherElements(x, t.b.constantOf(idx, [2, 3], 'int64'), 0);
    const ref = [...positions([2, 3])].map(([i, j]) => xv[idx[i * 3 + j] * 3 + j]);
    expectClose((await run(t, [y]))[0], ref, 0);
  });

  it('ScatterND with reduction add accumulates duplicate rows; none overwrites', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [5, 3], 1);
    const [u, uv] = t.input('u', [4, 3], 2);
    const rows = [1, 3, 1, 4];
    const indices = t.b.constantOf(rows, [4, 1], 'int64');
    const added = t.b.scatterND(x, indices, u, 'add');
    const [u2, u2v] = t.input('u2', [2], 3); // two single elements: (0, 2) and (4, 1)
    const replaced = t.b.scatterND(x, t.b.constantOf([0, 2, 4, 1], [2, 2], 'int64'), u2, 'none');
    const [ao, ro] = await run(t, [added, replaced]);
    const refA = [...xv];
    rows.forEach((r, k) => {
      for (let c = 0; c < 3; c++) refA[r * 3 + c] += uv[k * 3 + c];
    });
    expectClose(ao, refA);
    const refR = [...xv];
    refR[0 * 3 + 2] = u2v[0];
    refR[4 * 3 + 1] = u2v[1];
    expectClose(ro, refR, 0);
  });

  it('rejects ScatterND updates of the wrong shape, naming the shapes', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [5, 3]);
    const u = b.input('u', [4, 2]);
    expect(() => b.scatterND(x, b.constantOf([0, 1, 2, 3], [4, 1], 'int64'), u)).toThrow(/ScatterND updates \[4, 2\] must be \[4, 3\]/);
  });
});

describe('Resize, pooling, Pad', () => {
  it('Resize nearest by integer and fractional scales (torch nearest: floor(out / scale))', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [1, 2, 3, 5], 1);
    const y = t.b.resize(x, [1, 1, 2, 1.6]);
    expect(y.shape).toEqual([1, 2, 6, 8]);
    const ref = [...positions([1, 2, 6, 8])].map(([n, c, h, w]) => xv[ravel([n, c, Math.floor(h / 2), Math.floor(w / 1.6)], [1, 2, 3, 5])]);
    expectClose((await run(t, [y]))[0], ref, 0);
  });

  it('AveragePool with padding, excluding and including pads in the divisor', async () => {
    const xs = [1, 2, 5, 6];
    const t = setup();
    const [x, xv] = t.input('x', xs, 1);
    const opts = { strides: [2, 2], pads: [1, 0, 1, 1] };
    const ex = t.b.averagePool(x, [3, 2], opts);
    const inc = t.b.averagePool(x, [3, 2], { ...opts, countIncludePad: true });
    const os = [1, 2, Math.floor((5 + 2 - 3) / 2) + 1, Math.floor((6 + 1 - 2) / 2) + 1];
    expect(ex.shape).toEqual(os);
    const refEx: number[] = [];
    const refInc: number[] = [];
    for (const [n, c, h, w] of positions(os)) {
      let sum = 0;
      let count = 0;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 2; j++) {
          const hh = h * 2 - 1 + i;
          const ww = w * 2 - 0 + j;
          if (hh >= 0 && hh < 5 && ww >= 0 && ww < 6) {
            sum += xv[ravel([n, c, hh, ww], xs)];
            count++;
          }
        }
      }
      refEx.push(sum / count);
      refInc.push(sum / 6);
    }
    const [eo, io] = await run(t, [ex, inc]);
    expectClose(eo, refEx);
    expectClose(io, refInc);
  });

  it('MaxPool 1d with dilation and stride', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 1, 11], 1);
    const y = t.b.maxPool(x, 3, { strides: 2, dilations: 2, pads: [1, 1] });
    const outLen = Math.floor((11 + 2 - 2 * 2 - 1) / 2) + 1;
    expect(y.shape).toEqual([2, 1, outLen]);
    const ref: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let o = 0; o < outLen; o++) {
        let m = -Infinity;
        for (let k = 0; k < 3; k++) {
          const at = o * 2 - 1 + k * 2;
          if (at >= 0 && at < 11) m = Math.max(m, xv[n * 11 + at]);
        }
        ref.push(m);
      }
    }
    expectClose((await run(t, [y]))[0], ref, 0);
  });

  it('Pad constant (with a value, negative pads crop) and edge', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 4], 1);
    const padded = t.b.pad(x, [1, -1, 0, 2], 0.75); // rows: +1 before; cols: -1 before, +2 after
    const edge = t.b.pad(x, [0, 2, 0, 1], 0, 'edge');
    expect(padded.shape).toEqual([3, 5]);
    const [po, eo] = await run(t, [padded, edge]);
    const refP = [...positions([3, 5])].map(([i, j]) => {
      const si = i - 1;
      const sj = j + 1;
      return si >= 0 && si < 2 && sj < 4 ? xv[si * 4 + sj] : 0.75;
    });
    expectClose(po, refP, 0);
    const refE = [...positions([2, 7])].map(([i, j]) => xv[i * 4 + Math.min(Math.max(j - 2, 0), 3)]);
    expectClose(eo, refE, 0);
  });
});

describe('shape ops with constant inputs: Split, Squeeze, Unsqueeze, Tile', () => {
  it('Split into uneven parts', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [3, 7], 1);
    const parts = t.b.split(x, 1, [2, 4, 1]);
    expect(parts.map((p) => p.shape)).toEqual([[3, 2], [3, 4], [3, 1]]);
    const outs = await run(t, parts);
    let start = 0;
    [2, 4, 1].forEach((size, k) => {
      const ref = [...positions([3, size])].map(([i, j]) => xv[i * 7 + start + j]);
      expectClose(outs[k], ref, 0);
      start += size;
    });
  });

  it('Squeeze / Unsqueeze round trip and Tile', async () => {
    const t = setup();
    const [x, xv] = t.input('x', [2, 1, 3], 1);
    const sq = t.b.squeeze(x, [1]);
    const un = t.b.unsqueeze(sq, [0, -1]);
    const tiled = t.b.tile(sq, [2, 3]);
    expect(sq.shape).toEqual([2, 3]);
    expect(un.shape).toEqual([1, 2, 3, 1]);
    expect(tiled.shape).toEqual([4, 9]);
    const [so, uo, to] = await run(t, [sq, un, tiled]);
    expectClose(so, xv, 0);
    expectClose(uo, xv, 0);
    expectClose(to, [...positions([4, 9])].map(([i, j]) => xv[(i % 2) * 3 + (j % 3)]), 0);
  });

  it('rejects a split that does not add up, and squeezing a non-1 axis', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [3, 7]);
    expect(() => b.within('blk', () => b.split(x, 1, [2, 2]))).toThrow(/in blk: Split: Split sizes \[2, 2\] do not add up to 7.*\[3, 7\]/);
    expect(() => b.squeeze(x, [0])).toThrow(/cannot squeeze axis 0 of size 3/);
  });
});
