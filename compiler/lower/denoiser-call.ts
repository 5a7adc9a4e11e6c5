// How a lowering calls the model's denoiser: under the `unet` scope (the parameter prefix
// every family's checkpoint key map starts from), with the pipeline's fps, through the family
// registry, so no lowering names a family's builder.
import type { Value } from '../../tensor/ir/graph.ts';
import { denoise } from '../../stdlib/models/families.ts';
import type { DenoiserInputs } from '../../stdlib/models/family.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import type { NN } from '../../stdlib/nn/parameters.ts';
import type { Plan } from '../plan.ts';

/** The denoiser's prediction for `inputs` (fps from the plan). */
export function callDenoiser(nn: NN, build: ModelBuild, plan: Plan, inputs: Omit<DenoiserInputs, 'fps'>): Value {
  return nn.b.within('unet', () => denoise(nn, build.denoiser, { ...inputs, fps: plan.model.fps }));
}
