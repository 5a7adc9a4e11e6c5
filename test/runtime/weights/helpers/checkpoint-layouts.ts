// Test helper: writes model checkpoints in the real layouts, at whatever width a build has,
// so the loader is tested on files shaped like the published ones without gigabytes:
//
//   lightning  VideoCrafter2's LatentDiffusion state dict (a torch.save zip with `state_dict`,
//              or the same keys as safetensors): the builder's names under the checkpoint
//              prefixes (the builders use the checkpoint's names), with the schedule buffers
//              and logit_scale.
//   diffusers  ModelScope T2V's folder: the keys are generated here from the configs, following
//              diffusers' UNet3DConditionModel and AutoencoderKL and transformers'
//              CLIPTextModel, independently of the key maps under test.
//
// Every tensor's values are exact in fp16 and bf16 (eighths in [-3.75, 3.75]), derived from its
// key, so a test can recompute what any source tensor holds.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Dtype, fromFloat32 } from '../../../../runtime/weights/dtype.ts';
import { modelParameters } from '../../../../runtime/weights/model-parameters.ts';
import { writeSafetensors } from '../../../../runtime/weights/safetensors.ts';
import type { ModelBuild } from '../../../../stdlib/models/registry.ts';
import type { UNet3DConfig } from '../../../../stdlib/models/unet3d/config.ts';
import { orderedDictNode, type PickleNode, tensorNode, writePickle } from './pickle-writer.ts';
import { writeZip, type ZipFixtureEntry } from './zip-writer.ts';

export interface FixtureTensor {
  key: string;
  shape: number[];
  dtype: Dtype;
}

const numel = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);

/** The values written for `key` (fp32; exactly representable in fp16 and bf16). */
export function valuesOf(key: string, shape: readonly number[]): Float32Array {
  let h = 7;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) % 1_000_003;
  const out = new Float32Array(numel(shape));
  for (let i = 0; i < out.length; i++) out[i] = (((h + i * 7) % 61) - 30) / 8;
  return out;
}

/** The bytes of `key`'s values in `dtype`. */
export function bytesOf(key: string, shape: readonly number[], dtype: Dtype): ArrayBufferView {
  const values = valuesOf(key, shape);
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') return fromFloat32(dtype, values);
  if (dtype === 'I64') return BigInt64Array.from(values, (v) => BigInt(Math.round(v)));
  if (dtype === 'I32') return Int32Array.from(values, (v) => Math.round(v));
  throw new Error(`no fixture values for ${dtype}`);
}

// ------------------------------------------------------------------ writers

const storageOf: Partial<Record<Dtype, 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage' | 'LongStorage' | 'IntStorage'>> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  I64: 'LongStorage',
  I32: 'IntStorage',
};

const rowMajor = (shape: readonly number[]) => shape.map((_, i) => numel(shape.slice(i + 1)));

export type TorchWrap = 'state_dict' | 'plain' | 'deepspeed';

/** A torch.save (zip) file of `tensors`, one storage each, wrapped as Lightning, plainly or as DeepSpeed saves. */
export async function writeTorchFile(path: string, tensors: readonly FixtureTensor[], wrap: TorchWrap = 'state_dict', data = bytesOf): Promise<void> {
  const storages: ZipFixtureEntry[] = [];
  const items: [string, PickleNode][] = tensors.map((t, i) => {
    const bytes = data(t.key, t.shape, t.dtype);
    storages.push({ name: `archive/data/${i}`, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    return [t.key, tensorNode({ storage: storageOf[t.dtype]!, key: String(i), numel: numel(t.shape), offset: 0, shape: t.shape, stride: rowMajor(t.shape) })];
  });
  const dict = orderedDictNode(items);
  const root: PickleNode =
    wrap === 'plain'
      ? dict
      : wrap === 'deepspeed'
        ? { dict: [['module', orderedDictNode(items.map(([k, v]) => [`_forward_module.${k}`, v]))]] }
        : { dict: [['epoch', 3], ['global_step', 1200], ['state_dict', dict]] };
  const zip = writeZip([
    { name: 'archive/data.pkl', data: writePickle(root, { protocol: 2, memo: true }) },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
    ...storages,
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
  await writeFile(path, zip);
}

export async function writeSafetensorsFile(path: string, tensors: readonly FixtureTensor[], data = bytesOf): Promise<void> {
  await writeSafetensors(path, tensors.map((t) => ({ name: t.key, dtype: t.dtype, shape: t.shape, data: () => data(t.key, t.shape, t.dtype) })));
}

// ------------------------------------------------------------------ the lightning layout

/** The prefix of each component in VideoCrafter2's checkpoint. */
export function lightningKey(build: ModelBuild, name: string): string {
  const dot = name.indexOf('.');
  const [component, rest] = [name.slice(0, dot), name.slice(dot + 1)];
  if (component === 'unet') return build.denoiser.checkpointPrefix + rest;
  if (component === 'vae') return build.vae.checkpointPrefix + rest;
  return build.text.checkpointPrefix + rest;
}

const scheduleBuffers = ['betas', 'alphas_cumprod', 'alphas_cumprod_prev', 'sqrt_alphas_cumprod', 'sqrt_one_minus_alphas_cumprod', 'log_one_minus_alphas_cumprod', 'sqrt_recip_alphas_cumprod', 'sqrt_recipm1_alphas_cumprod', 'posterior_variance', 'posterior_log_variance_clipped', 'posterior_mean_coef1', 'posterior_mean_coef2'];

/** VideoCrafter2's state dict keys for `build`, with per-component dtypes. */
export function lightningTensors(build: ModelBuild, dtypes: Partial<Record<string, Dtype>> = {}): FixtureTensor[] {
  const out: FixtureTensor[] = scheduleBuffers.map((key) => ({ key, shape: [1000], dtype: 'F32' }));
  out.push({ key: 'scale_arr', shape: [1400], dtype: 'F32' });
  for (const p of modelParameters(build)) out.push({ key: lightningKey(build, p.name), shape: p.shape, dtype: dtypes[p.component] ?? 'F32' });
  out.push({ key: `${build.text.checkpointPrefix}logit_scale`, shape: [], dtype: 'F32' });
  return out;
}

// ------------------------------------------------------------------ the diffusers layout

class Keys {
  constructor(
    readonly out: FixtureTensor[],
    private readonly prefix = '',
    private readonly dtype: Dtype = 'F32',
  ) {}
  scope(name: string): Keys {
    return new Keys(this.out, `${this.prefix}${name}.`, this.dtype);
  }
  add(name: string, shape: number[], dtype = this.dtype): void {
    this.out.push({ key: `${this.prefix}${name}`, shape, dtype });
  }
  linear(name: string, fanIn: number, fanOut: number, bias = true): void {
    this.add(`${name}.weight`, [fanOut, fanIn]);
    if (bias) this.add(`${name}.bias`, [fanOut]);
  }
  conv(name: string, cIn: number, cOut: number, kernel: number[]): void {
    this.add(`${name}.weight`, [cOut, cIn, ...kernel]);
    this.add(`${name}.bias`, [cOut]);
  }
  norm(name: string, channels: number): void {
    this.add(`${name}.weight`, [channels]);
    this.add(`${name}.bias`, [channels]);
  }
}

function resnet2d(k: Keys, cIn: number, cOut: number, temb?: number): void {
  k.norm('norm1', cIn);
  k.conv('conv1', cIn, cOut, [3, 3]);
  if (temb !== undefined) k.linear('time_emb_proj', temb, cOut);
  k.norm('norm2', cOut);
  k.conv('conv2', cOut, cOut, [3, 3]);
  if (cIn !== cOut) k.conv('conv_shortcut', cIn, cOut, [1, 1]);
}

function temporalConv(k: Keys, c: number): void {
  k.norm('conv1.0', c);
  k.conv('conv1.2', c, c, [3, 1, 1]);
  for (const n of ['conv2', 'conv3', 'conv4']) {
    k.norm(`${n}.0`, c);
    k.conv(`${n}.3`, c, c, [3, 1, 1]);
  }
}

function basicTransformerBlock(k: Keys, dim: number, context: number): void {
  const attention = (a: Keys, kv: number) => {
    a.linear('to_q', dim, dim, false);
    a.linear('to_k', kv, dim, false);
    a.linear('to_v', kv, dim, false);
    a.linear('to_out.0', dim, dim);
  };
  k.norm('norm1', dim);
  attention(k.scope('attn1'), dim);
  k.norm('norm2', dim);
  attention(k.scope('attn2'), context);
  k.norm('norm3', dim);
  k.linear('ff.net.0.proj', dim, 8 * dim); // GEGLU: 2 x (4 dim)
  k.linear('ff.net.2', 4 * dim, dim);
}

/** Transformer2DModel with linear projections, and TransformerTemporalModel (self-attention only). */
function transformer(k: Keys, c: number, inner: number, context: number | undefined): void {
  k.norm('norm', c);
  k.linear('proj_in', c, inner);
  basicTransformerBlock(k.scope('transformer_blocks.0'), inner, context ?? inner);
  k.linear('proj_out', inner, c);
}

/** UNet3DConditionModel's state dict for a unet3d config (ModelScope: the last level has no attention). */
export function diffusersUNetTensors(config: UNet3DConfig, dtype: Dtype = 'F32'): FixtureTensor[] {
  const k = new Keys([], '', dtype);
  const chans = config.channelMult.map((m) => m * config.modelChannels);
  const lpb = config.numResBlocks;
  const temb = 4 * chans[0];
  const cross = config.contextDim;
  const headDim = config.headDim!;
  const attends = (level: number) => config.attentionResolutions.includes(2 ** level);
  k.conv('conv_in', config.inChannels, chans[0], [3, 3]);
  k.linear('time_embedding.linear_1', chans[0], temb);
  k.linear('time_embedding.linear_2', temb, temb);
  transformer(k.scope('transformer_in'), chans[0], 8 * headDim, undefined);
  let out = chans[0];
  chans.forEach((c, i) => {
    const b = k.scope(`down_blocks.${i}`);
    const cIn = out;
    out = c;
    for (let j = 0; j < lpb; j++) resnet2d(b.scope(`resnets.${j}`), j === 0 ? cIn : out, out, temb);
    for (let j = 0; j < lpb; j++) temporalConv(b.scope(`temp_convs.${j}`), out);
    if (attends(i)) {
      for (let j = 0; j < lpb; j++) transformer(b.scope(`attentions.${j}`), out, out, cross);
      for (let j = 0; j < lpb; j++) transformer(b.scope(`temp_attentions.${j}`), out, out, undefined);
    }
    if (i !== chans.length - 1) b.conv('downsamplers.0.conv', out, out, [3, 3]);
  });
  const rev = [...chans].reverse();
  out = rev[0];
  rev.forEach((c, i) => {
    const b = k.scope(`up_blocks.${i}`);
    const prev = out;
    out = c;
    const skipLast = rev[Math.min(i + 1, rev.length - 1)];
    for (let j = 0; j <= lpb; j++) resnet2d(b.scope(`resnets.${j}`), (j === 0 ? prev : out) + (j === lpb ? skipLast : out), out, temb);
    for (let j = 0; j <= lpb; j++) temporalConv(b.scope(`temp_convs.${j}`), out);
    if (attends(rev.length - 1 - i)) {
      for (let j = 0; j <= lpb; j++) transformer(b.scope(`attentions.${j}`), out, out, cross);
      for (let j = 0; j <= lpb; j++) transformer(b.scope(`temp_attentions.${j}`), out, out, undefined);
    }
    if (i !== rev.length - 1) b.conv('upsamplers.0.conv', out, out, [3, 3]);
  });
  const mid = k.scope('mid_block');
  const c = chans[chans.length - 1];
  for (let j = 0; j < 2; j++) resnet2d(mid.scope(`resnets.${j}`), c, c, temb);
  for (let j = 0; j < 2; j++) temporalConv(mid.scope(`temp_convs.${j}`), c);
  transformer(mid.scope('attentions.0'), c, c, cross);
  transformer(mid.scope('temp_attentions.0'), c, c, undefined);
  k.norm('conv_norm_out', chans[0]);
  k.conv('conv_out', chans[0], config.outChannels, [3, 3]);
  return k.out;
}

/** AutoencoderKL's state dict; `oldAttention`: the query/key/value/proj_attn names of older files. */
export function diffusersVaeTensors(build: ModelBuild, options: { dtype?: Dtype; oldAttention?: boolean } = {}): FixtureTensor[] {
  const config = build.vae;
  const k = new Keys([], '', options.dtype ?? 'F32');
  const chans = config.chMult.map((m) => m * config.ch);
  const names = options.oldAttention ? ['query', 'key', 'value', 'proj_attn'] : ['to_q', 'to_k', 'to_v', 'to_out.0'];
  const midBlock = (m: Keys, c: number) => {
    resnet2d(m.scope('resnets.0'), c, c);
    const a = m.scope('attentions.0');
    a.norm('group_norm', c);
    for (const n of names) a.linear(n, c, c);
    resnet2d(m.scope('resnets.1'), c, c);
  };
  const z = config.latentChannels;
  const enc = k.scope('encoder');
  enc.conv('conv_in', config.inChannels, chans[0], [3, 3]);
  let out = chans[0];
  chans.forEach((c, i) => {
    const b = enc.scope(`down_blocks.${i}`);
    for (let j = 0; j < config.numResBlocks; j++) resnet2d(b.scope(`resnets.${j}`), j === 0 ? out : c, c);
    out = c;
    if (i !== chans.length - 1) b.conv('downsamplers.0.conv', c, c, [3, 3]);
  });
  midBlock(enc.scope('mid_block'), out);
  enc.norm('conv_norm_out', out);
  enc.conv('conv_out', out, 2 * z, [3, 3]);
  const dec = k.scope('decoder');
  const rev = [...chans].reverse();
  dec.conv('conv_in', z, rev[0], [3, 3]);
  midBlock(dec.scope('mid_block'), rev[0]);
  out = rev[0];
  rev.forEach((c, i) => {
    const b = dec.scope(`up_blocks.${i}`);
    for (let j = 0; j <= config.numResBlocks; j++) resnet2d(b.scope(`resnets.${j}`), j === 0 ? out : c, c);
    out = c;
    if (i !== rev.length - 1) b.conv('upsamplers.0.conv', c, c, [3, 3]);
  });
  dec.norm('conv_norm_out', out);
  dec.conv('conv_out', out, config.outChannels, [3, 3]);
  k.conv('quant_conv', 2 * z, 2 * z, [1, 1]);
  k.conv('post_quant_conv', z, z, [1, 1]);
  return k.out;
}

/** CLIPTextModel's state dict (with the position_ids buffer older transformers saved). */
export function transformersClipTensors(build: ModelBuild, dtype: Dtype = 'F32'): FixtureTensor[] {
  const t = build.text.text;
  const k = new Keys([], 'text_model.', dtype);
  k.add('embeddings.token_embedding.weight', [t.vocabSize, t.width]);
  k.add('embeddings.position_embedding.weight', [t.contextLength, t.width]);
  k.add('embeddings.position_ids', [1, t.contextLength], 'I64');
  for (let i = 0; i < t.layers; i++) {
    const l = k.scope(`encoder.layers.${i}`);
    for (const p of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) l.linear(`self_attn.${p}`, t.width, t.width);
    l.norm('layer_norm1', t.width);
    l.linear('mlp.fc1', t.width, t.width * t.mlpRatio);
    l.linear('mlp.fc2', t.width * t.mlpRatio, t.width);
    l.norm('layer_norm2', t.width);
  }
  k.norm('final_layer_norm', t.width);
  return k.out;
}

export interface DiffusersFixture {
  dir: string;
  unet: FixtureTensor[];
  vae: FixtureTensor[];
  text: FixtureTensor[];
}

/**
 * A ModelScope-style diffusers folder: unet/ as the fp16 variant only, vae/ as a plain torch
 * .bin, text_encoder/ as two safetensors shards with their index.
 */
export async function writeDiffusersFolder(dir: string, build: ModelBuild, options: { oldAttention?: boolean } = {}): Promise<DiffusersFixture> {
  const unet = diffusersUNetTensors(build.denoiser as UNet3DConfig, 'F16');
  const vae = diffusersVaeTensors(build, { oldAttention: options.oldAttention });
  const text = transformersClipTensors(build);
  for (const folder of ['unet', 'vae', 'text_encoder']) await mkdir(join(dir, folder), { recursive: true });
  await writeFile(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'TextToVideoSDPipeline', unet: ['diffusers', 'UNet3DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], text_encoder: ['transformers', 'CLIPTextModel'] }));
  await writeSafetensorsFile(join(dir, 'unet', 'diffusion_pytorch_model.fp16.safetensors'), unet);
  await writeTorchFile(join(dir, 'vae', 'diffusion_pytorch_model.bin'), vae, 'plain');
  const half = Math.floor(text.length / 2);
  const shards = [text.slice(0, half), text.slice(half)];
  const weightMap: Record<string, string> = {};
  for (const [i, shard] of shards.entries()) {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    await writeSafetensorsFile(join(dir, 'text_encoder', name), shard);
    for (const t of shard) weightMap[t.key] = name;
  }
  await writeFile(join(dir, 'text_encoder', 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return { dir, unet, vae, text };
}
