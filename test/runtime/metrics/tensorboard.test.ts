import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from '../../../runtime/metrics/crc32c.ts';
import {
  FILE_VERSION,
  TensorBoardFileError,
  TensorBoardWriter,
  eventFileName,
  readTensorBoardFile,
} from '../../../runtime/metrics/tensorboard.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-tb-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeSample(): string {
  let clock = 1_700_000_000.25;
  const writer = new TensorBoardWriter(dir, { now: () => clock, hostname: 'box', pid: 42 });
  for (let step = 1; step <= 3; step++) {
    clock += 1;
    writer.addScalars(step, { loss: 1 / step, reward: step * 0.5 });
  }
  writer.markResumedAt(2);
  writer.addScalars(7, { 'val/score': -3.25 }, 1_700_000_100.5);
  writer.close();
  return writer.filePath;
}

describe('TensorBoard event files', () => {
  it('names the file by time, host and pid', () => {
    expect(eventFileName(1700000000.9, 'my/host', 7)).toBe('events.out.tfevents.1700000000.my_host.7.vplc');
    expect(path.basename(writeSample())).toBe('events.out.tfevents.1700000000.box.42.vplc');
  });

  it('gives a second writer in the same second its own file', () => {
    const a = new TensorBoardWriter(dir, { now: () => 5, hostname: 'h', pid: 1 });
    const b = new TensorBoardWriter(dir, { now: () => 5, hostname: 'h', pid: 1 });
    a.close();
    b.close();
    expect(path.basename(b.filePath)).toBe('events.out.tfevents.5.h.1.vplc.1');
    expect(readTensorBoardFile(a.filePath).events).toHaveLength(1);
  });

  it('writes a file_version event first, then scalars that read back', () => {
    const { events, truncatedTailAt } = readTensorBoardFile(writeSample());
    expect(truncatedTailAt).toBeUndefined();
    expect(events[0]).toMatchObject({ fileVersion: FILE_VERSION, step: 0, wallTime: 1_700_000_000.25 });
    expect(events).toHaveLength(6);
    expect(events[1]!.step).toBe(1);
    expect(events[1]!.wallTime).toBe(1_700_000_001.25);
    expect(events[2]!.scalars.map((s) => s.tag)).toEqual(['loss', 'reward']);
    expect(events[2]!.scalars[0]!.value).toBeCloseTo(0.5, 7);
    expect(events[3]!.scalars[0]!.value).toBeCloseTo(1 / 3, 6); // float32 precision
    expect(events[3]!.scalars[1]!.value).toBe(1.5);
    expect(events[4]).toMatchObject({ step: 2, sessionStart: true, scalars: [] });
    expect(events[5]).toMatchObject({ step: 7, wallTime: 1_700_000_100.5, scalars: [{ tag: 'val/score', value: -3.25 }] });
  });

  it('frames each record with the length, masked CRCs and data', () => {
    const bytes = fs.readFileSync(writeSample());
    const length = Number(bytes.readBigUInt64LE(0));
    expect(bytes.readUInt32LE(8)).toBe(maskedCrc32c(bytes.subarray(0, 8)));
    const data = bytes.subarray(12, 12 + length);
    expect(bytes.readUInt32LE(12 + length)).toBe(maskedCrc32c(data));
    expect(bytes.readUInt32LE(12 + length)).not.toBe(crc32c(data));
    expect(data.toString('latin1')).toContain(FILE_VERSION);
  });

  it('detects a flipped byte in the data and in the length', () => {
    const file = writeSample();
    const original = fs.readFileSync(file);
    const firstLength = Number(original.readBigUInt64LE(0));
    const secondRecord = 12 + firstLength + 4;
    const flipped = Buffer.from(original);
    flipped[secondRecord + 14]! ^= 0x01; // inside the second record's data
    fs.writeFileSync(file, flipped);
    expect(() => readTensorBoardFile(file)).toThrow(TensorBoardFileError);
    expect(() => readTensorBoardFile(file)).toThrow(/record 1 at byte \d+: data CRC mismatch/);

    const badLength = Buffer.from(original);
    badLength[0]! ^= 0x10;
    fs.writeFileSync(file, badLength);
    expect(() => readTensorBoardFile(file)).toThrow(/record 0 at byte 0: length CRC mismatch/);
  });

  it('reports a truncated last record instead of failing', () => {
    const file = writeSample();
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, full.subarray(0, full.length - 5));
    const { events, truncatedTailAt } = readTensorBoardFile(file);
    expect(events).toHaveLength(5);
    expect(truncatedTailAt).toBeGreaterThan(0);
  });
});

describe('Event encoding cross-checked with protobufjs', () => {
  // protobufjs comes with onnx-proto; decoding our hand-written bytes with a schema-driven
  // decoder checks field numbers and wire types against the tensorflow.Event definition.
  it('decodes our events with the Event schema', async () => {
    const protobuf = (await import('protobufjs')).default;
    const root = protobuf.Root.fromJSON({
      nested: {
        Event: {
          fields: {
            wall_time: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            file_version: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            session_log: { type: 'SessionLog', id: 7 },
          },
        },
        Summary: { fields: { value: { rule: 'repeated', type: 'Value', id: 1 } } },
        Value: { fields: { tag: { type: 'string', id: 1 }, simple_value: { type: 'float', id: 2 } } },
        SessionLog: { fields: { status: { type: 'int32', id: 1 } } },
      },
    });
    const Event = root.lookupType('Event');
    const { encodeEvent } = await import('../../../runtime/metrics/tensorboard.ts');
    const decoded = Event.toObject(
      Event.decode(encodeEvent({ wallTime: 1234.5, step: 3_000_000_000, scalars: [{ tag: 'loss', value: 0.25 }] })),
      { longs: Number },
    );
    expect(decoded).toEqual({ wall_time: 1234.5, step: 3_000_000_000, summary: { value: [{ tag: 'loss', simple_value: 0.25 }] } });
    const version = Event.toObject(Event.decode(encodeEvent({ wallTime: 1, step: 0, fileVersion: FILE_VERSION, scalars: [] })), { longs: Number });
    expect(version).toEqual({ wall_time: 1, step: 0, file_version: 'brain.Event:2' });
    const start = Event.toObject(Event.decode(encodeEvent({ wallTime: 1, step: 9, scalars: [], sessionStart: true })), { longs: Number });
    expect(start.session_log).toEqual({ status: 1 });
  });
});
