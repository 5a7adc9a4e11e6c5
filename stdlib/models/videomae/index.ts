// VideoMAE (arXiv 2203.12602): the video encoder and classifier VADER's actpred reward scores with.
export { patchesPerTubelet, reducedVideoMae, type VideoMaeConfig, videoMaeBaseKinetics } from './config.ts';
export { VIDEOMAE_LAYOUT, videoMaeClassifierKeyMap, videoMaeComponentOf } from './keymaps.ts';
export { buildVideoMaeClassifier, sinusoidTable, type VideoMaeOutput } from './videomae.ts';
