// Reducing RGB frames to one 256-entry palette for GIF.
//
// Generated videos from the tiny world are flat coloured shapes: they usually have fewer
// than 256 distinct colours, and then the palette is exact and nothing is dithered. Real
// model output has many colours; then we use a fixed 6x7x6 colour cube (green gets the extra
// level because the eye is most sensitive to it) with 4x4 ordered (Bayer) dithering. A fixed
// palette and ordered dither are stable from frame to frame, so the video does not shimmer
// the way per-frame adaptive palettes and error diffusion do.
import type { Rgb8Frame } from './frames.ts';

export interface IndexedFrames {
  /** 256 entries x RGB. Unused entries are black. */
  palette: Uint8Array;
  /** One palette index per pixel, per frame. */
  indices: Uint8Array[];
  /** Whether the palette holds every colour exactly (no dithering was needed). */
  exact: boolean;
}

const LEVELS = [6, 7, 6] as const;

/** Bayer 4x4 thresholds, in sixteenths. */
const BAYER4 = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5];

function cubePalette(): Uint8Array {
  const palette = new Uint8Array(256 * 3);
  let i = 0;
  for (let r = 0; r < LEVELS[0]; r++) {
    for (let g = 0; g < LEVELS[1]; g++) {
      for (let b = 0; b < LEVELS[2]; b++) {
        palette[i++] = Math.round((r * 255) / (LEVELS[0] - 1));
        palette[i++] = Math.round((g * 255) / (LEVELS[1] - 1));
        palette[i++] = Math.round((b * 255) / (LEVELS[2] - 1));
      }
    }
  }
  return palette;
}

/** Quantises one channel value to a cube level, nudged by the dither threshold in [-0.5, 0.5). */
function level(value: number, levels: number, threshold: number): number {
  const step = 255 / (levels - 1);
  const q = Math.floor(value / step + 0.5 + threshold);
  return q < 0 ? 0 : q >= levels ? levels - 1 : q;
}

function exactPalette(frames: readonly Rgb8Frame[]): IndexedFrames | undefined {
  const indexOf = new Map<number, number>();
  for (const frame of frames) {
    const d = frame.data;
    for (let i = 0; i < d.length; i += 3) {
      const key = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
      if (!indexOf.has(key)) {
        if (indexOf.size === 256) return undefined;
        indexOf.set(key, indexOf.size);
      }
    }
  }
  const palette = new Uint8Array(256 * 3);
  for (const [key, index] of indexOf) {
    palette[index * 3] = key >> 16;
    palette[index * 3 + 1] = (key >> 8) & 0xff;
    palette[index * 3 + 2] = key & 0xff;
  }
  const indices = frames.map((frame) => {
    const out = new Uint8Array(frame.width * frame.height);
    const d = frame.data;
    for (let p = 0; p < out.length; p++) out[p] = indexOf.get((d[p * 3]! << 16) | (d[p * 3 + 1]! << 8) | d[p * 3 + 2]!)!;
    return out;
  });
  return { palette, indices, exact: true };
}

function ditheredCube(frames: readonly Rgb8Frame[]): IndexedFrames {
  const indices = frames.map(({ width, height, data }) => {
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * width + x;
        const threshold = (BAYER4[(y & 3) * 4 + (x & 3)]! + 0.5) / 16 - 0.5;
        const r = level(data[p * 3]!, LEVELS[0], threshold);
        const g = level(data[p * 3 + 1]!, LEVELS[1], threshold);
        const b = level(data[p * 3 + 2]!, LEVELS[2], threshold);
        out[p] = (r * LEVELS[1] + g) * LEVELS[2] + b;
      }
    }
    return out;
  });
  return { palette: cubePalette(), indices, exact: false };
}

/** Maps all frames onto one shared palette (exact when possible, else the dithered cube). */
export function indexFrames(frames: readonly Rgb8Frame[]): IndexedFrames {
  return exactPalette(frames) ?? ditheredCube(frames);
}
