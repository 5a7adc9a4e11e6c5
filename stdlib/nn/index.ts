// The nn layers model builders call (like torch.nn modules).
export { gelu, silu, softmax } from './activations.ts';
export { attention, type AttentionOptions } from './attention.ts';
export { conv, conv1d, conv2d, conv3d, type ConvLayerOptions } from './conv.ts';
export { dropout, type DropoutOptions } from './dropout.ts';
export { embedding, type EmbeddingOptions, sinusoidalTimestepEmbedding, type TimestepEmbeddingOptions } from './embedding.ts';
export { feedForward, type FeedForwardOptions } from './feedforward.ts';
export { linear, type LinearOptions, timesTransposed } from './linear.ts';
export { groupNorm, type GroupNormOptions, layerNorm, type LayerNormOptions } from './normalization.ts';
export * from './parameters.ts';
export { Rng, hashString } from './random.ts';
export { avgPool, type AvgPoolOptions, upsampleNearest } from './resample.ts';
