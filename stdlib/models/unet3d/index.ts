export { headsAt, modelscopeConfig, tinyVcConfig, type UNet3DConfig, unetSizeMultiple, videocrafter2Config } from './config.ts';
export { buildUNet3D, temporalConvBlock, type UNet3DInputs } from './unet.ts';
export { unet3dFamily } from './family.ts';
export { unet3dLoraTargets } from './lora-targets.ts';
