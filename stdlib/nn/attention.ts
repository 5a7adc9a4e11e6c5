// Multi-head scaled dot-product attention (self or cross) with the projection names of the
// LDM / VideoCrafter / diffusers checkpoints: to_q, to_k, to_v (no bias) and to_out.0.
//
// Memory. The scores [B, heads, Lq, Lk] are the largest tensors of a video UNet (VideoCrafter2
// at 320x512: 24 x 5 x 2560 x 2560 floats, 3 GB, per level-0 self-attention), and the backward
// pass needs the softmax of every one. When a score matrix is over the lowering's budget
// (AttentionLowering.chunkBytes), the queries are split into chunks that each compute
// softmax(q k^T) v on their own rows, concatenated (query chunking, arXiv 2112.05682). Each chunk
// is a rematerialisation segment nested in the enclosing one (tensor/passes/remat.ts), so the
// backward pass recomputes one chunk's scores right before that chunk's gradient, as
// FlashAttention does (arXiv 2205.14135), and the gradients of K and V that every chunk adds to
// are summed as they come (accumulateEagerly). Attention under the budget is built as one block.
//
// Fused. With AttentionLowering.fused the core is onnxruntime's com.microsoft MultiHeadAttention
// (tensor/ir/ops-contrib.ts), whose CUDA kernels (flash / memory-efficient attention where they
// apply) need not materialise the scores. It has no gradient rule: lowerings ask for it only in
// graphs that are not differentiated (sampling steps).
import { accumulateEagerly } from '../../tensor/autodiff/grad.ts';
import { dtypes } from '../../tensor/ir/dtype.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import '../../tensor/ir/ops-contrib.ts';
import { nestedSegment } from '../../tensor/passes/remat.ts';
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

/** How a graph's attention layers are emitted: chosen by the lowering, the same for every layer. */
export interface AttentionLowering {
  /**
   * Bytes one chunk's scores may take, counted in the dtype they are built in (float32, before
   * any fp16 lowering); default DEFAULT_ATTENTION_CHUNK_BYTES. Infinity: never chunk. The
   * feed-forward (./feedforward.ts) holds its hidden activation to the same budget.
   */
  chunkBytes?: number;
  /** Use onnxruntime's fused com.microsoft MultiHeadAttention (graphs without a backward pass). */
  fused?: boolean;
}

export const DEFAULT_ATTENTION_CHUNK_BYTES = 64 * 2 ** 20;

/** The NN of layers built under `lowering` (like the LoRA hooks, it rides along on the NN object). */
export function withAttentionLowering<T extends NN>(nn: T, lowering: AttentionLowering): T {
  return { ...nn, attentionLowering: lowering };
}

/** The lowering `nn` was built under ({} when none); the feed-forward reads its chunk budget too. */
export function attentionLoweringOf(nn: NN): AttentionLowering {
  return (nn as NN & { attentionLowering?: AttentionLowering }).attentionLowering ?? {};
}

/**
 * Rows per chunk: the most rows of `rowBytes` each that fit in `budget` bytes (never fewer than
 * one), the last chunk taking the rest; one chunk of all `rows` when they all fit.
 */
export function rowChunks(rows: number, rowBytes: number, budget: number): number[] {
  if (!(budget > 0)) throw new RangeError(`chunk budget must be a positive number of bytes, got ${budget}`);
  if (rowBytes * rows <= budget) return [rows];
  const per = Math.max(1, Math.floor(budget / rowBytes));
  const sizes: number[] = Array(Math.floor(rows / per)).fill(per);
  if (rows % per > 0) sizes.push(rows % per);
  return sizes;
}

/** Query rows per chunk: rowChunks of the lq rows of the scores [batch, heads, rows, lk]. */
export function queryChunks(scores: { batch: number; heads: number; lq: number; lk: number; elementBytes: number }, budget: number): number[] {
  const { batch, heads, lq, lk, elementBytes } = scores;
  return rowChunks(lq, batch * heads * lk * elementBytes, budget);
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
    const inner = heads * dimHead;
    const proj = { out: inner, bias: options.qkvBias ?? false, trainable: options.trainable };
    const q = linear(nn, 'to_q', x, proj);
    const k = linear(nn, 'to_k', context, proj);
    const v = linear(nn, 'to_v', context, proj);
    const lowering = attentionLoweringOf(nn);
    const merged = lowering.fused ? fusedCore(nn, q, k, v, options) : chunkedCore(nn, q, k, v, options, lowering.chunkBytes ?? DEFAULT_ATTENTION_CHUNK_BYTES);
    return linear(nn, options.outName ?? 'to_out.0', merged, { out: options.out ?? x.shape[2], bias: options.outBias ?? true, trainable: options.trainable });
  });
}

/** softmax(q k^T / sqrt(D) + mask) v from the projections q [B, Lq, H D], k, v [B, Lk, H D] -> [B, Lq, H D], in query chunks. */
function chunkedCore(nn: NN, q: Value, k: Value, v: Value, options: AttentionOptions, budget: number): Value {
  const { b } = nn;
  const { heads, dimHead } = options;
  const [batch, lq, inner] = q.shape;
  const lk = k.shape[1];
  const split = (t: Value, len: number, perm: number[]) => b.transpose(b.reshape(t, [batch, len, heads, dimHead]), perm);
  const qh = split(b.mul(q, b.scalarLike(q, 1 / Math.sqrt(dimHead))), lq, [0, 2, 1, 3]); // [B, H, Lq, D]
  const kh = split(k, lk, [0, 2, 3, 1]); // [B, H, D, Lk]
  const vh = split(v, lk, [0, 2, 1, 3]); // [B, H, Lk, D]
  /** One block of query rows [start, start + rows): qc [B, H, rows, D] -> [B, H, rows, D]. */
  const block = (qc: Value, start: number, chunked: boolean) => {
    let scores = b.matmul(qc, kh); // [B, H, rows, Lk]
    if (options.mask) {
      let mask = options.mask;
      if (mask.rank === 3) mask = b.unsqueeze(mask, [1]);
      // a mask that varies along the queries takes this block's rows
      const axis = mask.rank - 2;
      if (chunked && axis >= 0 && mask.shape[axis] === lq && lq > 1) mask = b.slice(mask, axis, start, start + qc.shape[2]);
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
    return b.matmul(b.softmax(scores, -1), vh);
  };
  const sizes = queryChunks({ batch, heads, lq, lk, elementBytes: dtypes[q.dtype].bytes }, budget);
  let attended: Value;
  if (sizes.length === 1) attended = block(qh, 0, false);
  else {
    // every chunk reads all of K and V: sum their gradients chunk by chunk
    accumulateEagerly(kh);
    accumulateEagerly(vh);
    const parts = b.split(qh, 2, sizes);
    let start = 0;
    const outs = parts.map((qc, i) => {
      const from = start;
      start += sizes[i];
      return b.inSegment(nestedSegment(b.segment, `${b.scope}.chunk${i}`), () => block(qc, from, true));
    });
    attended = b.concat(outs, 2);
  }
  return b.reshape(b.transpose(attended, [0, 2, 1, 3]), [batch, lq, inner]);
}

/** The same through com.microsoft MultiHeadAttention: the mask becomes its attention_bias. */
function fusedCore(nn: NN, q: Value, k: Value, v: Value, options: AttentionOptions): Value {
  const { b } = nn;
  const { heads, dimHead } = options;
  const [batch, lq] = q.shape;
  const lk = k.shape[1];
  let bias: Value | undefined;
  if (options.mask) {
    let mask = options.mask;
    if (mask.rank === 3) mask = b.unsqueeze(mask, [1]);
    if (mask.rank > 4) throw new ShapeError(`in ${b.scope}: attention mask ${formatShape(options.mask.shape)} has more than 4 axes`);
    if (mask.rank < 4) mask = b.reshape(mask, [...Array(4 - mask.rank).fill(1), ...mask.shape]);
    const [mb, mh] = mask.shape;
    if ((mb !== 1 && mb !== batch) || (mh !== 1 && mh !== heads)) {
      throw new ShapeError(`in ${b.scope}: attention mask ${formatShape(options.mask.shape)} does not broadcast to the scores [${batch}, ${heads}, ${lq}, ${lk}]`);
    }
    // attention_bias broadcasts over batch and heads only: spell out the query and key axes
    const full = [mb, mh, lq, lk];
    bias = mask.dtype === 'bool' ? b.where(mask, b.scalarLike(q, 0), b.scalarLike(q, q.dtype === 'float16' ? -65504 : -1e9)) : b.cast(mask, q.dtype);
    if (bias.shape.some((d, i) => d !== full[i])) bias = b.expand(bias, full);
  }
  return b.op('MultiHeadAttention', [q, k, v, ...(bias ? [undefined, undefined, bias] : [])], { num_heads: heads, scale: 1 / Math.sqrt(dimHead) });
}
