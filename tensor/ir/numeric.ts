// JS numbers -> typed arrays of any IR dtype (constants, constant inputs, initialisers).
import { allocate, type DType, type TypedArray } from './dtype.ts';

/** JS numbers as a typed array of `dtype` (float16/bfloat16 as bit patterns, rounded to nearest even). */
export function numericData(dtype: DType, numbers: readonly number[]): TypedArray {
  const data = allocate(dtype, numbers.length);
  numbers.forEach((x, i) => {
    if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(x));
    else if (dtype === 'float16') data[i] = float16Bits(x);
    else if (dtype === 'bfloat16') data[i] = bfloat16Bits(x);
    else data[i] = x;
  });
  return data;
}

export function bfloat16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  if (Number.isNaN(x)) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function float16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** Decode float16 bits (for tests and reading fp16 outputs). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
