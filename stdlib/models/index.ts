// Model families: the networks a pipeline's model names, built from configs.
export * from './clip/index.ts';
export * from './registry.ts';
export * from './unet3d/index.ts';
export * from './vae/index.ts';
export { framesBack, framesFirst, repeatInterleave } from './common.ts';
export * from './family.ts';
export * from './families.ts';
