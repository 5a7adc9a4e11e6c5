// Train the tiny world's VAE (tinyVaeConfig: per-frame KL autoencoder, 4x spatial stride) on
// frames of shapes videos: L1 + L2 reconstruction of a posterior sample plus a small KL. The
// reconstruction terms weight shape pixels (1 + --shape-weight) above background pixels: the
// shapes are small, and with a plain mean the decoder first learns backgrounds and grey blobs.
// Reports held-out reconstruction PSNR, measures the latent scale factor (1 / std of the
// latent means over held-out frames) and writes stdlib/weights/tiny/tiny_vae.safetensors.
//
//   npx tsx tools/tiny-world/train-vae.ts [--minutes 7] [--shape-weight 8] [--init previous.safetensors] [--out path]
import { parseArgs } from 'node:util';
import { readSafetensors } from '../../runtime/weights/safetensors.ts';
import * as ort from 'onnxruntime-node';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../stdlib/models/vae/vae.ts';
import { tinyVaeConfig } from '../../stdlib/models/vae/config.ts';
import { FRAME_SIZE, FRAMES, frameOf, HELDOUT_SEED, SIZE, TRAIN_SEED, videoPool } from './data.ts';
import { Budget, ORT_TRAIN_OPTIONS, psnr, since, Trainer } from './trainer.ts';
import { float32WeightSource, TINY_WEIGHTS } from '../../runtime/weights/tiny-world.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '7' },
    steps: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '2e-3' },
    kl: { type: 'string', default: '1e-4' },
    videos: { type: 'string', default: '1024' },
    out: { type: 'string', default: TINY_WEIGHTS.vae },
    /** Start from these weights (a previous run). */
    init: { type: 'string' },
    /** Extra weight of shape pixels (pixels away from both background colours) in the loss. */
    'shape-weight': { type: 'string', default: '8' },
  },
});
const budget = new Budget(Number(args.minutes) * 60, Number(args.steps));
const BATCH = Number(args.batch);
const LR = Number(args.lr);
const KL = Number(args.kl);
const z = tinyVaeConfig.latentChannels;
const h = SIZE / 4;

const t0 = performance.now();
const train = videoPool(TRAIN_SEED, Number(args.videos));
const heldout = videoPool(HELDOUT_SEED, 32);
console.log(`vae: ${train.length} training videos in ${since(t0)} s`);

const SHAPE_WEIGHT = Number(args['shape-weight']);
const initial = args.init ? new Map([...(await readSafetensors(args.init)).tensors].map(([k, t]) => [k, t.data as Float32Array])) : undefined;
const trainer = await Trainer.create({
  name: 'vae',
  initial,
  seed: 11,
  maxGradNorm: 1,
  build: (nn) => {
    const { b } = nn;
    const images = b.input('images', [BATCH, 3, SIZE, SIZE]);
    const noise = b.input('noise', [BATCH, z, h, h]);
    // Per-pixel loss weights (1 on the background, 1 + SHAPE_WEIGHT on the shape), normalised.
    const weight = b.input('weight', [BATCH, 1, SIZE, SIZE]);
    const { mean, logvar } = buildVaeEncoder(nn, tinyVaeConfig, images);
    const sample = b.add(mean, b.mul(b.exp(b.mul(logvar, b.scalar(0.5))), noise));
    const recon = buildVaeDecoder(nn, tinyVaeConfig, sample);
    const d = b.sub(recon, images);
    const l1 = b.reduceMean(b.mul(b.abs(d), weight), undefined, false);
    const l2 = b.reduceMean(b.mul(d, d), undefined, false);
    const l2w = b.reduceMean(b.mul(b.mul(d, d), weight), undefined, false);
    const kl = b.mul(b.scalar(0.5), b.reduceMean(b.sub(b.add(b.mul(mean, mean), b.exp(logvar)), b.add(logvar, b.scalar(1))), undefined, false));
    const loss = b.add(b.add(l1, l2w), b.mul(b.scalar(KL), kl));
    return { loss, metrics: { l2, kl } };
  },
});
console.log(`vae: ${trainer.parameterCount} parameters, step compiled in ${trainer.compileSeconds.toFixed(1)} s`);

const rng = new Rng(5, 'train-vae');
const images = new Float32Array(BATCH * FRAME_SIZE);
const noise = new Float32Array(BATCH * z * h * h);
const weight = new Float32Array(BATCH * SIZE * SIZE);
/** Weights of one frame: shape pixels (far from the top-left and bottom-left background colours) count 1 + SHAPE_WEIGHT; mean 1. */
function pixelWeights(frame: Float32Array, out: Float32Array, offset: number): void {
  const hw = SIZE * SIZE;
  const corners = [0, (SIZE - 1) * SIZE];
  let sum = 0;
  for (let p = 0; p < hw; p++) {
    let near = Infinity;
    for (const c of corners) {
      let dist = 0;
      for (let ch = 0; ch < 3; ch++) dist += Math.abs(frame[ch * hw + p] - frame[ch * hw + c]);
      near = Math.min(near, dist);
    }
    out[offset + p] = near > 0.15 ? 1 + SHAPE_WEIGHT : 1;
    sum += out[offset + p];
  }
  for (let p = 0; p < hw; p++) out[offset + p] *= hw / sum;
}
let ema = 0;
const tTrain = performance.now();
let step = 0;
for (; !budget.done(step); step++) {
  for (let i = 0; i < BATCH; i++) {
    const frame = frameOf(train[rng.int(train.length)], rng.int(FRAMES));
    images.set(frame, i * FRAME_SIZE);
    pixelWeights(frame, weight, i * SIZE * SIZE);
  }
  rng.fillNormal(noise);
  const r = await trainer.step({ images, noise, weight }, budget.lr(step, LR));
  ema = step === 0 ? r.metrics.l2 : 0.98 * ema + 0.02 * r.metrics.l2;
  if (step % 50 === 0) {
    console.log(`step ${step} loss ${r.loss.toFixed(4)} l2(ema) ${ema.toFixed(5)} ~psnr ${(10 * Math.log10(4 / ema)).toFixed(2)} kl ${r.metrics.kl.toFixed(2)} |g| ${r.gradNorm.toFixed(3)} (${since(tTrain)} s)`);
  }
}
const trainSeconds = (performance.now() - tTrain) / 1000;
console.log(`vae: ${step} steps in ${trainSeconds.toFixed(0)} s, final l2(ema) ${ema.toFixed(5)}`);

// Held-out evaluation: encoder mean -> decoder, frame by frame, with the trained weights frozen.
const values = trainer.parameters();
const shapes = new Map(trainer.store.list().map((p) => [p.name, p.shape]));
const evalStore = new ParameterStore({ weights: float32WeightSource('trained vae', values, shapes) });
const graph = new Graph('vae_eval');
const b = new Builder(graph);
const evalNN = { b, params: evalStore };
const N = FRAMES * 4;
const input = b.input('images', [N, 3, SIZE, SIZE]);
const { mean } = buildVaeEncoder(evalNN, tinyVaeConfig, input);
mean.name = 'mean';
graph.markOutput(mean);
const recon = buildVaeDecoder(evalNN, tinyVaeConfig, mean);
recon.name = graph.uniqueName('recon');
graph.markOutput(recon);
evalStore.assertComplete();
const session = await ort.InferenceSession.create(emitModel(graph), ORT_TRAIN_OPTIONS);
let psnrSum = 0;
let sum = 0;
let sumSq = 0;
let count = 0;
const perChannel = new Float64Array(z);
for (let v = 0; v < heldout.length; v += 4) {
  const batch = new Float32Array(N * FRAME_SIZE);
  for (let i = 0; i < 4; i++) batch.set(heldout[v + i].frames, i * FRAMES * FRAME_SIZE);
  const out = await session.run({ images: new ort.Tensor('float32', batch, [N, 3, SIZE, SIZE]) });
  const r = out[recon.name].data as Float32Array;
  for (let i = 0; i < 4; i++) psnrSum += psnr(r.subarray(i * FRAMES * FRAME_SIZE, (i + 1) * FRAMES * FRAME_SIZE), heldout[v + i].frames);
  const m = out.mean.data as Float32Array;
  for (let i = 0; i < m.length; i++) {
    sum += m[i];
    sumSq += m[i] * m[i];
    perChannel[Math.floor(i / (h * h)) % z] += m[i];
  }
  count += m.length;
}
const meanPsnr = psnrSum / heldout.length;
const latentMean = sum / count;
const latentStd = Math.sqrt(sumSq / count - latentMean * latentMean);
const scaleFactor = 1 / latentStd;
console.log(`held-out PSNR ${meanPsnr.toFixed(2)} dB over ${heldout.length} videos; latent mean ${latentMean.toFixed(4)} std ${latentStd.toFixed(4)} -> scale factor ${scaleFactor.toFixed(4)}`);
console.log(`per-channel latent means ${[...perChannel].map((s) => (s / (count / z)).toFixed(3)).join(' ')}`);
await trainer.save(args.out!, {
  model: 'tiny_vae',
  script: 'tools/tiny-world/train-vae.ts',
  steps: String(step),
  init: args.init ?? 'seeded',
  shape_weight: String(SHAPE_WEIGHT),
  batch_frames: String(BATCH),
  heldout_psnr_db: meanPsnr.toFixed(2),
  scale_factor: scaleFactor.toFixed(4),
  latent_std: latentStd.toFixed(4),
  train_seconds: trainSeconds.toFixed(0),
});
console.log(`wrote ${args.out} (train ${trainSeconds.toFixed(0)} s, total ${since(t0)} s)`);
await session.release();
await trainer.release();
