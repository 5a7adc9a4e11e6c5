// Ops of onnxruntime's contrib domain (com.microsoft) that vplc may emit, registered into the op
// table at import time like ./ops-backward.ts. They are fused kernels with no ONNX-standard
// equivalent in one node; each has a plain-op formulation elsewhere that is used wherever the
// fused one cannot be (no VJP rule: a graph that is differentiated never holds them).
// Specs: onnxruntime docs/ContribOperators.md (microsoft/onnxruntime).
import { formatShape } from './graph.ts';
import { type OpSchema, ShapeError, opSchemas } from './ops.ts';

export const CONTRIB_DOMAIN = 'com.microsoft';

/** Domain -> the opset version the ops below are specified in (the model imports it when used). */
export const domainOpsets: Readonly<Record<string, number>> = { [CONTRIB_DOMAIN]: 1 };

/** IR op -> the ONNX domain it is emitted in (ops not listed: the default domain ''). */
export const opDomains: Readonly<Record<string, string>> = {
  MultiHeadAttention: CONTRIB_DOMAIN,
};

const floatTypes = new Set(['float32', 'float16', 'bfloat16']);

export const contribOpSchemas: Record<string, OpSchema> = {
  // query [B, Lq, H*D], key [B, Lk, H*D], value [B, Lk, H*Dv] (the projections, heads not split
  // yet) -> [B, Lq, H*Dv]; optional inputs by position: bias (3), key_padding_mask (4),
  // attention_bias (5, added to the scaled scores, [B or 1, H or 1, Lq, Lk]). `scale` defaults
  // to 1/sqrt(D).
  MultiHeadAttention: {
    attributes: { num_heads: 'int', scale: 'float', mask_filter_value: 'float', unidirectional: 'int' },
    infer: ([q, k, v, bias], attrs) => {
      const heads = attrs.num_heads as number | undefined;
      if (!heads || heads < 1) throw new ShapeError('MultiHeadAttention needs num_heads >= 1');
      if (!k || !v) throw new ShapeError('MultiHeadAttention here takes separate query, key and value');
      if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3) {
        throw new ShapeError(`MultiHeadAttention takes [B, L, hidden] query, key and value, got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
      }
      const [batch, lq, hidden] = q.shape;
      const [, lk] = k.shape;
      if (k.shape[0] !== batch || v.shape[0] !== batch || v.shape[1] !== lk || k.shape[2] !== hidden) {
        throw new ShapeError(`MultiHeadAttention key ${formatShape(k.shape)} and value ${formatShape(v.shape)} do not match query ${formatShape(q.shape)}`);
      }
      if (hidden % heads !== 0 || v.shape[2] % heads !== 0) throw new ShapeError(`MultiHeadAttention: ${heads} heads do not divide the hidden sizes`);
      if (!floatTypes.has(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) throw new ShapeError(`MultiHeadAttention needs one float type, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
      if (bias) {
        const [bb, bh, bq, bk] = bias.shape;
        if (bias.shape.length !== 4 || (bb !== 1 && bb !== batch) || (bh !== 1 && bh !== heads) || bq !== lq || bk !== lk) {
          throw new ShapeError(`MultiHeadAttention attention_bias ${formatShape(bias.shape)} must be [${batch} or 1, ${heads} or 1, ${lq}, ${lk}]`);
        }
        if (bias.dtype !== q.dtype) throw new ShapeError(`MultiHeadAttention attention_bias is ${bias.dtype}, not ${q.dtype}`);
      }
      return [{ dtype: q.dtype, shape: [batch, lq, v.shape[2]] }];
    },
  },
};

for (const [op, schema] of Object.entries(contribOpSchemas)) {
  if (!opSchemas[op]) opSchemas[op] = schema;
}
