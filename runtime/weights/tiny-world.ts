// The tiny world's trained weights (stdlib/weights/tiny/, made by the scripts in tools/tiny-world/)
// and how to open them as a ParameterStore weight source:
//
//   const weights = await openTinyWeights('vae');
//   const store = new ParameterStore({ weights });          // frozen, from the file
//   decodeVideo({ b, params: store }, tinyVaeTrainedConfig, latents, { scaled: true });
//   store.assertComplete();
//
// Keys are the parameter names the model builders ask for (no checkpoint prefix). The files
// are small (a few hundred KB to ~2 MB), so they are read whole into memory.
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DType } from '../../tensor/ir/dtype.ts';
import { readSafetensors } from './safetensors.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { type CheckpointTensor, ParameterStore, type WeightSource } from '../../stdlib/nn/index.ts';
import { tinyVaeConfig, type VaeConfig } from '../../stdlib/models/vae/config.ts';

export type TinyModel = 'vae' | 'clip' | 'unet' | 'aesthetic';

const file = (name: string) => fileURLToPath(new URL(`../../stdlib/weights/tiny/${name}`, import.meta.url));

/** Absolute paths of the committed files. */
export const TINY_WEIGHTS: Readonly<Record<TinyModel, string>> = {
  vae: file('tiny_vae.safetensors'),
  clip: file('tiny_clip.safetensors'),
  unet: file('tiny_vc_unet.safetensors'),
  /** The tiny_aesthetic reward head (keys tiny_aesthetic.*, as stdlib/rewards/tiny.ts names them; train-aesthetic.ts). */
  aesthetic: file('tiny_aesthetic.safetensors'),
};

/**
 * The trained tiny VAE's latent scale factor (1 / std of its latent means over held-out
 * shapes frames), as SD's 0.18215: diffusion works on latents * this. Measured by
 * train-vae.ts and recorded in the file's metadata (`scale_factor`) and README.md.
 */
export const TINY_VAE_SCALE_FACTOR = 0.4041;

/** tinyVaeConfig with the trained scale factor. */
export const tinyVaeTrainedConfig: VaeConfig = { ...tinyVaeConfig, scaleFactor: TINY_VAE_SCALE_FACTOR };

/** Frames per second the tiny UNet was trained with (its fps input). */
export const TINY_FPS = 8;

const DTYPES: Record<string, DType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64' };

/** Tensors in memory as a WeightSource (what ParameterStore reads checkpoints through). */
export function memoryWeightSource(description: string, tensors: Map<string, CheckpointTensor>): WeightSource {
  return { description, get: (key) => tensors.get(key), keys: () => tensors.keys() };
}

/** Float32 parameter values and their shapes as a WeightSource (e.g. a trainer's current state). */
export function float32WeightSource(description: string, values: Map<string, Float32Array>, shapes: Map<string, readonly number[]>): WeightSource {
  const tensors = new Map<string, CheckpointTensor>();
  for (const [name, data] of values) tensors.set(name, { dtype: 'float32', shape: [...shapes.get(name)!], data });
  return memoryWeightSource(description, tensors);
}

/** A safetensors file read whole, as a WeightSource; with its metadata. */
export async function openWeightSource(path: string): Promise<WeightSource & { metadata: Record<string, string> }> {
  const { metadata, tensors } = await readSafetensors(path);
  const out = new Map<string, CheckpointTensor>();
  for (const [name, t] of tensors) {
    const dtype = DTYPES[t.dtype];
    if (!dtype) throw new Error(`${path}: tensor '${name}' has dtype ${t.dtype}, which the tiny weights do not use`);
    out.set(name, { dtype, shape: [...t.shape], data: t.data as CheckpointTensor['data'] });
  }
  return { ...memoryWeightSource(path, out), metadata };
}

/** One of the committed tiny models' weights as a WeightSource. */
export async function openTinyWeights(model: TinyModel): Promise<WeightSource & { metadata: Record<string, string> }> {
  return openWeightSource(TINY_WEIGHTS[model]);
}

/** A frozen ParameterStore over a committed tiny model's weights (missing keys are errors). */
export async function tinyParameterStore(model: TinyModel, options: { trainable?: boolean } = {}): Promise<ParameterStore> {
  return new ParameterStore({ weights: await openTinyWeights(model), trainable: options.trainable ?? false });
}

/** One WeightSource over several, each keyed under a prefix (the first matching prefix wins). */
export function prefixedSource(description: string, parts: { prefix: string; source: WeightSource }[]): WeightSource {
  return {
    description,
    get(key: string): CheckpointTensor | undefined {
      for (const { prefix, source } of parts) if (key.startsWith(prefix)) return source.get(key.slice(prefix.length));
      return undefined;
    },
    *keys() {
      for (const { prefix, source } of parts) for (const k of source.keys()) yield `${prefix}${k}`;
    },
  };
}

export interface TinyWorld {
  /** The committed files, by network (unet, vae, clip, aesthetic). */
  paths: Readonly<Record<'vae' | 'clip' | 'unet' | 'aesthetic', string>>;
  /** Every file as one source, keyed as the lowering's checkpointKey asks. */
  weights: WeightSource;
  /** `base` with the trained VAE's latent scale factor. */
  build: ModelBuild;
  vaeScale: number;
}

/** The tiny world's trained weight files for the networks of `base` (tiny_vc); undefined while they are not all there. */
export async function openTinyWorld(base: ModelBuild): Promise<TinyWorld | undefined> {
  const paths = TINY_WEIGHTS;
  if (!Object.values(paths).every((p) => fs.existsSync(p))) return undefined;
  const [unet, vae, clip, aesthetic] = await Promise.all([openTinyWeights('unet'), openTinyWeights('vae'), openTinyWeights('clip'), openTinyWeights('aesthetic')]);
  const weights = prefixedSource('the tiny world weights (stdlib/weights/tiny)', [
    { prefix: base.denoiser.checkpointPrefix, source: unet },
    { prefix: base.vae.checkpointPrefix, source: vae },
    { prefix: base.text.checkpointPrefix, source: clip },
    // The tiny_aesthetic head's keys are its parameter names (tiny_aesthetic.*): no prefix, last.
    { prefix: '', source: aesthetic },
  ]);
  const vaeScale = TINY_VAE_SCALE_FACTOR;
  return { paths, weights, build: { ...base, vae: { ...base.vae, scaleFactor: vaeScale } }, vaeScale };
}
