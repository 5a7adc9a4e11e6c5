// Model families by name: the one registry line each family adds. Samplers and objectives
// reach a family's network only through `denoise` (the denoiser interface, ./family.ts).
import type { Value } from '../../tensor/ir/graph.ts';
import type { NN } from '../nn/parameters.ts';
import type { DenoiserConfig, DenoiserFamily, DenoiserInputs } from './family.ts';
import { unet3dFamily } from './unet3d/family.ts';

// Each family is typed over its own config; `familyOf` hands one back for a config it built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const families: Readonly<Record<string, DenoiserFamily<any>>> = {
  unet3d: unet3dFamily,
};

/** The family that builds `config`. */
export function familyOf<C extends DenoiserConfig>(config: C): DenoiserFamily<C> {
  const family = families[config.family] as DenoiserFamily<C> | undefined;
  if (!family) throw new Error(`no builder for model family '${config.family}' (built: ${Object.keys(families).join(', ')})`);
  return family;
}

/** The denoiser's prediction for noisy latents, built under the current scope. */
export function denoise(nn: NN, config: DenoiserConfig, inputs: DenoiserInputs): Value {
  return familyOf(config).build(nn, config, inputs);
}
