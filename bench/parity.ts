// Parity of vplc's VideoCrafter2 networks with a PyTorch twin of the reference, without the real
// weights: a synthetic checkpoint with the real key names and shapes (seeded random values) is
// loaded by both sides by name, and each network's forward pass is compared.
//
//   npx tsx bench/parity.ts [--size reduced|full] [--nets unet,vae,text] [--keep DIR]
//       [--frames N] [--latent HxW] [--tol 1e-3] [--threads 2] [--ort all|basic|disabled] [--no-prepack]
//
// 1. The checkpoint: tools/checkpoints/synthetic.py --layout videocrafter2-safetensors when that
//    script exists, else bench/twins/cli.py synth (keys from the twins' own parameter lists).
//    Kept in DIR between runs with --keep (re-used when its size matches).
// 2. Per network, one child process per side, so that each side's peak RSS (VmHWM) is its own:
//    vplc: the graph of the network alone (UNet: x [1,4,T,h,w], timesteps, context [1,77,D],
//    fps; VAE: AutoencoderKL.decode on latents [T,4,h,w]; text: FrozenOpenCLIPEmbedder's
//    penultimate context on tokens [1,77]), parameters through ParameterStore with
//    keyOf = checkpointKey(build) and a WeightSource whose tensors are byte ranges of the
//    safetensors file (external data by reference: the .onnx is written next to the file and
//    onnxruntime reads the weights from it; JS never holds them), run in onnxruntime-node.
//    torch: bench/twins/cli.py forward (the reference architecture over the same file).
//    Both sides check names: vplc fails on missing keys (store.assertComplete) and on keys
//    of the network's prefix that nothing asked for (except the documented extras); the twin
//    on either, and on declared keys its forward never read.
// 3. Prints per network: parameters, max abs error, norm-wise relative error
//    ||vplc - torch||_2 / ||torch||_2 (pass at --tol), seconds (load, run) and peak RSS per side.
//    Exit 1 on a mismatch or a failed side, 2 without torch.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { emitModel } from '../tensor/emit/onnx.ts';
import { Builder } from '../tensor/ir/builder.ts';
import { Graph, type Value } from '../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../tensor/passes/index.ts';
import { readSafetensors, SafetensorsReader, writeSafetensors, type TensorToWrite } from '../runtime/weights/safetensors.ts';
import { toFloat32 } from '../runtime/weights/dtype.ts';
import { checkpointKey, type ModelBuild, modelBuilds } from '../stdlib/models/registry.ts';
import { buildUNet3D, type UNet3DConfig, videocrafter2Config } from '../stdlib/models/unet3d/index.ts';
import { buildVaeDecoder, sdVaeConfig, type VaeConfig } from '../stdlib/models/vae/index.ts';
import { buildClipTextEncoder, type ClipConfig, openClipHConfig } from '../stdlib/models/clip/index.ts';
import { type CheckpointTensor, ParameterStore, Rng, type WeightSource } from '../stdlib/nn/index.ts';
import { fmt, load, machine, MiB, peakRss, PYTHON, torchAvailable } from './common.ts';

export const TWIN_CLI = fileURLToPath(new URL('./twins/cli.py', import.meta.url));
const SHARED_GENERATOR = fileURLToPath(new URL('../tools/checkpoints/synthetic.py', import.meta.url));

export type Size = 'reduced' | 'full';
export type Net = 'unet' | 'vae' | 'text';
const NETS: readonly Net[] = ['unet', 'vae', 'text'];

/**
 * The builds under test. full: the registry's VideoCrafter2 build. reduced: the same
 * architecture, narrow (UNet 64 wide, heads of 32, context 64, init_attn 8 x 32; VAE ch 32;
 * text 64 wide with 2 heads, still 24 layers and the full vocabulary).
 */
export function parityBuild(size: Size): ModelBuild {
  const real = modelBuilds.videocrafter2;
  if (size === 'full') return real;
  const denoiser: UNet3DConfig = { ...videocrafter2Config, name: 'videocrafter2_reduced', modelChannels: 64, headDim: 32, contextDim: 64, initAttention: { heads: 8, headDim: 32 } };
  const vae: VaeConfig = { ...sdVaeConfig, name: 'sd_vae_reduced', ch: 32 };
  const text: ClipConfig = { ...openClipHConfig, name: 'open_clip_h_reduced', embedDim: 64, text: { ...openClipHConfig.text, width: 64, heads: 2 } };
  return { ...real, name: 'videocrafter2_reduced', denoiser, vae, text };
}

/** Scope of each network (checkpointKey maps it to the checkpoint's prefix) and the keys under that prefix it does not read. */
const SCOPE: Record<Net, string> = { unet: 'unet', vae: 'vae', text: 'clip' };
const prefixOf = (build: ModelBuild, net: Net): string =>
  net === 'unet' ? build.denoiser.checkpointPrefix : net === 'vae' ? build.vae.checkpointPrefix : build.text.checkpointPrefix;
/** The encoder half of the VAE is not under test; OpenCLIP's logit_scale is training-only. */
const EXTRAS: Record<Net, readonly string[]> = { unet: [], vae: ['encoder.', 'quant_conv.'], text: ['logit_scale'] };

/**
 * Known disagreements of vplc's parameter names with the reference checkpoint, bridged here so
 * the numbers can still be compared. Each applies only where the checkpoint lacks vplc's key and
 * has the corrected one, so it falls silent once the builder is fixed; every use is counted
 * and printed.
 */
export const NAME_FIXES: readonly { net: Net; from: RegExp; to: string; why: string }[] = [
  {
    net: 'text',
    from: /\.mlp\.ln_2\./,
    to: '.ln_2.',
    why: 'stdlib/models/clip/clip.ts residualBlock declares ln_2 inside the mlp scope; OpenCLIP ResidualAttentionBlock.ln_2 belongs to the block (key transformer.resblocks.N.ln_2.*)',
  },
];

/** checkpointKey(build) plus the NAME_FIXES of `net`; `fixed` collects the parameters they renamed. */
function keyWithFixes(build: ModelBuild, net: Net, weights: WeightSource, fixed: Set<string>): (name: string) => string {
  const base = checkpointKey(build);
  return (name) => {
    const key = base(name);
    if (weights.get(key)) return key;
    for (const fix of NAME_FIXES) {
      if (fix.net !== net || !fix.from.test(key)) continue;
      const other = key.replace(fix.from, fix.to);
      if (weights.get(other)) {
        fixed.add(name);
        return other;
      }
    }
    return key;
  };
}

export interface Shapes {
  frames: number;
  height: number;
  width: number;
}

/** A safetensors file as a WeightSource of byte ranges (external data), named relative to its folder. */
export function externalSource(reader: SafetensorsReader): WeightSource {
  const file = path.basename(reader.path);
  const tensors = new Map<string, CheckpointTensor>();
  for (const e of reader.header.entries.values()) {
    if (e.dtype !== 'F32') throw new Error(`${reader.path}: '${e.name}' is ${e.dtype}; the parity bench compares float32`);
    tensors.set(e.name, { dtype: 'float32', shape: [...e.shape], external: { file, offset: e.fileOffset, length: e.byteLength } });
  }
  return { description: reader.path, get: (key) => tensors.get(key), keys: () => tensors.keys() };
}

// ------------------------------------------------------------------ inputs

function normal(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal(0, 1));
}

/** The inputs of every network, seeded; written once for both sides. */
export function parityInputs(build: ModelBuild, shapes: Shapes, seed = 0): Record<Net, TensorToWrite[]> {
  const rng = new Rng(seed, 'parity-inputs');
  const { frames: t, height: h, width: w } = shapes;
  const unet = build.denoiser as UNet3DConfig;
  const ctx = unet.contextDim;
  const tokens = new BigInt64Array(build.text.text.contextLength); // open_clip.tokenize: SOT, ids, EOT, zeros
  const words = 20;
  tokens[0] = 49406n;
  for (let i = 1; i <= words; i++) tokens[i] = BigInt(1 + Math.floor(rng.uniform() * 49405));
  tokens[words + 1] = BigInt(build.text.text.eotToken);
  return {
    unet: [
      { name: 'x', dtype: 'F32', shape: [1, unet.inChannels, t, h, w], data: normal(rng, unet.inChannels * t * h * w) },
      { name: 'timesteps', dtype: 'F32', shape: [1], data: Float32Array.of(421) },
      { name: 'context', dtype: 'F32', shape: [1, 77, ctx], data: normal(rng, 77 * ctx) },
      { name: 'fps', dtype: 'F32', shape: [1], data: Float32Array.of(8) },
    ],
    vae: [{ name: 'z', dtype: 'F32', shape: [t, build.vae.latentChannels, h, w], data: normal(rng, t * build.vae.latentChannels * h * w) }],
    text: [{ name: 'tokens', dtype: 'I64', shape: [1, build.text.text.contextLength], data: tokens }],
  };
}

// ------------------------------------------------------------------ the vplc side (child)

export interface SideResult {
  params: number;
  loadSeconds: number;
  runSeconds: number;
  rss: number;
  /** Parameters found only through NAME_FIXES (vplc side). */
  nameFixes?: number;
}

function buildNetwork(net: Net, build: ModelBuild, store: ParameterStore, inputs: Map<string, { shape: number[] }>): Graph {
  const graph = new Graph(`parity_${net}`);
  const b = new Builder(graph);
  const nn = { b, params: store };
  const input = (name: string, dtype: 'float32' | 'int64' = 'float32') => b.input(name, inputs.get(name)!.shape, dtype);
  let out: Value;
  if (net === 'unet') {
    const x = input('x');
    const timesteps = input('timesteps');
    const context = input('context');
    out = b.within(SCOPE.unet, () => buildUNet3D(nn, build.denoiser as UNet3DConfig, { x, timesteps, context, fps: 8 }));
  } else if (net === 'vae') {
    const z = input('z');
    out = b.within(SCOPE.vae, () => buildVaeDecoder(nn, build.vae, z));
  } else {
    const tokens = input('tokens', 'int64');
    out = b.within(SCOPE.text, () => buildClipTextEncoder(nn, build.text, tokens).tokens);
  }
  graph.markOutput(out);
  return eliminateDeadCode(graph);
}

async function vplcSide(net: Net, size: Size, dir: string, ckpt: string, threads: number, level: string, prepack: boolean): Promise<SideResult> {
  const t0 = performance.now();
  const build = parityBuild(size);
  const reader = await SafetensorsReader.open(ckpt);
  const weights = externalSource(reader);
  const fixed = new Set<string>();
  const store = new ParameterStore({ weights, keyOf: keyWithFixes(build, net, weights, fixed) });
  const inputs = (await readSafetensors(path.join(dir, `inputs.${net}.safetensors`))).tensors;
  const graph = buildNetwork(net, build, store, inputs);
  store.assertComplete();
  const prefix = prefixOf(build, net);
  const unused = store.unusedKeys().filter((k) => k.startsWith(prefix) && !EXTRAS[net].some((e) => k.startsWith(prefix + e)));
  if (unused.length) throw new Error(`${unused.length} checkpoint key(s) of ${prefix}* that vplc's ${net} never asked for: ${unused.slice(0, 10).join(', ')}`);
  // The model sits next to the checkpoint: its external data's location is the file's basename.
  const model = path.join(path.dirname(ckpt), `parity_${net}.onnx`);
  fs.writeFileSync(model, emitModel(graph));
  await reader.close();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: level as 'all',
    ...(prepack ? {} : { extra: { session: { disable_prepacking: '1' } } }),
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of graph.inputs) {
    const t = inputs.get(v.name)!;
    feeds[v.name] = new ort.Tensor(v.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array, t.shape);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const result = await session.run(feeds);
  const runSeconds = (performance.now() - t1) / 1000;
  const out = result[graph.outputs[0].name];
  await writeSafetensors(path.join(dir, `vplc.${net}.safetensors`), [{ name: 'out', dtype: 'F32', shape: [...out.dims], data: out.data as Float32Array }]);
  await session.release();
  fs.rmSync(model, { force: true });
  return { params: store.count().total, loadSeconds, runSeconds, rss: peakRss(), nameFixes: fixed.size };
}

// ------------------------------------------------------------------ the driver

export interface ParityRow {
  net: Net;
  params: number;
  torchParams: number;
  shape: number[];
  maxAbs: number;
  rel: number;
  pass: boolean;
  vplc: SideResult;
  torch: SideResult;
}

/** max |a - b| and ||a - b||_2 / ||b||_2. */
export function compare(a: Float32Array, b: Float32Array): { maxAbs: number; rel: number } {
  if (a.length !== b.length) return { maxAbs: Infinity, rel: Infinity };
  let maxAbs = 0;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    diff += d * d;
    norm += b[i] * b[i];
  }
  if (Number.isNaN(diff)) return { maxAbs: NaN, rel: NaN };
  return { maxAbs, rel: norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm) };
}

function run(command: string, args: string[], what: string): string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout).trim().split('\n').filter((l) => !l.startsWith('npm warn')).slice(0, 40).join('\n')}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return last;
}

/** The synthetic checkpoint for `size` in `dir` (re-used when there). Returns its path and generator. */
export function syntheticCheckpoint(size: Size, dir: string): { file: string; generator: string; reused: boolean } {
  const file = path.join(dir, `videocrafter2-${size}.safetensors`);
  const shared = fs.existsSync(SHARED_GENERATOR);
  const generator = shared ? 'tools/checkpoints/synthetic.py' : 'bench/twins/synthetic.py';
  if (fs.existsSync(file)) return { file, generator: `${generator} (re-used)`, reused: true };
  const args = shared
    ? [SHARED_GENERATOR, '--layout', 'videocrafter2-safetensors', '--size', size, '--out', file]
    : [TWIN_CLI, 'synth', '--size', size, '--out', file];
  run(PYTHON, args, generator);
  return { file, generator, reused: false };
}

export interface ParityOptions {
  size: Size;
  nets: readonly Net[];
  dir: string;
  shapes: Shapes;
  tol: number;
  threads: number;
  ort: string;
  prepack: boolean;
}

export async function parity(options: ParityOptions, log: (line: string) => void = console.log): Promise<ParityRow[]> {
  const { size, dir } = options;
  const build = parityBuild(size);
  const t0 = performance.now();
  const ckpt = syntheticCheckpoint(size, dir);
  log(`checkpoint: ${ckpt.file} (${MiB(fs.statSync(ckpt.file).size)}, ${ckpt.generator}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const inputs = parityInputs(build, options.shapes);
  const self = fileURLToPath(import.meta.url);
  const rows: ParityRow[] = [];
  for (const net of options.nets) {
    await writeSafetensors(path.join(dir, `inputs.${net}.safetensors`), inputs[net]);
    const vplc = JSON.parse(
      run(process.execPath, ['--import', 'tsx', self, '--child', net, '--size', size, '--dir', dir, '--ckpt', ckpt.file, '--threads', String(options.threads), '--ort', options.ort, ...(options.prepack ? [] : ['--no-prepack'])], `vplc ${net}`),
    ) as SideResult;
    const twin = JSON.parse(
      run(PYTHON, [TWIN_CLI, 'forward', '--net', net, '--size', size, '--ckpt', ckpt.file, '--inputs', path.join(dir, `inputs.${net}.safetensors`), '--out', path.join(dir, `torch.${net}.safetensors`), '--threads', String(options.threads)], `torch ${net}`),
    ) as { params: number; load_s: number; forward_s: number; vmhwm: number; shape: number[] };
    const read = async (file: string) => {
      const t = (await readSafetensors(path.join(dir, file))).tensors.get('out')!;
      return { shape: t.shape, data: toFloat32(t.dtype, t.data) };
    };
    const [a, b] = [await read(`vplc.${net}.safetensors`), await read(`torch.${net}.safetensors`)];
    const shapeOk = a.shape.join('x') === b.shape.join('x');
    const { maxAbs, rel } = shapeOk ? compare(a.data, b.data) : { maxAbs: Infinity, rel: Infinity };
    rows.push({
      net,
      params: vplc.params,
      torchParams: twin.params,
      shape: b.shape,
      maxAbs,
      rel,
      pass: shapeOk && rel <= options.tol,
      vplc,
      torch: { params: twin.params, loadSeconds: twin.load_s, runSeconds: twin.forward_s, rss: twin.vmhwm },
    });
  }
  return rows;
}

function table(rows: ParityRow[], tol: number): string[] {
  const head = ['network', 'parameters', 'output', 'max abs err', 'rel err (L2)', `<= ${tol}`, 'vplc load + run s', 'torch load + run s', 'vplc peak RSS', 'torch peak RSS'];
  const body = rows.map((r) => [
    r.net,
    // the twin counts the network's checkpoint tensors; vplc what its graph declares (no logit_scale)
    r.params === r.torchParams ? r.params.toLocaleString('en-US') : `${r.torchParams.toLocaleString('en-US')} (vplc ${r.params.toLocaleString('en-US')})`,
    r.shape.join('x'),
    fmt(r.maxAbs),
    fmt(r.rel),
    r.pass ? 'pass' : 'FAIL',
    `${r.vplc.loadSeconds.toFixed(1)} + ${r.vplc.runSeconds.toFixed(2)}`,
    `${r.torch.loadSeconds.toFixed(1)} + ${r.torch.runSeconds.toFixed(2)}`,
    MiB(r.vplc.rss),
    MiB(r.torch.rss),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: 'reduced' },
      nets: { type: 'string', default: NETS.join(',') },
      keep: { type: 'string' },
      frames: { type: 'string' },
      latent: { type: 'string', default: '8x8' },
      tol: { type: 'string', default: '1e-3' },
      threads: { type: 'string', default: '2' },
      ort: { type: 'string', default: 'all' },
      'no-prepack': { type: 'boolean', default: false },
      // child mode (one side of one network)
      child: { type: 'string' },
      dir: { type: 'string' },
      ckpt: { type: 'string' },
    },
  });
  const size = values.size as Size;
  if (size !== 'reduced' && size !== 'full') throw new Error(`--size must be reduced or full, got '${values.size}'`);
  const threads = Number(values.threads);
  const prepack = !values['no-prepack'];
  if (values.child) {
    const result = await vplcSide(values.child as Net, size, values.dir!, values.ckpt!, threads, values.ort!, prepack);
    console.log(JSON.stringify(result));
    return;
  }
  const torch = torchAvailable();
  if (!torch.ok) {
    console.error(`parity: needs PyTorch (${torch.why})`);
    process.exit(2);
  }
  const nets = values.nets!.split(',') as Net[];
  for (const n of nets) if (!NETS.includes(n)) throw new Error(`unknown network '${n}' (${NETS.join(', ')})`);
  const [height, width] = values.latent!.split('x').map(Number);
  const shapes = { frames: Number(values.frames ?? (size === 'full' ? 2 : 4)), height, width };
  const dir = values.keep ? path.resolve(values.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-parity-'));
  fs.mkdirSync(dir, { recursive: true });
  const tol = Number(values.tol);
  console.log(`machine: ${machine()}`);
  console.log(`date: ${new Date().toISOString()}; load average ${load()}`);
  console.log(`VideoCrafter2 parity, ${size} size: latents ${shapes.frames} frames x ${height}x${width} (${8 * height}x${8 * width} pixels), fp32, ${threads} threads, ORT '${values.ort}'${prepack ? '' : ' without pre-packing'}`);
  try {
    const rows = await parity({ size, nets, dir, shapes, tol, threads, ort: values.ort!, prepack });
    for (const line of table(rows, tol)) console.log(line);
    for (const r of rows) {
      if (!r.vplc.nameFixes) continue;
      const why = NAME_FIXES.filter((f) => f.net === r.net).map((f) => f.why).join('; ');
      console.log(`note: ${r.net}: ${r.vplc.nameFixes} vplc parameter name(s) disagree with the checkpoint and were mapped by NAME_FIXES: ${why}`);
    }
    const ok = rows.every((r) => r.pass);
    console.log(`parity ${size}: ${ok ? 'OK' : 'MISMATCH'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
