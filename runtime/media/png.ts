// PNG encoding (8-bit RGB or RGBA) and decoding (8-bit, non-interlaced: greyscale, RGB,
// palette, grey+alpha, RGBA; all five row filters). That covers our own files and the
// screenshots headless Chromium writes, which is all vplc reads.
import * as zlib from 'node:zlib';
import { crc32 } from './crc32.ts';
import { MediaError } from './frames.ts';

export interface PngImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA). */
  channels: 3 | 4;
  /** [height, width, channels] interleaved, 8 bits per sample. */
  data: Uint8Array;
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** PNG colour types, from the IHDR chunk. */
const ColorType = { Grey: 0, Rgb: 2, Palette: 3, GreyAlpha: 4, Rgba: 6 } as const;
const SAMPLES_PER_PIXEL: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Row filter types (PNG spec section 9.2). */
const Filter = { None: 0, Sub: 1, Up: 2, Average: 3, Paeth: 4 } as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Filters one row with each filter and keeps the one with the smallest sum of absolute
 * residuals: the usual heuristic, which makes smooth images compress well.
 */
function filterRow(row: Uint8Array, previous: Uint8Array, bpp: number, out: Uint8Array): void {
  const n = row.length;
  let bestType = 0;
  let bestScore = Infinity;
  const candidate = new Uint8Array(n);
  const best = new Uint8Array(n);
  for (let type = 0; type <= 4; type++) {
    let score = 0;
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = previous[i]!;
      const c = i >= bpp ? previous[i - bpp]! : 0;
      const predictor = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
      const residual = (row[i]! - predictor) & 0xff;
      candidate[i] = residual;
      score += residual < 128 ? residual : 256 - residual;
    }
    if (score < bestScore) {
      bestScore = score;
      bestType = type;
      best.set(candidate);
    }
  }
  out[0] = bestType;
  out.set(best, 1);
}

export function encodePng(image: PngImage): Buffer {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new MediaError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new MediaError(`PNG data has ${data.length} bytes, ${width}x${height}x${channels} needs ${width * height * channels}`);
  }
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  let previous: Uint8Array = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    filterRow(row, previous, channels, raw.subarray(y * (stride + 1), (y + 1) * (stride + 1)));
    previous = row;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = channels === 4 ? ColorType.Rgba : ColorType.Rgb;
  // [10..12]: compression, filter method, interlace: all 0.
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Decodes a PNG to RGBA, 8 bits per sample. `source` names the file in error messages. */
export function decodePng(bytes: Uint8Array, source = 'PNG data'): PngImage & { channels: 4 } {
  const fail = (problem: string): never => {
    throw new MediaError(`${source}: ${problem}`);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !SIGNATURE.every((b, i) => buf[i] === b)) fail('not a PNG file (bad signature)');
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette: Uint8Array | undefined;
  let paletteAlpha: Uint8Array | undefined;
  const idat: Buffer[] = [];
  let offset = 8;
  let sawEnd = false;
  while (offset < buf.length && !sawEnd) {
    if (offset + 12 > buf.length) fail(`chunk at byte ${offset} is cut short`);
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    if (offset + 12 + length > buf.length) fail(`${type} chunk at byte ${offset} runs past the end of the file`);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== buf.readUInt32BE(offset + 8 + length)) {
      fail(`${type} chunk at byte ${offset} has a bad CRC (the file is damaged)`);
    }
    switch (type) {
      case 'IHDR': {
        width = body.readUInt32BE(0);
        height = body.readUInt32BE(4);
        const bitDepth = body[8]!;
        colorType = body[9]!;
        if (bitDepth !== 8) fail(`bit depth ${bitDepth} is not supported (only 8)`);
        if (!(colorType in SAMPLES_PER_PIXEL)) fail(`colour type ${colorType} is not valid`);
        if (body[12] !== 0) fail('interlaced PNGs are not supported');
        break;
      }
      case 'PLTE':
        palette = body;
        break;
      case 'tRNS':
        paletteAlpha = body;
        break;
      case 'IDAT':
        idat.push(body);
        break;
      case 'IEND':
        sawEnd = true;
        break;
      default:
        break; // ancillary chunks (gAMA, pHYs, tEXt, ...) do not change the pixels
    }
    offset += 12 + length;
  }
  if (colorType < 0) fail('missing IHDR chunk');
  if (idat.length === 0) fail('missing IDAT chunk');
  if (colorType === ColorType.Palette && !palette) fail('palette image without a PLTE chunk');

  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat));
  } catch (error) {
    return fail(`image data does not decompress (${(error as Error).message})`);
  }
  const bpp = SAMPLES_PER_PIXEL[colorType]!;
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) fail(`image data is ${raw.length} bytes, expected ${height * (stride + 1)}`);

  // Undo the row filters in place into `pixels`.
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? pixels[dst + i - bpp]! : 0;
      const b = y > 0 ? pixels[dst - stride + i]! : 0;
      const c = i >= bpp && y > 0 ? pixels[dst - stride + i - bpp]! : 0;
      let predictor: number;
      switch (type) {
        case Filter.None: predictor = 0; break;
        case Filter.Sub: predictor = a; break;
        case Filter.Up: predictor = b; break;
        case Filter.Average: predictor = (a + b) >> 1; break;
        case Filter.Paeth: predictor = paeth(a, b, c); break;
        default: return fail(`row ${y} has unknown filter type ${type}`);
      }
      pixels[dst + i] = (raw[src + i]! + predictor) & 0xff;
    }
  }

  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const o = p * 4;
    const s = p * bpp;
    switch (colorType) {
      case ColorType.Grey:
        rgba[o] = rgba[o + 1] = rgba[o + 2] = pixels[s]!;
        rgba[o + 3] = 255;
        break;
      case ColorType.GreyAlpha:
        rgba[o] = rgba[o + 1] = rgba[o + 2] = pixels[s]!;
        rgba[o + 3] = pixels[s + 1]!;
        break;
      case ColorType.Rgb:
        rgba[o] = pixels[s]!;
        rgba[o + 1] = pixels[s + 1]!;
        rgba[o + 2] = pixels[s + 2]!;
        rgba[o + 3] = 255;
        break;
      case ColorType.Rgba:
        rgba.set(pixels.subarray(s, s + 4), o);
        break;
      case ColorType.Palette: {
        const index = pixels[s]!;
        if (index * 3 + 2 >= palette!.length) fail(`pixel ${p} uses palette entry ${index}, beyond the palette`);
        rgba[o] = palette![index * 3]!;
        rgba[o + 1] = palette![index * 3 + 1]!;
        rgba[o + 2] = palette![index * 3 + 2]!;
        rgba[o + 3] = paletteAlpha && index < paletteAlpha.length ? paletteAlpha[index]! : 255;
        break;
      }
    }
  }
  return { width, height, channels: 4, data: rgba };
}
