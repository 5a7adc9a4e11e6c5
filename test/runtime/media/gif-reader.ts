// A small GIF reader for the tests, written independently of the encoder: it walks the
// block structure and LZW-decodes each image, so the tests check the bytes, not the intent.

export interface ParsedGif {
  width: number;
  height: number;
  globalPalette: Uint8Array;
  loopCount: number | undefined;
  frames: Array<{ delay: number; disposal: number; width: number; height: number; indices: Uint8Array }>;
  trailer: boolean;
}

/** Reference LZW decoder (GIF89a appendix F), from packed LSB-first codes. */
export function lzwDecode(data: Uint8Array, minCodeSize: number, expectedLength?: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  let codeSize = minCodeSize + 1;
  let table: number[][] = [];
  const reset = () => {
    table = Array.from({ length: clear + 2 }, (_, i) => (i < clear ? [i] : []));
    codeSize = minCodeSize + 1;
  };
  reset();
  const out: number[] = [];
  let bitPos = 0;
  let previous: number[] | undefined;
  const readCode = (): number | undefined => {
    if (bitPos + codeSize > data.length * 8) return undefined;
    let code = 0;
    for (let i = 0; i < codeSize; i++, bitPos++) code |= ((data[bitPos >> 3]! >> (bitPos & 7)) & 1) << i;
    return code;
  };
  for (;;) {
    const code = readCode();
    if (code === undefined) throw new Error('LZW stream ended without an end code');
    if (code === clear) {
      reset();
      previous = undefined;
      continue;
    }
    if (code === end) break;
    let entry: number[];
    if (code < table.length) entry = table[code]!;
    else if (code === table.length && previous) entry = [...previous, previous[0]!];
    else throw new Error(`bad LZW code ${code} with table size ${table.length}`);
    out.push(...entry);
    if (previous && table.length < 4096) table.push([...previous, entry[0]!]);
    if (table.length === 1 << codeSize && codeSize < 12) codeSize++;
    previous = entry;
  }
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new Error(`LZW decoded ${out.length} indices, expected ${expectedLength}`);
  }
  return Uint8Array.from(out);
}

export function parseGif(bytes: Uint8Array): ParsedGif {
  let pos = 0;
  const u8 = () => bytes[pos++]!;
  const u16 = () => bytes[pos++]! | (bytes[pos++]! << 8);
  const ascii = (n: number) => String.fromCharCode(...bytes.subarray(pos, (pos += n)));
  const subBlocks = (): Uint8Array => {
    const parts: number[] = [];
    for (let size = u8(); size !== 0; size = u8()) parts.push(...bytes.subarray(pos, (pos += size)));
    return Uint8Array.from(parts);
  };
  const header = ascii(6);
  if (header !== 'GIF89a') throw new Error(`bad header ${header}`);
  const width = u16();
  const height = u16();
  const packed = u8();
  u8(); // background
  u8(); // aspect
  if (!(packed & 0x80)) throw new Error('no global colour table');
  const globalPalette = bytes.slice(pos, (pos += 3 * (1 << ((packed & 7) + 1))));
  const gif: ParsedGif = { width, height, globalPalette, loopCount: undefined, frames: [], trailer: false };
  let delay = 0;
  let disposal = 0;
  while (pos < bytes.length) {
    const introducer = u8();
    if (introducer === 0x3b) {
      gif.trailer = true;
      break;
    }
    if (introducer === 0x21) {
      const label = u8();
      if (label === 0xf9) {
        u8(); // size 4
        disposal = (u8() >> 2) & 7;
        delay = u16();
        u8(); // transparent index
        u8(); // terminator
      } else if (label === 0xff) {
        u8(); // size 11
        const app = ascii(11);
        const data = subBlocks();
        if (app === 'NETSCAPE2.0' && data[0] === 1) gif.loopCount = data[1]! | (data[2]! << 8);
      } else {
        subBlocks();
      }
    } else if (introducer === 0x2c) {
      u16();
      u16();
      const w = u16();
      const h = u16();
      const flags = u8();
      if (flags & 0x80) throw new Error('unexpected local colour table');
      const minCodeSize = u8();
      const indices = lzwDecode(subBlocks(), minCodeSize, w * h);
      gif.frames.push({ delay, disposal, width: w, height: h, indices });
    } else {
      throw new Error(`unexpected block 0x${introducer.toString(16)} at byte ${pos - 1}`);
    }
  }
  return gif;
}
