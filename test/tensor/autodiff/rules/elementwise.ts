// VJP rules of elementwise ops, reductions and softmax against central finite differences.
// float64 throughout (onnxruntime CPU has double kernels for these), except Erf, LeakyRelu and
// Softplus (float only). Registered by ../rules.test.ts.
import { describe, it } from 'vitest';
import { gradcheck, nodeWithoutSchema } from '../../../helpers/gradcheck.ts';

describe('VJP rules: elementwise binary ops with broadcasting', () => {
  it('Add, Sub, Mul, Div broadcast over leading and size-1 axes', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4]);
      const y = input('y', [3, 1]); // broadcast on a leading axis and a size-1 axis
      const z = input('z', [4]);
      const d = input('d', [2, 1, 4], { lo: 0.5, hi: 2 });
      return [b.add(x, y), b.sub(y, x), b.mul(x, z), b.div(b.sub(x, z), d), b.div(y, d)];
    });
  });

  it('Pow with a constant exponent and with a differentiated exponent', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4], { lo: 0.5, hi: 2 });
      const e = input('e', [4], { lo: -1.5, hi: 2.5 });
      const c = b.constant(Float64Array.of(2.5), [], 'float64');
      const two = b.constant(Float64Array.of(2), [], 'float64');
      return [b.pow(x, e), b.pow(x, c), b.pow(x, two)];
    });
  });

  it('Sum (variadic, broadcast, the same value twice) unbroadcasts the gradient to each operand', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4]);
      const y = input('y', [3, 1]);
      const z = input('z', [4]);
      // no IR schema for Sum: its output type is stated
      return nodeWithoutSchema(b, 'Sum', [x, y, z, y], { dtype: 'float64', shape: [2, 3, 4] });
    });
  });

  it('Max and Min (binary, broadcast) route the gradient to the selected operand', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4]);
      const y = input('y', [4]);
      return [b.op('Max', [x, y]), b.op('Min', [x, y])];
    });
  });

  it('float Mod (fmod) passes the gradient to the dividend', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3], { lo: 0.1, hi: 0.9 }); // away from the wrap-around points
      const m = b.op('Mod', [b.add(x, b.constant(Float64Array.of(3), [], 'float64')), b.constant(Float64Array.of(1), [], 'float64')], { fmod: 1 });
      return b.mul(m, m);
    });
  });

  it('Where: both branches, broadcast, no gradient to the condition', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4]);
      const y = input('y', [1, 4]);
      const c = input('c', [3, 1], { dtype: 'bool', data: [1, 0, 1] });
      return b.where(c, b.mul(x, x), y);
    });
  });
});

describe('VJP rules: elementwise unary ops', () => {
  it('Neg, Abs, Sqrt, Reciprocal, Exp, Log, Tanh, Sigmoid, Sin, Cos, Relu, Identity', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 5], { awayFromZero: 0.05 });
      const p = input('p', [3, 5], { lo: 0.3, hi: 2 });
      return [
        b.neg(x),
        b.abs(x),
        b.sqrt(p),
        b.op('Reciprocal', [p]),
        b.exp(x),
        b.log(p),
        b.tanh(x),
        b.sigmoid(x),
        b.sin(x),
        b.cos(x),
        b.op('Relu', [x]),
        b.op('Identity', [x]),
      ];
    });
  });

  it('Erf (float32 only on CPU: eps 1e-2, rtol 1e-2)', async () => {
    await gradcheck(({ b, input }) => b.erf(b.mul(input('x', [2, 5], { lo: -2, hi: 2 }), input('s', [5]))), { dtype: 'float32' });
  });

  it('LeakyRelu (default and given alpha) and Softplus (float32 only on CPU)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 5], { lo: -2, hi: 2, awayFromZero: 0.05 }); // away from the kink at 0
      const type = { dtype: 'float32', shape: [3, 5] } as const;
      // no IR schema for these ops: their output types are stated
      return [
        nodeWithoutSchema(b, 'LeakyRelu', [x], type),
        nodeWithoutSchema(b, 'LeakyRelu', [x], type, { alpha: 0.3 }),
        nodeWithoutSchema(b, 'Softplus', [x], type),
      ];
    }, { dtype: 'float32' });
  });

  it('Clip passes the gradient inside the bounds only', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [4, 5], { lo: -2, hi: 2 });
      // keep inputs away from the bounds themselves
      return b.clip(b.mul(x, b.constant(Float64Array.of(1), [], 'float64')), -0.7, 0.9);
    });
  });

  it('Cast float64 -> float32 -> float64 and int casts carry no gradient', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4]);
      const i = b.cast(b.cast(x, 'int64'), 'float64'); // piecewise constant: no gradient
      return b.add(b.cast(b.mul(b.cast(x, 'float32'), b.cast(x, 'float32')), 'float64'), i);
    }, { eps: 1e-3, rtol: 1e-3 });
  });
});

describe('VJP rules: reductions and softmax', () => {
  it('ReduceSum and ReduceMean with and without keepdims, one and several axes', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4]);
      return [
        b.reduceSum(x, [1], true),
        b.reduceSum(x, [0, 2], false),
        b.reduceSum(x, undefined, false),
        b.reduceMean(x, [-1], false),
        b.reduceMean(x, [0, 1], true),
      ];
    });
  });

  it('ReduceSumSquare, ReduceMax and ReduceMin (via equality masks)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [3, 4, 5]);
      return [
        b.op('ReduceSumSquare', [x], { axes: [1], keepdims: 0 }),
        b.op('ReduceMax', [x], { axes: [2], keepdims: 1 }),
        b.op('ReduceMax', [x], { axes: [0, 1], keepdims: 0 }),
        b.op('ReduceMin', [x], { axes: [1], keepdims: 0 }),
      ];
    });
  });

  it('Softmax and LogSoftmax on the last and a middle axis', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 5], { lo: -2, hi: 2 });
      return [b.softmax(x, -1), b.softmax(x, 1), b.op('LogSoftmax', [x], { axis: 2 }), b.op('LogSoftmax', [x], { axis: 0 })];
    });
  });
});
