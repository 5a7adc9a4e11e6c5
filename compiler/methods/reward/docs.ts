// What each input and output of the reward objective's graphs is and where its value comes
// from (LoweredProgram.interfaces, printed by `vplc explain --graph` and program.json).
import { sharedDoc } from '../../lower/contract.ts';

export function rewardDocOf(name: string, sampler: 'ddim' | 'dpm_solver'): string {
  const shared = sharedDoc(name);
  if (shared !== undefined) return shared;
  const fn = sampler === 'ddim' ? 'ddimSchedule()' : 'dpmSolverSchedule()';
  const step = (field: string, what = '') => `sampler: ${fn}[i].${field}${what} (LoweredProgram.sampler[i].feeds)`;
  const stacked = (field: string) => `sampler: ${field} of the last k schedule entries (LoweredProgram.trainScalars)`;
  const docs: Record<string, string> = {
    latents: 'latents [B, C, T, h, w] (sample_step: N(0,1) at step 0, then its own latents_out)',
    latents_out: 'next value of latents',
    timestep: step('t'),
    alpha_t: step('alphaT'),
    alpha_prev: step('alphaPrev'),
    scale_t: step('scaleT', ' (use_scale)'),
    scale_prev: step('scalePrev', ' (use_scale)'),
    coef_x: step('cx', ': weight of latents in latents_out'),
    coef_x0: step('c0', ': weight of this step\'s x0'),
    coef_hist1: step('c1', ': weight of x0_hist1'),
    coef_hist2: step('c2', ': weight of x0_hist2'),
    x0_hist1: 'sampler history: the x0 output of the step before (sample_step: zeros at step 0; train_step: sample_step/x0 of the step before the cutoff)',
    x0_hist2: 'sampler history: the x0 output two steps before (zeros until there is one)',
    noise: 'random: standard normal noise (stacked over the train steps in train_step)',
    timesteps: stacked('t'),
    alphas_t: stacked('alphaT'),
    alphas_prev: stacked('alphaPrev'),
    scales_t: stacked('scaleT'),
    scales_prev: stacked('scalePrev'),
    coefs_x: stacked('cx'),
    coefs_x0: stacked('c0'),
    coefs_hist1: stacked('c1'),
    coefs_hist2: stacked('c2'),
    context: 'output: text_encode/context of the prompts',
    text_embed: 'output: text_encode/text_embed of the prompts',
    frame_indices: 'random/fixed: latent frames to decode (objective.decode)',
    grad_gate: 'random cutoff (backprop = random): c ~ U{0..steps-1} per micro-step; grad_gate[i] = i >= c ? 1 : 0',
    loss: 'total loss (sum of weighted reward losses)',
    frames: 'decoded frames [B n, 3, H, W] in [-1, 1] (video-major)',
    x0: 'the step\'s data prediction (x_t - sqrt(1 - a_t) eps) / sqrt(a_t) (dpm_solver: the next x0_hist1)',
  };
  return docs[name] ?? '';
}
