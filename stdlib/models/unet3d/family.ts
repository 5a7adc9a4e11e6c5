// The unet3d family (VideoCrafter2, ModelScope T2V, the tiny world's tiny_vc) behind the
// denoiser interface: an epsilon-prediction 3D UNet on diffusion timesteps.
import type { DenoiserFamily } from '../family.ts';
import { tinyVcConfig, type UNet3DConfig, unetSizeMultiple } from './config.ts';
import { unet3dLoraTargets } from './lora-targets.ts';
import { buildUNet3D } from './unet.ts';

export const unet3dFamily: DenoiserFamily<UNet3DConfig> = {
  name: 'unet3d',
  prediction: () => 'epsilon',
  build: (nn, config, inputs) => buildUNet3D(nn, config, inputs),
  timeFeatureWidth: (config) => config.modelChannels,
  describe: (config) => `UNet ${config.modelChannels} channels`,
  sizeMultiple: unetSizeMultiple,
  loraTargets: unet3dLoraTargets,
  // The tiny world's widths; the model's own switches (fps conditioning, linear or conv
  // projections, temporal layers) so a smoke run exercises the same code paths.
  shrink: (config) => ({
    ...tinyVcConfig,
    name: `${config.name}-tiny`,
    fpsCond: config.fpsCond,
    useLinear: config.useLinear,
    temporalConv: config.temporalConv,
    temporalAttention: config.temporalAttention,
  }),
};
