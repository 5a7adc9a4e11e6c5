// GIF's variable-length LZW compression (GIF89a spec, appendix F).
//
// Codes start one bit wider than the minimum code size, grow by one bit each time the
// next free code needs it, and stop growing at 12 bits: when the table is full the encoder
// emits a clear code and starts over. Codes are packed least-significant bit first.

const MAX_CODE = 4096;

/** LZW-compresses palette indices (each < 2^minCodeSize) into GIF's packed code stream. */
export function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clearCode = 1 << minCodeSize;
  const endCode = clearCode + 1;
  const out: number[] = [];
  let bitBuffer = 0;
  let bitCount = 0;
  let codeSize = minCodeSize + 1;
  const emit = (code: number): void => {
    bitBuffer |= code << bitCount;
    bitCount += codeSize;
    while (bitCount >= 8) {
      out.push(bitBuffer & 0xff);
      bitBuffer >>>= 8;
      bitCount -= 8;
    }
  };

  // The table maps (prefix code, next index) to a code; keyed as prefix * 256 + index.
  let table = new Map<number, number>();
  let nextCode = endCode + 1;
  emit(clearCode);
  if (indices.length > 0) {
    let prefix = indices[0]!;
    for (let i = 1; i < indices.length; i++) {
      const k = indices[i]!;
      const key = prefix * 256 + k;
      const known = table.get(key);
      if (known !== undefined) {
        prefix = known;
        continue;
      }
      emit(prefix);
      if (nextCode === MAX_CODE) {
        emit(clearCode);
        table = new Map();
        nextCode = endCode + 1;
        codeSize = minCodeSize + 1;
      } else {
        // The decoder adds this entry one code later, and widens when its next free code
        // reaches 2^codeSize: widening here, before adding, keeps the two in step.
        if (nextCode >= 1 << codeSize) codeSize++;
        table.set(key, nextCode++);
      }
      prefix = k;
    }
    emit(prefix);
  }
  emit(endCode);
  if (bitCount > 0) out.push(bitBuffer & 0xff);
  return Uint8Array.from(out);
}
