// Train the tiny world's CLIP (tinyClipConfig: text and image towers) contrastively on
// (video, caption) pairs of the shapes generator: a video's embedding is the mean of its
// frames' L2-normalised image embeddings (K random frames while training, all at evaluation);
// symmetric InfoNCE with a learnable temperature (`logit_scale`, OpenCLIP's key, clamped at
// ln 100). Fresh videos every step. Reports held-out top-1 retrieval among 16 and per-attribute
// accuracy (the true caption against the same caption with one attribute swapped for each other
// value), and writes stdlib/weights/tiny/tiny_clip.safetensors.
//
// Frames are fed in [-1, 1] as the generator (and the VAE decoder) makes them.
//
//   npx tsx tools/tiny-world/train-clip.ts [--minutes 7] [--hard 1|0] [--init first.safetensors] [--out path]
import { parseArgs } from 'node:util';
import type { Value } from '../../tensor/ir/graph.ts';
import { captionFor, MOTIONS, SHAPES, shapesItem } from '../../stdlib/data/shapes.ts';
import { readSafetensors } from '../../runtime/weights/safetensors.ts';
import { init, parameter, ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import type { Builder } from '../../tensor/ir/builder.ts';
import { tinyClipConfig } from '../../stdlib/models/clip/config.ts';
import { buildClipImageEncoder, buildClipTextEncoder } from '../../stdlib/models/clip/clip.ts';
import { tokenize } from '../../stdlib/models/clip/tiny-tokenizer.ts';
import { evaluateClip, TinyClip } from './clip-embed.ts';
import { FRAME_SIZE, FRAMES, HELDOUT_SEED, SIZE, TRAIN_SEED, videoPool } from './data.ts';
import { Budget, since, Trainer } from './trainer.ts';
import { float32WeightSource, TINY_WEIGHTS } from '../../runtime/weights/tiny-world.ts';

const rng = new Rng(7, 'train-clip');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '7' },
    steps: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '64' },
    frames: { type: 'string', default: '4' },
    lr: { type: 'string', default: '1e-3' },
    out: { type: 'string', default: TINY_WEIGHTS.clip },
    /** Start from these weights (e.g. a first run without hard negatives). */
    init: { type: 'string' },
    /** Hard negatives: every video also meets its caption with the shape (or motion) swapped. */
    hard: { type: 'string', default: '1' },
  },
});
const B = Number(args.batch);
const K = Number(args.frames);
const LR = Number(args.lr);
const L = tinyClipConfig.text.contextLength;
const E = tinyClipConfig.embedDim;
const HARD = args.hard !== '0';
const NT = HARD ? 2 * B : B;
const budget = new Budget(Number(args.minutes) * 60, Number(args.steps));

function l2normalize(b: Builder, x: Value, axis: number): Value {
  return b.div(x, b.sqrt(b.add(b.reduceSum(b.mul(x, x), [axis], true), b.scalar(1e-8))));
}

/** A value of `options` other than `not`. */
function other<T>(options: readonly T[], not: T): T {
  const rest = options.filter((o) => o !== not);
  return rest[rng.int(rest.length)];
}

async function loadFloat32(file: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(file);
  return new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

const t0 = performance.now();
const initial = args.init ? await loadFloat32(args.init) : undefined;
const trainer = await Trainer.create({
  name: 'clip',
  initial,
  seed: 21,
  weightDecay: 0.05,
  beta2: 0.98,
  build: (nn) => {
    const { b } = nn;
    const tokens = b.input('tokens', [NT, L], 'int64');
    const images = b.input('images', [B * K, 3, SIZE, SIZE]);
    const eye = b.input('eye', [B, NT]);
    const text = l2normalize(b, buildClipTextEncoder(nn, tinyClipConfig, tokens).pooled!, 1); // [NT, E]: true captions, then hard negatives
    const perFrame = l2normalize(b, buildClipImageEncoder(nn, tinyClipConfig, images).pooled, 1);
    const video = l2normalize(b, b.reduceMean(b.reshape(perFrame, [B, K, E]), [1], false), 1);
    const logitScale = b.clip(parameter(nn, 'logit_scale', [], { init: init.constant(Math.log(1 / 0.07)) }), 0, Math.log(100));
    const scale = b.exp(logitScale);
    // logits - scale <= 0 (cosines <= 1): a stable log-sum-exp without a max.
    const logits = b.mul(b.sub(b.matmul(video, b.transpose(text, [1, 0])), b.scalar(1)), scale);
    const diag = b.reduceSum(b.mul(logits, eye), [1], false); // [B]
    const lseRows = b.log(b.reduceSum(b.exp(logits), [1], false));
    // text -> video over the true captions only.
    const lseCols = b.log(b.reduceSum(b.exp(HARD ? b.slice(logits, 1, 0, B) : logits), [0], false));
    const loss = b.mul(b.scalar(0.5), b.add(b.reduceMean(b.sub(lseRows, diag), undefined, false), b.reduceMean(b.sub(lseCols, diag), undefined, false)));
    // Batch accuracy video -> text (argmax on the diagonal).
    const rowMax = b.reduceMax(logits, [1], false);
    const acc = b.reduceMean(b.cast(b.op('Equal', [diag, rowMax]), 'float32'), undefined, false);
    return { loss, metrics: { acc, scale } };
  },
});
console.log(`clip: ${trainer.parameterCount} parameters, step compiled in ${trainer.compileSeconds.toFixed(1)} s`);

const eye = new Float32Array(B * NT);
for (let i = 0; i < B; i++) eye[i * NT + i] = 1;
const tokens = new BigInt64Array(NT * L);
const images = new Float32Array(B * K * FRAME_SIZE);
let step = 0;
let ema = { loss: 0, acc: 0 };
let seen = args.init ? 1_000_000 : 0; // a continued run sees other videos
for (; !budget.done(step); step++) {
  for (let i = 0; i < B; i++) {
    const item = shapesItem(TRAIN_SEED, seen++);
    tokens.set(tokenize(item.caption, L), i * L);
    if (HARD) {
      const a = item.attributes;
      const swap = rng.uniform() < 0.75 ? { shape: other(SHAPES, a.shape) } : { motion: other(MOTIONS, a.motion) };
      tokens.set(tokenize(captionFor({ ...a, ...swap }), L), (B + i) * L);
    }
    // K distinct frames in time order.
    const picks = new Set<number>();
    while (picks.size < K) picks.add(rng.int(FRAMES));
    [...picks].sort((a, b) => a - b).forEach((f, k) => images.set(item.frames.subarray(f * FRAME_SIZE, (f + 1) * FRAME_SIZE), (i * K + k) * FRAME_SIZE));
  }
  const r = await trainer.step({ tokens, images, eye }, budget.lr(step, LR));
  const a = step === 0 ? 1 : 0.05;
  ema = { loss: (1 - a) * ema.loss + a * r.loss, acc: (1 - a) * ema.acc + a * r.metrics.acc };
  if (step % 50 === 0) console.log(`step ${step} loss ${r.loss.toFixed(3)} (ema ${ema.loss.toFixed(3)}) batch acc@${B} ${ema.acc.toFixed(3)} scale ${r.metrics.scale.toFixed(1)} |g| ${r.gradNorm.toFixed(2)} (${budget.elapsed.toFixed(0)} s)`);
}
const trainSeconds = budget.elapsed;
console.log(`clip: ${step} steps (${seen} videos) in ${trainSeconds.toFixed(0)} s; final loss(ema) ${ema.loss.toFixed(3)}, batch acc@${B}(ema) ${ema.acc.toFixed(3)}`);

// ---- held-out evaluation with the trained weights frozen
const values = trainer.parameters();
const shapes = new Map(trainer.store.list().map((p) => [p.name, p.shape]));
const store = new ParameterStore({ weights: float32WeightSource('trained clip', values, shapes) });
const clip = await TinyClip.create(store, 64);
const metrics = await evaluateClip(clip, videoPool(HELDOUT_SEED, 256));
console.log(`held-out: ${JSON.stringify(metrics)}`);
await trainer.save(args.out!, {
  model: 'tiny_clip',
  script: 'tools/tiny-world/train-clip.ts',
  steps: String(step),
  init: args.init ?? 'seeded',
  hard_negatives: String(HARD),
  videos_seen: String(seen),
  input_range: '[-1, 1], no normalisation',
  video_embedding: 'mean of L2-normalised frame embeddings',
  logit_scale: String(Math.exp(values.get('logit_scale')![0])),
  heldout: JSON.stringify(metrics),
  train_seconds: trainSeconds.toFixed(0),
});
console.log(`wrote ${args.out} (total ${since(t0)} s)`);
await clip.release();
await trainer.release();

