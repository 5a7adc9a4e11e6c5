// Datasets: the tiny world's synthetic shapes videos (folders of real videos are read by
// runtime/data/video-folder.ts).
export * from './shapes.ts';
export type { VideoFrames } from './video-frames.ts';
