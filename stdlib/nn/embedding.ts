// Lookup embeddings (Gather) and the sinusoidal timestep embedding of diffusion UNets.
import type { Builder } from '../../tensor/ir/builder.ts';
import type { DType } from '../../tensor/ir/dtype.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { init, type Init, type NN, parameter } from './parameters.ts';

export interface EmbeddingOptions {
  num: number;
  dim: number;
  dtype?: DType;
  /** Default N(0, 1) like torch.nn.Embedding. */
  weightInit?: Init;
  trainable?: boolean;
}

/** torch.nn.Embedding: ids [...] (int64/int32) -> [..., dim]; parameter weight [num, dim]. */
export function embedding(nn: NN, name: string, ids: Value, options: EmbeddingOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    if (ids.dtype !== 'int64' && ids.dtype !== 'int32') throw new ShapeError(`in ${b.scope}: embedding ids must be int64 or int32, got ${ids.dtype} ${formatShape(ids.shape)}`);
    const weight = parameter(nn, 'weight', [options.num, options.dim], {
      init: options.weightInit ?? init.normal(1),
      dtype: options.dtype ?? nn.params.options.dtype ?? 'float32',
      trainable: options.trainable,
    });
    return b.gather(weight, ids, 0);
  });
}

export interface TimestepEmbeddingOptions {
  maxPeriod?: number;
  /** [cos, sin] instead of [sin, cos]. LDM/VideoCrafter: true (with downscaleFreqShift 0). */
  flipSinToCos?: boolean;
  /** frequencies exp(-ln(maxPeriod) i / (half - shift)); diffusers' default 1, LDM 0. */
  downscaleFreqShift?: number;
  /** Multiplies the arguments (diffusers' `scale`). */
  scale?: number;
  dtype?: DType;
}

/** t [B] (any numeric type) -> [B, dim]: half sines, half cosines (odd dim: a zero column). */
export function sinusoidalTimestepEmbedding(b: Builder, t: Value, dim: number, options: TimestepEmbeddingOptions = {}): Value {
  if (t.rank !== 1) throw new ShapeError(`in ${b.scope || 'model'}: the timestep embedding expects timesteps [B], got ${formatShape(t.shape)}`);
  const dtype = options.dtype ?? 'float32';
  const half = Math.floor(dim / 2);
  const shift = options.downscaleFreqShift ?? 1;
  const logPeriod = Math.log(options.maxPeriod ?? 10000);
  const scale = options.scale ?? 1;
  const freqs = Array.from({ length: half }, (_, i) => scale * Math.exp((-logPeriod * i) / (half - shift)));
  const args = b.mul(b.unsqueeze(b.cast(t, dtype), [1]), b.constantOf(freqs, [1, half], dtype, 'freqs')); // [B, half]
  const sin = b.sin(args);
  const cos = b.cos(args);
  let emb = b.concat(options.flipSinToCos ? [cos, sin] : [sin, cos], 1);
  if (dim % 2 === 1) emb = b.pad(emb, [0, 0, 0, 1]);
  return emb;
}
