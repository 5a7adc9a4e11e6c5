import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../runtime/media/crc32.ts';
import { MediaError } from '../../../runtime/media/frames.ts';
import { frameGrid } from '../../../runtime/media/grid.ts';
import { decodePng, encodePng } from '../../../runtime/media/png.ts';
import { gradientVideo, movingSquare } from './fixtures.ts';

/** Builds a PNG by hand with a given colour type and per-row filter bytes already applied. */
function handMadePng(width: number, height: number, colorType: number, rows: number[][], extra: Array<[string, number[]]> = []): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    out.set(data, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra.map(([type, data]) => chunk(type, Uint8Array.from(data))),
    chunk('IDAT', zlib.deflateSync(Buffer.from(rows.flat()))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('PNG', () => {
  it('round-trips RGB images through encode and decode', () => {
    for (const grid of [frameGrid(movingSquare()), frameGrid(gradientVideo(), { columns: 3 })]) {
      const png = encodePng({ ...grid, channels: 3 });
      const decoded = decodePng(png);
      expect([decoded.width, decoded.height]).toEqual([grid.width, grid.height]);
      const expected = new Uint8Array(grid.width * grid.height * 4).fill(255);
      for (let p = 0; p < grid.width * grid.height; p++) expected.set(grid.data.subarray(p * 3, p * 3 + 3), p * 4);
      expect(Buffer.from(decoded.data).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('round-trips RGBA', () => {
    const data = Uint8Array.from({ length: 5 * 3 * 4 }, (_, i) => (i * 37) & 0xff);
    const decoded = decodePng(encodePng({ width: 5, height: 3, channels: 4, data }));
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });

  it('decodes every filter type (Sub, Up, Average, Paeth) in greyscale', () => {
    // 3x5 grey image, target rows: [10,20,30] [11,22,33] [12,24,36] [13,26,39] [14,28,42]
    const png = handMadePng(3, 5, 0, [
      [0, 10, 20, 30], // None
      [1, 11, 11, 11], // Sub: a = left
      [2, 1, 2, 3], // Up: b = above
      [3, 13 - 6, 26 - 18, 39 - 31], // Average: floor((left + above) / 2)
      [4, 14 - 13, 28 - 26, 42 - 39], // Paeth: the above pixel is nearest the gradient here
    ]);
    const { data } = decodePng(png);
    const grey = Array.from({ length: 15 }, (_, p) => data[p * 4]);
    expect(grey).toEqual([10, 20, 30, 11, 22, 33, 12, 24, 36, 13, 26, 39, 14, 28, 42]);
  });

  it('decodes palette images with transparency and grey+alpha', () => {
    const palette = handMadePng(2, 1, 3, [[0, 1, 0]], [['PLTE', [255, 0, 0, 0, 255, 0]], ['tRNS', [128]]]);
    expect(Array.from(decodePng(palette).data)).toEqual([0, 255, 0, 255, 255, 0, 0, 128]);
    const greyAlpha = handMadePng(1, 1, 4, [[0, 77, 99]]);
    expect(Array.from(decodePng(greyAlpha).data)).toEqual([77, 77, 77, 99]);
  });

  it('reports damaged files clearly', () => {
    const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
    expect(() => decodePng(Buffer.from('GIF89a'), 'shot.png')).toThrow('shot.png: not a PNG file');
    const damaged = Buffer.from(png);
    damaged[45]! ^= 0xff; // inside the IDAT data (chunk at 33, data from 41)
    expect(() => decodePng(damaged, 'shot.png')).toThrow(/shot\.png: IDAT chunk at byte 33 has a bad CRC/);
    expect(() => decodePng(png.subarray(0, 30), 'shot.png')).toThrow(MediaError);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(/needs 12/);
  });
});

describe('frame grid', () => {
  it('tiles frames in rows with gaps', () => {
    const video = movingSquare(5, 12, 16);
    const grid = frameGrid(video, { columns: 2, gap: 1, background: [1, 2, 3] });
    expect([grid.width, grid.height]).toEqual([2 * 16 + 1, 3 * 12 + 2]);
    const at = (x: number, y: number) => Array.from(grid.data.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3));
    expect(at(16, 0)).toEqual([1, 2, 3]); // the gap column
    expect(at(0, 4)).toEqual([255, 0, 0]); // frame 0's square at x 0..4
    expect(at(17 + 2, 4)).toEqual([255, 0, 0]); // frame 1's square starts at x 2
    expect(at(17, 4)).toEqual([51, 51, 179]); // frame 1's background: (-0.6, -0.6, 0.4)
    expect(at(8, 2 * 13 + 4)).toEqual([255, 0, 0]); // frame 4 (third row): square at x 8..12
    expect(at(7, 2 * 13 + 4)).toEqual([51, 51, 179]);
    expect(at(17, 2 * 13 + 4)).toEqual([1, 2, 3]); // no sixth frame: background
  });
});
