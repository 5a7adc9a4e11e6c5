// The `video_folder` dataset: video files in a folder and a captions CSV naming them.
//
//   file,caption
//   clips/fox.mp4,"a fox running through snow, at dusk"
//   cat.webm,"a cat saying ""hello"""
//
// The CSV needs a header with (at least) the columns `file` and `caption`, in any order;
// fields may be quoted ("..." with "" for a quote, and commas or line breaks inside); a
// UTF-8 BOM and CRLF line ends are fine; blank lines are skipped. `file` is resolved against
// the video folder.
//
// Videos are decoded with ffmpeg to rgb24 at the asked size (and frame rate), then laid out
// as [T, 3, H, W] in [-1, 1]. A file that is missing, unreadable, or has fewer frames than
// asked is skipped and reported ({file, reason}); only a missing ffmpeg or a bad CSV stops
// the load.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VplError } from '../../diagnostics/error.ts';
import { findFfmpeg } from '../media/ffmpeg.ts';

/** Code for a captions CSV that cannot be used (no header, bad quoting, wrong field count). */
export const CAPTIONS_CSV_INVALID = 'VPL7061';
/** Code for ffmpeg missing when videos must be decoded. */
export const FFMPEG_MISSING = 'VPL7062';

export const FFMPEG_INSTALL_HELP =
  'install ffmpeg and make sure it is on PATH (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; ' +
  'Windows: winget install ffmpeg, or https://ffmpeg.org/download.html)';

export interface CaptionRow {
  /** The `file` field as written. */
  file: string;
  caption: string;
  /** The line of the CSV the row starts on (1-based; the header is line 1). */
  line: number;
}

// ---- CSV

/** Splits CSV text into records of fields (RFC 4180, plus lone \n or \r line ends). */
export function parseCsvRecords(text: string, file = 'CSV'): { fields: string[]; line: number }[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  // Whether the current record has any content yet (to skip blank and all-space lines).
  let started = false;
  let quoted = false;
  const endRecord = () => {
    if (started && (quoted || fields.length > 0 || field.trim() !== '')) {
      fields.push(field);
      records.push({ fields, line: recordLine });
    }
    fields = [];
    field = '';
    started = false;
    quoted = false;
  };
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '"' && field.trim() === '') {
      // A quoted field (spaces before the quote are dropped): runs to the next lone quote.
      const quoteLine = line;
      if (!started) recordLine = line;
      started = true;
      quoted = true;
      field = '';
      i++;
      for (;;) {
        if (i >= src.length) {
          throw new VplError(CAPTIONS_CSV_INVALID, `${file} line ${quoteLine}: a quoted field is never closed`, {
            file,
            help: 'close the field with a double quote; write a quote inside a quoted field as ""',
          });
        }
        const c = src[i]!;
        if (c === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\r' || c === '\n') {
          if (c === '\r' && src[i + 1] === '\n') {
            field += '\n';
            i += 2;
          } else {
            field += '\n';
            i++;
          }
          line++;
          continue;
        }
        field += c;
        i++;
      }
      // After the closing quote: spaces, then a comma, a line end or the end.
      while (src[i] === ' ' || src[i] === '\t') i++;
      if (i < src.length && src[i] !== ',' && src[i] !== '\n' && src[i] !== '\r') {
        throw new VplError(CAPTIONS_CSV_INVALID, `${file} line ${line}: text after the closing quote of a field`, {
          file,
          help: 'put the whole field inside the quotes, and write a quote inside it as ""',
        });
      }
      continue;
    }
    if (ch === ',') {
      started = true;
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (!started) recordLine = line;
    started = true;
    field += ch;
    i++;
  }
  endRecord();
  return records;
}

/** The rows of a captions CSV; throws a VplError naming the file and line when it is malformed. */
export function parseCaptionsCsv(text: string, file = 'captions.csv'): CaptionRow[] {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) {
    throw new VplError(CAPTIONS_CSV_INVALID, `${file} is empty: it needs a header line 'file,caption' and one row per video`, {
      file,
      help: 'write a header line: file,caption',
    });
  }
  const header = records[0]!.fields.map((name) => name.trim().toLowerCase());
  const fileColumn = header.indexOf('file');
  const captionColumn = header.indexOf('caption');
  if (fileColumn < 0 || captionColumn < 0) {
    const missing = [fileColumn < 0 ? 'file' : '', captionColumn < 0 ? 'caption' : ''].filter(Boolean).join(' and ');
    throw new VplError(
      CAPTIONS_CSV_INVALID,
      `${file} line ${records[0]!.line}: the header has no ${missing} column (found: ${records[0]!.fields.join(', ')})`,
      { file, help: "the first line must be a header naming the columns, such as 'file,caption'" },
    );
  }
  const rows: CaptionRow[] = [];
  for (const { fields, line } of records.slice(1)) {
    if (fields.length !== header.length) {
      throw new VplError(
        CAPTIONS_CSV_INVALID,
        `${file} line ${line}: ${fields.length} field${fields.length === 1 ? '' : 's'}, but the header has ${header.length}`,
        { file, help: 'quote a caption that contains a comma: "a fox, running"' },
      );
    }
    const name = fields[fileColumn]!.trim();
    if (name === '') {
      throw new VplError(CAPTIONS_CSV_INVALID, `${file} line ${line}: the file field is empty`, { file });
    }
    rows.push({ file: name, caption: fields[captionColumn]!.trim(), line });
  }
  return rows;
}

// ---- the folder

export interface VideoFolderEntry {
  /** The file as the CSV names it. */
  file: string;
  /** Its absolute path. */
  path: string;
  caption: string;
}

export interface VideoFolderOptions {
  /** The captions CSV; default `captions.csv` inside the folder. Relative paths are resolved from the working directory. */
  captions?: string;
}

/** The entries the captions CSV lists, resolved against the folder (not yet checked on disk). */
export function listVideoFolder(folder: string, options: VideoFolderOptions = {}): VideoFolderEntry[] {
  const dir = path.resolve(folder);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new VplError('VPL7001', `video folder '${folder}' not found: looked for ${dir}`, { file: folder });
  }
  const csvPath = path.resolve(options.captions ?? path.join(dir, 'captions.csv'));
  let text: string;
  try {
    text = fs.readFileSync(csvPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new VplError('VPL7001', `captions file not found: looked for ${csvPath}`, {
        file: csvPath,
        help: "write a CSV with a header line 'file,caption' and one row per video, or name it with `captions = ...`",
      });
    }
    throw new VplError('VPL7004', `could not read captions file ${csvPath}: ${(error as Error).message}`, { file: csvPath, cause: error });
  }
  return parseCaptionsCsv(text, csvPath).map((row) => ({ file: row.file, path: path.resolve(dir, row.file), caption: row.caption }));
}

// ---- decoding

export interface DecodeOptions {
  /** Frames to take (from the start). */
  frames: number;
  height: number;
  width: number;
  /** Resample to this frame rate first; default: the file's own rate. */
  fps?: number;
  /** The ffmpeg executable; default found on PATH; null means "not installed". */
  ffmpeg?: string | null;
  /** Kill ffmpeg after this many milliseconds; default 120 000. */
  timeoutMs?: number;
}

export interface DecodedVideo {
  /** [frames, 3, height, width], values in [-1, 1]. */
  data: Float32Array;
  frames: number;
  height: number;
  width: number;
}

/** A video that could not be decoded; the loader turns it into a `skipped` entry. */
export class VideoDecodeError extends Error {
  override name = 'VideoDecodeError';
}

/** The ffmpeg to use, or a VplError saying to install it. */
export function requireFfmpeg(ffmpeg?: string | null): string {
  const found = ffmpeg === undefined ? findFfmpeg() : ffmpeg;
  if (found === null) {
    throw new VplError(FFMPEG_MISSING, 'ffmpeg was not found on PATH; it is needed to decode the videos of a video_folder dataset', {
      help: FFMPEG_INSTALL_HELP,
    });
  }
  return found;
}

/** The ffmpeg arguments that decode `file` to `frames` rgb24 frames of `width`x`height` on stdout. */
export function decodeArguments(file: string, options: Pick<DecodeOptions, 'frames' | 'height' | 'width' | 'fps'>): string[] {
  const filters = [`scale=${options.width}:${options.height}`];
  if (options.fps !== undefined) filters.push(`fps=${options.fps}`);
  return [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-i', file,
    '-vf', filters.join(','),
    '-frames:v', String(options.frames),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ];
}

/** rgb24 frames ([T, H, W, 3] bytes) to [T, 3, H, W] floats in [-1, 1]. */
export function rgb24ToFrames(bytes: Uint8Array, frames: number, height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(frames * 3 * plane);
  for (let t = 0; t < frames; t++) {
    const src = t * plane * 3;
    const dst = t * 3 * plane;
    for (let i = 0; i < plane; i++) {
      out[dst + i] = bytes[src + 3 * i]! / 127.5 - 1;
      out[dst + plane + i] = bytes[src + 3 * i + 1]! / 127.5 - 1;
      out[dst + 2 * plane + i] = bytes[src + 3 * i + 2]! / 127.5 - 1;
    }
  }
  return out;
}

function checkDecodeOptions(options: DecodeOptions): void {
  for (const key of ['frames', 'height', 'width'] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${key} must be a positive integer, got ${value}`);
  }
  if (options.fps !== undefined && !(options.fps > 0)) throw new RangeError(`fps must be a positive number, got ${options.fps}`);
}

/**
 * Decodes the first `frames` frames of a video. Throws VideoDecodeError when the file is
 * missing, unreadable or too short, and a VplError when ffmpeg is not installed.
 */
export async function decodeVideo(file: string, options: DecodeOptions): Promise<DecodedVideo> {
  checkDecodeOptions(options);
  const ffmpeg = requireFfmpeg(options.ffmpeg);
  const { frames, height, width } = options;
  if (!fs.existsSync(file)) throw new VideoDecodeError('file not found');
  if (!fs.statSync(file).isFile()) throw new VideoDecodeError('not a file');
  const frameBytes = height * width * 3;
  const child = spawn(ffmpeg, decodeArguments(file, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let received = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 120_000);
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new VplError(FFMPEG_MISSING, `ffmpeg could not be run: ${ffmpeg} does not exist`, { help: FFMPEG_INSTALL_HELP, cause: error });
    }
    throw new VideoDecodeError(`could not run ffmpeg: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new VideoDecodeError(`ffmpeg took longer than ${options.timeoutMs ?? 120_000} ms`);
  const message = lastLine(stderr);
  if (code !== 0) throw new VideoDecodeError(`ffmpeg could not decode it (exit code ${code})${message ? `: ${message}` : ''}`);
  const got = Math.floor(received / frameBytes);
  if (got === 0) throw new VideoDecodeError(`no video frames decoded${message ? `: ${message}` : ''}`);
  if (got < frames) throw new VideoDecodeError(`only ${got} frame${got === 1 ? '' : 's'} decoded, ${frames} needed`);
  const bytes = Buffer.concat(chunks, received);
  return { data: rgb24ToFrames(bytes, frames, height, width), frames, height, width };
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

// ---- loading

export interface VideoFolderItem extends DecodedVideo {
  file: string;
  path: string;
  caption: string;
}

export interface SkippedVideo {
  file: string;
  reason: string;
}

export interface LoadVideoFolderOptions extends VideoFolderOptions, DecodeOptions {
  /** Videos decoded at once; default 2. */
  concurrency?: number;
}

export type VideoFolderResult = { item: VideoFolderItem } | { skipped: SkippedVideo };

/**
 * Decodes the entries one by one (a few at a time), in CSV order, yielding each video or
 * why it was skipped. Memory stays bounded by `concurrency` videos.
 */
export async function* iterateVideoFolder(
  entries: readonly VideoFolderEntry[],
  options: DecodeOptions & { concurrency?: number },
): AsyncGenerator<VideoFolderResult> {
  checkDecodeOptions(options);
  const ffmpeg = requireFfmpeg(options.ffmpeg);
  const decodeOptions = { ...options, ffmpeg };
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
  const decodeOne = async (entry: VideoFolderEntry): Promise<VideoFolderResult> => {
    try {
      const video = await decodeVideo(entry.path, decodeOptions);
      return { item: { ...video, file: entry.file, path: entry.path, caption: entry.caption } };
    } catch (error) {
      if (error instanceof VideoDecodeError) return { skipped: { file: entry.file, reason: error.message } };
      throw error;
    }
  };
  const pending: Promise<VideoFolderResult>[] = [];
  let next = 0;
  while (next < entries.length && pending.length < concurrency) pending.push(decodeOne(entries[next++]!));
  while (pending.length > 0) {
    const result = await pending.shift()!;
    if (next < entries.length) pending.push(decodeOne(entries[next++]!));
    yield result;
  }
}

/** Every video of the folder, decoded, and the files that were skipped with their reasons. */
export async function loadVideoFolder(
  folder: string,
  options: LoadVideoFolderOptions,
): Promise<{ items: VideoFolderItem[]; skipped: SkippedVideo[] }> {
  checkDecodeOptions(options);
  requireFfmpeg(options.ffmpeg);
  const entries = listVideoFolder(folder, options);
  const items: VideoFolderItem[] = [];
  const skipped: SkippedVideo[] = [];
  for await (const result of iterateVideoFolder(entries, options)) {
    if ('item' in result) items.push(result.item);
    else skipped.push(result.skipped);
  }
  return { items, skipped };
}

/** "3 of 10 videos skipped: a.mp4 (file not found), ..." for logs; empty when none was. */
export function describeSkipped(skipped: readonly SkippedVideo[], total: number, shown = 5): string {
  if (skipped.length === 0) return '';
  const list = skipped.slice(0, shown).map((s) => `${s.file} (${s.reason})`).join(', ');
  const more = skipped.length > shown ? `, and ${skipped.length - shown} more` : '';
  return `${skipped.length} of ${total} video${total === 1 ? '' : 's'} skipped: ${list}${more}`;
}
