// Video frames in memory, as datasets make them and the VAE decoder emits them: one
// Float32Array [T, 3, H, W] (frames, then RGB planes, row-major), values in [-1, 1].
export interface VideoFrames {
  /** [frames, 3, height, width], values in [-1, 1]. */
  data: Float32Array;
  frames: number;
  height: number;
  width: number;
}
