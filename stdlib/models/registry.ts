// Catalogue model names -> the builds of their networks. The catalogue (stdlib/catalogue)
// says what a pipeline may name; this says how to build it: the denoiser (any family of
// ./families.ts), the VAE and the text encoder.
import { type ClipConfig, openClipHConfig, tinyClipConfig } from './clip/index.ts';
import type { TextTokenizerSpec } from './clip/config.ts';
import { modelscopeClipConfig } from './clip/config.ts';
import type { DenoiserConfig } from './family.ts';
import { familyOf } from './families.ts';
import { modelscopeConfig, tinyVcConfig, videocrafter2Config } from './unet3d/index.ts';
import type { UNet3DConfig } from './unet3d/config.ts';
import { sdVaeConfig, tinyVaeConfig, type VaeConfig } from './vae/index.ts';

export interface ModelBuild {
  /** Catalogue model name. */
  name: string;
  /** The denoiser network; its `family` picks the builder. */
  denoiser: DenoiserConfig;
  vae: VaeConfig;
  text: ClipConfig;
  /** The prompts' tokenizer and its padding (the same text tower is padded differently by VideoCrafter2 and ModelScope). */
  tokenizer: TextTokenizerSpec;
  /**
   * Whether the parameter names match the reference checkpoint's keys (after stripping the
   * component's checkpointPrefix). False: the architecture is built, loading real weights
   * needs a key map.
   */
  checkpointNames: boolean;
  notes?: string;
}

export const modelBuilds: Readonly<Record<string, ModelBuild>> = {
  videocrafter2: { name: 'videocrafter2', denoiser: videocrafter2Config, vae: sdVaeConfig, text: openClipHConfig, tokenizer: { kind: 'clip-bpe', pad: 'zero' }, checkpointNames: true },
  modelscope: {
    name: 'modelscope',
    denoiser: modelscopeConfig,
    vae: sdVaeConfig,
    text: modelscopeClipConfig,
    tokenizer: { kind: 'clip-bpe', pad: 'from-files' },
    checkpointNames: false,
    notes: 'ModelScope T2V: the same blocks as VideoCrafter2 without fps conditioning and with 1x1-conv transformer projections; its diffusers folder (other key names) loads through the key map of ./layouts.ts.',
  },
  tiny_vc: { name: 'tiny_vc', denoiser: tinyVcConfig, vae: tinyVaeConfig, text: tinyClipConfig, tokenizer: { kind: 'tiny' }, checkpointNames: true },
};

/** Catalogue models whose networks are not built yet, and why. */
export const unbuiltModels: Readonly<Record<string, string>> = {
  opensora_1_2: 'Open-Sora 1.2 (STDiT3 transformer, T5-XXL, temporal VAE) has no builder yet',
  svd: 'Stable Video Diffusion (SVD UNet with learned spatial/temporal mixing, temporal VAE decoder) has no builder yet',
  svd_xt: 'Stable Video Diffusion XT has no builder yet',
};

export class ModelNotBuiltError extends Error {
  override name = 'ModelNotBuiltError';
}

/** The build of a catalogue model; throws a ModelNotBuiltError naming the gap otherwise. */
export function modelBuild(name: string): ModelBuild {
  const build = modelBuilds[name];
  if (build) return build;
  const reason = unbuiltModels[name];
  if (reason) throw new ModelNotBuiltError(`model '${name}': ${reason}`);
  throw new ModelNotBuiltError(`unknown model '${name}'; built: ${Object.keys(modelBuilds).join(', ')}`);
}

/** The model family of a build (its denoiser's). */
export function familyName(build: ModelBuild): string {
  return build.denoiser.family;
}

/** Parameter name (scope path: `unet.`, `vae.`, `clip.` + module path) -> checkpoint key. */
export function checkpointKey(build: ModelBuild): (name: string) => string {
  return (name) => {
    if (name.startsWith('unet.')) return build.denoiser.checkpointPrefix + name.slice(5);
    if (name.startsWith('vae.')) return build.vae.checkpointPrefix + name.slice(4);
    if (name.startsWith('clip.')) return build.text.checkpointPrefix + name.slice(5);
    return name;
  };
}

/** Small networks of `base`'s family for `--tiny`: the family's shrink, the tiny VAE and CLIP. */
export function tinyFamilyBuild(base: ModelBuild): ModelBuild {
  return { ...base, name: `${base.name} (tiny)`, denoiser: familyOf(base.denoiser).shrink(base.denoiser), vae: tinyVaeConfig, text: tinyClipConfig, tokenizer: { kind: 'tiny' } };
}

/**
 * A full-size unet3d model at reduced widths, with its real key layout: UNet 64 channels
 * ([64, 128, 256, 256], 2 blocks, attention at [4, 2, 1], heads of 32, init_attn 8 x 32),
 * context 64, VAE ch 32, text tower 64 wide with 2 heads (its own layer count). The checkpoint
 * layouts' tests write and read checkpoints of it without gigabytes.
 */
export function reducedBuild(name: string): ModelBuild {
  const base = modelBuild(name);
  if (base.denoiser.family !== 'unet3d' || name === 'tiny_vc') throw new ModelNotBuiltError(`model '${name}' has no reduced build (videocrafter2 and modelscope have)`);
  const { heads: _heads, ...unet } = base.denoiser as UNet3DConfig;
  const denoiser: UNet3DConfig = { ...unet, modelChannels: 64, headDim: 32, contextDim: 64, initAttention: unet.initAttention && { heads: 8, headDim: 32 } };
  return { ...base, name: `${base.name} (reduced)`, denoiser, vae: { ...base.vae, ch: 32 }, text: { ...base.text, embedDim: 64, text: { ...base.text.text, width: 64, heads: 2 } } };
}
