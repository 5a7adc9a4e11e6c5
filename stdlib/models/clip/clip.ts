// CLIP-style encoders with OpenCLIP's parameter names:
//   text:   token_embedding.weight, positional_embedding, transformer.resblocks.{i}.{ln_1,
//           attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj},
//           ln_final, text_projection [width, embed] (used as x @ text_projection)
//   vision: visual.conv1 (no bias), visual.class_embedding, visual.positional_embedding,
//           visual.ln_pre, visual.transformer.resblocks.*, visual.ln_post, visual.proj
// Pre-LN residual blocks; the text tower uses a causal mask. Each residual block is a
// rematerialisation segment.
import type { Builder } from '../../../tensor/ir/builder.ts';
import type { Value } from '../../../tensor/ir/graph.ts';
import { formatShape } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { conv2d, embedding, gelu, init, layerNorm, linear, type NN, parameter, timesTransposed } from '../../nn/index.ts';
import type { ClipConfig } from './config.ts';

interface BlockSpec {
  heads: number;
  mlpRatio: number;
  activation: 'gelu' | 'quick_gelu';
}

export interface ClipTextOutput {
  /** Per-token states [B, L, width] for cross-attention (config.text.contextLayer, after ln_final). */
  tokens: Value;
  /** The end-of-text state of the last layer after ln_final, projected: [B, embedDim] (absent when the tower has no projection). */
  pooled?: Value;
}

/** tokens [B, L] int64 (L = contextLength) -> per-token states and the pooled embedding. */
export function buildClipTextEncoder(nn: NN, config: ClipConfig, tokens: Value): ClipTextOutput {
  const { b } = nn;
  const t = config.text;
  if (tokens.rank !== 2 || tokens.shape[1] !== t.contextLength || (tokens.dtype !== 'int64' && tokens.dtype !== 'int32')) {
    throw new ShapeError(`in ${b.scope || config.name}: the text encoder expects int64 tokens [B, ${t.contextLength}], got ${tokens.dtype} ${formatShape(tokens.shape)}`);
  }
  const [batch, length] = tokens.shape;
  const dtype = nn.params.options.dtype ?? 'float32';
  let x = embedding(nn, 'token_embedding', tokens, { num: t.vocabSize, dim: t.width, weightInit: init.normal(0.02), dtype });
  x = b.add(x, parameter(nn, 'positional_embedding', [length, t.width], { init: init.normal(0.01), dtype }));
  // Causal mask: token i sees tokens 0..i.
  const mask: number[] = [];
  for (let i = 0; i < length; i++) for (let j = 0; j < length; j++) mask.push(j <= i ? 0 : -1e9);
  const causal = b.constantOf(mask, [length, length], dtype, 'causal_mask');
  const spec: BlockSpec = t;
  let penultimate = x;
  b.within('transformer', () => {
    for (let i = 0; i < t.layers; i++) {
      if (i === t.layers - 1) penultimate = x;
      x = residualBlock(nn, `resblocks.${i}`, x, spec, causal);
    }
  });
  const lnFinal = (h: Value) => layerNorm(nn, 'ln_final', h);
  const states = lnFinal(x);
  const context = t.contextLayer === 'last' ? states : lnFinal(penultimate);
  if (t.projection === false) return { tokens: context };
  // Pool at text.argmax(-1), as open_clip and transformers do: the first end token (it has the
  // largest id), also when the pad token is the end token. A one-hot row per prompt times the states.
  const isEot = b.cast(firstMaximum(b, tokens), dtype); // [B, L]
  const eot = b.reshape(b.matmul(b.unsqueeze(isEot, [1]), states), [batch, t.width]);
  const projection = parameter(nn, 'text_projection', [t.width, config.embedDim], { init: init.normal(t.width ** -0.5), dtype });
  return { tokens: context, pooled: b.matmul(eot, projection) };
}

/** One-hot [B, L] bool of the first largest id per row: argmax(-1) without an ArgMax op. */
function firstMaximum(b: Builder, tokens: Value): Value {
  const length = tokens.shape[1];
  const isMax = b.cast(b.op('Equal', [tokens, b.reduceMax(tokens, [1], true)]), tokens.dtype);
  // (L - position) where the maximum is: the first occurrence scores highest
  const rank = b.mul(isMax, b.constantOf(Array.from({ length }, (_, i) => length - i), [1, length], tokens.dtype, 'first_rank'));
  return b.op('Equal', [rank, b.reduceMax(rank, [1], true)]);
}

export interface ClipImageOutput {
  /** The projected class-token embedding [N, embedDim]. */
  pooled: Value;
  /** Every token after the last block [N, 1 + patches, width] (before ln_post). */
  tokens: Value;
}

/** images [N, 3, S, S] (CLIP-normalised) -> the image embedding. Parameters under `visual.`. */
export function buildClipImageEncoder(nn: NN, config: ClipConfig, images: Value): ClipImageOutput {
  const { b } = nn;
  const v = config.vision;
  if (images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== v.imageSize || images.shape[3] !== v.imageSize) {
    throw new ShapeError(`in ${b.scope || config.name}: the image encoder expects images [N, 3, ${v.imageSize}, ${v.imageSize}], got ${formatShape(images.shape)}`);
  }
  return b.within('visual', () => {
    const n = images.shape[0];
    const grid = v.imageSize / v.patchSize;
    if (!Number.isInteger(grid)) throw new ShapeError(`in ${b.scope}: image size ${v.imageSize} is not a multiple of the patch size ${v.patchSize}`);
    const scale = v.width ** -0.5;
    const patches = conv2d(nn, 'conv1', images, { out: v.width, kernel: v.patchSize, stride: v.patchSize, bias: false });
    let x = b.transpose(b.reshape(patches, [n, v.width, grid * grid]), [0, 2, 1]); // [N, P, W]
    const cls = parameter(nn, 'class_embedding', [v.width], { init: init.normal(scale), dtype: x.dtype });
    x = b.concat([b.expand(b.reshape(cls, [1, 1, v.width]), [n, 1, v.width]), x], 1);
    x = b.add(x, parameter(nn, 'positional_embedding', [grid * grid + 1, v.width], { init: init.normal(scale), dtype: x.dtype }));
    x = layerNorm(nn, 'ln_pre', x);
    b.within('transformer', () => {
      for (let i = 0; i < v.layers; i++) x = residualBlock(nn, `resblocks.${i}`, x, v, undefined);
    });
    const cls0 = b.reshape(b.slice(x, 1, 0, 1), [n, v.width]);
    const pooled = b.matmul(layerNorm(nn, 'ln_post', cls0), parameter(nn, 'proj', [v.width, config.embedDim], { init: init.normal(scale), dtype: x.dtype }));
    return { pooled, tokens: x };
  });
}

/** OpenCLIP ResidualAttentionBlock: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
export function residualBlock(nn: NN, name: string, x: Value, spec: BlockSpec, mask: Value | undefined): Value {
  const { b } = nn;
  const segment = b.scope ? `${b.scope}.${name}` : name;
  return b.inSegment(segment, () =>
    b.within(name, () => {
      const width = x.shape[2];
      let h = b.add(x, multiheadAttention(nn, 'attn', layerNorm(nn, 'ln_1', x), spec.heads, mask));
      const inner = Math.round(width * spec.mlpRatio);
      const normed = layerNorm(nn, 'ln_2', h); // ln_2 sits beside mlp, not in it (open_clip transformer.py)
      const mlp = b.within('mlp', () => {
        const fc = linear(nn, 'c_fc', normed, { out: inner });
        const act = spec.activation === 'gelu' ? gelu(b, fc) : b.mul(fc, b.sigmoid(b.mul(fc, b.scalarLike(fc, 1.702))));
        return linear(nn, 'c_proj', act, { out: width });
      });
      h = b.add(h, mlp);
      return h;
    }),
  );
}

/** torch.nn.MultiheadAttention (packed in_proj_weight [3W, W], in_proj_bias, out_proj) on [B, L, W]. */
function multiheadAttention(nn: NN, name: string, x: Value, heads: number, mask: Value | undefined): Value {
  const { b } = nn;
  return b.within(name, () => {
    const [batch, length, width] = x.shape;
    if (width % heads !== 0) throw new ShapeError(`in ${b.scope}: width ${width} does not split into ${heads} heads`);
    const dimHead = width / heads;
    const weight = parameter(nn, 'in_proj_weight', [3 * width, width], { init: init.xavierUniform(), dtype: x.dtype });
    const bias = parameter(nn, 'in_proj_bias', [3 * width], { init: init.zeros(), dtype: x.dtype });
    const qkv = timesTransposed(b, x, weight, bias);
    const [q, k, v] = b.split(qkv, 2, [width, width, width]);
    const split = (t: Value, perm: number[]) => b.transpose(b.reshape(t, [batch, length, heads, dimHead]), perm);
    const qh = split(b.mul(q, b.scalarLike(q, 1 / Math.sqrt(dimHead))), [0, 2, 1, 3]);
    let scores = b.matmul(qh, split(k, [0, 2, 3, 1])); // [B, H, L, L]
    if (mask) scores = b.add(scores, mask);
    const merged = b.reshape(b.transpose(b.matmul(b.softmax(scores, -1), split(v, [0, 2, 1, 3])), [0, 2, 1, 3]), [batch, length, width]);
    return linear(nn, 'out_proj', merged, { out: width, biasInit: init.zeros() });
  });
}
