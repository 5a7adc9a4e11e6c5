// Writing a video file in the format asked for, and naming validation videos.
//
//   'gif'      animated GIF (always available)
//   'mp4'      H.264 MP4 through ffmpeg; without ffmpeg, a GIF and a one-time note
//   'auto'     MP4 when ffmpeg is on PATH, else GIF (silently: the user did not ask for MP4)
//   'png-grid' the frames tiled into one PNG
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type VideoFrames, MediaError, videoToRgb8Frames } from './frames.ts';
import { findFfmpeg } from './ffmpeg.ts';
import { encodeGif } from './gif.ts';
import { writeFrameGridPng } from './grid.ts';
import { encodeMp4 } from './mp4.ts';

export type VideoFormat = 'auto' | 'gif' | 'mp4' | 'png-grid';

export interface WriteVideoOptions {
  /** Output path without an extension; the extension follows the format written. */
  path: string;
  fps: number;
  format?: VideoFormat;
  /** The ffmpeg executable; default found on PATH; null forces the no-ffmpeg path (tests). */
  ffmpeg?: string | null;
  /** Notes already shown; a note is returned only the first time. Default: per process. */
  notesShown?: Set<string>;
}

export interface WrittenVideo {
  path: string;
  format: 'gif' | 'mp4' | 'png-grid';
  /** Something the user should hear about once (a fallback). */
  note?: string;
}

const processNotes = new Set<string>();

export const NO_FFMPEG_NOTE = 'ffmpeg not found: wrote GIF instead; install ffmpeg for MP4';

function once(note: string, shown: Set<string>): string | undefined {
  if (shown.has(note)) return undefined;
  shown.add(note);
  return note;
}

function writeGif(video: VideoFrames, base: string, fps: number): string {
  const file = `${base}.gif`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeGif(videoToRgb8Frames(video), { fps }));
  return file;
}

export async function writeVideo(video: VideoFrames, options: WriteVideoOptions): Promise<WrittenVideo> {
  const format = options.format ?? 'auto';
  const base = options.path;
  const shown = options.notesShown ?? processNotes;
  if (!(options.fps > 0)) throw new MediaError(`fps must be a positive number, got ${options.fps}`);
  switch (format) {
    case 'gif':
      return { path: writeGif(video, base, options.fps), format: 'gif' };
    case 'png-grid': {
      const file = `${base}.png`;
      writeFrameGridPng(video, file);
      return { path: file, format: 'png-grid' };
    }
    case 'mp4':
    case 'auto': {
      const ffmpeg = options.ffmpeg === undefined ? findFfmpeg() : options.ffmpeg;
      if (ffmpeg === null) {
        const written: WrittenVideo = { path: writeGif(video, base, options.fps), format: 'gif' };
        const note = format === 'mp4' ? once(NO_FFMPEG_NOTE, shown) : undefined;
        return note ? { ...written, note } : written;
      }
      const file = `${base}.mp4`;
      try {
        await encodeMp4(videoToRgb8Frames(video), file, { fps: options.fps, ffmpeg });
        return { path: file, format: 'mp4' };
      } catch (error) {
        if (!(error instanceof MediaError)) throw error;
        // A sample video is not worth stopping a run for: keep a GIF and say why.
        fs.rmSync(file, { force: true });
        return { path: writeGif(video, base, options.fps), format: 'gif', note: `${error.message}; wrote GIF instead` };
      }
    }
    default:
      throw new MediaError(`unknown video format '${String(format)}': use auto, gif, mp4 or png-grid`);
  }
}

/** 'A red circle, moving left!' -> 'a-red-circle-moving-left', cut at a word within maxLength. */
export function slugify(text: string, maxLength = 48): string {
  const words = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let slug = '';
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > maxLength) {
      // A single first word longer than the limit is cut mid-word rather than dropped.
      if (!slug) slug = word.slice(0, maxLength);
      break;
    }
    slug = next;
  }
  return slug || 'video';
}

/** The folder for a step's validation videos, relative to videos/: 'step-000080'. */
export function stepFolderName(step: number): string {
  if (!Number.isInteger(step) || step < 0) throw new MediaError(`step must be a non-negative integer, got ${step}`);
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * The path (without extension, relative to videos/) of validation video `index` at `step`:
 * 'step-000080/00-a-red-circle-moving-left'. The index prefix keeps names unique when
 * prompts repeat or share their first words, and keeps prompt order in a directory listing.
 */
export function validationVideoName(step: number, index: number, prompt: string): string {
  if (!Number.isInteger(index) || index < 0) throw new MediaError(`video index must be a non-negative integer, got ${index}`);
  return `${stepFolderName(step)}/${String(index).padStart(2, '0')}-${slugify(prompt)}`;
}
