import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { videoToRgb8Frames } from '../../../runtime/media/frames.ts';
import { findFfmpeg } from '../../../runtime/media/ffmpeg.ts';
import { ffmpegArguments } from '../../../runtime/media/mp4.ts';
import { decodePng } from '../../../runtime/media/png.ts';
import {
  NO_FFMPEG_NOTE,
  slugify,
  stepFolderName,
  validationVideoName,
  writeVideo,
} from '../../../runtime/media/video.ts';
import { gradientVideo, movingSquare } from './fixtures.ts';
import { parseGif } from './gif-reader.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-video-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('writeVideo', () => {
  it('writes a GIF with the extension added', async () => {
    const written = await writeVideo(movingSquare(), { path: path.join(dir, 'a', 'clip'), fps: 10, format: 'gif' });
    expect(written).toEqual({ path: path.join(dir, 'a', 'clip.gif'), format: 'gif' });
    expect(parseGif(fs.readFileSync(written.path)).frames).toHaveLength(4);
  });

  it('writes a PNG frame grid', async () => {
    const written = await writeVideo(movingSquare(4, 12, 16), { path: path.join(dir, 'grid'), fps: 10, format: 'png-grid' });
    expect(written.format).toBe('png-grid');
    const png = decodePng(fs.readFileSync(written.path));
    expect([png.width, png.height]).toEqual([4 * 16 + 3 * 2, 12]);
  });

  it('falls back to GIF without ffmpeg, with a note only the first time MP4 was asked for', async () => {
    const notesShown = new Set<string>();
    const auto = await writeVideo(movingSquare(), { path: path.join(dir, 'auto'), fps: 8, format: 'auto', ffmpeg: null, notesShown });
    expect(auto).toEqual({ path: path.join(dir, 'auto.gif'), format: 'gif' });
    const first = await writeVideo(movingSquare(), { path: path.join(dir, 'one'), fps: 8, format: 'mp4', ffmpeg: null, notesShown });
    expect(first).toEqual({ path: path.join(dir, 'one.gif'), format: 'gif', note: NO_FFMPEG_NOTE });
    const second = await writeVideo(movingSquare(), { path: path.join(dir, 'two'), fps: 8, format: 'mp4', ffmpeg: null, notesShown });
    expect(second.note).toBeUndefined();
    expect(fs.existsSync(second.path)).toBe(true);
  });

  it('keeps a GIF and says why when ffmpeg fails', async () => {
    const written = await writeVideo(movingSquare(), { path: path.join(dir, 'bad'), fps: 8, format: 'mp4', ffmpeg: '/bin/false' });
    expect(written.format).toBe('gif');
    expect(written.note).toMatch(/ffmpeg \(mpeg4\) failed with exit code 1 .*wrote GIF instead/);
    expect(fs.existsSync(path.join(dir, 'bad.mp4'))).toBe(false);
  });

  it('rejects a bad fps and an unknown format', async () => {
    await expect(writeVideo(movingSquare(), { path: path.join(dir, 'x'), fps: 0 })).rejects.toThrow(/fps must be a positive number/);
    await expect(
      writeVideo(movingSquare(), { path: path.join(dir, 'x'), fps: 8, format: 'webm' as never }),
    ).rejects.toThrow(/unknown video format 'webm'/);
  });

  it('pads odd sizes for yuv420p', () => {
    expect(ffmpegArguments(15, 11, 8, 'libx264', 'o.mp4')).toContain('pad=ceil(iw/2)*2:ceil(ih/2)*2');
  });

  // Needs the system ffmpeg (Debian package `ffmpeg`), which CI installs; skipped without it.
  it.skipIf(findFfmpeg() === null)('writes an MP4 with ffmpeg that decodes back to the frames', async () => {
    const video = gradientVideo(6, 32, 48);
    const written = await writeVideo(video, { path: path.join(dir, 'clip'), fps: 8, format: 'mp4' });
    expect(written).toEqual({ path: path.join(dir, 'clip.mp4'), format: 'mp4' });
    const bytes = fs.readFileSync(written.path);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const decoded = spawnSync(findFfmpeg()!, ['-v', 'error', '-i', written.path, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      maxBuffer: 64 << 20,
    });
    expect(decoded.status, String(decoded.stderr)).toBe(0);
    const frames = videoToRgb8Frames(video);
    const frameBytes = 32 * 48 * 3;
    expect(decoded.stdout.length).toBe(frameBytes * 6);
    frames.forEach((frame, t) => {
      let total = 0;
      for (let i = 0; i < frameBytes; i++) total += Math.abs(decoded.stdout[t * frameBytes + i]! - frame.data[i]!);
      expect(total / frameBytes).toBeLessThan(8); // lossy, chroma-subsampled
    });
  });
});

describe('validation video names', () => {
  it('slugs, truncates at a word and prefixes the index', () => {
    expect(validationVideoName(80, 0, 'a red circle moving left')).toBe('step-000080/00-a-red-circle-moving-left');
    expect(slugify('A Red Circle, moving LEFT!')).toBe('a-red-circle-moving-left');
    expect(slugify('Café crème')).toBe('cafe-creme');
    expect(slugify('a cat playing the piano in a jazz club while the audience claps and cheers')).toBe(
      'a-cat-playing-the-piano-in-a-jazz-club-while-the',
    );
    expect(slugify('x'.repeat(60), 10)).toBe('xxxxxxxxxx');
    expect(slugify('!!!')).toBe('video');
    expect(stepFolderName(1234567)).toBe('step-1234567');
    expect(() => stepFolderName(-1)).toThrow(/non-negative integer/);
  });

  it('keeps names unique when prompts repeat', () => {
    const prompts = ['a dog', 'a dog', 'A dog!'];
    const names = prompts.map((p, i) => validationVideoName(5, i, p));
    expect(new Set(names).size).toBe(3);
  });
});
