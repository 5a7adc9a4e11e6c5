// Reading `--gpu-memory` sizes and checking an estimate against cards (compiler/gpus.ts).
import { describe, expect, it } from 'vitest';
import { COMMON_GPUS, fitOn, parseMemorySize } from '../../compiler/gpus.ts';
import { VplError } from '../../diagnostics/error.ts';

const GiB = 2 ** 30;

describe('parseMemorySize', () => {
  it.each([
    ['24GB', 24 * GiB],
    ['24GiB', 24 * GiB],
    ['24G', 24 * GiB],
    ['80gb', 80 * GiB],
    ['12.5 GiB', 12.5 * GiB],
    ['512MB', 512 * 2 ** 20],
    ['1TB', 2 ** 40],
  ])('reads %s', (text, bytes) => {
    expect(parseMemorySize(text)).toBe(bytes);
  });

  it.each(['24', '24XB', 'GB', '', '-1GB', '0GB', '24 G B', '1e3GB'])('refuses %j with VPL7137 and an example', (text) => {
    let error: unknown;
    try {
      parseMemorySize(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7137');
    expect((error as VplError).message).toContain(`'${text}'`);
    expect((error as VplError).help).toMatch(/24GB/);
  });
});

describe('fitOn', () => {
  it('says which common cards hold an estimate, and by how much', () => {
    const fits = fitOn(30 * GiB);
    expect(fits.map((f) => f.fits)).toEqual(COMMON_GPUS.map((g) => g.bytes >= 30 * GiB));
    const a10 = fits.find((f) => f.label.includes('A10'))!;
    expect(a10.spareBytes).toBe(-6 * GiB);
    const a100 = fits.find((f) => f.label === 'A100 40GB')!;
    expect(a100.spareBytes).toBe(10 * GiB);
  });

  it('lists the common cards smallest first', () => {
    const sizes = COMMON_GPUS.map((g) => g.bytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(sizes[0]).toBe(16 * GiB);
    expect(sizes.at(-1)).toBe(80 * GiB);
  });
});
