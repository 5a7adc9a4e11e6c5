// TensorBoard event files ("tfevents"), written and read without TensorFlow.
//
// A file is a sequence of TFRecords:
//   uint64 length (LE) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data
// and each record's data is a serialized `tensorflow.Event`. The fields used here:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
//             Summary summary = 5; SessionLog session_log = 7; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
//   SessionLog { Status status = 1; }   // START = 1
// The first record is always the `file_version: "brain.Event:2"` event.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { maskedCrc32c } from './crc32c.ts';
import { ProtoWriter, WireType, fixedToDouble, fixedToFloat, readProtoFields, ProtoDecodeError } from './protobuf.ts';

export const FILE_VERSION = 'brain.Event:2';
const SESSION_LOG_START = 1;

export interface TensorBoardEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** Scalars by tag, in file order. Float32 precision: that is what simple_value stores. */
  scalars: Array<{ tag: string; value: number }>;
  /** True for a SessionLog START event (written on resume). */
  sessionStart?: boolean;
}

export interface TensorBoardWriterOptions {
  /** Wall clock in seconds; injectable for tests. */
  now?: () => number;
  hostname?: string;
  pid?: number;
}

/** Builds the conventional file name: events.out.tfevents.<unix seconds>.<host>.<pid>.vplc */
export function eventFileName(unixSeconds: number, hostname: string, pid: number): string {
  // A hostname with path separators would escape the log directory.
  const safeHost = hostname.replace(/[^A-Za-z0-9._-]/g, '_');
  return `events.out.tfevents.${Math.floor(unixSeconds)}.${safeHost}.${pid}.vplc`;
}

export function encodeEvent(event: TensorBoardEvent): Uint8Array {
  const w = new ProtoWriter().double(1, event.wallTime).int64(2, event.step);
  if (event.fileVersion !== undefined) w.string(3, event.fileVersion);
  if (event.scalars.length > 0) {
    const summary = new ProtoWriter();
    for (const { tag, value } of event.scalars) summary.message(1, new ProtoWriter().string(1, tag).float(2, value));
    w.message(5, summary);
  }
  if (event.sessionStart) w.message(7, new ProtoWriter().int64(1, SESSION_LOG_START));
  return w.finish();
}

/** Frames `data` as one TFRecord. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return record;
}

/**
 * Appends scalar events to a new event file in `logDir`. Writes go straight to the file
 * (a crash loses nothing already logged); `flush()` fsyncs, for checkpoint boundaries.
 */
export class TensorBoardWriter {
  readonly filePath: string;
  private fd: number | undefined;
  private readonly now: () => number;

  constructor(logDir: string, options: TensorBoardWriterOptions = {}) {
    this.now = options.now ?? (() => Date.now() / 1000);
    fs.mkdirSync(logDir, { recursive: true });
    const wallTime = this.now();
    const base = path.join(logDir, eventFileName(wallTime, options.hostname ?? os.hostname(), options.pid ?? process.pid));
    // Two writers in one process within a second would share a name: number the later ones.
    let filePath = base;
    let fd: number | undefined;
    for (let n = 1; fd === undefined; n++) {
      try {
        fd = fs.openSync(filePath, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        filePath = `${base}.${n}`;
      }
    }
    this.filePath = filePath;
    this.fd = fd;
    this.writeEvent({ wallTime, step: 0, fileVersion: FILE_VERSION, scalars: [] });
  }

  /** Logs every finite-or-not number in `values` under its name as a tag, at `step`. */
  addScalars(step: number, values: Readonly<Record<string, number>>, wallTime = this.now()): void {
    const scalars = Object.entries(values).map(([tag, value]) => ({ tag, value }));
    if (scalars.length > 0) this.writeEvent({ wallTime, step, scalars });
  }

  /**
   * Marks a restart at `step`: TensorBoard then discards events from earlier files at or
   * after this step, so a resumed run does not draw the crashed run's tail twice.
   */
  markResumedAt(step: number): void {
    this.writeEvent({ wallTime: this.now(), step, scalars: [], sessionStart: true });
  }

  flush(): void {
    if (this.fd !== undefined) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private writeEvent(event: TensorBoardEvent): void {
    if (this.fd === undefined) throw new Error(`TensorBoard writer for ${this.filePath} is already closed`);
    fs.writeSync(this.fd, encodeRecord(encodeEvent(event)));
  }
}

/** A damaged event file: names the file, the record and the byte offset. */
export class TensorBoardFileError extends Error {
  constructor(
    readonly filePath: string,
    readonly recordIndex: number,
    readonly byteOffset: number,
    problem: string,
  ) {
    super(
      `${filePath}: record ${recordIndex} at byte ${byteOffset}: ${problem}. ` +
        'The event file is damaged; delete it (metrics.jsonl holds the same values) or re-run.',
    );
    this.name = 'TensorBoardFileError';
  }
}

export interface TensorBoardFileContents {
  events: TensorBoardEvent[];
  /** Byte offset of an incomplete last record (a crash mid-write), if any. */
  truncatedTailAt?: number;
}

export function decodeEvent(data: Uint8Array): TensorBoardEvent {
  const event: TensorBoardEvent = { wallTime: 0, step: 0, scalars: [] };
  for (const f of readProtoFields(data)) {
    if (f.field === 1 && f.wire === WireType.Fixed64) event.wallTime = fixedToDouble(f.bytes!);
    else if (f.field === 2 && f.wire === WireType.Varint) event.step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.field === 3 && f.wire === WireType.LengthDelimited) event.fileVersion = new TextDecoder().decode(f.bytes!);
    else if (f.field === 5 && f.wire === WireType.LengthDelimited) {
      for (const v of readProtoFields(f.bytes!)) {
        if (v.field !== 1 || v.wire !== WireType.LengthDelimited) continue;
        let tag = '';
        let value: number | undefined;
        for (const vf of readProtoFields(v.bytes!)) {
          if (vf.field === 1 && vf.wire === WireType.LengthDelimited) tag = new TextDecoder().decode(vf.bytes!);
          else if (vf.field === 2 && vf.wire === WireType.Fixed32) value = fixedToFloat(vf.bytes!);
        }
        // Values that are not simple scalars (images, histograms) are skipped.
        if (value !== undefined) event.scalars.push({ tag, value });
      }
    } else if (f.field === 7 && f.wire === WireType.LengthDelimited) {
      const status = readProtoFields(f.bytes!).find((s) => s.field === 1 && s.wire === WireType.Varint);
      if (status?.varint === BigInt(SESSION_LOG_START)) event.sessionStart = true;
    }
  }
  return event;
}

/**
 * Reads an event file, verifying both CRCs of every record. A damaged record throws
 * TensorBoardFileError; an incomplete final record is reported, not thrown (a crash).
 */
export function readTensorBoardFile(filePath: string): TensorBoardFileContents {
  const bytes = new Uint8Array(fs.readFileSync(filePath));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: TensorBoardEvent[] = [];
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    if (offset + 12 > bytes.length) return { events, truncatedTailAt: offset };
    const lengthCrc = view.getUint32(offset + 8, true);
    if (maskedCrc32c(bytes.subarray(offset, offset + 8)) !== lengthCrc) {
      throw new TensorBoardFileError(filePath, index, offset, 'length CRC mismatch');
    }
    const length = Number(view.getBigUint64(offset, true));
    const dataStart = offset + 12;
    if (dataStart + length + 4 > bytes.length) return { events, truncatedTailAt: offset };
    const data = bytes.subarray(dataStart, dataStart + length);
    if (maskedCrc32c(data) !== view.getUint32(dataStart + length, true)) {
      throw new TensorBoardFileError(filePath, index, offset, 'data CRC mismatch');
    }
    try {
      events.push(decodeEvent(data));
    } catch (error) {
      if (error instanceof ProtoDecodeError) throw new TensorBoardFileError(filePath, index, offset, error.message);
      throw error;
    }
    offset = dataStart + length + 4;
  }
  return { events };
}
