// VJP rules of linear algebra, shape and indexing ops against central finite differences
// (float64: onnxruntime CPU has double kernels for all of these). Registered by ../rules.test.ts.
import { describe, expect, it } from 'vitest';
import { gradcheck, nodeWithoutSchema } from '../../../helpers/gradcheck.ts';

describe('VJP rules: linear algebra', () => {
  it('MatMul: 2-D, batched, and with broadcast batch dimensions on either side', async () => {
    await gradcheck(({ b, input }) => {
      const a = input('a', [3, 4]);
      const w = input('w', [4, 5]);
      const x = input('x', [2, 3, 3, 4]);
      const y = input('y', [3, 4, 2]); // batch [3] broadcasts against [2, 3]
      const z = input('z', [2, 1, 5, 3]); // batch [2, 1] broadcasts against [3]
      return [b.matmul(a, w), b.matmul(x, y), b.matmul(z, a), b.matmul(x, w)];
    });
  });

  it('Gemm with every transA/transB combination, alpha, beta and a broadcast C', async () => {
    await gradcheck(({ b, input }) => {
      const a = input('a', [3, 4]);
      const at = input('at', [4, 3]);
      const w = input('w', [4, 5]);
      const wt = input('wt', [5, 4]);
      const c = input('c', [5]);
      const c2 = input('c2', [3, 1]);
      return [
        b.gemm(a, w, c, { alpha: 0.7, beta: 1.3 }),
        b.gemm(at, w, c2, { transA: true }),
        b.gemm(a, wt, undefined, { transB: true, alpha: 2 }),
        b.gemm(at, wt, c, { transA: true, transB: true, beta: 0.5 }),
      ];
    });
  });
});

describe('VJP rules: shape ops', () => {
  it('Reshape, Transpose, Expand, Squeeze, Unsqueeze', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4]);
      const e = input('e', [3, 1]);
      const s = input('s', [1, 3, 1, 2]);
      return [
        b.reshape(x, [4, -1]),
        b.transpose(x, [2, 0, 1]),
        b.transpose(x, [1, 0, 2]),
        b.expand(e, [2, 3, 4]),
        b.op('Squeeze', [s], { axes: [0, 2] }),
        b.op('Unsqueeze', [x], { axes: [1, 4] }),
      ];
    });
  });

  it('Flatten at the default, a middle, the first and a negative axis', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4]);
      // no IR schema for Flatten: its output types are stated ([prod(d[:axis]), prod(d[axis:])])
      const flat = (axis: number | undefined, shape: number[]) => nodeWithoutSchema(b, 'Flatten', [x], { dtype: 'float64', shape }, axis === undefined ? {} : { axis });
      return [flat(undefined, [2, 12]), flat(2, [6, 4]), flat(0, [1, 24]), flat(-1, [6, 4])];
    });
  });

  it('Concat (three inputs, the same value twice) and Split (one output unused)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3]);
      const y = input('y', [2, 1]);
      const z = input('z', [5, 3]);
      const [p, , r] = b.opMulti('Split', [z], { axis: 0, split: [2, 1, 2] });
      return [b.concat([x, y, x], 1), b.mul(p, r)];
    });
  });

  it('Slice on several axes with negative and clamped bounds', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [4, 5, 3]);
      return [
        b.op('Slice', [x], { starts: [1, -4], ends: [3, 100], axes: [0, 1] }),
        b.slice(x, 2, 0, 2),
        b.slice(x, -1, 1, 3),
      ];
    });
  });

  it('Tile and Pad (positive pads, and negative pads that crop)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3]);
      const y = input('y', [3, 4]);
      return [
        b.op('Tile', [x], { repeats: [2, 3] }),
        b.op('Tile', [x], { repeats: [1, 2] }),
        b.op('Pad', [x], { pads: [1, 0, 2, 3], mode: 'constant' }),
        b.op('Pad', [y], { pads: [-1, 2, 0, -1], mode: 'constant' }),
      ];
    });
  });
});

describe('VJP rules: Gather', () => {
  it('accumulates repeated indices (axis 0, 2-D indices) and handles negative indices', async () => {
    const r = await gradcheck(({ b, input }) => {
      const table = input('table', [5, 3]);
      const idx = input('idx', [2, 3], { dtype: 'int64', data: [1, 1, 4, 0, 1, -1] });
      return b.op('Gather', [table, idx], { axis: 0 });
    });
    // row 1 is gathered three times, row 2 never: its gradient is exactly zero
    const g = r.analytic[0];
    expect([g[6], g[7], g[8]]).toEqual([0, 0, 0]);
  });

  it('gathers on a middle axis, with scalar and constant indices', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 4, 3]);
      const idx = b.constant(BigInt64Array.of(3n, 0n, 3n), [3], 'int64');
      const last = b.constant(BigInt64Array.of(2n, 2n, 0n, 2n), [2, 2], 'int64');
      const one = b.constant(BigInt64Array.of(2n), [], 'int64');
      return [b.op('Gather', [x, idx], { axis: 1 }), b.op('Gather', [x, one], { axis: 2 }), b.op('Gather', [x, last], { axis: -1 })];
    });
  });

  it('GatherElements scatters back with ScatterElements(add), repeated and negative indices', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4]);
      const idx = input('idx', [3, 2], { dtype: 'int64', data: [0, 0, 3, -1, 2, 1] });
      const rows = b.constant(BigInt64Array.of(2n, 2n, 0n, 1n), [1, 4], 'int64');
      return [b.op('GatherElements', [x, idx], { axis: 1 }), b.op('GatherElements', [x, rows], { axis: 0 })];
    });
  });
});
