// VADER (arXiv 2407.08737): reward-gradient alignment of a video diffusion model with LoRA,
// backpropagating a differentiable reward through the last sampler steps and the VAE decoder.
import type { CompilerMethod } from '../registry.ts';
import { lowerReward } from './lower.ts';

export { backpropWindow, lowerReward } from './lower.ts';

export const rewardMethod: CompilerMethod = {
  objective: 'reward',
  title: 'VADER reward alignment',
  lower: lowerReward,
  // backpropagation through the sampler and the decoder: few frames, 2 steps, 1 video per step
  shrink: {
    maxFrames: 4,
    minFrames: (plan) => (plan.objective.name === 'reward' && plan.objective.decode.mode === 'frame' ? plan.objective.decode.i + 1 : 0),
    samplerSteps: 2,
    accumulate: 1,
    rematOff: true,
    validationPrompts: 1,
  },
};
