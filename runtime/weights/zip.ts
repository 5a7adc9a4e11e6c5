// A minimal zip reader for PyTorch checkpoints: finds the central directory (zip64 too,
// for archives over 4 GB), lists entries, and reads an entry's bytes, or a range of a
// stored entry's bytes, with positioned reads. torch.save writes entries uncompressed
// ("stored"); deflated entries (an archive re-zipped by hand) are read whole and inflated.
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { VplError } from '../../diagnostics/error.ts';
import { ioError } from '../fs/io-error.ts';

const signatures = {
  localHeader: 0x04034b50,
  centralHeader: 0x02014b50,
  endOfCentralDirectory: 0x06054b50,
  zip64EndOfCentralDirectory: 0x06064b50,
  zip64Locator: 0x07064b50,
};
const eocdBytes = 22;
const maxCommentBytes = 0xffff;
const zip64ExtraId = 0x0001;

export const compression = { stored: 0, deflated: 8 } as const;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const zipHelp = 'the archive is corrupt or truncated; re-download it, or re-save it with torch.save';

function zipError(file: string, message: string): VplError {
  return new VplError('VPL7022', message, { file, help: zipHelp });
}

function u64(view: DataView, at: number, file: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw zipError(file, `a zip64 size or offset (${value}) is too large`);
  return Number(value);
}

export class ZipReader {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(path: string): Promise<ZipReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw ioError(error, path, 'read');
    }
    try {
      const { size } = await handle.stat();
      const entries = await readCentralDirectory(handle, path, size);
      return new ZipReader(path, handle, size, entries);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  /** Where an entry's data starts (after its local header, whose extra field may differ from the central one). */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const header = await readAt(this.handle, this.path, entry.localHeaderOffset, 30);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== signatures.localHeader) {
      throw zipError(this.path, `entry '${entry.name}' has no local header at byte ${entry.localHeaderOffset}`);
    }
    const start = entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + entry.compressedSize > this.size) {
      throw new VplError('VPL7011', `entry '${entry.name}' ends at byte ${start + entry.compressedSize} but the file has ${this.size} bytes: the file is truncated`, {
        file: this.path,
        help: 're-download or restore the file',
      });
    }
    return start;
  }

  /** The whole entry, inflated if needed. */
  async read(entry: ZipEntry): Promise<Uint8Array> {
    const start = await this.dataOffset(entry);
    const raw = await readAt(this.handle, this.path, start, entry.compressedSize);
    if (entry.method === compression.stored) return raw;
    if (entry.method === compression.deflated) {
      const inflated = inflateRawSync(raw);
      if (inflated.byteLength !== entry.uncompressedSize) throw zipError(this.path, `entry '${entry.name}' inflates to the wrong size`);
      const out = new Uint8Array(new ArrayBuffer(inflated.byteLength));
      out.set(inflated);
      return out;
    }
    throw unsupportedMethod(this.path, entry);
  }

  /** `length` bytes of the entry from `offset` on: a positioned read for stored entries. */
  async readRange(entry: ZipEntry, offset: number, length: number): Promise<Uint8Array> {
    if (offset + length > entry.uncompressedSize) {
      throw zipError(this.path, `a read of bytes ${offset}..${offset + length} runs past the end of entry '${entry.name}' (${entry.uncompressedSize} bytes)`);
    }
    if (entry.method === compression.stored) return readAt(this.handle, this.path, (await this.dataOffset(entry)) + offset, length);
    return (await this.read(entry)).slice(offset, offset + length);
  }
}

function unsupportedMethod(file: string, entry: ZipEntry): VplError {
  return new VplError('VPL7022', `entry '${entry.name}' uses zip compression method ${entry.method}; only stored and deflated entries can be read`, {
    file,
    help: 're-save the checkpoint with torch.save (which stores entries uncompressed)',
  });
}

async function readAt(handle: FileHandle, file: string, position: number, length: number): Promise<Uint8Array> {
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
      throw new VplError('VPL7011', `the file ended at byte ${position + done} while reading bytes up to ${position + length}: it is truncated`, {
        file,
        help: 're-download or restore the file',
      });
    }
    done += bytesRead;
  }
  return bytes;
}

async function readCentralDirectory(handle: FileHandle, file: string, size: number): Promise<Map<string, ZipEntry>> {
  // The end-of-central-directory record is the last thing in the file, before a comment of
  // up to 64 KiB: search backwards for its signature.
  const tailLength = Math.min(size, eocdBytes + maxCommentBytes);
  const tail = await readAt(handle, file, size - tailLength, tailLength);
  const tailView = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLength - eocdBytes; i >= 0; i--) {
    if (tailView.getUint32(i, true) === signatures.endOfCentralDirectory) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw zipError(file, 'no zip end-of-central-directory record: the file is truncated or not a zip archive');
  }
  let count = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);

  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const eocdFileOffset = size - tailLength + eocd;
    if (eocdFileOffset < 20) throw zipError(file, 'the zip64 locator is missing');
    const locator = new DataView((await readAt(handle, file, eocdFileOffset - 20, 20)).buffer);
    if (locator.getUint32(0, true) !== signatures.zip64Locator) throw zipError(file, 'the zip64 end-of-central-directory locator is missing');
    const zip64Offset = u64(locator, 8, file);
    const record = new DataView((await readAt(handle, file, zip64Offset, 56)).buffer);
    if (record.getUint32(0, true) !== signatures.zip64EndOfCentralDirectory) throw zipError(file, 'the zip64 end-of-central-directory record is missing');
    count = u64(record, 32, file);
    directorySize = u64(record, 40, file);
    directoryOffset = u64(record, 48, file);
  }
  if (directoryOffset + directorySize > size) {
    throw new VplError('VPL7011', `the zip central directory should end at byte ${directoryOffset + directorySize} but the file has ${size} bytes: the file is truncated`, {
      file,
      help: 're-download or restore the file',
    });
  }

  const directory = await readAt(handle, file, directoryOffset, directorySize);
  const view = new DataView(directory.buffer);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directorySize || view.getUint32(at, true) !== signatures.centralHeader) {
      throw zipError(file, `zip central directory entry ${i} of ${count} is malformed`);
    }
    const method = view.getUint16(at + 10, true);
    let compressedSize = view.getUint32(at + 20, true);
    let uncompressedSize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const name = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));

    // Zip64: fields set to 0xffffffff are given in the extra field, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = view.getUint16(extra, true);
      const length = view.getUint16(extra + 2, true);
      if (id === zip64ExtraId) {
        let field = extra + 4;
        if (uncompressedSize === 0xffffffff) (uncompressedSize = u64(view, field, file)), (field += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(view, field, file)), (field += 8);
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(view, field, file);
      }
      extra += 4 + length;
    }
    entries.set(name, { name, method, compressedSize, uncompressedSize, localHeaderOffset });
    at = extraEnd + commentLength;
  }
  return entries;
}
