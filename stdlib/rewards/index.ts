// Rewards: analytic differentiable scores, learned tiny-world scorers, and the reward mix.
export * from './analytic.ts';
export * from './mix.ts';
export * from './preprocess.ts';
export * from './tiny.ts';
