// Multi-head scaled dot-product attention (self or cross) with the projection names of the
// LDM / VideoCrafter / diffusers checkpoints: to_q, to_k, to_v (no bias) and to_out.0.
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { linear } from './linear.ts';
import type { NN } from './parameters.ts';

export interface AttentionOptions {
  heads: number;
  dimHead: number;
  /** Keys/values come from here (cross-attention) instead of x; [B, Lk, Ck]. */
  context?: Value;
  /**
   * Which keys each query may see: bool (true = attend) or an additive float mask, broadcastable
   * to [B, heads, Lq, Lk]; a rank-3 [B, Lq, Lk] mask is applied to every head.
   */
  mask?: Value;
  /** Output features (default: x's). */
  out?: number;
  /** Bias on to_q/to_k/to_v (default false, as in LDM); to_out always has one unless outBias is false. */
  qkvBias?: boolean;
  outBias?: boolean;
  /** Name of the output projection (default 'to_out.0', the key in LDM and diffusers checkpoints). */
  outName?: string;
  trainable?: boolean;
}

/** x [B, Lq, C] -> [B, Lq, out]. */
export function attention(nn: NN, name: string, x: Value, options: AttentionOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    const context = options.context ?? x;
    const { heads, dimHead } = options;
    if (x.rank !== 3 || context.rank !== 3 || context.shape[0] !== x.shape[0]) {
      throw new ShapeError(`in ${b.scope}: attention expects x [B, Lq, C] and context [B, Lk, Ck], got ${formatShape(x.shape)} and ${formatShape(context.shape)}`);
    }
    const [batch, lq] = x.shape;
    const lk = context.shape[1];
    const inner = heads * dimHead;
    const proj = { out: inner, bias: options.qkvBias ?? false, trainable: options.trainable };
    const q = linear(nn, 'to_q', x, proj);
    const k = linear(nn, 'to_k', context, proj);
    const v = linear(nn, 'to_v', context, proj);
    const split = (t: Value, len: number, perm: number[]) => b.transpose(b.reshape(t, [batch, len, heads, dimHead]), perm);
    const qh = split(b.mul(q, b.scalarLike(q, 1 / Math.sqrt(dimHead))), lq, [0, 2, 1, 3]); // [B, H, Lq, D]
    const kh = split(k, lk, [0, 2, 3, 1]); // [B, H, D, Lk]
    const vh = split(v, lk, [0, 2, 1, 3]); // [B, H, Lk, D]
    let scores = b.matmul(qh, kh); // [B, H, Lq, Lk]
    if (options.mask) {
      let mask = options.mask;
      if (mask.rank === 3) mask = b.unsqueeze(mask, [1]);
      try {
        if (mask.dtype === 'bool') scores = b.where(mask, scores, b.scalarLike(scores, scores.dtype === 'float16' ? -65504 : -1e9));
        else scores = b.add(scores, b.cast(mask, scores.dtype));
      } catch (error) {
        if (error instanceof ShapeError) {
          throw new ShapeError(`in ${b.scope}: attention mask ${formatShape(options.mask.shape)} does not broadcast to the scores [${batch}, ${heads}, ${lq}, ${lk}]`);
        }
        throw error;
      }
    }
    const weights = b.softmax(scores, -1);
    const merged = b.reshape(b.transpose(b.matmul(weights, vh), [0, 2, 1, 3]), [batch, lq, inner]);
    return linear(nn, options.outName ?? 'to_out.0', merged, { out: options.out ?? x.shape[2], bias: options.outBias ?? true, trainable: options.trainable });
  });
}
