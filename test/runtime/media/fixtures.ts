// Test videos for the media tests: deterministic, in the [T, 3, H, W] layout, values in [-1, 1].
import type { VideoFrames } from '../../../runtime/media/frames.ts';

/** A square of one colour moving right over a plain background: few distinct colours. */
export function movingSquare(frames = 4, height = 12, width = 16): VideoFrames {
  const data = new Float32Array(frames * 3 * height * width).fill(-1);
  const plane = height * width;
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inside = x >= t * 2 && x < t * 2 + 5 && y >= 3 && y < 8;
        const base = t * 3 * plane + y * width + x;
        data[base] = inside ? 1 : -0.6; // red square on dark blue
        data[base + plane] = inside ? -1 : -0.6;
        data[base + 2 * plane] = inside ? -1 : 0.4;
      }
    }
  }
  return { data, frames, height, width };
}

/** Smooth gradients that change over time: thousands of colours. */
export function gradientVideo(frames = 6, height = 32, width = 48): VideoFrames {
  const data = new Float32Array(frames * 3 * height * width);
  const plane = height * width;
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const base = t * 3 * plane + y * width + x;
        data[base] = (x / (width - 1)) * 2 - 1;
        data[base + plane] = (y / (height - 1)) * 2 - 1;
        data[base + 2 * plane] = Math.sin((x + y + t * 4) / 9);
      }
    }
  }
  return { data, frames, height, width };
}
