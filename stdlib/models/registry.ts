// Catalogue model names -> the builders and configs of their networks. The catalogue
// (stdlib/catalogue) says what a pipeline may name; this says how to build it.
import { type ClipConfig, openClipHConfig, tinyClipConfig } from './clip/index.ts';
import { modelscopeConfig, tinyVcConfig, type UNet3DConfig, videocrafter2Config } from './unet3d/index.ts';
import { sdVaeConfig, tinyVaeConfig, type VaeConfig } from './vae/index.ts';

export interface ModelBuild {
  /** Catalogue model name. */
  name: string;
  family: 'unet3d';
  unet: UNet3DConfig;
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
  videocrafter2: { name: 'videocrafter2', family: 'unet3d', unet: videocrafter2Config, vae: sdVaeConfig, text: openClipHConfig, checkpointNames: true },
  modelscope: {
    name: 'modelscope',
    family: 'unet3d',
    unet: modelscopeConfig,
    vae: sdVaeConfig,
    text: openClipHConfig,
    checkpointNames: false,
    notes: 'ModelScope T2V: the same blocks as VideoCrafter2 without fps conditioning and with 1x1-conv transformer projections; its checkpoint uses other key names (no key map yet).',
  },
  tiny_vc: { name: 'tiny_vc', family: 'unet3d', unet: tinyVcConfig, vae: tinyVaeConfig, text: tinyClipConfig, checkpointNames: true },
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
