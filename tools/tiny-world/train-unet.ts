// Train the tiny world's VideoCrafter2-style UNet (tinyVcConfig) with the DDPM epsilon
// objective on latents of shapes videos: scaled-linear betas linspace(sqrt(0.00085),
// sqrt(0.012), 1000)^2, t uniform in 0..999, x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, loss
// MSE(eps_hat, eps). Conditioning: the frozen tiny CLIP's text tokens (ln_final states,
// [16, 64]) with 10% of captions dropped to the empty caption (classifier-free guidance), and
// fps 8. Latents are the frozen tiny VAE's means times its scale factor, encoded once up front.
// Then: held-out epsilon loss (fixed t grid and noise) against predicting zeros, and a few DDIM
// samples with CFG written as a PNG grid (with the prompts) for looking at.
//
//   npx tsx tools/tiny-world/train-unet.ts [--minutes 9] [--samples out/dir]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFrameGridPng } from '../../runtime/media/grid.ts';
import { toFloat32 } from '../../runtime/weights/dtype.ts';
import { readSafetensors } from '../../runtime/weights/safetensors.ts';
import { ParameterStore, Rng } from '../../stdlib/nn/index.ts';
import { defaultAlphasCumprod } from '../../stdlib/samplers/schedule.ts';
import { tinyVcConfig } from '../../stdlib/models/unet3d/config.ts';
import { buildUNet3D } from '../../stdlib/models/unet3d/unet.ts';
import { tinyVaeConfig } from '../../stdlib/models/vae/config.ts';
import { TinyClip } from './clip-embed.ts';
import { FRAMES, HELDOUT_SEED, SIZE, TRAIN_SEED, videoPool } from './data.ts';
import { LATENT_CHANNELS, LATENT_SIZE, LATENT_VIDEO, sampleDdim, TinyUNet, TinyVae } from './sessions.ts';
import { Budget, since, Trainer } from './trainer.ts';
import { float32WeightSource, openWeightSource, TINY_FPS, TINY_WEIGHTS } from '../../runtime/weights/tiny-world.ts';
import { heldoutEpsLoss } from './unet-eval.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '9' },
    steps: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '16' },
    videos: { type: 'string', default: '1024' },
    lr: { type: 'string', default: '1e-3' },
    vae: { type: 'string', default: TINY_WEIGHTS.vae },
    clip: { type: 'string', default: TINY_WEIGHTS.clip },
    out: { type: 'string', default: TINY_WEIGHTS.unet },
    samples: { type: 'string', default: 'runs/tiny-unet-samples' },
    /** Continue from earlier weights (a safetensors file of this UNet, float16 or float32). */
    init: { type: 'string' },
  },
});
const B = Number(args.batch);
const LR = Number(args.lr);
const L = 16;
const D = tinyVcConfig.contextDim;
const CONTEXT = L * D;
const DROPOUT = 0.1;

const t0 = performance.now();
// Frozen VAE and text encoder.
const vaeWeights = await openWeightSource(args.vae!);
const scaleFactor = Number(vaeWeights.metadata.scale_factor);
if (!(scaleFactor > 0)) throw new Error(`${args.vae}: no scale_factor in its metadata`);
const vaeConfig = { ...tinyVaeConfig, scaleFactor };
const vae = await TinyVae.create(new ParameterStore({ weights: vaeWeights }), vaeConfig, 8);
const clip = await TinyClip.create(new ParameterStore({ weights: await openWeightSource(args.clip!) }), 64);

const train = videoPool(TRAIN_SEED, Number(args.videos));
const latents = await vae.encode(train.map((v) => v.frames));
const contexts = (await clip.embedTexts(train.map((v) => v.caption))).tokens;
const empty = (await clip.embedTexts([''])).tokens;
let s = 0;
let ss = 0;
for (const x of latents) {
  s += x;
  ss += x * x;
}
const latentStd = Math.sqrt(ss / latents.length - (s / latents.length) ** 2);
console.log(`unet: ${train.length} videos encoded (scale ${scaleFactor}, scaled latent std ${latentStd.toFixed(3)}) and captioned in ${since(t0)} s`);

const initial = args.init
  ? new Map([...(await readSafetensors(args.init)).tensors].map(([k, t]) => [k, toFloat32(t.dtype, t.data)]))
  : undefined;
const trainer = await Trainer.create({
  name: 'unet',
  initial,
  seed: 31,
  build: (nn) => {
    const { b } = nn;
    const xt = b.input('xt', [B, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]);
    const target = b.input('eps', [B, LATENT_CHANNELS, FRAMES, LATENT_SIZE, LATENT_SIZE]);
    const t = b.input('t', [B]);
    const context = b.input('context', [B, L, D]);
    const fps = b.input('fps', [B]);
    const pred = buildUNet3D(nn, tinyVcConfig, { x: xt, timesteps: t, context, fps });
    const d = b.sub(pred, target);
    return { loss: b.reduceMean(b.mul(d, d), undefined, false) };
  },
});
console.log(`unet: ${trainer.parameterCount} parameters, step compiled in ${trainer.compileSeconds.toFixed(1)} s`);

const alphas = defaultAlphasCumprod();
const rng = new Rng(9, 'train-unet');
const xt = new Float32Array(B * LATENT_VIDEO);
const eps = new Float32Array(B * LATENT_VIDEO);
const t = new Float32Array(B);
const context = new Float32Array(B * CONTEXT);
const fps = new Float32Array(B).fill(TINY_FPS);
const budget = new Budget(Number(args.minutes) * 60, Number(args.steps));
let step = 0;
let ema = 0;
for (; !budget.done(step); step++) {
  rng.fillNormal(eps);
  for (let i = 0; i < B; i++) {
    const v = rng.int(train.length);
    const ti = rng.int(1000);
    t[i] = ti;
    const a = Math.sqrt(alphas[ti]);
    const sgm = Math.sqrt(1 - alphas[ti]);
    for (let k = 0; k < LATENT_VIDEO; k++) xt[i * LATENT_VIDEO + k] = a * latents[v * LATENT_VIDEO + k] + sgm * eps[i * LATENT_VIDEO + k];
    context.set(rng.uniform() < DROPOUT ? empty : contexts.subarray(v * CONTEXT, (v + 1) * CONTEXT), i * CONTEXT);
  }
  const r = await trainer.step({ xt, eps, t, context, fps }, budget.lr(step, LR, 50));
  ema = step === 0 ? r.loss : 0.98 * ema + 0.02 * r.loss;
  if (step % 50 === 0) console.log(`step ${step} loss ${r.loss.toFixed(4)} (ema ${ema.toFixed(4)}) |g| ${r.gradNorm.toFixed(3)} (${budget.elapsed.toFixed(0)} s)`);
}
const trainSeconds = budget.elapsed;
console.log(`unet: ${step} steps in ${trainSeconds.toFixed(0)} s, final training loss (ema) ${ema.toFixed(4)}`);

// ---- evaluation with the trained weights frozen
const values = trainer.parameters();
const shapes = new Map(trainer.store.list().map((p) => [p.name, p.shape]));
const store = () => new ParameterStore({ weights: float32WeightSource('trained unet', values, shapes) });
const heldout = videoPool(HELDOUT_SEED, 16);
const evalUnet = await TinyUNet.create(store(), 16);
const held = await heldoutEpsLoss(evalUnet, vae, clip, heldout, TINY_FPS);
console.log(`held-out eps loss ${held.loss.toFixed(4)} (zeros: ${held.zeros.toFixed(4)}; by t ${held.byT.map((x) => x.toFixed(3)).join(' ')})`);
await evalUnet.release();

await trainer.save(args.out!, {
  model: 'tiny_vc_unet',
  script: 'tools/tiny-world/train-unet.ts',
  steps: String(step),
  batch: String(B),
  videos: String(train.length),
  vae_scale_factor: String(scaleFactor),
  fps: String(TINY_FPS),
  caption_dropout: String(DROPOUT),
  final_train_loss_ema: ema.toFixed(4),
  heldout_eps_loss: held.loss.toFixed(4),
  heldout_zeros_loss: held.zeros.toFixed(4),
  train_seconds: trainSeconds.toFixed(0),
  stored_as: 'float16 (trained in float32)',
}, 'F16');
console.log(`wrote ${args.out}`);

// ---- samples: DDIM 25 steps, CFG 1 and 5, a few prompts and those of held-out videos
if (args.samples) await writeSamples(args.samples);
console.log(`total ${since(t0)} s`);
await vae.release();
await clip.release();
await trainer.release();

async function writeSamples(dir: string): Promise<void> {
const prompts = [
  'a red circle moving right on a black background',
  'a yellow square moving down on a dark blue background',
  'a green triangle staying still on a white background',
  'a blue star moving left on a grey background',
  ...heldout.slice(0, 4).map((v) => v.caption),
];
const n = prompts.length;
const sampler = await TinyUNet.create(store(), 2 * n);
const cond = (await clip.embedTexts(prompts)).tokens;
const uncond = new Float32Array(n * CONTEXT);
for (let i = 0; i < n; i++) uncond.set(empty, i * CONTEXT);
mkdirSync(dir, { recursive: true });
for (const guidance of [1, 5]) {
  const ts = performance.now();
  const z = await sampleDdim(sampler, cond, uncond, { steps: 25, guidance, seed: 3, fps: TINY_FPS });
  const videos = await vae.decode(z);
  // One PNG per guidance: rows = prompts, columns = frames.
  const all = new Float32Array(n * videos[0].length);
  videos.forEach((v, i) => all.set(v, i * v.length));
  const file = path.join(dir, `samples_cfg${guidance}.png`);
  writeFrameGridPng({ data: all, frames: n * FRAMES, height: SIZE, width: SIZE }, file, { columns: FRAMES });
  console.log(`samples (cfg ${guidance}) in ${since(ts)} s -> ${file}`);
}
writeFileSync(path.join(dir, 'prompts.txt'), prompts.map((p, i) => `${i}: ${p}`).join('\n') + '\n');
await sampler.release();
}
