export { headsAt, modelscopeConfig, tinyVcConfig, type UNet3DConfig, unetSizeMultiple, videocrafter2Config } from './config.ts';
export { buildUNet3D, temporalConvBlock, type UNet3DInputs } from './unet.ts';
