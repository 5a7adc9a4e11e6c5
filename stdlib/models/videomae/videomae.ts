// VideoMAE's encoder and video-classification head (arXiv 2203.12602) as transformers builds
// VideoMAEForVideoClassification (huggingface/transformers
// src/transformers/models/videomae/modeling_videomae.py), with its parameter names:
//
//   videomae.embeddings.patch_embeddings.projection   Conv3d 3 -> width, kernel = stride = [tubelet, patch, patch]
//   videomae.encoder.layer.{i}.layernorm_before       pre-LN (eps layer_norm_eps)
//     attention.attention.{query,key,value}.weight     no Linear biases; q_bias and v_bias are
//     attention.attention.{q_bias,v_bias}              parameters of their own, the key's bias is zero
//     attention.output.dense                           out projection
//     layernorm_after, intermediate.dense (gelu), output.dense
//   fc_norm                                             LayerNorm of the mean over all tokens (torch's default eps)
//   classifier                                          Linear width -> classes
//
// The position embedding is no weight: a fixed sine-cosine table (get_sinusoid_encoding_table)
// for the number of patches the input gives, here a constant of the graph. There is no class
// token. The input is what VADER feeds the model, pixel_values [B, T, 3, S, S] (frames after
// their per-frame preprocessing, stacked per video: mihirp1998/VADER
// VADER-VideoCrafter/scripts/main/train_t2v_lora.py actpred_loss_fn); the patch embedding
// permutes it to [B, 3, T, S, S] as the reference does. Each encoder layer is a
// rematerialisation segment.
import type { Builder } from '../../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { conv3d, gelu, init, layerNorm, linear, type NN, parameter, timesTransposed } from '../../nn/index.ts';
import { patchesPerTubelet, type VideoMaeConfig } from './config.ts';

export interface VideoMaeOutput {
  /** Class logits [B, classes]. */
  logits: Value;
  /** The mean of the last layer's tokens after fc_norm [B, width]: what the classifier reads. */
  pooled: Value;
}

/**
 * The fixed position table [positions, width] of VideoMAE: position p, feature j ->
 * sin (even j) or cos (odd j) of p / 10000^(2 floor(j / 2) / width), computed in float64 and
 * stored as float32 as the reference does (numpy, then torch.FloatTensor).
 */
export function sinusoidTable(positions: number, width: number): Float32Array {
  const table = new Float32Array(positions * width);
  const rates = Array.from({ length: width }, (_, j) => Math.pow(10000, (2 * Math.floor(j / 2)) / width));
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < width; j++) {
      const angle = p / rates[j];
      table[p * width + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

/** video [B, T, channels, S, S] (normalised pixels) -> logits and the pooled embedding. */
export function buildVideoMaeClassifier(nn: NN, config: VideoMaeConfig, video: Value): VideoMaeOutput {
  const { b } = nn;
  const { imageSize: size, tubeletSize: tubelet, width } = config;
  if (video.rank !== 5 || video.shape[2] !== config.channels || video.shape[3] !== size || video.shape[4] !== size) {
    throw new ShapeError(`in ${b.scope || config.name}: VideoMAE expects pixel values [B, T, ${config.channels}, ${size}, ${size}], got ${formatShape(video.shape)}`);
  }
  const [batch, frames] = video.shape;
  if (frames % tubelet !== 0) throw new ShapeError(`in ${b.scope || config.name}: VideoMAE takes frames in tubelets of ${tubelet}, got ${frames} frames per video`);
  if (size % config.patchSize !== 0) throw new ShapeError(`in ${b.scope || config.name}: image size ${size} is not a multiple of the patch size ${config.patchSize}`);
  if (width % config.heads !== 0) throw new ShapeError(`in ${b.scope || config.name}: width ${width} does not split into ${config.heads} heads`);
  const tokens = (frames / tubelet) * patchesPerTubelet(config);

  const x = b.within('videomae', () => {
    let h = b.within('embeddings', () => {
      const channelsFirst = b.transpose(video, [0, 2, 1, 3, 4]); // [B, 3, T, S, S]
      const patches = b.within('patch_embeddings', () =>
        conv3d(nn, 'projection', channelsFirst, { out: width, kernel: [tubelet, config.patchSize, config.patchSize], stride: [tubelet, config.patchSize, config.patchSize] }),
      );
      // [B, width, T', S', S'] -> tokens in (t, row, column) order, as flatten(2).transpose(1, 2)
      const sequence = b.transpose(b.reshape(patches, [batch, width, tokens]), [0, 2, 1]);
      let table = b.constant(sinusoidTable(tokens, width), [1, tokens, width], 'float32', 'position_table');
      if (sequence.dtype !== 'float32') table = b.cast(table, sequence.dtype);
      return b.add(sequence, table);
    });
    b.within('encoder', () => {
      for (let i = 0; i < config.layers; i++) h = encoderLayer(nn, config, `layer.${i}`, h);
    });
    return h;
  });
  const mean = b.reduceMean(x, [1], false); // [B, width]
  const pooled = layerNorm(nn, 'fc_norm', mean, { eps: config.fcNormEps });
  const logits = linear(nn, 'classifier', pooled, { out: config.classes });
  return { logits, pooled };
}

/** VideoMAELayer: x + attention(layernorm_before(x)), then h + output(gelu(intermediate(layernorm_after(h)))). */
function encoderLayer(nn: NN, config: VideoMaeConfig, name: string, x: Value): Value {
  const { b } = nn;
  const segment = b.scope ? `${b.scope}.${name}` : name;
  return b.inSegment(segment, () =>
    b.within(name, () => {
      const eps = config.layerNormEps;
      const normed = layerNorm(nn, 'layernorm_before', x, { eps });
      const attended = b.within('attention', () => {
        const context = selfAttention(nn, config, normed);
        return b.within('output', () => linear(nn, 'dense', context, { out: config.width }));
      });
      const h = b.add(x, attended);
      const normedAfter = layerNorm(nn, 'layernorm_after', h, { eps });
      const inner = b.within('intermediate', () => gelu(b, linear(nn, 'dense', normedAfter, { out: config.mlp })));
      return b.add(h, b.within('output', () => linear(nn, 'dense', inner, { out: config.width })));
    }),
  );
}

/** VideoMAESelfAttention (scope attention.attention): softmax(q k^T / sqrt(d)) v over all tokens. */
function selfAttention(nn: NN, config: VideoMaeConfig, x: Value): Value {
  const { b } = nn;
  return b.within('attention', () => {
    const [batch, length, width] = x.shape;
    const { heads } = config;
    const dimHead = width / heads;
    const dtype = x.dtype;
    const biased = (projection: string, biasName: string | undefined): Value => {
      const bias = biasName ? parameter(nn, biasName, [width], { init: init.zeros(), dtype }) : undefined;
      const weight = b.within(projection, () => parameter(nn, 'weight', [width, width], { init: init.kaimingUniform(), dtype }));
      return timesTransposed(b, x, weight, bias);
    };
    const q = biased('query', config.qkvBias ? 'q_bias' : undefined);
    const k = biased('key', undefined); // the reference adds zeros_like(v_bias): nothing
    const v = biased('value', config.qkvBias ? 'v_bias' : undefined);
    const heads4 = (t: Value, perm: number[]) => b.transpose(b.reshape(t, [batch, length, heads, dimHead]), perm);
    const qh = heads4(b.mul(q, b.scalarLike(q, 1 / Math.sqrt(dimHead))), [0, 2, 1, 3]); // [B, H, L, D]
    const scores = b.matmul(qh, heads4(k, [0, 2, 3, 1])); // [B, H, L, L]
    const attended = b.matmul(b.softmax(scores, -1), heads4(v, [0, 2, 1, 3]));
    return mergeHeads(b, attended, [batch, length, width]);
  });
}

/** [B, H, L, D] -> [B, L, H D]. */
function mergeHeads(b: Builder, x: Value, shape: number[]): Value {
  return b.reshape(b.transpose(x, [0, 2, 1, 3]), shape);
}
