import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';
import { RunMetrics } from '../../../runtime/metrics/run-metrics.ts';
import { readTensorBoardFile } from '../../../runtime/metrics/tensorboard.ts';

let runDir: string;
beforeEach(() => {
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-run-metrics-'));
});
afterEach(() => fs.rmSync(runDir, { recursive: true, force: true }));

describe('RunMetrics', () => {
  it('logs each step to metrics.jsonl and TensorBoard with the same wall time', () => {
    let clock = 100;
    const metrics = new RunMetrics(runDir, { now: () => (clock += 1), tensorboardOptions: { hostname: 'h', pid: 1 } });
    metrics.log(1, { loss: 0.5 });
    metrics.log(2, { loss: 0.25, reward: 2 });
    metrics.flush();
    metrics.close();
    const { records } = readMetrics(path.join(runDir, 'metrics.jsonl'));
    expect(records).toEqual([
      { step: 1, wallTime: 102, values: { loss: 0.5 } },
      { step: 2, wallTime: 103, values: { loss: 0.25, reward: 2 } },
    ]);
    expect(path.dirname(metrics.tensorboardPath!)).toBe(path.join(runDir, 'tb'));
    const { events } = readTensorBoardFile(metrics.tensorboardPath!);
    expect(events.slice(1).map((e) => [e.step, e.wallTime, e.scalars.length])).toEqual([[1, 102, 1], [2, 103, 2]]);
  });

  it('on resume drops later metrics and marks the restart for TensorBoard', () => {
    const first = new RunMetrics(runDir, { tensorboardOptions: { pid: 1 } });
    for (let step = 1; step <= 7; step++) first.log(step, { loss: step });
    first.close();
    const resumed = new RunMetrics(runDir, { resumeFromStep: 5, tensorboardOptions: { pid: 2 } });
    expect(resumed.droppedOnResume).toBe(2);
    resumed.log(6, { loss: 60 });
    resumed.close();
    const steps = readMetrics(path.join(runDir, 'metrics.jsonl')).records.map((r) => [r.step, r.values.loss]);
    expect(steps).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 60]]);
    const { events } = readTensorBoardFile(resumed.tensorboardPath!);
    expect(events[1]).toMatchObject({ step: 6, sessionStart: true });
    expect(fs.readdirSync(path.join(runDir, 'tb'))).toHaveLength(2);
  });

  it('can skip TensorBoard', () => {
    const metrics = new RunMetrics(runDir, { tensorboard: false });
    metrics.log(1, { loss: 1 });
    metrics.close();
    expect(metrics.tensorboardPath).toBeUndefined();
    expect(fs.existsSync(path.join(runDir, 'tb'))).toBe(false);
  });
});
