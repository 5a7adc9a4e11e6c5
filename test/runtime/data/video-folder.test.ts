import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { findFfmpeg } from '../../../runtime/media/ffmpeg.ts';
import { videoToRgb8Frames } from '../../../runtime/media/frames.ts';
import { encodeMp4 } from '../../../runtime/media/mp4.ts';
import { asVideoFrames, shapesVideo } from '../../../stdlib/data/shapes.ts';
import {
  CAPTIONS_CSV_INVALID,
  FFMPEG_MISSING,
  decodeArguments,
  decodeVideo,
  describeSkipped,
  listVideoFolder,
  loadVideoFolder,
  parseCaptionsCsv,
  parseCsvRecords,
  rgb24ToFrames,
} from '../../../runtime/data/video-folder.ts';

function thrown(fn: () => unknown): VplError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VplError);
    return error as VplError;
  }
  throw new Error('expected a VplError');
}

describe('captions CSV', () => {
  it('reads quoted fields with commas, quotes and line breaks', () => {
    const text = 'file,caption\r\na.mp4,a fox in snow\r\n"b, c.mp4","a cat, on a ""tin"" roof"\r\nd.mp4,"two\r\nlines"\r\n';
    expect(parseCaptionsCsv(text)).toEqual([
      { file: 'a.mp4', caption: 'a fox in snow', line: 2 },
      { file: 'b, c.mp4', caption: 'a cat, on a "tin" roof', line: 3 },
      { file: 'd.mp4', caption: 'two\nlines', line: 4 },
    ]);
  });

  it('takes a BOM, blank lines, columns in any order, extra columns and no final newline', () => {
    const text = '\ufeffcaption, File ,fps\n\n"a dog",dog.mp4,24\n   \n"",empty.mp4,12';
    expect(parseCaptionsCsv(text)).toEqual([
      { file: 'dog.mp4', caption: 'a dog', line: 3 },
      { file: 'empty.mp4', caption: '', line: 5 },
    ]);
    // A quote inside an unquoted field is an ordinary character.
    expect(parseCsvRecords('a 5" screen,x').map((r) => r.fields)).toEqual([['a 5" screen', 'x']]);
    // Empty fields, and spaces around a quoted field.
    expect(parseCsvRecords(',,\n  "q" , z').map((r) => r.fields)).toEqual([['', '', ''], ['q', ' z']]);
  });

  it('names the file and line of what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /caps\.csv is empty: it needs a header line 'file,caption'/],
      ['\n\n', /caps\.csv is empty/],
      ['a.mp4,a fox\n', /caps\.csv line 1: the header has no file and caption column \(found: a\.mp4, a fox\)/],
      ['file,text\nx,y\n', /line 1: the header has no caption column/],
      ['file,caption\na.mp4,a fox, running\n', /caps\.csv line 2: 3 fields, but the header has 2/],
      ['file,caption\na.mp4\n', /line 2: 1 field, but the header has 2/],
      ['file,caption\na.mp4,ok\nb.mp4,"never closed\nmore\n', /caps\.csv line 3: a quoted field is never closed/],
      ['file,caption\na.mp4,"closed" then text\n', /line 2: text after the closing quote/],
      ['file,caption\n ,a caption\n', /line 2: the file field is empty/],
    ];
    for (const [text, message] of cases) {
      const error = thrown(() => parseCaptionsCsv(text, 'caps.csv'));
      expect(error.code).toBe(CAPTIONS_CSV_INVALID);
      expect(error.message).toMatch(message);
      expect(error.file).toBe('caps.csv');
    }
  });
});

describe('video folder without decoding', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-folder-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists the CSV entries resolved against the folder', () => {
    fs.writeFileSync(path.join(dir, 'captions.csv'), 'file,caption\nclips/a.mp4,first\nb.mp4,second\n');
    expect(listVideoFolder(dir)).toEqual([
      { file: 'clips/a.mp4', path: path.join(dir, 'clips', 'a.mp4'), caption: 'first' },
      { file: 'b.mp4', path: path.join(dir, 'b.mp4'), caption: 'second' },
    ]);
    const other = path.join(dir, 'other.csv');
    fs.writeFileSync(other, 'file,caption\nc.mp4,third\n');
    expect(listVideoFolder(dir, { captions: other }).map((e) => e.file)).toEqual(['c.mp4']);
  });

  it('says where it looked for a missing folder or captions file', () => {
    const missing = path.join(dir, 'nowhere');
    expect(thrown(() => listVideoFolder(missing)).message).toBe(`video folder '${missing}' not found: looked for ${missing}`);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const error = thrown(() => listVideoFolder(empty));
    expect(error.code).toBe('VPL7001');
    expect(error.message).toBe(`captions file not found: looked for ${path.join(empty, 'captions.csv')}`);
  });

  it('says to install ffmpeg when there is none', async () => {
    const options = { frames: 2, height: 8, width: 8, ffmpeg: null };
    await expect(loadVideoFolder(dir, options)).rejects.toMatchObject({
      code: FFMPEG_MISSING,
      message: expect.stringMatching(/ffmpeg was not found on PATH/),
      help: expect.stringMatching(/install ffmpeg.*apt install ffmpeg/),
    });
    await expect(decodeVideo(path.join(dir, 'b.mp4'), options)).rejects.toMatchObject({ code: FFMPEG_MISSING });
    // A configured ffmpeg path that does not exist is the same problem.
    fs.writeFileSync(path.join(dir, 'b.mp4'), 'x');
    await expect(decodeVideo(path.join(dir, 'b.mp4'), { ...options, ffmpeg: path.join(dir, 'no-ffmpeg') })).rejects.toMatchObject({
      code: FFMPEG_MISSING,
      help: expect.stringMatching(/install ffmpeg/),
    });
  });

  it('builds the documented ffmpeg command and converts rgb24 to [T,3,H,W] in [-1,1]', () => {
    expect(decodeArguments('in.mp4', { frames: 8, height: 32, width: 48, fps: 8 }).join(' ')).toBe(
      '-nostdin -hide_banner -loglevel error -i in.mp4 -vf scale=48:32,fps=8 -frames:v 8 -f rawvideo -pix_fmt rgb24 -',
    );
    expect(decodeArguments('in.mp4', { frames: 1, height: 2, width: 2 })).toContain('scale=2:2');
    // 2 frames of 1x2 pixels: frame 0 = [red, white], frame 1 = [black, (0, 255, 127.5-ish)].
    const bytes = Uint8Array.from([255, 0, 0, 255, 255, 255, 0, 0, 0, 0, 255, 128]);
    const frames = rgb24ToFrames(bytes, 2, 1, 2);
    expect(Array.from(frames.slice(0, 6))).toEqual([1, 1, -1, 1, -1, 1]); // R plane, G plane, B plane of frame 0
    expect(Array.from(frames.slice(6, 10))).toEqual([-1, -1, -1, 1]);
    expect(frames[11]).toBeCloseTo(128 / 127.5 - 1, 6);
  });

  it('summarises skipped files', () => {
    expect(describeSkipped([], 4)).toBe('');
    expect(describeSkipped([{ file: 'a.mp4', reason: 'file not found' }], 4)).toBe('1 of 4 videos skipped: a.mp4 (file not found)');
    const many = Array.from({ length: 7 }, (_, i) => ({ file: `${i}.mp4`, reason: 'bad' }));
    expect(describeSkipped(many, 9, 2)).toBe('7 of 9 videos skipped: 0.mp4 (bad), 1.mp4 (bad), and 5 more');
  });
});

// Decoding needs ffmpeg; without it on PATH these tests cannot run (the missing-ffmpeg
// error itself is tested above).
const ffmpeg = findFfmpeg();
describe.skipIf(ffmpeg === null)('video folder decoding with ffmpeg (skipped when `ffmpeg` is not on PATH)', () => {
  let dir: string;
  const sources = [
    shapesVideo(1, { attributes: { motion: 'right', colour: 'red', background: 'black' } }),
    shapesVideo(2, { attributes: { motion: 'down', colour: 'yellow', background: 'dark blue' } }),
    shapesVideo(3, { attributes: { motion: 'growing', colour: 'cyan', background: 'brown and beige' } }),
  ];
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-videos-'));
    fs.mkdirSync(path.join(dir, 'sub'));
    const names = ['one.mp4', 'sub/two, with comma.mp4', 'three.mp4'];
    for (let i = 0; i < 3; i++) {
      await encodeMp4(videoToRgb8Frames(asVideoFrames(sources[i]!)), path.join(dir, names[i]!), { fps: 8, ffmpeg: ffmpeg! });
    }
    const short = shapesVideo(4, { frames: 3 });
    await encodeMp4(videoToRgb8Frames(asVideoFrames(short)), path.join(dir, 'short.mp4'), { fps: 8, ffmpeg: ffmpeg! });
    fs.writeFileSync(path.join(dir, 'corrupt.mp4'), Buffer.from('this is not a video at all, just text pretending'));
    const rows = [
      'file,caption',
      `one.mp4,"${sources[0]!.caption}"`,
      'corrupt.mp4,a broken file',
      `"sub/two, with comma.mp4","${sources[1]!.caption}"`,
      'missing.mp4,"a file that is not there"',
      'short.mp4,too few frames',
      `three.mp4,${sources[2]!.caption}`,
    ];
    fs.writeFileSync(path.join(dir, 'captions.csv'), rows.join('\r\n'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes the readable videos in CSV order and skips the others with a reason', async () => {
    const { items, skipped } = await loadVideoFolder(dir, { frames: 8, height: 32, width: 32 });
    expect(items.map((item) => item.file)).toEqual(['one.mp4', 'sub/two, with comma.mp4', 'three.mp4']);
    expect(items.map((item) => item.caption)).toEqual(sources.map((s) => s.caption));
    expect(skipped.map((s) => s.file)).toEqual(['corrupt.mp4', 'missing.mp4', 'short.mp4']);
    expect(skipped[0]!.reason).toMatch(/^ffmpeg could not decode it \(exit code \d+\)|^no video frames decoded/);
    expect(skipped[1]!.reason).toBe('file not found');
    expect(skipped[2]!.reason).toBe('only 3 frames decoded, 8 needed');
    expect(describeSkipped(skipped, 6)).toMatch(/^3 of 6 videos skipped: corrupt\.mp4 \(/);
    items.forEach((item, i) => {
      expect([item.frames, item.height, item.width]).toEqual([8, 32, 32]);
      expect(item.data.length).toBe(8 * 3 * 32 * 32);
      // Lossy (H.264, 4:2:0) but close to what was encoded.
      let error = 0;
      for (let k = 0; k < item.data.length; k++) error += Math.abs(item.data[k]! - sources[i]!.frames[k]!);
      expect(error / item.data.length).toBeLessThan(0.06);
      expect(Math.min(...item.data)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...item.data)).toBeLessThanOrEqual(1);
    });
  });

  it('scales to the asked size, and resamples the frame rate', async () => {
    const small = await decodeVideo(path.join(dir, 'one.mp4'), { frames: 4, height: 16, width: 24, ffmpeg: ffmpeg! });
    expect([small.frames, small.height, small.width, small.data.length]).toEqual([4, 16, 24, 4 * 3 * 16 * 24]);
    // 8 frames at 8 fps resampled to 4 fps keep every other frame: 4 frames, then too few for 5.
    const slow = await decodeVideo(path.join(dir, 'one.mp4'), { frames: 4, height: 32, width: 32, fps: 4, ffmpeg: ffmpeg! });
    expect(slow.frames).toBe(4);
    await expect(
      decodeVideo(path.join(dir, 'one.mp4'), { frames: 5, height: 32, width: 32, fps: 4, ffmpeg: ffmpeg! }),
    ).rejects.toThrow(/only 4 frames decoded, 5 needed/);
    // The red shape moves right: the red centroid of the last decoded frame is right of the first.
    const redX = (data: Float32Array, t: number) => {
      let sum = 0, weight = 0;
      for (let i = 0; i < 32 * 32; i++) {
        const red = Math.max(0, data[t * 3 * 1024 + i]! - data[t * 3 * 1024 + 1024 + i]!);
        sum += red * ((i % 32) + 0.5);
        weight += red;
      }
      return sum / weight;
    };
    expect(redX(slow.data, 3) - redX(slow.data, 0)).toBeGreaterThan(8);
  });
});
