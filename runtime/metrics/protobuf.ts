// Just enough protobuf wire format to write and read TensorBoard's small `Event` messages.
// Writing them by hand avoids loading a schema at runtime for four fields.

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  Fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private bytes: number[] = [];

  private tag(field: number, wire: WireType): void {
    this.varint(BigInt(field * 8 + wire));
  }

  private varint(value: bigint): void {
    // Negative int64 values are written as their two's-complement 64-bit form (10 bytes).
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }

  int64(field: number, value: number | bigint): this {
    this.tag(field, WireType.Varint);
    this.varint(BigInt(value));
    return this;
  }

  double(field: number, value: number): this {
    this.tag(field, WireType.Fixed64);
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.bytes.push(view.getUint8(i));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.bytes.push(view.getUint8(i));
    return this;
  }

  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited);
    this.varint(BigInt(value.length));
    for (const b of value) this.bytes.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** One decoded field: varints as bigint, fixed widths as raw little-endian bytes. */
export interface ProtoField {
  field: number;
  wire: WireType;
  varint?: bigint;
  bytes?: Uint8Array;
}

export class ProtoDecodeError extends Error {}

/** Splits a message into its fields; throws ProtoDecodeError on malformed input. */
export function readProtoFields(data: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= data.length) throw new ProtoDecodeError('varint runs past the end of the message');
      const b = data[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtoDecodeError('varint longer than 10 bytes');
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > data.length) throw new ProtoDecodeError(`field of ${n} bytes runs past the end of the message`);
    const out = data.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < data.length) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n) as WireType;
    switch (wire) {
      case WireType.Varint:
        fields.push({ field, wire, varint: readVarint() });
        break;
      case WireType.Fixed64:
        fields.push({ field, wire, bytes: take(8) });
        break;
      case WireType.Fixed32:
        fields.push({ field, wire, bytes: take(4) });
        break;
      case WireType.LengthDelimited:
        fields.push({ field, wire, bytes: take(Number(readVarint())) });
        break;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire} for field ${field}`);
    }
  }
  return fields;
}

export function fixedToDouble(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
}

export function fixedToFloat(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}
