// Small helpers shared by the model families: layout changes between video and per-frame
// tensors, and "pointwise" projections whose checkpoint weight is stored as a 1x1 conv.
import type { Value } from '../../tensor/ir/graph.ts';
import { formatShape } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { fans, init, type Init, type NN, parameter, timesTransposed } from '../nn/index.ts';

/** [B, C, T, H, W] -> [(B T), C, H, W] (einops 'b c t h w -> (b t) c h w'). */
export function framesFirst(nn: NN, x: Value): Value {
  const { b } = nn;
  if (x.rank !== 5) throw new ShapeError(`in ${b.scope || 'model'}: expected a video tensor [B, C, T, H, W], got ${formatShape(x.shape)}`);
  const [batch, channels, frames, height, width] = x.shape;
  return b.reshape(b.transpose(x, [0, 2, 1, 3, 4]), [batch * frames, channels, height, width]);
}

/** [(B T), C, H, W] -> [B, C, T, H, W]. */
export function framesBack(nn: NN, x: Value, batch: number): Value {
  const { b } = nn;
  const [bt, channels, height, width] = x.shape;
  if (x.rank !== 4 || bt % batch !== 0) throw new ShapeError(`in ${b.scope || 'model'}: cannot split ${formatShape(x.shape)} into ${batch} videos`);
  return b.transpose(b.reshape(x, [batch, bt / batch, channels, height, width]), [0, 2, 1, 3, 4]);
}

/** torch's x.repeat_interleave(times, dim=0): [B, ...] -> [(B times), ...]. */
export function repeatInterleave(nn: NN, x: Value, times: number): Value {
  const { b } = nn;
  if (times === 1) return x;
  const [batch, ...rest] = x.shape;
  return b.reshape(b.expand(b.unsqueeze(x, [1]), [batch, times, ...rest]), [batch * times, ...rest]);
}

export interface PointwiseOptions {
  out: number;
  /**
   * How the checkpoint stores the weight: 0 = nn.Linear [out, in], 1 = Conv1d [out, in, 1],
   * 2 = Conv2d [out, in, 1, 1]. The computation is the same matmul over the last axis.
   */
  convDims?: 0 | 1 | 2;
  bias?: boolean;
  zeroInit?: boolean;
  weightInit?: Init;
}

/** x [..., in] -> [..., out] with a weight named `<name>.weight` in the checkpoint's layout. */
export function pointwise(nn: NN, name: string, x: Value, options: PointwiseOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    const features = x.shape[x.rank - 1];
    const shape = [options.out, features, ...Array(options.convDims ?? 0).fill(1)];
    const weight = parameter(nn, 'weight', shape, {
      init: options.zeroInit ? init.zeros() : (options.weightInit ?? init.kaimingUniform()),
      dtype: x.dtype,
    });
    const matrix = shape.length === 2 ? weight : b.reshape(weight, [options.out, features]);
    const bias = (options.bias ?? true)
      ? parameter(nn, 'bias', [options.out], { init: options.zeroInit ? init.zeros() : init.fanInUniform(fans(shape).fanIn), dtype: x.dtype })
      : undefined;
    return timesTransposed(b, x, matrix, bias);
  });
}

/** [N, C, H, W] -> [N, (H W), C]. */
export function channelsLast(nn: NN, x: Value): Value {
  const [n, c, h, w] = x.shape;
  return nn.b.reshape(nn.b.transpose(x, [0, 2, 3, 1]), [n, h * w, c]);
}

/** [N, (H W), C] -> [N, C, H, W]. */
export function channelsFirst(nn: NN, x: Value, height: number, width: number): Value {
  const [n, , c] = x.shape;
  return nn.b.transpose(nn.b.reshape(x, [n, height, width, c]), [0, 3, 1, 2]);
}
