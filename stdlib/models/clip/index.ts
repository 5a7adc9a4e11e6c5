export { type ClipConfig, type ClipTextConfig, type ClipVisionConfig, clipL14Config, openClipHConfig, tinyClipConfig } from './config.ts';
export { buildClipImageEncoder, buildClipTextEncoder, type ClipImageOutput, type ClipTextOutput } from './clip.ts';
export * as tinyTokenizer from './tiny-tokenizer.ts';
