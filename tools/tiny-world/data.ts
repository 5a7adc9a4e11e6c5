// Shapes-video pools the tiny training scripts and tests share. Training and held-out videos
// come from different dataset seeds, so held-out numbers are on videos never trained on.
import { type ShapesItem, shapesItem } from '../../stdlib/data/shapes.ts';

/** Dataset seed of the training videos. */
export const TRAIN_SEED = 1;
/** Dataset seed of the held-out videos (metrics, tests). */
export const HELDOUT_SEED = 777;

export const FRAMES = 8;
export const SIZE = 32;
export const FRAME_SIZE = 3 * SIZE * SIZE;
export const VIDEO_SIZE = FRAMES * FRAME_SIZE;

/** `count` videos of the dataset `seed`, from index `start`. */
export function videoPool(seed: number, count: number, start = 0): ShapesItem[] {
  return Array.from({ length: count }, (_, i) => shapesItem(seed, start + i));
}

/** Frame `t` of a [T, 3, H, W] video. */
export function frameOf(video: ShapesItem, t: number): Float32Array {
  return video.frames.subarray(t * FRAME_SIZE, (t + 1) * FRAME_SIZE);
}

/** [T, C, H, W] (one video) -> [C, T, H, W] written into `out` at `offset`. */
export function toChannelsFirst(frames: Float32Array, out: Float32Array, offset: number, t = FRAMES, c = 3, hw = SIZE * SIZE): void {
  for (let f = 0; f < t; f++) for (let ch = 0; ch < c; ch++) out.set(frames.subarray((f * c + ch) * hw, (f * c + ch + 1) * hw), offset + (ch * t + f) * hw);
}

/** [C, T, H, W] -> [T, C, H, W]. */
export function toFramesFirst(video: Float32Array, t = FRAMES, c = 3, hw = SIZE * SIZE): Float32Array {
  const out = new Float32Array(video.length);
  for (let f = 0; f < t; f++) for (let ch = 0; ch < c; ch++) out.set(video.subarray((ch * t + f) * hw, (ch * t + f + 1) * hw), (f * c + ch) * hw);
  return out;
}
