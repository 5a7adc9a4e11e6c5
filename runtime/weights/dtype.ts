// Tensor element types as weights files name them, with their sizes and the typed arrays
// that hold them. Half-precision types have no JS typed array (Node 20 lacks Float16Array),
// so they are held as raw Uint16 bits and converted to Float32 on request.

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type TypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

interface DtypeInfo {
  bytes: number;
  isFloat: boolean;
  /** The typed array that holds the raw elements. */
  array: (buffer: ArrayBuffer, byteOffset: number, length: number) => TypedArray;
}

export const dtypes: Record<Dtype, DtypeInfo> = {
  F64: { bytes: 8, isFloat: true, array: (b, o, n) => new Float64Array(b, o, n) },
  F32: { bytes: 4, isFloat: true, array: (b, o, n) => new Float32Array(b, o, n) },
  F16: { bytes: 2, isFloat: true, array: (b, o, n) => new Uint16Array(b, o, n) },
  BF16: { bytes: 2, isFloat: true, array: (b, o, n) => new Uint16Array(b, o, n) },
  I64: { bytes: 8, isFloat: false, array: (b, o, n) => new BigInt64Array(b, o, n) },
  I32: { bytes: 4, isFloat: false, array: (b, o, n) => new Int32Array(b, o, n) },
  I16: { bytes: 2, isFloat: false, array: (b, o, n) => new Int16Array(b, o, n) },
  I8: { bytes: 1, isFloat: false, array: (b, o, n) => new Int8Array(b, o, n) },
  U8: { bytes: 1, isFloat: false, array: (b, o, n) => new Uint8Array(b, o, n) },
  BOOL: { bytes: 1, isFloat: false, array: (b, o, n) => new Uint8Array(b, o, n) },
};

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(dtypes, value);
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The typed array holding `bytes` reinterpreted as `dtype` (no copy; bytes must be aligned). */
export function viewAs(dtype: Dtype, bytes: Uint8Array): TypedArray {
  const info = dtypes[dtype];
  if (bytes.byteOffset % info.bytes !== 0) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    bytes = copy;
  }
  return info.array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / info.bytes);
}

/** The dtype a typed array naturally holds (Uint16 is ambiguous: say F16 or BF16 explicitly). */
export function dtypeOfArray(array: ArrayBufferView): Dtype | undefined {
  if (array instanceof Float64Array) return 'F64';
  if (array instanceof Float32Array) return 'F32';
  if (array instanceof BigInt64Array) return 'I64';
  if (array instanceof Int32Array) return 'I32';
  if (array instanceof Int16Array) return 'I16';
  if (array instanceof Int8Array) return 'I8';
  if (array instanceof Uint8Array) return 'U8';
  return undefined;
}

// ---- half precision

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal (and zero)
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Float to IEEE half bits, rounding to nearest even. */
export function numberToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent: correct
  return sign | half;
}

export function bf16BitsToNumber(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

/** Float to bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function numberToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Any readable element type as Float32 (I64 is converted through Number). */
let halves: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!halves) {
    halves = new Float32Array(1 << 16);
    for (let bits = 0; bits < 1 << 16; bits++) halves[bits] = f16BitsToNumber(bits);
  }
  return halves;
}

export function toFloat32(dtype: Dtype, data: TypedArray): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'F16') {
    // a table of all 65536 halves: a 2.8 GB fp16 UNet converts in seconds, not minutes
    const bits = data as Uint16Array;
    const table = f16Table();
    for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  } else if (dtype === 'BF16') {
    const bits = data as Uint16Array;
    const wide = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) wide[i] = bits[i]! << 16;
  } else if (dtype === 'I64') {
    const ints = data as BigInt64Array;
    for (let i = 0; i < ints.length; i++) out[i] = Number(ints[i]!);
  } else {
    out.set(data as Exclude<TypedArray, BigInt64Array>);
  }
  return out;
}

/** Float32 values encoded as a float dtype (for writing half-precision weights). */
export function fromFloat32(dtype: 'F32' | 'F16' | 'BF16' | 'F64', values: Float32Array): TypedArray {
  switch (dtype) {
    case 'F32':
      return values;
    case 'F64':
      return Float64Array.from(values);
    case 'F16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = numberToF16Bits(values[i]!);
      return out;
    }
    case 'BF16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = numberToBf16Bits(values[i]!);
      return out;
    }
  }
}
