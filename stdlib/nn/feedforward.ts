// The transformer feed-forward block of LDM/VideoCrafter (and diffusers):
//   GEGLU: net.0.proj (dim -> 2 inner), a * gelu(gate), net.2 (inner -> out)
//   GELU:  net.0.0 (dim -> inner) then gelu (LDM's Sequential(Linear, GELU); diffusers: 'net.0.proj'), net.2
// (net.1 is the dropout, which has no parameters.)
//
// Memory. The hidden activation [tokens, 2 inner] is the largest tensor of a video UNet's
// transformer once attention is chunked (VideoCrafter2's init_attn at 320x512, 12 frames, CFG:
// 61440 tokens x 4096 floats, 1 GB), and GEGLU keeps several of its size for the backward pass.
// The feed-forward acts on each token alone, so when that activation is over the lowering's
// chunk budget (AttentionLowering.chunkBytes, the one attention uses) the tokens are split into
// chunks that each run through the same weights, concatenated. Each chunk is a rematerialisation
// segment nested in the enclosing one (tensor/passes/remat.ts), so the backward pass recomputes
// one chunk's hidden activation right before that chunk's gradient (as chunked feed-forward in
// Reformer, arXiv 2001.04451, sec. 3). Under the budget the block is built as one.
// (A LoRA hook with dropout on net.0.proj / net.2 sees each chunk as its own input: its masks
// repeat from chunk to chunk.)
import { dtypes } from '../../tensor/ir/dtype.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { nestedSegment } from '../../tensor/passes/remat.ts';
import { gelu } from './activations.ts';
import { attentionLoweringOf, DEFAULT_ATTENTION_CHUNK_BYTES, rowChunks } from './attention.ts';
import { linear } from './linear.ts';
import type { NN } from './parameters.ts';

export interface FeedForwardOptions {
  /** inner = dim * mult (default 4). */
  mult?: number;
  /** Explicit inner width (overrides mult). */
  inner?: number;
  out?: number;
  activation?: 'geglu' | 'gelu' | 'gelu-tanh';
  /** Name of the input projection (defaults above). */
  projInName?: string;
  trainable?: boolean;
}

/**
 * Tokens per chunk: the most tokens whose hidden activation [tokens, width] (width = 2 inner for
 * GEGLU, inner otherwise) fits in `budget` bytes, the last chunk taking the rest.
 */
export function tokenChunks(hidden: { tokens: number; width: number; elementBytes: number }, budget: number): number[] {
  return rowChunks(hidden.tokens, hidden.width * hidden.elementBytes, budget);
}

/** x [..., dim] -> [..., out]. */
export function feedForward(nn: NN, name: string, x: Value, options: FeedForwardOptions = {}): Value {
  const { b } = nn;
  return b.within(name, () => {
    const dim = x.shape[x.rank - 1];
    const inner = options.inner ?? dim * (options.mult ?? 4);
    const activation = options.activation ?? 'geglu';
    const trainable = options.trainable;
    const out = options.out ?? dim;
    /** The block on tokens xs [..., dim]. */
    const block = (xs: Value) => {
      let h: Value;
      if (activation === 'geglu') {
        const projected = linear(nn, options.projInName ?? 'net.0.proj', xs, { out: 2 * inner, trainable });
        const [value, gate] = b.split(projected, -1, [inner, inner]);
        h = b.mul(value, gelu(b, gate));
      } else {
        h = gelu(b, linear(nn, options.projInName ?? 'net.0.0', xs, { out: inner, trainable }), activation === 'gelu' ? 'none' : 'tanh');
      }
      return linear(nn, 'net.2', h, { out, trainable });
    };
    const tokens = x.rank > 1 ? x.size / dim : 1;
    const width = activation === 'geglu' ? 2 * inner : inner;
    const sizes = tokenChunks({ tokens, width, elementBytes: dtypes[x.dtype].bytes }, attentionLoweringOf(nn).chunkBytes ?? DEFAULT_ATTENTION_CHUNK_BYTES);
    if (sizes.length === 1) return block(x);
    // every token alone: fold the leading axes into one, split it, and put the shape back
    const parts = b.split(x.rank === 2 ? x : b.reshape(x, [tokens, dim]), 0, sizes);
    const outs = parts.map((xc, i) => b.inSegment(nestedSegment(b.segment, `${b.scope}.chunk${i}`), () => block(xc)));
    const y = b.concat(outs, 0);
    return x.rank === 2 ? y : b.reshape(y, [...x.shape.slice(0, -1), out]);
  });
}
