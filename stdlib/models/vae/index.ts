export { SD_VAE_SCALE_FACTOR, sdVaeConfig, tinyVaeConfig, type VaeConfig, vaeSpatialStride } from './config.ts';
export { buildVaeDecoder, buildVaeEncoder, decodeFramesInChunks, decodeVideo, encodeVideo, inFrameChunks, VAE_CHUNK_PIXELS, type VaeDecodeOptions } from './vae.ts';
