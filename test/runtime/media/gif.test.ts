import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Rgb8Frame, videoToRgb8Frames } from '../../../runtime/media/frames.ts';
import { findFfmpeg } from '../../../runtime/media/ffmpeg.ts';
import { encodeGif, gifFrameDelay } from '../../../runtime/media/gif.ts';
import { lzwEncode } from '../../../runtime/media/lzw.ts';
import { indexFrames } from '../../../runtime/media/palette.ts';
import { gradientVideo, movingSquare } from './fixtures.ts';
import { lzwDecode, parseGif } from './gif-reader.ts';

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean absolute difference between the GIF's pixels (through its palette) and the frames. */
function paletteError(palette: Uint8Array, indices: Uint8Array, frame: Rgb8Frame): number {
  let total = 0;
  for (let p = 0; p < indices.length; p++) {
    for (let c = 0; c < 3; c++) total += Math.abs(palette[indices[p]! * 3 + c]! - frame.data[p * 3 + c]!);
  }
  return total / (indices.length * 3);
}

describe('LZW', () => {
  it('round-trips random data long enough to fill the table and clear it', () => {
    const next = random(7);
    const data = Uint8Array.from({ length: 30_000 }, () => Math.floor(next() * 256));
    const packed = lzwEncode(data, 8);
    expect(Array.from(lzwDecode(packed, 8, data.length))).toEqual(Array.from(data));
  });

  it('round-trips repetitive data (long codes, many widenings) and small code sizes', () => {
    const next = random(3);
    const runs = Uint8Array.from({ length: 50_000 }, (_, i) => (Math.floor(i / 97) % 5) + (next() < 0.01 ? 1 : 0));
    const packed = lzwEncode(runs, 8);
    expect(packed.length).toBeLessThan(runs.length / 8);
    expect(Array.from(lzwDecode(packed, 8, runs.length))).toEqual(Array.from(runs));
    const twoBit = Uint8Array.from({ length: 5000 }, () => Math.floor(next() * 4));
    expect(Array.from(lzwDecode(lzwEncode(twoBit, 2), 2, twoBit.length))).toEqual(Array.from(twoBit));
  });

  it('handles empty and single-index input', () => {
    expect(lzwDecode(lzwEncode(new Uint8Array(0), 8), 8).length).toBe(0);
    expect(Array.from(lzwDecode(lzwEncode(Uint8Array.of(42), 8), 8))).toEqual([42]);
  });
});

describe('palette', () => {
  it('is exact for videos with few colours', () => {
    const frames = videoToRgb8Frames(movingSquare());
    const { palette, indices, exact } = indexFrames(frames);
    expect(exact).toBe(true);
    frames.forEach((frame, t) => expect(paletteError(palette, indices[t]!, frame)).toBe(0));
  });

  it('dithers many-coloured videos to the 6x7x6 cube with a small mean error', () => {
    const frames = videoToRgb8Frames(gradientVideo());
    const { palette, indices, exact } = indexFrames(frames);
    expect(exact).toBe(false);
    expect(Math.max(...indices.flatMap((f) => Array.from(f)))).toBeLessThan(252);
    // The cube's levels are 42 to 51 apart; a dithered pixel is within one level.
    frames.forEach((frame, t) => expect(paletteError(palette, indices[t]!, frame)).toBeLessThan(20));
  });
});

describe('GIF encoder', () => {
  it('writes header, logical screen, loop extension, one image per frame and trailer', () => {
    const video = movingSquare(5, 12, 16);
    const bytes = encodeGif(videoToRgb8Frames(video), { fps: 8 });
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    const gif = parseGif(bytes);
    expect([gif.width, gif.height]).toEqual([16, 12]);
    expect(gif.globalPalette.length).toBe(768);
    expect(gif.loopCount).toBe(0);
    expect(gif.frames).toHaveLength(5);
    expect(gif.trailer).toBe(true);
    for (const frame of gif.frames) expect(frame).toMatchObject({ delay: 13, disposal: 1, width: 16, height: 12 });
    // Pixels decode back exactly (few colours: exact palette).
    const frames = videoToRgb8Frames(video);
    gif.frames.forEach((f, t) => expect(paletteError(gif.globalPalette, f.indices, frames[t]!)).toBe(0));
  });

  it('computes frame delays from fps, capped at 50 fps', () => {
    expect(gifFrameDelay(10)).toBe(10);
    expect(gifFrameDelay(8)).toBe(13);
    expect(gifFrameDelay(1000)).toBe(2);
    expect(() => gifFrameDelay(0)).toThrow(/fps must be a positive number/);
  });

  it('rejects frames of different sizes', () => {
    const a = { width: 2, height: 2, data: new Uint8Array(12) };
    const b = { width: 3, height: 2, data: new Uint8Array(18) };
    expect(() => encodeGif([a, b], { fps: 8 })).toThrow('frame 1 is 3x2, frame 0 is 2x2');
  });

  // ffmpeg is an optional system tool (Debian package `ffmpeg`); CI installs it. Without it
  // this cross-check against an independent decoder cannot run, so it is skipped.
  it.skipIf(findFfmpeg() === null)('decodes with ffmpeg to approximately the original pixels', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-gif-'));
    try {
      for (const [video, tolerance] of [[movingSquare(4, 12, 16), 0.5], [gradientVideo(4, 32, 48), 20]] as const) {
        const file = path.join(dir, 'v.gif');
        const frames = videoToRgb8Frames(video);
        fs.writeFileSync(file, encodeGif(frames, { fps: 8 }));
        const result = spawnSync(findFfmpeg()!, ['-v', 'error', '-i', file, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
          maxBuffer: 64 << 20,
        });
        expect(result.status, String(result.stderr)).toBe(0);
        const frameBytes = video.width * video.height * 3;
        expect(result.stdout.length).toBe(frameBytes * video.frames);
        frames.forEach((frame, t) => {
          const decoded = result.stdout.subarray(t * frameBytes, (t + 1) * frameBytes);
          let total = 0;
          for (let i = 0; i < frameBytes; i++) total += Math.abs(decoded[i]! - frame.data[i]!);
          expect(total / frameBytes).toBeLessThan(tolerance);
        });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
