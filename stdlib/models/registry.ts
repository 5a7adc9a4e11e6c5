// Catalogue model names -> the builds of their networks. The catalogue (stdlib/catalogue)
// says what a pipeline may name; this says how to build it: the denoiser (any family of
// ./families.ts), the VAE and the text encoder.
import { type ClipConfig, openClipHConfig, tinyClipConfig } from './clip/index.ts';
import type { DenoiserConfig } from './family.ts';
import { familyOf } from './families.ts';
import { modelscopeConfig, tinyVcConfig, videocrafter2Config } from './unet3d/index.ts';
import { sdVaeConfig, tinyVaeConfig, type VaeConfig } from './vae/index.ts';

export interface ModelBuild {
  /** Catalogue model name. */
  name: string;
  /** The denoiser network; its `family` picks the builder. */
  denoiser: DenoiserConfig;
  vae: VaeConfig;
  text: ClipConfig;
  /**
   * Whether the parameter names match the reference checkpoint's keys (after stripping the
   * component's checkpointPrefix). False: the architecture is built, loading real weights
   * needs a key map.
   */
  checkpointNames: boolean;
  notes?: string;
}

export const modelBuilds: Readonly<Record<string, ModelBuild>> = {
  videocrafter2: { name: 'videocrafter2', denoiser: videocrafter2Config, vae: sdVaeConfig, text: openClipHConfig, checkpointNames: true },
  modelscope: {
    name: 'modelscope',
    denoiser: modelscopeConfig,
    vae: sdVaeConfig,
    text: openClipHConfig,
    checkpointNames: false,
    notes: 'ModelScope T2V: the same blocks as VideoCrafter2 without fps conditioning and with 1x1-conv transformer projections; its checkpoint uses other key names (no key map yet).',
  },
  tiny_vc: { name: 'tiny_vc', denoiser: tinyVcConfig, vae: tinyVaeConfig, text: tinyClipConfig, checkpointNames: true },
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
  return { ...base, name: `${base.name} (tiny)`, denoiser: familyOf(base.denoiser).shrink(base.denoiser), vae: tinyVaeConfig, text: tinyClipConfig };
}
