export { SD_VAE_SCALE_FACTOR, sdVaeConfig, tinyVaeConfig, type VaeConfig, vaeSpatialStride } from './config.ts';
export { buildVaeDecoder, buildVaeEncoder, decodeVideo, encodeVideo, type VaeDecodeOptions } from './vae.ts';
