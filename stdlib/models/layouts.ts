// Checkpoint layouts: how a whole model's weights are laid out on disk, and the key map that
// reads a build's networks from them. Each component's map comes from its family's
// keymaps.ts; a new family adds its maps here (one line per layout it is published in).
//
//   lightning  one file: the LatentDiffusion state dict of AILab-CVC/VideoCrafter
//              (lvdm/models/ddpm3d.py), a Lightning .ckpt (`state_dict`) or the same keys as
//              .safetensors: the UNet under `model.diffusion_model.`, the VAE under
//              `first_stage_model.`, the OpenCLIP text tower under `cond_stage_model.model.`
//              (lvdm/modules/encoders/condition.py FrozenOpenCLIPEmbedder deletes `visual`).
//   diffusers  a folder with model_index.json: unet/, vae/ and text_encoder/, one model each
//              (ModelScope T2V as damo-vilab/text-to-video-ms-1.7b publishes it). Source keys
//              are `<folder>/<key in that folder's files>`.
import type { ClipConfig } from './clip/config.ts';
import { clipTextLightningBlocks, clipTextTransformersBlocks } from './clip/keymaps.ts';
import type { DenoiserConfig } from './family.ts';
import { type Block, type IgnoreRule, type KeyMap, underPrefixes } from './keymap.ts';
import type { ModelBuild } from './registry.ts';
import type { UNet3DConfig } from './unet3d/config.ts';
import { unet3dDiffusersBlocks, unet3dLightningBlocks } from './unet3d/keymaps.ts';
import type { VaeConfig } from './vae/config.ts';
import { vaeDiffusersBlocks, vaeLightningBlocks } from './vae/keymaps.ts';

export type LayoutName = 'lightning' | 'diffusers';

interface ComponentMaps<C> {
  lightning?: (config: C) => Block[];
  diffusers?: (config: C) => Block[];
}

/** Denoiser families by name -> their maps. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const denoiserMaps: Readonly<Record<string, ComponentMaps<any>>> = {
  unet3d: { lightning: unet3dLightningBlocks, diffusers: (c: UNet3DConfig) => unet3dDiffusersBlocks(c) },
};
const vaeMaps: ComponentMaps<VaeConfig> = { lightning: vaeLightningBlocks, diffusers: vaeDiffusersBlocks };
const textMaps: ComponentMaps<ClipConfig> = { lightning: clipTextLightningBlocks, diffusers: clipTextTransformersBlocks };

/** Where each component's keys live in a layout (source prefixes). */
export const componentSources: Readonly<Record<LayoutName, (build: ModelBuild) => Readonly<Record<'unet' | 'vae' | 'clip', string>>>> = {
  lightning: (build) => ({ unet: build.denoiser.checkpointPrefix, vae: build.vae.checkpointPrefix, clip: build.text.checkpointPrefix }),
  diffusers: () => ({ unet: 'unet/', vae: 'vae/', clip: 'text_encoder/' }),
};

/** The diffusers folder of each component (model_index.json names them so). */
export const diffusersFolders = { unet: 'unet', vae: 'vae', clip: 'text_encoder' } as const;

const schedule = [
  'betas',
  'alphas_cumprod',
  'alphas_cumprod_prev',
  'sqrt_alphas_cumprod',
  'sqrt_one_minus_alphas_cumprod',
  'log_one_minus_alphas_cumprod',
  'sqrt_recip_alphas_cumprod',
  'sqrt_recipm1_alphas_cumprod',
  'posterior_variance',
  'posterior_log_variance_clipped',
  'posterior_mean_coef1',
  'posterior_mean_coef2',
];

/** Source keys each layout carries that no network reads. */
const layoutIgnores: Readonly<Record<LayoutName, (build: ModelBuild) => IgnoreRule[]>> = {
  lightning: (build) => [
    { keys: schedule, why: "the noise schedule buffers of DDPM.register_schedule: vplc computes them from the model's schedule" },
    { keys: ['scale_arr'], why: "VideoCrafter2's use_scale latent scale schedule: computed from the config (stdlib/samplers/schedule.ts)" },
    { keys: ['scale_factor'], why: "the latent scale factor (saved with scale_by_std): vplc takes it from the VAE config" },
    { keys: ['logvar'], why: 'the per-timestep loss log-variance of training (learn_logvar)' },
    { keys: ['model_ema.*'], why: 'the EMA copy LitEma keeps while training (use_ema); the weights are the model.diffusion_model.* ones' },
    { keys: [`${build.text.checkpointPrefix}logit_scale`], why: "CLIP's contrastive temperature: the text tower does not use it" },
  ],
  diffusers: () => [
    { keys: ['text_encoder/text_model.embeddings.position_ids'], why: 'the position index buffer older transformers versions saved (0..76): not a weight' },
  ],
};

function componentBlocks<C>(maps: ComponentMaps<C>, layout: LayoutName, config: C, what: string): Block[] {
  const make = maps[layout];
  if (!make) throw new Error(`no ${layout} key map for ${what}`);
  return make(config);
}

/** The key map that reads `build`'s networks (unet., vae., clip.) from a checkpoint in `layout`. */
export function keyMapFor(build: ModelBuild, layout: LayoutName): KeyMap {
  const source = componentSources[layout](build);
  const denoiser: DenoiserConfig = build.denoiser;
  const maps = denoiserMaps[denoiser.family];
  if (!maps) throw new Error(`no key maps for model family '${denoiser.family}'`);
  return {
    layout,
    blocks: [
      ...underPrefixes(componentBlocks(maps, layout, denoiser, `the ${denoiser.family} denoiser`), 'unet.', source.unet),
      ...underPrefixes(componentBlocks(vaeMaps, layout, build.vae, 'the VAE'), 'vae.', source.vae),
      ...underPrefixes(componentBlocks(textMaps, layout, build.text, 'the text encoder'), 'clip.', source.clip),
    ],
    ignore: layoutIgnores[layout](build),
  };
}
