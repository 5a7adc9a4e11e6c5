import { describe, expect, it } from 'vitest';
import {
  MediaError,
  checkVideo,
  frameToRgb8,
  rgb8FramesToVideo,
  toByte,
  videoToRgb8Frames,
} from '../../../runtime/media/frames.ts';
import { movingSquare } from './fixtures.ts';

describe('frame conversion', () => {
  it('maps [-1, 1] to bytes, clamping and zeroing NaN', () => {
    expect([-1, 0, 1, -3, 2.5, NaN, 1 / 127.5 - 1].map(toByte)).toEqual([0, 128, 255, 0, 255, 0, 1]);
  });

  it('interleaves the [T, 3, H, W] planes as RGB', () => {
    const video = { frames: 2, height: 1, width: 2, data: Float32Array.from([
      // frame 0: R plane, G plane, B plane
      1, -1, -1, 1, 0, -1,
      // frame 1
      -1, -1, -1, -1, 1, 1,
    ]) };
    expect(Array.from(frameToRgb8(video, 0).data)).toEqual([255, 0, 128, 0, 255, 0]);
    expect(Array.from(frameToRgb8(video, 1).data)).toEqual([0, 0, 255, 0, 0, 255]);
  });

  it('round-trips through 8-bit frames within quantisation', () => {
    const video = movingSquare();
    const back = rgb8FramesToVideo(videoToRgb8Frames(video));
    expect(back.frames).toBe(video.frames);
    for (let i = 0; i < video.data.length; i++) expect(Math.abs(back.data[i]! - video.data[i]!)).toBeLessThan(1 / 127);
  });

  it('rejects data that does not match the shape', () => {
    expect(() => checkVideo({ frames: 2, height: 4, width: 4, data: new Float32Array(10) })).toThrow(MediaError);
    expect(() => checkVideo({ frames: 2, height: 4, width: 4, data: new Float32Array(10) })).toThrow(/\[T, 3, H, W\]/);
    expect(() => checkVideo({ frames: 0, height: 4, width: 4, data: new Float32Array(0) })).toThrow(/frames must be a positive integer/);
  });
});
