// VJP rules of convolution, pooling, resampling and normalisation against central finite
// differences. onnxruntime's CPU kernels for Conv, ConvTranspose, AveragePool, Resize,
// LayerNormalization (statistics) and InstanceNormalization are float32 only, so these checks
// run in float32 with eps 1e-2 and relative tolerance 1e-2 (the loss is reduced in float64).
// Registered by ../rules.test.ts.
import { describe, expect, it } from 'vitest';
import { gradcheck, nodeWithoutSchema } from '../../../helpers/gradcheck.ts';

const f32 = { dtype: 'float32' } as const;

describe('VJP rules: Conv (input via ConvTranspose, weight via a swapped Conv, bias)', () => {
  it('2-D, odd sizes, stride 2, asymmetric pads, bias', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 7, 6]);
      const w = input('w', [4, 3, 3, 2]);
      const bias = input('bias', [4]);
      return b.conv(x, w, bias, { strides: [2, 2], pads: [1, 0, 2, 1] });
    }, f32);
  });

  it('2-D with dilation 2, stride 3 on one axis, groups 2', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [1, 4, 9, 8]);
      const w = input('w', [6, 2, 3, 3]);
      return b.conv(x, w, undefined, { strides: [1, 3], pads: 1, dilations: [2, 1], group: 2 });
    }, f32);
  });

  it('depthwise 1-D and 3-D (video) convolutions', async () => {
    await gradcheck(({ b, input }) => {
      const x1 = input('x1', [2, 3, 10]);
      const w1 = input('w1', [3, 1, 4]);
      const x3 = input('x3', [1, 2, 3, 5, 4]);
      const w3 = input('w3', [3, 2, 2, 3, 3]);
      const b3 = input('b3', [3]);
      return [
        b.conv(x1, w1, undefined, { strides: 3, pads: [2, 1], group: 3 }),
        b.conv(x3, w3, b3, { strides: [1, 2, 1], pads: [1, 1, 1, 0, 1, 1], dilations: [1, 1, 2] }),
      ];
    }, f32);
  });
});

describe('VJP rules: ConvTranspose (input via Conv, weight via the swapped Conv)', () => {
  it('stride 2 with output_padding, asymmetric pads, dilation, groups 2, bias', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 4, 3, 4]);
      const w = input('w', [4, 3, 3, 2]); // [C_in, C_out / group, k...]
      const bias = input('bias', [6]);
      const x1 = input('x1', [1, 2, 5]);
      const w1 = input('w1', [2, 3, 3]);
      return [
        b.convTranspose(x, w, bias, { strides: [2, 3], pads: [1, 0, 0, 1], outputPadding: [1, 2], group: 2 }),
        b.convTranspose(x1, w1, undefined, { strides: 2, dilations: 2, pads: [1, 2] }),
      ];
    }, f32);
  });
});

describe('VJP rules: pooling and resampling', () => {
  it('AveragePool: strides, pads with and without count_include_pad, odd sizes', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 7, 5]);
      return [
        b.averagePool(x, [2, 2], { strides: [2, 2] }),
        b.averagePool(x, [3, 2], { strides: [2, 1], pads: [1, 1, 1, 0] }),
        b.averagePool(x, 3, { strides: 2, pads: 1, countIncludePad: true }),
      ];
    }, f32);
  });

  it('GlobalAveragePool over 2-D and 3-D (video) spatial axes', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4, 5]);
      const v = input('v', [1, 2, 3, 2, 4]);
      // no IR schema for GlobalAveragePool: its output types are stated
      return [
        nodeWithoutSchema(b, 'GlobalAveragePool', [x], { dtype: 'float32', shape: [2, 3, 1, 1] }),
        nodeWithoutSchema(b, 'GlobalAveragePool', [v], { dtype: 'float32', shape: [1, 2, 1, 1, 1] }),
      ];
    }, f32);
  });

  it('MaxPool: overlapping windows, strides, pads, dilation (float64 kernel exists)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 2, 5, 6]);
      const v = input('v', [1, 2, 3, 4, 3]);
      return [
        b.maxPool(x, [3, 2], { strides: [2, 1], pads: [1, 0, 1, 1] }),
        b.maxPool(x, 2, { strides: 2, dilations: [2, 1] }),
        b.maxPool(v, [2, 2, 2], { strides: [1, 2, 1] }),
      ];
    });
  });

  it('Resize nearest with integer scales (asymmetric/floor and half_pixel/round_prefer_floor)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [1, 2, 3, 4]);
      const v = input('v', [1, 2, 2, 3, 2]);
      return [
        b.resize(x, [1, 1, 2, 3]),
        b.op('Resize', [x], { scales: [1, 1, 3, 2], mode: 'nearest' }), // ONNX defaults: half_pixel
        b.resize(v, [1, 1, 2, 2, 2]),
      ];
    }, f32);
  });
});

describe('VJP rules: linear Resize (separable interpolation matrices)', () => {
  it('half_pixel up by 2 and 3, align_corners, asymmetric, and a 5-D (video) upsample', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [1, 2, 3, 4]);
      const v = input('v', [1, 1, 2, 3, 2]);
      return [
        b.resize(x, [1, 1, 2, 3], 'linear'),
        b.op('Resize', [x], { scales: [1, 1, 2, 2], mode: 'linear', coordinate_transformation_mode: 'align_corners' }),
        b.op('Resize', [x], { scales: [1, 1, 2, 2], mode: 'linear', coordinate_transformation_mode: 'asymmetric' }),
        b.resize(v, [1, 1, 2, 2, 2], 'linear'),
      ];
    }, f32);
  });
});

describe('VJP rules: normalisation', () => {
  it('LayerNormalization over the last axis and over the last two, from saved Mean/InvStdDev', async () => {
    const r = await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4], { lo: -2, hi: 2 });
      const s1 = input('s1', [4]);
      const b1 = input('b1', [4]);
      const s2 = input('s2', [3, 4]);
      const [y1] = b.layerNormalization(x, s1, b1);
      const [y2, mean, inv] = b.layerNormalization(x, s2, undefined, 1);
      // the statistics outputs are differentiable too
      return [y1, y2, b.cast(b.mul(mean, inv), 'float32')];
    }, f32);
    // closed form from the node's own statistics: no recomputed ReduceMean of x
    expect(r.result.backwardNodes.filter((n) => n.op === 'ReduceMean' && n.inputs[0]?.name === 'x')).toHaveLength(0);
  });

  it('InstanceNormalization (the GroupNorm building block)', async () => {
    await gradcheck(({ b, input }) => {
      const x = input('x', [2, 3, 4, 3], { lo: -2, hi: 2 });
      return b.instanceNormalization(x, input('scale', [3]), input('bias', [3]));
    }, f32);
  });
});
