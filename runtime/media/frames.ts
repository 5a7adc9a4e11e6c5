// Video frames in memory.
//
// Layout: one Float32Array of shape [T, 3, H, W] (frames, then RGB planes, row-major),
// values in [-1, 1], exactly as a diffusion VAE decoder emits them. Values outside the range
// (decoders overshoot) are clamped when converting to 8-bit, and NaN becomes 0 (mid-grey's
// neighbour, black) so one bad pixel cannot break an encoder.
//
// Encoders work on 8-bit interleaved RGB frames (`Rgb8Frame`, [H, W, 3]), the form PNG, GIF
// and ffmpeg's rgb24 take.

import type { VideoFrames } from '../../stdlib/data/video-frames.ts';

export type { VideoFrames };

export interface Rgb8Frame {
  width: number;
  height: number;
  /** [height, width, 3] interleaved RGB. */
  data: Uint8Array;
}

export class MediaError extends Error {
  override name = 'MediaError';
}

/** Checks that the dimensions are positive integers and match the data length. */
export function checkVideo(video: VideoFrames): void {
  const { frames, height, width, data } = video;
  for (const [name, value] of [['frames', frames], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new MediaError(`video ${name} must be a positive integer, got ${value}`);
  }
  const expected = frames * 3 * height * width;
  if (data.length !== expected) {
    throw new MediaError(
      `video data has ${data.length} values but [${frames}, 3, ${height}, ${width}] needs ${expected}; ` +
        'frames must be laid out as [T, 3, H, W]',
    );
  }
}

/** Maps [-1, 1] to 0..255 with rounding; clamps, and maps NaN to 0. */
export function toByte(value: number): number {
  const scaled = Math.round((value + 1) * 127.5);
  if (!(scaled > 0)) return 0; // also catches NaN
  return scaled > 255 ? 255 : scaled;
}

/** Maps 0..255 back to [-1, 1]. */
export function fromByte(byte: number): number {
  return byte / 127.5 - 1;
}

/** Frame `t` of the video as interleaved 8-bit RGB. */
export function frameToRgb8(video: VideoFrames, t: number): Rgb8Frame {
  const { height, width, data } = video;
  const plane = height * width;
  const base = t * 3 * plane;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    out[i * 3] = toByte(data[base + i]!);
    out[i * 3 + 1] = toByte(data[base + plane + i]!);
    out[i * 3 + 2] = toByte(data[base + 2 * plane + i]!);
  }
  return { width, height, data: out };
}

/** Every frame as interleaved 8-bit RGB. */
export function videoToRgb8Frames(video: VideoFrames): Rgb8Frame[] {
  checkVideo(video);
  return Array.from({ length: video.frames }, (_, t) => frameToRgb8(video, t));
}

/** The inverse of videoToRgb8Frames (up to 8-bit quantisation). */
export function rgb8FramesToVideo(frames: readonly Rgb8Frame[]): VideoFrames {
  if (frames.length === 0) throw new MediaError('a video needs at least one frame');
  const { width, height } = frames[0]!;
  const plane = width * height;
  const data = new Float32Array(frames.length * 3 * plane);
  frames.forEach((frame, t) => {
    if (frame.width !== width || frame.height !== height) {
      throw new MediaError(`frame ${t} is ${frame.width}x${frame.height}, frame 0 is ${width}x${height}`);
    }
    const base = t * 3 * plane;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) data[base + c * plane + i] = fromByte(frame.data[i * 3 + c]!);
    }
  });
  return { data, frames: frames.length, height, width };
}
