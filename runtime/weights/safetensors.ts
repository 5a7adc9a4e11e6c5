// Reading and writing safetensors files: an 8-byte little-endian header length, a JSON
// header (name -> dtype, shape, data_offsets, plus optional "__metadata__" strings), then
// the raw tensor bytes. Reading validates the whole header first, then reads one tensor at a
// time with positioned reads, so a multi-GB file is never loaded whole. Writing streams the
// header and then each tensor in turn into an atomically renamed file.
import { open, type FileHandle } from 'node:fs/promises';
import { VplError } from '../../diagnostics/error.ts';
import { writeFileAtomic, type ContentProducer, type WriteOptions, type WriteResult } from '../fs/atomic.ts';
import { ioError } from '../fs/io-error.ts';
import { dtypeOfArray, dtypes, isDtype, numelOf, toFloat32, viewAs, type Dtype, type TypedArray } from './dtype.ts';

/** The reference implementation's limit; a larger "header" means the file is not safetensors. */
export const maxHeaderBytes = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Where the tensor's bytes start, counted from the start of the file. */
  fileOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In file order. */
  entries: Map<string, SafetensorsEntry>;
  /** Where tensor data starts (8 + header length). */
  dataStart: number;
}

const truncatedHelp = 're-download or restore the file; if vplc wrote it, an earlier checkpoint is intact';
const corruptHelp = 'the file is corrupt or not a safetensors file; re-download it or re-export it';

function corrupt(file: string, message: string): VplError {
  return new VplError('VPL7010', message, { file, help: corruptHelp });
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Validates a header given its JSON bytes and the total file size. Pure, so corrupt
 * headers can be tested without files.
 */
export function parseSafetensorsHeader(json: Uint8Array, file: string, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw corrupt(file, 'the safetensors header is not UTF-8 text');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, `the safetensors header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt(file, 'the safetensors header is not a JSON object');
  }

  const metadata: Record<string, string> = {};
  const unordered: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw corrupt(file, '"__metadata__" in the safetensors header must be an object of strings');
      }
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          throw corrupt(file, `"__metadata__.${key}" in the safetensors header must be a string, not ${JSON.stringify(value)}`);
        }
        metadata[key] = value;
      }
      continue;
    }
    unordered.push(parseEntry(name, raw, file, dataStart));
  }

  // The data section must be covered exactly: sorted by start, each tensor begins where
  // the previous ended, the first at 0 and the last at the end of the file.
  const sorted = [...unordered].sort((a, b) => a.fileOffset - b.fileOffset || a.byteLength - b.byteLength);
  let cursor = dataStart;
  let previous: SafetensorsEntry | undefined;
  for (const entry of sorted) {
    if (entry.fileOffset < cursor) {
      throw corrupt(file, `tensors '${previous!.name}' and '${entry.name}' overlap in the safetensors data section`);
    }
    if (entry.fileOffset > cursor) {
      const gap = entry.fileOffset - cursor;
      throw corrupt(
        file,
        previous === undefined
          ? `the safetensors data section starts with ${gap} bytes that belong to no tensor`
          : `there are ${gap} bytes between tensors '${previous.name}' and '${entry.name}' that belong to no tensor`,
      );
    }
    const end = entry.fileOffset + entry.byteLength;
    if (end > fileSize) {
      throw new VplError(
        'VPL7011',
        `the header says '${entry.name}' ends at byte ${end} but the file has ${fileSize} bytes: the file is truncated`,
        { file, help: truncatedHelp },
      );
    }
    cursor = end;
    previous = entry;
  }
  if (cursor < fileSize) {
    throw corrupt(file, `the file has ${fileSize - cursor} bytes after the last tensor that belong to no tensor`);
  }
  return { metadata, entries: new Map(unordered.map((e) => [e.name, e])), dataStart };
}

function parseEntry(name: string, raw: unknown, file: string, dataStart: number): SafetensorsEntry {
  const where = `tensor '${name}' in the safetensors header`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw corrupt(file, `${where} is not an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new VplError('VPL7012', `${where} has dtype ${JSON.stringify(dtype)}, which vplc cannot read`, {
      file,
      help: `supported dtypes: ${Object.keys(dtypes).join(', ')}; convert the file (e.g. to F16 or F32)`,
    });
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw corrupt(file, `${where} has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
    throw corrupt(file, `${where} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = numelOf(shape) * dtypes[dtype].bytes;
  if (end - begin !== expected) {
    throw corrupt(
      file,
      `${where} has shape ${describeShape(shape)} and dtype ${dtype} (${expected} bytes) but its data_offsets span ${end - begin} bytes`,
    );
  }
  return { name, dtype, shape: [...shape], fileOffset: dataStart + begin, byteLength: expected };
}

async function readExactly(handle: FileHandle, file: string, position: number, length: number, what: string): Promise<Uint8Array> {
  // An ArrayBuffer of its own keeps the typed array views aligned.
  const bytes = new Uint8Array(new ArrayBuffer(length));
  let done = 0;
  while (done < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(bytes, done, Math.min(length - done, 1 << 30), position + done));
    } catch (error) {
      throw ioError(error, file, 'read');
    }
    if (bytesRead === 0) {
      throw new VplError('VPL7011', `the file ended at byte ${position + done} while reading ${what} (expected ${position + length} bytes): it is truncated or was changed while being read`, {
        file,
        help: truncatedHelp,
      });
    }
    done += bytesRead;
  }
  return bytes;
}

/** An open safetensors file: the validated header, and tensors read on demand. */
export class SafetensorsReader {
  private constructor(
    readonly path: string,
    private handle: FileHandle | undefined,
    readonly header: SafetensorsHeader,
  ) {}

  static async open(path: string): Promise<SafetensorsReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw ioError(error, path, 'read');
    }
    try {
      const { size } = await handle.stat();
      if (size < 8) {
        throw new VplError('VPL7011', `the file is ${size} bytes long, too short to be a safetensors file (the header length alone takes 8)`, {
          file: path,
          help: truncatedHelp,
        });
      }
      const prefix = await readExactly(handle, path, 0, 8, 'the header length');
      const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(maxHeaderBytes)) {
        throw corrupt(path, `the first 8 bytes give a header length of ${headerLength} bytes, more than the ${maxHeaderBytes}-byte limit: this is not a safetensors file`);
      }
      const length = Number(headerLength);
      if (8 + length > size) {
        throw new VplError('VPL7011', `the header is ${length} bytes long but the file has only ${size - 8} bytes after the length: the file is truncated`, {
          file: path,
          help: truncatedHelp,
        });
      }
      const json = await readExactly(handle, path, 8, length, 'the header');
      return new SafetensorsReader(path, handle, parseSafetensorsHeader(json, path, size));
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  names(): string[] {
    return [...this.header.entries.keys()];
  }

  has(name: string): boolean {
    return this.header.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const entry = this.header.entries.get(name);
    if (entry === undefined) {
      const near = this.names().filter((n) => n.endsWith(name) || name.endsWith(n)).slice(0, 3);
      throw new VplError('VPL7013', `the file has no tensor named '${name}' (it has ${this.header.entries.size})`, {
        file: this.path,
        help: near.length > 0 ? `did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : 'check the tensor name, or the rename rules that map checkpoint keys',
      });
    }
    return entry;
  }

  /** The tensor's raw elements (F16/BF16 as Uint16 bits). */
  async read(name: string): Promise<TypedArray> {
    const entry = this.entry(name);
    if (this.handle === undefined) throw new Error(`SafetensorsReader for '${this.path}' used after close()`);
    const bytes = await readExactly(this.handle, this.path, entry.fileOffset, entry.byteLength, `tensor '${name}'`);
    return viewAs(entry.dtype, bytes);
  }

  /** The tensor as Float32, converting half precision and integers. */
  async readFloat32(name: string): Promise<Float32Array> {
    return toFloat32(this.entry(name).dtype, await this.read(name));
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

export interface LoadedTensor {
  dtype: Dtype;
  shape: number[];
  data: TypedArray;
}

/** Reads every tensor of a (small) file: for LoRA weights and optimizer state. */
export async function readSafetensors(path: string): Promise<{ metadata: Record<string, string>; tensors: Map<string, LoadedTensor> }> {
  const reader = await SafetensorsReader.open(path);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const entry of reader.header.entries.values()) {
      tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: await reader.read(entry.name) });
    }
    return { metadata: reader.metadata, tensors };
  } finally {
    await reader.close();
  }
}

// ---- writing

export type TensorBytes = ArrayBufferView;

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /** The elements, or a function that produces them when their turn comes (streaming). */
  data: TensorBytes | (() => TensorBytes | Promise<TensorBytes>);
}

/** Which typed arrays can hold each dtype: catches e.g. an Int32Array declared as F32. */
function arrayFits(dtype: Dtype, data: ArrayBufferView): boolean {
  const natural = dtypeOfArray(data);
  if (data instanceof Uint16Array) return dtype === 'F16' || dtype === 'BF16';
  if (natural === 'U8') return true; // raw bytes are accepted for any dtype
  return natural === dtype;
}

function invalidTensor(file: string, message: string): VplError {
  return new VplError('VPL7014', message, { file, help: 'this is a bug in the code that produced the tensor; please report it' });
}

/** The header bytes (padded with spaces so tensor data starts 8-byte aligned). */
export function encodeSafetensorsHeader(tensors: readonly TensorToWrite[], metadata: Record<string, string> | undefined, file: string): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === '' || tensor.name === '__metadata__' || Object.hasOwn(header, tensor.name)) {
      throw invalidTensor(file, `cannot write a tensor named '${tensor.name}': names must be non-empty, unique and not "__metadata__"`);
    }
    if (!isDtype(tensor.dtype)) throw invalidTensor(file, `tensor '${tensor.name}' has unknown dtype '${String(tensor.dtype)}'`);
    if (!tensor.shape.every(isSize)) throw invalidTensor(file, `tensor '${tensor.name}' has invalid shape ${describeShape(tensor.shape)}`);
    const bytes = numelOf(tensor.shape) * dtypes[tensor.dtype].bytes;
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  const padded = json + ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const body = Buffer.from(padded, 'utf8');
  const out = new Uint8Array(8 + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.byteLength), true);
  out.set(body, 8);
  return out;
}

/** A producer for the atomic writers: the header, then each tensor in turn. */
export function safetensorsContent(tensors: readonly TensorToWrite[], metadata: Record<string, string> | undefined, file: string): ContentProducer {
  const header = encodeSafetensorsHeader(tensors, metadata, file);
  return async (sink) => {
    await sink.write(header);
    for (const tensor of tensors) {
      const data = typeof tensor.data === 'function' ? await tensor.data() : tensor.data;
      const expected = numelOf(tensor.shape) * dtypes[tensor.dtype].bytes;
      if (data.byteLength !== expected) {
        throw invalidTensor(
          file,
          `tensor '${tensor.name}' is declared ${tensor.dtype} ${describeShape(tensor.shape)} (${expected} bytes) but its data has ${data.byteLength} bytes`,
        );
      }
      if (!arrayFits(tensor.dtype, data)) {
        throw invalidTensor(file, `tensor '${tensor.name}' is declared ${tensor.dtype} but its data is a ${data.constructor.name}`);
      }
      await sink.write(data);
    }
  };
}

export interface WriteSafetensorsOptions extends WriteOptions {
  metadata?: Record<string, string>;
}

/** Writes a safetensors file atomically, streaming one tensor at a time. */
export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], options: WriteSafetensorsOptions = {}): Promise<WriteResult> {
  return writeFileAtomic(path, safetensorsContent(tensors, options.metadata, path), options);
}
