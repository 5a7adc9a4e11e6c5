import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MetricsFileError,
  MetricsWriter,
  readMetrics,
  truncateMetricsAfter,
} from '../../../runtime/metrics/jsonl.ts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-jsonl-'));
  file = path.join(dir, 'run', 'metrics.jsonl');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function logSteps(steps: number[]): void {
  const writer = new MetricsWriter(file, { now: () => 1000 });
  for (const step of steps) writer.log(step, { loss: step / 10, reward: -step });
  writer.flush();
  writer.close();
}

describe('metrics.jsonl', () => {
  it('writes one JSON object per line and reads them back', () => {
    logSteps([1, 2, 3]);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0]!)).toEqual({ step: 1, wall_time: 1000, loss: 0.1, reward: -1 });
    const { records, tornLine } = readMetrics(file);
    expect(tornLine).toBeUndefined();
    expect(records.map((r) => r.step)).toEqual([1, 2, 3]);
    expect(records[2]!.values).toEqual({ loss: 0.3, reward: -3 });
  });

  it('appends to an existing file', () => {
    logSteps([1]);
    logSteps([2]);
    expect(readMetrics(file).records.map((r) => r.step)).toEqual([1, 2]);
  });

  it('round-trips NaN and infinities', () => {
    const writer = new MetricsWriter(file);
    writer.log(5, { loss: NaN, grad_norm: Infinity, low: -Infinity }, 12.5);
    writer.close();
    const [record] = readMetrics(file).records;
    expect(record!.wallTime).toBe(12.5);
    expect(record!.values.loss).toBeNaN();
    expect(record!.values.grad_norm).toBe(Infinity);
    expect(record!.values.low).toBe(-Infinity);
  });

  it('reads a missing file as empty', () => {
    expect(readMetrics(path.join(dir, 'absent.jsonl'))).toEqual({ records: [] });
  });

  it('tolerates and reports a torn last line', () => {
    logSteps([1, 2]);
    fs.appendFileSync(file, '{"step":3,"wall_ti');
    const { records, tornLine } = readMetrics(file);
    expect(records.map((r) => r.step)).toEqual([1, 2]);
    expect(tornLine).toEqual({ lineNumber: 3, text: '{"step":3,"wall_ti' });
  });

  it('rejects a damaged line in the middle with file and line', () => {
    logSteps([1]);
    fs.appendFileSync(file, 'garbage\n');
    logSteps([2]);
    expect(() => readMetrics(file)).toThrow(MetricsFileError);
    expect(() => readMetrics(file)).toThrow(`${file}:2: not valid JSON`);
    fs.writeFileSync(file, '{"step":1,"wall_time":1,"loss":"high"}\n{"step":2,"wall_time":1}\n');
    expect(() => readMetrics(file)).toThrow(/:1: metric 'loss' is not a number/);
  });

  it('truncates records past a step and drops a torn line', () => {
    logSteps([1, 2, 3, 4, 5]);
    fs.appendFileSync(file, '{"step":6');
    expect(truncateMetricsAfter(file, 3)).toEqual({ kept: 3, dropped: 2 });
    const after = readMetrics(file);
    expect(after.tornLine).toBeUndefined();
    expect(after.records.map((r) => r.step)).toEqual([1, 2, 3]);
    // A resumed run appends after the kept lines.
    logSteps([4]);
    expect(readMetrics(file).records.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['metrics.jsonl']);
  });

  it('leaves the file alone when nothing is past the step', () => {
    logSteps([1, 2]);
    const before = fs.statSync(file).mtimeMs;
    expect(truncateMetricsAfter(file, 10)).toEqual({ kept: 2, dropped: 0 });
    expect(fs.statSync(file).mtimeMs).toBe(before);
  });

  it('refuses reserved metric names', () => {
    const writer = new MetricsWriter(file);
    expect(() => writer.log(1, { step: 3 })).toThrow(/reserved/);
    writer.close();
  });
});
