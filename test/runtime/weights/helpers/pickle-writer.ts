// Test helper: writes pickles opcode by opcode, the way torch.save (protocol 2) and newer
// protocols lay them out, so fixtures are made in the tests rather than committed.

/** A value to pickle, described as a tree. */
export type PickleNode =
  | null
  | boolean
  | number
  | string
  | { int: bigint }
  | { float: number }
  | { bytes: Uint8Array }
  | { global: [module: string, name: string] }
  | { call: PickleNode; args: PickleNode[] }
  | { tuple: PickleNode[] }
  | { list: PickleNode[] }
  | { dict: [PickleNode, PickleNode][] }
  | { persid: PickleNode }
  | { build: PickleNode; state: PickleNode }
  | { odict: [PickleNode, PickleNode][] };

export interface PickleWriterOptions {
  protocol?: 2 | 4;
  /** Memoize every container with BINPUT (torch.save does). */
  memo?: boolean;
}

export function writePickle(root: PickleNode, options: PickleWriterOptions = {}): Uint8Array {
  const protocol = options.protocol ?? 2;
  const out: number[] = [0x80, protocol];
  let memoIndex = 0;
  const bytes = (...b: number[]): void => void out.push(...b);
  const u32 = (n: number): void => bytes(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const text = (s: string): void => void out.push(...new TextEncoder().encode(s));
  const memo = (): void => {
    if (options.memo !== true) return;
    if (memoIndex < 256) bytes(0x71, memoIndex);
    else bytes(0x72), u32(memoIndex);
    memoIndex++;
  };
  const str = (s: string): void => {
    const encoded = new TextEncoder().encode(s);
    if (protocol >= 4 && encoded.length < 256) bytes(0x8c, encoded.length);
    else bytes(0x58), u32(encoded.length);
    out.push(...encoded);
  };
  const int = (n: bigint): void => {
    if (n >= 0n && n < 256n) return bytes(0x4b, Number(n));
    if (n >= 0n && n < 65536n) return bytes(0x4d, Number(n) & 0xff, Number(n) >> 8);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) return bytes(0x4a), u32(Number(BigInt.asUintN(32, n)));
    const raw: number[] = [];
    let v = n;
    while (true) {
      raw.push(Number(BigInt.asUintN(8, v)));
      v >>= 8n;
      if ((v === 0n && (raw[raw.length - 1]! & 0x80) === 0) || (v === -1n && (raw[raw.length - 1]! & 0x80) !== 0)) break;
    }
    bytes(0x8a, raw.length, ...raw);
  };

  const emit = (node: PickleNode): void => {
    if (node === null) return bytes(0x4e);
    if (node === true) return bytes(0x88);
    if (node === false) return bytes(0x89);
    if (typeof node === 'number') {
      if (Number.isInteger(node)) return int(BigInt(node));
      return emit({ float: node });
    }
    if (typeof node === 'string') return str(node);
    if ('int' in node) return int(node.int);
    if ('float' in node) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, node.float, false);
      return bytes(0x47, ...b);
    }
    if ('bytes' in node) {
      bytes(0x42), u32(node.bytes.length);
      out.push(...node.bytes);
      return;
    }
    if ('global' in node) {
      const [module, name] = node.global;
      if (protocol >= 4) {
        str(module), str(name), bytes(0x93);
      } else {
        bytes(0x63), text(`${module}\n${name}\n`);
      }
      return memo();
    }
    if ('call' in node) {
      emit(node.call);
      emit({ tuple: node.args });
      return bytes(0x52), memo();
    }
    if ('tuple' in node) {
      if (node.tuple.length === 0) return bytes(0x29);
      bytes(0x28);
      node.tuple.forEach(emit);
      return bytes(0x74), memo();
    }
    if ('list' in node) {
      bytes(0x5d), memo();
      if (node.list.length === 0) return;
      bytes(0x28);
      node.list.forEach(emit);
      return bytes(0x65);
    }
    if ('dict' in node) {
      bytes(0x7d), memo();
      if (node.dict.length === 0) return;
      bytes(0x28);
      for (const [k, v] of node.dict) emit(k), emit(v);
      return bytes(0x75);
    }
    if ('persid' in node) {
      emit(node.persid);
      return bytes(0x51);
    }
    if ('odict' in node) {
      emit({ global: ['collections', 'OrderedDict'] });
      bytes(0x29, 0x52), memo();
      if (node.odict.length === 0) return;
      bytes(0x28);
      for (const [k, v] of node.odict) emit(k), emit(v);
      return bytes(0x75);
    }
    emit(node.build);
    emit(node.state);
    bytes(0x62);
  };
  emit(root);
  bytes(0x2e);
  return Uint8Array.from(out);
}

export interface TensorFixture {
  storage: 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage' | 'LongStorage' | 'DoubleStorage' | 'IntStorage' | 'ComplexFloatStorage';
  key: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A tensor the way torch.save pickles it: _rebuild_tensor_v2(persistent storage, ...). */
export function tensorNode(t: TensorFixture): PickleNode {
  return {
    call: { global: ['torch._utils', '_rebuild_tensor_v2'] },
    args: [
      { persid: { tuple: ['storage', { global: ['torch', t.storage] }, t.key, 'cpu', t.numel] } },
      t.offset,
      { tuple: t.shape },
      { tuple: t.stride },
      false,
      { call: { global: ['collections', 'OrderedDict'] }, args: [] },
    ],
  };
}

/** An OrderedDict state dict: REDUCE(OrderedDict, ()) then SETITEMS, as torch.save writes it. */
export function orderedDictNode(items: [string, PickleNode][]): PickleNode {
  return { odict: items };
}
