import { describe, expect, it } from 'vitest';
import { ProgressReporter, formatDuration, formatRate, type ProgressStream } from '../../../runtime/progress/progress.ts';

function fakeStream(isTTY: boolean): ProgressStream & { text: string } {
  const stream = { text: '', isTTY, columns: 100, write(chunk: string) { stream.text += chunk; return true; } };
  return stream;
}

/** Runs `steps` steps of `msPerStep` each and returns what was written. */
function run(options: { tty: boolean; env?: Record<string, string>; steps: number; msPerStep: number; plainEverySteps?: number }) {
  const stream = fakeStream(options.tty);
  let now = 0;
  const progress = new ProgressReporter({
    total: options.steps,
    stream,
    env: options.env ?? {},
    clock: () => now,
    plainEverySteps: options.plainEverySteps,
  });
  progress.start();
  for (let step = 1; step <= options.steps; step++) {
    now += options.msPerStep;
    progress.update(step, { loss: 1 / step, reward: step });
  }
  progress.finish();
  return stream.text;
}

describe('formatDuration and formatRate', () => {
  it('formats durations', () => {
    expect(formatDuration(9.4)).toBe('9s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(7380)).toBe('2h03m');
    expect(formatDuration(NaN)).toBe('?');
  });
  it('formats rates both ways', () => {
    expect(formatRate(2.5)).toBe('2.50 it/s');
    expect(formatRate(0.25)).toBe('4.00 s/it');
    expect(formatRate(NaN)).toBe('? it/s');
  });
});

describe('ProgressReporter', () => {
  it('prints plain lines every N steps and the last one when not a TTY', () => {
    const text = run({ tty: false, steps: 10, msPerStep: 500, plainEverySteps: 4 });
    const lines = text.trimEnd().split('\n');
    expect(lines).toEqual([
      'train 4/10 2.00 it/s ETA 3s loss 0.2500 reward 4.0000',
      'train 8/10 2.00 it/s ETA 1s loss 0.1250 reward 8.0000',
      'train 10/10 2.00 it/s ETA 0s loss 0.1000 reward 10.0000',
    ]);
    expect(text).not.toContain('\x1b');
    expect(text).not.toContain('\r');
  });

  it('also prints a plain line when 10 s have passed', () => {
    const text = run({ tty: false, steps: 5, msPerStep: 11_000, plainEverySteps: 100 });
    expect(text.trimEnd().split('\n')).toHaveLength(5);
    expect(text).toContain('11.00 s/it');
  });

  it('redraws one bar line in place on a TTY, with colour', () => {
    const text = run({ tty: true, steps: 3, msPerStep: 1000 });
    expect(text.split('\n')).toHaveLength(2); // one line, ended by finish()
    const redraws = text.split('\r').filter(Boolean);
    expect(redraws.length).toBeGreaterThanOrEqual(4);
    expect(text).toContain('\x1b[32m');
    const last = redraws[redraws.length - 1]!;
    expect(last).toContain('3/3');
    expect(last).toContain('1.00 it/s');
    expect(last).toContain('loss 0.3333');
  });

  it('throttles redraws on a TTY', () => {
    const text = run({ tty: true, steps: 100, msPerStep: 10 });
    const redraws = text.split('\r').filter(Boolean).length;
    expect(redraws).toBeLessThan(20);
    expect(text).toContain('100/100');
  });

  it('uses no colour when NO_COLOR is set, and plain lines under CI', () => {
    const noColor = run({ tty: true, env: { NO_COLOR: '' }, steps: 3, msPerStep: 1000 });
    expect(noColor).toContain('\r');
    expect(noColor).not.toContain('\x1b[32m');
    const ci = run({ tty: true, env: { CI: 'true' }, steps: 3, msPerStep: 1000, plainEverySteps: 1 });
    expect(ci).not.toContain('\r');
    expect(ci.trimEnd().split('\n')).toHaveLength(3);
  });

  it('prints log messages above the bar and keeps the bar', () => {
    const stream = fakeStream(true);
    let now = 0;
    const progress = new ProgressReporter({ total: 4, stream, env: {}, clock: () => now });
    progress.start();
    now = 1000;
    progress.update(1, { loss: 0.5 });
    progress.log('saved checkpoint step-000001');
    expect(stream.text).toMatch(/\r\x1b\[2Ksaved checkpoint step-000001\n\r\x1b\[2Ktrain 1\/4/);
  });

  it('shows an ETA from the measured rate', () => {
    const stream = fakeStream(false);
    let now = 0;
    const progress = new ProgressReporter({ total: 100, stream, env: {}, clock: () => now, plainEverySteps: 10 });
    progress.start();
    now = 20_000;
    progress.update(10);
    expect(stream.text).toBe('train 10/100 2.00 s/it ETA 3m00s\n');
  });
});
