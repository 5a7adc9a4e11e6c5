export { type ViClipConfig, viclipL14Config, viclipReducedConfig } from './config.ts';
export { VICLIP_STATE_PREFIX, viclipComponentOf, viclipKeyMap } from './keymaps.ts';
export { buildViClipTextEncoder, buildViClipVideoEncoder, type ViClipVideoOutput, viclipTextClipConfig } from './viclip.ts';
