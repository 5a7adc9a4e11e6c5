// A still overview of a video: its frames tiled left to right, top to bottom, as one PNG.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Rgb8Frame, type VideoFrames, checkVideo, frameToRgb8 } from './frames.ts';
import { encodePng } from './png.ts';

export interface GridOptions {
  /** Frames per row; default min(frames, 8). */
  columns?: number;
  /** Pixels between frames; default 2. */
  gap?: number;
  /** Colour between frames, RGB 0..255; default dark grey. */
  background?: readonly [number, number, number];
}

/** Tiles the frames into one RGB image. */
export function frameGrid(video: VideoFrames, options: GridOptions = {}): Rgb8Frame {
  checkVideo(video);
  const { frames, width, height } = video;
  const columns = Math.max(1, Math.min(frames, Math.floor(options.columns ?? 8)));
  const rows = Math.ceil(frames / columns);
  const gap = Math.max(0, Math.floor(options.gap ?? 2));
  const [br, bg, bb] = options.background ?? [32, 32, 32];
  const gridWidth = columns * width + (columns - 1) * gap;
  const gridHeight = rows * height + (rows - 1) * gap;
  const out = new Uint8Array(gridWidth * gridHeight * 3);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = br;
    out[i + 1] = bg;
    out[i + 2] = bb;
  }
  for (let t = 0; t < frames; t++) {
    const frame = frameToRgb8(video, t);
    const x0 = (t % columns) * (width + gap);
    const y0 = Math.floor(t / columns) * (height + gap);
    for (let y = 0; y < height; y++) {
      const from = y * width * 3;
      out.set(frame.data.subarray(from, from + width * 3), ((y0 + y) * gridWidth + x0) * 3);
    }
  }
  return { width: gridWidth, height: gridHeight, data: out };
}

/** Writes the frame grid as a PNG file. */
export function writeFrameGridPng(video: VideoFrames, filePath: string, options: GridOptions = {}): void {
  const grid = frameGrid(video, options);
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  fs.writeFileSync(filePath, encodePng({ ...grid, channels: 3 }));
}
