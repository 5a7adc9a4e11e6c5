// MP4 through ffmpeg: raw rgb24 frames are piped to `ffmpeg -f rawvideo` and encoded as
// H.264 (libx264) in yuv420p, the format every browser plays; builds of ffmpeg without
// libx264 get MPEG-4 part 2 instead.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MediaError, type Rgb8Frame } from './frames.ts';
import { ffmpegVideoEncoders } from './ffmpeg.ts';

export interface Mp4Options {
  fps: number;
  /** The ffmpeg executable (see findFfmpeg). */
  ffmpeg: string;
}

/** The ffmpeg arguments for encoding `width`x`height` rgb24 frames from stdin into `outPath`. */
export function ffmpegArguments(width: number, height: number, fps: number, codec: 'libx264' | 'mpeg4', outPath: string): string[] {
  const quality = codec === 'libx264' ? ['-preset', 'veryfast', '-crf', '18'] : ['-q:v', '2'];
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
    // yuv420p needs even sizes: pad odd ones by a pixel.
    '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2',
    '-c:v', codec, ...quality, '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
    outPath,
  ];
}

/** Encodes the frames as an MP4 file; rejects with a MediaError carrying ffmpeg's message. */
export async function encodeMp4(frames: readonly Rgb8Frame[], outPath: string, options: Mp4Options): Promise<void> {
  if (frames.length === 0) throw new MediaError('a video needs at least one frame');
  if (!(options.fps > 0)) throw new MediaError(`fps must be a positive number, got ${options.fps}`);
  const { width, height } = frames[0]!;
  const codec = ffmpegVideoEncoders(options.ffmpeg).has('libx264') ? 'libx264' : 'mpeg4';
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  const child = spawn(options.ffmpeg, ffmpegArguments(width, height, options.fps, codec, outPath), {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  // ffmpeg may exit early (bad arguments); its exit code then says why, not the broken pipe.
  child.stdin.on('error', () => {});
  let ended = false;
  const settled = exited.then(
    () => void (ended = true),
    () => void (ended = true),
  );
  for (const frame of frames) {
    if (frame.width !== width || frame.height !== height) {
      child.kill();
      throw new MediaError(`frame is ${frame.width}x${frame.height}, frame 0 is ${width}x${height}`);
    }
    if (ended) break;
    if (!child.stdin.write(frame.data)) {
      await Promise.race([new Promise<void>((resolve) => child.stdin.once('drain', resolve)), settled]);
    }
  }
  child.stdin.end();
  let code: number | null;
  try {
    code = await exited;
  } catch (error) {
    throw new MediaError(`could not run ${options.ffmpeg}: ${(error as Error).message}`);
  }
  if (code !== 0) {
    throw new MediaError(`ffmpeg (${codec}) failed with exit code ${code} writing ${outPath}: ${stderr.trim() || 'no message'}`);
  }
}
