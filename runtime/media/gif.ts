// Animated GIF (GIF89a) encoding: one shared global palette, one image per frame, looping
// forever through the NETSCAPE2.0 application extension.
import { MediaError, type Rgb8Frame } from './frames.ts';
import { lzwEncode } from './lzw.ts';
import { indexFrames } from './palette.ts';

export interface GifOptions {
  fps: number;
  /** Times to repeat; 0 (the default) loops forever. */
  loopCount?: number;
}

/**
 * Frame delay in hundredths of a second. Browsers treat delays under 2 as 10, so faster
 * frame rates are capped at 50 fps rather than silently slowed to 10.
 */
export function gifFrameDelay(fps: number): number {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new MediaError(`fps must be a positive number, got ${fps}`);
  return Math.max(2, Math.min(65535, Math.round(100 / fps)));
}

class ByteWriter {
  readonly bytes: number[] = [];
  byte(b: number): this {
    this.bytes.push(b & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.byte(v).byte(v >> 8);
  }
  ascii(s: string): this {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
    return this;
  }
  array(a: Uint8Array): this {
    for (const b of a) this.bytes.push(b);
    return this;
  }
  /** Data as GIF sub-blocks (a length byte, up to 255 bytes) then a zero terminator. */
  subBlocks(data: Uint8Array): this {
    for (let i = 0; i < data.length; i += 255) {
      const part = data.subarray(i, i + 255);
      this.byte(part.length).array(part);
    }
    return this.byte(0);
  }
}

export function encodeGif(frames: readonly Rgb8Frame[], options: GifOptions): Buffer {
  if (frames.length === 0) throw new MediaError('a GIF needs at least one frame');
  const { width, height } = frames[0]!;
  if (width > 65535 || height > 65535) throw new MediaError(`GIF frames are limited to 65535x65535, got ${width}x${height}`);
  for (const [t, f] of frames.entries()) {
    if (f.width !== width || f.height !== height) throw new MediaError(`frame ${t} is ${f.width}x${f.height}, frame 0 is ${width}x${height}`);
  }
  const delay = gifFrameDelay(options.fps);
  const { palette, indices } = indexFrames(frames);

  const w = new ByteWriter().ascii('GIF89a');
  // Logical screen: global colour table present, 8 bits colour resolution, 256 entries.
  w.u16(width).u16(height).byte(0b1111_0111).byte(0).byte(0);
  w.array(palette);
  // NETSCAPE2.0: sub-block id 1 carries the loop count.
  w.byte(0x21).byte(0xff).byte(11).ascii('NETSCAPE2.0').byte(3).byte(1).u16(options.loopCount ?? 0).byte(0);
  for (const frameIndices of indices) {
    // Graphic control: disposal 1 (leave the frame in place), no transparency.
    w.byte(0x21).byte(0xf9).byte(4).byte(0b0000_0100).u16(delay).byte(0).byte(0);
    // Image descriptor: full frame at (0, 0), no local colour table, not interlaced.
    w.byte(0x2c).u16(0).u16(0).u16(width).u16(height).byte(0);
    w.byte(8).subBlocks(lzwEncode(frameIndices, 8));
  }
  w.byte(0x3b);
  return Buffer.from(w.bytes);
}
