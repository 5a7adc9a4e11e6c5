// Datasets: the tiny world's synthetic shapes videos, and folders of real videos.
export * from './shapes.ts';
export * from './video-folder.ts';
