import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import {
  bf16BitsToNumber,
  f16BitsToNumber,
  fromFloat32,
  numberToBf16Bits,
  numberToF16Bits,
} from '../../../runtime/weights/dtype.ts';
import {
  SafetensorsReader,
  readSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from '../../../runtime/weights/safetensors.ts';

/** Elements as a plain list, for comparisons across typed array kinds. */
const list = (a: ArrayLike<number | bigint>): (number | bigint)[] => Array.from(a);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A safetensors file built byte by byte from a header object, independent of the writer. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function expectVplError(promise: Promise<unknown>, code: string, fragment: string | RegExp, file?: string): Promise<VplError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  const vpl = error as VplError;
  expect(vpl.code).toBe(code);
  expect(vpl.message).toMatch(fragment);
  if (file !== undefined) expect(vpl.file).toBe(file);
  expect(vpl.help).toMatch(/\w+ \w+/); // a help line in words, not an empty or single-token string
  return vpl;
}

describe('safetensors round trip', () => {
  it('writes and reads every dtype with metadata, bit-exact', async () => {
    const path = join(dir, 'all.safetensors');
    const tensors: TensorToWrite[] = [
      { name: 'f32', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, 4, 5, Math.PI]) },
      { name: 'f64', dtype: 'F64', shape: [2], data: Float64Array.from([Math.E, -1e300]) },
      { name: 'f16', dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff]) },
      { name: 'bf16', dtype: 'BF16', shape: [1, 2], data: Uint16Array.from([0x3f80, 0x4049]) },
      { name: 'i64', dtype: 'I64', shape: [2], data: BigInt64Array.from([2n ** 62n, -7n]) },
      { name: 'i32', dtype: 'I32', shape: [1], data: Int32Array.from([-123456]) },
      { name: 'i16', dtype: 'I16', shape: [2], data: Int16Array.from([-3, 300]) },
      { name: 'i8', dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) },
      { name: 'u8', dtype: 'U8', shape: [2], data: Uint8Array.from([0, 255]) },
      { name: 'flag', dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.from([7]) },
    ];
    await writeSafetensors(path, tensors, { metadata: { format: 'pt', step: '80' } });

    const bytes = await readFile(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0); // data starts aligned

    const { metadata, tensors: read } = await readSafetensors(path);
    expect(metadata).toEqual({ format: 'pt', step: '80' });
    expect([...read.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const got = read.get(t.name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as unknown as ArrayLike<number | bigint>));
    }
    expect(read.get('i64')!.data).toBeInstanceOf(BigInt64Array);
    expect(read.get('f16')!.data).toBeInstanceOf(Uint16Array);
  });

  it('reads a file built by hand to the spec, converting half precision to Float32', async () => {
    const data = new Uint8Array(16);
    const view = new DataView(data.buffer);
    view.setUint16(0, 0x3c00, true); // F16 1
    view.setUint16(2, 0x0001, true); // F16 smallest subnormal
    view.setUint16(4, 0x3f80, true); // BF16 1
    view.setUint16(6, 0xc049, true); // BF16 -3.140625
    view.setFloat32(8, 0.25, true);
    view.setFloat32(12, -8, true);
    const path = join(dir, 'hand.safetensors');
    await writeFile(
      path,
      rawFile(
        {
          // Header order differs from data order: offsets decide.
          w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
          h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          b: { dtype: 'BF16', shape: [2, 1], data_offsets: [4, 8] },
        },
        data,
      ),
    );
    const reader = await SafetensorsReader.open(path);
    try {
      expect(reader.names()).toEqual(['w', 'h', 'b']);
      expect(Array.from(await reader.readFloat32('h'))).toEqual([1, 2 ** -24]);
      expect(Array.from(await reader.readFloat32('b'))).toEqual([1, -3.140625]);
      expect(list(await reader.read('w'))).toEqual([0.25, -8]);
      await expectVplError(Promise.resolve().then(() => reader.read('x')), 'VPL7013', "no tensor named 'x'", path);
    } finally {
      await reader.close();
    }
  });

  // A sparse 5 GiB file costs no disk: reading its small tensor must not touch the rest,
  // and offsets past 4 GiB must survive the header arithmetic.
  it('reads one tensor of a 5 GiB file without loading the rest', async () => {
    const big = 5 * 2 ** 30;
    const small = new Uint8Array(Float32Array.from([1.25, -2]).buffer);
    const header = {
      small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      big: { dtype: 'U8', shape: [big], data_offsets: [8, 8 + big] },
      last: { dtype: 'F32', shape: [1], data_offsets: [8 + big, 12 + big] },
    };
    const path = join(dir, 'sparse.safetensors');
    const start = rawFile(header, small);
    await writeFile(path, start);
    await truncate(path, start.length + big + 4);
    const reader = await SafetensorsReader.open(path);
    try {
      expect(list(await reader.read('small'))).toEqual([1.25, -2]);
      expect(list(await reader.read('last'))).toEqual([0]);
      expect(reader.entry('last').fileOffset).toBe(start.length + big);
      expect(process.memoryUsage().rss).toBeLessThan(2 ** 30);
    } finally {
      await reader.close();
    }
  });

  it('streams lazily produced tensors in order', async () => {
    const produced: string[] = [];
    const lazy = (name: string, values: number[]): TensorToWrite => ({
      name,
      dtype: 'F32',
      shape: [values.length],
      data: async () => (produced.push(name), Float32Array.from(values)),
    });
    const path = join(dir, 'lazy.safetensors');
    await writeSafetensors(path, [lazy('a', [1, 2]), lazy('b', [3])]);
    expect(produced).toEqual(['a', 'b']);
    const { tensors } = await readSafetensors(path);
    expect(Array.from(tensors.get('b')!.data as Float32Array)).toEqual([3]);
  });

  it('rejects a tensor whose data does not match its declaration and keeps the old file', async () => {
    const path = join(dir, 'keep.safetensors');
    await writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [1], data: Float32Array.from([42]) }]);
    const before = await readFile(path);
    await expectVplError(
      writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3]) }]),
      'VPL7014',
      /declared F32 \[2, 2\] \(16 bytes\) but its data has 12 bytes/,
    );
    await expectVplError(
      writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [1], data: Int32Array.from([1]) }]),
      'VPL7014',
      /declared F32 but its data is a Int32Array/,
    );
    expect(await readFile(path)).toEqual(before);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('safetensors validation', () => {
  const f32x2 = new Uint8Array(8);
  const cases: { name: string; bytes: () => Uint8Array; code: string; message: RegExp }[] = [
    { name: 'too short', bytes: () => Uint8Array.from([1, 2, 3]), code: 'VPL7011', message: /3 bytes long, too short/ },
    {
      name: 'absurd header length',
      bytes: () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
        return b;
      },
      code: 'VPL7010',
      message: /header length of 1099511627776 bytes, more than/,
    },
    {
      name: 'header past the end',
      bytes: () => rawFile({}, new Uint8Array(0), '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}').subarray(0, 30),
      code: 'VPL7011',
      message: /only 22 bytes after the length: the file is truncated/,
    },
    { name: 'not JSON', bytes: () => rawFile(null, new Uint8Array(0), '{"a": '), code: 'VPL7010', message: /not valid JSON/ },
    { name: 'not an object', bytes: () => rawFile([1, 2], new Uint8Array(0)), code: 'VPL7010', message: /not a JSON object/ },
    {
      name: 'unknown dtype',
      bytes: () => rawFile({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      code: 'VPL7012',
      message: /dtype "F8_E4M3", which vplc cannot read/,
    },
    {
      name: 'negative dimension',
      bytes: () => rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      code: 'VPL7010',
      message: /shape \[-1\]/,
    },
    {
      name: 'byte count differs from shape',
      bytes: () => rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32x2),
      code: 'VPL7010',
      message: /shape \[3\] and dtype F32 \(12 bytes\) but its data_offsets span 8 bytes/,
    },
    {
      name: 'overlap',
      bytes: () =>
        rawFile(
          { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
          f32x2,
        ),
      code: 'VPL7010',
      message: /'a' and 'b' overlap/,
    },
    {
      name: 'gap',
      bytes: () =>
        rawFile(
          { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [6, 8] } },
          f32x2,
        ),
      code: 'VPL7010',
      message: /2 bytes between tensors 'a' and 'b'/,
    },
    {
      name: 'trailing bytes',
      bytes: () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32x2),
      code: 'VPL7010',
      message: /4 bytes after the last tensor/,
    },
    {
      name: 'metadata that is not strings',
      bytes: () => rawFile({ __metadata__: { step: 80 } }, new Uint8Array(0)),
      code: 'VPL7010',
      message: /"__metadata__.step" .* must be a string/,
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, async () => {
      const path = join(dir, `bad-${c.name.replace(/ /g, '-')}.safetensors`);
      await writeFile(path, c.bytes());
      await expectVplError(SafetensorsReader.open(path), c.code, c.message, path);
    });
  }

  it('names the tensor and the sizes when a file is truncated', async () => {
    const path = join(dir, 'big.safetensors');
    await writeSafetensors(path, [
      { name: 'unet.a', dtype: 'F32', shape: [256], data: new Float32Array(256) },
      { name: 'unet.w', dtype: 'F32', shape: [1024], data: new Float32Array(1024) },
    ]);
    const full = await readFile(path);
    const cut = join(dir, 'cut.safetensors');
    await writeFile(cut, full.subarray(0, full.length - 2048));
    const error = await expectVplError(SafetensorsReader.open(cut), 'VPL7011', /'unet\.w' ends at byte \d+ but the file has \d+ bytes: the file is truncated/, cut);
    expect(error.message).toContain(`ends at byte ${full.length} but the file has ${full.length - 2048} bytes`);
    expect(error.help).toMatch(/re-download or restore/);
  });

  it('reports a missing file with its path', async () => {
    const path = join(dir, 'nope.safetensors');
    await expectVplError(SafetensorsReader.open(path), 'VPL7001', /does not exist/, path);
  });
});

describe('half precision conversion', () => {
  it('round-trips every finite F16 value through numbers', () => {
    const wrong: number[] = [];
    let checked = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToNumber(bits);
      if (Number.isNaN(value)) continue;
      checked++;
      if (numberToF16Bits(value) !== bits) wrong.push(bits);
    }
    expect(checked).toBe(0x10000 - 2 * 1023); // every value but the NaNs
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest even and saturates to infinity', () => {
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd rounds up
    expect(numberToF16Bits(70000)).toBe(0x7c00);
    expect(numberToF16Bits(2 ** -26)).toBe(0); // below half the smallest subnormal
    expect(Number.isNaN(f16BitsToNumber(numberToF16Bits(NaN)))).toBe(true);
  });

  it('converts bfloat16 with round to nearest even', () => {
    expect(numberToBf16Bits(1)).toBe(0x3f80);
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // halfway to 1 + 2^-7, even
    expect(numberToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16BitsToNumber(0x4049)).toBe(3.140625);
    const encoded = fromFloat32('BF16', Float32Array.from([0.5, -2, 1e30])) as Uint16Array;
    expect(Array.from(encoded, bf16BitsToNumber)).toEqual([0.5, -2, Math.fround(bf16BitsToNumber(numberToBf16Bits(1e30)))]);
  });
});
